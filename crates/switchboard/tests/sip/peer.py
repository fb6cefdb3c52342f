#!/usr/bin/env python3
"""Real SIP user agents (PJSIP's pjsua2, headless on its null audio device)
playing a carrier's caller and an agent's desk phone against Switchboard.

Each side plays a tone from a WAV file into its call and records what it
hears to another WAV file; the test that runs this checks the recordings.
Prints one JSON object describing what happened.

  peer.py answered --server 127.0.0.1:5060 --number +61290000000 \
      --username alice --password secret --out DIR [--talk 3]
  peer.py abandon --server 127.0.0.1:5060 --number +61290000000 --out DIR [--wait 2]
  peer.py register --server ... --username alice --password wrong --out DIR
  peer.py monitor ... --lead-username lead --lead-password secret \
      --api http://127.0.0.1:8080 --cookie TEAM_LEADERS_SESSION
      (the team leader listens in, then barges in; times of each part are
      reported against each recording's start)
  peer.py consult --server ... --username alice --password secret \
      --lead-username bob --lead-password secret --consult-agent BOBS_AGENT_ID \
      --api http://127.0.0.1:8080 --cookie ALICES_SESSION --out DIR
      (a caller reaches alice; alice consults bob, then hands the call to
      him; times of each part are reported against each recording's start)
  peer.py outbound --server ... --username alice --password secret \
      --api http://127.0.0.1:8080 --cookie AGENTS_SESSION --port 5099 \
      --number +61400111222 --out DIR
      (the agent asks for a call by the API; the phone rings and answers;
      the called party, a user agent on --port standing in for the
      carrier, answers, talks, and hangs up; --request-path and
      --request-body ask for something else instead, like a callback, with
      {now} in the body replaced by the time)
"""
import argparse
import json
import math
import urllib.request
import os
import struct
import sys
import time
import wave

import pjsua2 as pj

CALLER_TONE = 440
AGENT_TONE = 1000
LEAD_TONE = 1500


def write_tone(path, freq, seconds=20, rate=8000):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(
            b"".join(
                struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / rate)))
                for i in range(int(seconds * rate))
            )
        )


class Call(pj.Call):
    def __init__(self, acc, tone, rec, call_id=pj.PJSUA_INVALID_ID):
        super().__init__(acc, call_id)
        self.tone, self.rec = tone, rec
        self.player = self.recorder = None
        self.confirmed_at = None
        self.recording_since = None
        self.disconnected = False
        self.last_code = None

    def onCallState(self, prm):
        ci = self.getInfo()
        self.last_code = ci.lastStatusCode
        if ci.state == pj.PJSIP_INV_STATE_CONFIRMED and self.confirmed_at is None:
            self.confirmed_at = time.time()
        if ci.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected = True

    def onCallMediaState(self, prm):
        ci = self.getInfo()
        for i, mi in enumerate(ci.media):
            if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                am = self.getAudioMedia(i)
                if self.player is None:
                    self.player = pj.AudioMediaPlayer()
                    self.player.createPlayer(self.tone)
                    self.player.startTransmit(am)
                if self.recorder is None:
                    self.recorder = pj.AudioMediaRecorder()
                    self.recorder.createRecorder(self.rec)
                    am.startTransmit(self.recorder)
                    self.recording_since = time.time()


class Phone(pj.Account):
    def __init__(self, tone, rec, answer_after):
        super().__init__()
        self.tone, self.rec, self.answer_after = tone, rec, answer_after
        self.reg_code = None
        self.calls = []
        self.to_answer = []

    def onRegState(self, prm):
        self.reg_code = prm.code

    def onIncomingCall(self, prm):
        c = Call(self, self.tone, self.rec, prm.callId)
        self.calls.append(c)
        op = pj.CallOpParam()
        op.statusCode = 180
        c.answer(op)
        self.to_answer.append((time.time() + self.answer_after, c))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["answered", "abandon", "register", "monitor", "outbound", "consult"])
    ap.add_argument("--consult-agent", default="")
    ap.add_argument("--port", type=int, default=0, help="the SIP port the peers listen on")
    ap.add_argument("--request-path", default="/api/v1/me/calls")
    ap.add_argument("--request-body", default="")
    ap.add_argument("--far-elsewhere", action="store_true",
                    help="outbound: the called party is not ours (a carrier run apart); wait for it to hang up")
    ap.add_argument("--lead-username", default="")
    ap.add_argument("--lead-password", default="")
    ap.add_argument("--api", default="")
    ap.add_argument("--cookie", default="", help="the team leader's session cookie, name=value")
    ap.add_argument("--server", required=True)
    ap.add_argument("--number", default="+61290000000")
    ap.add_argument("--username", default="")
    ap.add_argument("--password", default="")
    ap.add_argument("--out", required=True)
    ap.add_argument("--talk", type=float, default=3.0)
    ap.add_argument("--wait", type=float, default=2.0)
    ap.add_argument("--hold", type=float, default=0.0, help="the agent holds the caller this long, mid-call")
    ap.add_argument("--keys", default="", help="keys the caller presses (RFC 4733) once answered")
    ap.add_argument("--keys-after", type=float, default=1.5)
    ap.add_argument("--transfer-to", default="", help="mid-call, the agent's phone transfers the caller here (REFER)")
    ap.add_argument("--bind", default="127.0.0.1", help="the address the peers send from")
    ap.add_argument("--tcp", action="store_true", help="the agent's phone registers (and is called) over TCP")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    caller_tone = os.path.join(a.out, "caller-tone.wav")
    agent_tone = os.path.join(a.out, "agent-tone.wav")
    write_tone(caller_tone, CALLER_TONE)
    write_tone(agent_tone, AGENT_TONE)
    caller_rx = os.path.join(a.out, "caller-heard.wav")
    agent_rx = os.path.join(a.out, "agent-heard.wav")
    lead_tone = os.path.join(a.out, "lead-tone.wav")
    lead_rx = os.path.join(a.out, "lead-heard.wav")
    write_tone(lead_tone, LEAD_TONE)

    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.logConfig.level = 1
    cfg.logConfig.consoleLevel = 1
    cfg.medConfig.clockRate = 8000
    cfg.medConfig.sndClockRate = 8000
    cfg.medConfig.noVad = True
    ep.libInit(cfg)
    tcfg = pj.TransportConfig()
    tcfg.port = a.port
    tcfg.boundAddress = a.bind
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
    if a.tcp:
        ep.transportCreate(pj.PJSIP_TRANSPORT_TCP, tcfg)
    ep.libStart()
    ep.audDevManager().setNullDev()
    result = {"mode": a.mode}

    def pump(seconds, until=lambda: False):
        end = time.time() + seconds
        while time.time() < end and not until():
            ep.libHandleEvents(10)
            now = time.time()
            for p in (phone, lead):
                if p is None:
                    continue
                for at, c in list(p.to_answer):
                    if now >= at:
                        p.to_answer.remove((at, c))
                        op = pj.CallOpParam()
                        op.statusCode = 200
                        c.answer(op)
        return until()

    def account(username, password, tone, rec, tcp=False):
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{username}@{a.server}"
        acfg.regConfig.registrarUri = f"sip:{a.server}" + (";transport=tcp" if tcp else "")
        acfg.regConfig.timeoutSec = 300
        acfg.mediaConfig.transportConfig.port = 0
        acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", username, 0, password))
        acc = Phone(tone, rec, answer_after=1.0)
        acc.create(acfg)
        return acc

    def api(method, path, body=None):
        req = urllib.request.Request(
            a.api + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"cookie": a.cookie, "content-type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req) as r:
                text = r.read()
                return r.status, json.loads(text) if text else None
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    phone = None
    lead = None
    if a.mode == "outbound":
        phone = account(a.username, a.password, agent_tone, agent_rx)
        pump(10, lambda: phone.reg_code is not None and phone.reg_code != 100)
        result["registration"] = phone.reg_code
        # The called party: answers whatever reaches its number.
        fcfg = pj.AccountConfig()
        fcfg.idUri = f"sip:{a.number}@127.0.0.1"
        fcfg.mediaConfig.transportConfig.port = 0
        far = Phone(caller_tone, caller_rx, answer_after=1.0)
        if not a.far_elsewhere:
            far.create(fcfg)
            lead = far  # answered by `pump` like the other phones
        from datetime import datetime, timezone
        body = a.request_body or json.dumps({"to": a.number})
        body = body.replace("{now}", datetime.now(timezone.utc).isoformat(timespec="seconds"))
        status, body = api("POST", a.request_path, json.loads(body))
        result["api_status"] = status
        result["contact"] = (body or {}).get("id")
        if status != 201:
            result["api_body"] = body
            print(json.dumps(result), flush=True)
            return
        agent_up = lambda: phone.calls and phone.calls[0].confirmed_at is not None
        result["agent_answered"] = pump(40, agent_up)
        if a.far_elsewhere:
            result["agent_hung_up"] = pump(30, lambda: phone.calls and phone.calls[0].disconnected)
            for c in phone.calls:
                c.recorder = None
                c.player = None
            pump(0.5)
            result["agent_heard"] = agent_rx
            print(json.dumps(result), flush=True)
            return
        far_up = lambda: far.calls and far.calls[0].confirmed_at is not None
        result["far_answered"] = pump(20, far_up)
        if result["far_answered"]:
            result["far_uri"] = far.calls[0].getInfo().localUri
            pump(a.talk)
            far.calls[0].hangup(pj.CallOpParam())
            result["far_hung_up"] = pump(10, lambda: far.calls[0].disconnected)
        result["agent_hung_up"] = pump(10, lambda: phone.calls and phone.calls[0].disconnected)
        for c in phone.calls + far.calls:
            c.recorder = None
            c.player = None
        pump(0.5)
        result["agent_heard"] = agent_rx
        result["far_heard"] = caller_rx
        print(json.dumps(result), flush=True)
        return
    if a.mode in ("monitor", "consult"):
        lead = account(a.lead_username, a.lead_password, lead_tone, lead_rx)
        lead.answer_after = 0.2
        pump(10, lambda: lead.reg_code is not None and lead.reg_code != 100)
        result["lead_registration"] = lead.reg_code
    if a.mode in ("answered", "register", "monitor", "consult"):
        phone = account(a.username, a.password, agent_tone, agent_rx, tcp=a.tcp)
        pump(10, lambda: phone.reg_code is not None and phone.reg_code != 100)
        result["registration"] = phone.reg_code
        if a.mode == "register" or phone.reg_code != 200:
            print(json.dumps(result), flush=True)
            # Left at once: the registration stays until it expires.
            os._exit(0)

    ccfg = pj.AccountConfig()
    ccfg.idUri = "sip:+61400111222@127.0.0.1"
    ccfg.mediaConfig.transportConfig.port = 0
    caller_acc = pj.Account()
    caller_acc.create(ccfg)
    call = Call(caller_acc, caller_tone, caller_rx)
    call.makeCall(f"sip:{a.number}@{a.server}", pj.CallOpParam(True))
    result["caller_answered"] = pump(10, lambda: call.confirmed_at is not None or call.disconnected)
    result["caller_answered"] = call.confirmed_at is not None
    result["caller_code"] = call.last_code
    if not result["caller_answered"]:
        print(json.dumps(result), flush=True)
        return

    if a.keys:
        pump(a.keys_after)
        call.dialDtmf(a.keys)

    if a.mode == "monitor":
        agent_up = lambda: phone.calls and phone.calls[0].confirmed_at is not None
        result["agent_answered"] = pump(40, agent_up)
        pump(0.5)
        _, page = api("GET", "/api/v1/contacts?limit=5")
        contact = [c for c in page["items"] if c["channel"] == "voice" and c["state"] == "active"][0]["id"]
        result["listen"] = api("POST", f"/api/v1/contacts/{contact}/monitor", {"mode": "listen"})[0]
        # The recording is paused while the team leader listens.
        result["pause"] = api("POST", f"/api/v1/contacts/{contact}/recording/pause")[0]
        lead_up = lambda: lead.calls and lead.calls[0].confirmed_at is not None
        result["lead_answered"] = pump(10, lead_up)
        pump(0.6)
        start = time.time()
        pump(1.5)
        listen_span = (start, time.time())
        result["resume"] = api("POST", f"/api/v1/contacts/{contact}/recording/resume")[0]
        result["barge"] = api("POST", f"/api/v1/contacts/{contact}/monitor", {"mode": "barge"})[0]
        pump(0.4)
        start = time.time()
        pump(1.5)
        barge_span = (start, time.time())
        result["stop"] = api("DELETE", f"/api/v1/contacts/{contact}/monitor")[0]
        result["lead_hung_up"] = pump(5, lambda: lead.calls[0].disconnected)
        # Each part, in seconds from the start of each recording.
        for name, c in (("caller", call), ("agent", phone.calls[0]), ("lead", lead.calls[0])):
            base = c.recording_since or 0
            result[f"{name}_listen"] = [listen_span[0] - base, listen_span[1] - base]
            result[f"{name}_barge"] = [barge_span[0] - base, barge_span[1] - base]
        result["contact"] = contact
        call.hangup(pj.CallOpParam())
        result["agent_hung_up"] = pump(10, lambda: phone.calls[0].disconnected)

    if a.mode == "consult":
        agent_up = lambda: phone.calls and phone.calls[0].confirmed_at is not None
        result["agent_answered"] = pump(40, agent_up)
        pump(1.0)
        _, page = api("GET", "/api/v1/contacts?limit=5")
        contact = [c for c in page["items"] if c["channel"] == "voice" and c["state"] == "active"][0]["id"]
        result["contact"] = contact
        # The other agent may take a moment to become available.
        for _ in range(50):
            result["consult"] = api("POST", f"/api/v1/contacts/{contact}/consult", {"agent_id": a.consult_agent})
            if result["consult"][0] != 409:
                break
            pump(0.1)
        result["early_complete"] = api("POST", f"/api/v1/contacts/{contact}/consult/complete")[0]
        lead_up = lambda: lead.calls and lead.calls[0].confirmed_at is not None
        result["other_answered"] = pump(10, lead_up)
        pump(0.6)
        start = time.time()
        pump(1.5)
        consult_span = (start, time.time())
        result["complete"] = api("POST", f"/api/v1/contacts/{contact}/consult/complete")[0]
        result["agent_hung_up"] = pump(5, lambda: phone.calls[0].disconnected)
        pump(0.6)
        start = time.time()
        pump(1.5)
        after_span = (start, time.time())
        for name, c in (("caller", call), ("agent", phone.calls[0]), ("other", lead.calls[0])):
            base = c.recording_since or 0
            result[f"{name}_consult"] = [consult_span[0] - base, consult_span[1] - base]
            result[f"{name}_after"] = [after_span[0] - base, after_span[1] - base]
        call.hangup(pj.CallOpParam())
        result["other_hung_up"] = pump(10, lambda: lead.calls[0].disconnected)

    if a.mode == "answered":
        agent_up = lambda: phone.calls and phone.calls[0].confirmed_at is not None
        result["agent_answered"] = pump(40, agent_up)
        if result["agent_answered"]:
            pump(a.talk / 2)
            if a.transfer_to:
                phone.calls[0].xfer(a.transfer_to, pj.CallOpParam(True))
                result["transferred"] = pump(10, lambda: phone.calls[0].disconnected)
            if a.hold > 0:
                phone.calls[0].setHold(pj.CallOpParam(True))
                pump(a.hold)
                op = pj.CallOpParam(True)
                op.opt.flag = pj.PJSUA_CALL_UNHOLD
                phone.calls[0].reinvite(op)
            pump(a.talk / 2)
            result["talked_seconds"] = time.time() - phone.calls[0].confirmed_at
        if not call.disconnected:
            call.hangup(pj.CallOpParam())
        result["agent_hung_up"] = pump(10, lambda: phone.calls[0].disconnected) if phone.calls else False
    elif a.mode == "abandon":
        # Switchboard may end the call first (a callback booked, say).
        result["ended_by_switchboard"] = pump(a.wait, lambda: call.disconnected)
        if not call.disconnected:
            call.hangup(pj.CallOpParam())
    result["caller_hung_up"] = pump(10, lambda: call.disconnected)
    # Recorders close (and their files get their lengths) when destroyed.
    for c in [call] + (phone.calls if phone else []) + (lead.calls if lead else []):
        c.recorder = None
        c.player = None
    pump(0.5)
    result["caller_heard"] = caller_rx
    result["agent_heard"] = agent_rx if phone and phone.calls else None
    result["lead_heard"] = lead_rx if lead and lead.calls else None
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    try:
        main()
    except pj.Error as e:
        print(json.dumps({"error": e.info()}), flush=True)
        os._exit(1)
    # PJSIP's objects outlive the interpreter's orderly teardown badly; the
    # recordings are already closed, so leave at once.
    os._exit(0)
