#!/usr/bin/env bash
# Voice under load: N agents' phones register with digest authentication
# from one address, where SIPp (Debian's sip-tester) then answers as those
# phones and echoes their audio, and as the carrier places calls at RATE a second, each playing
# G.711 A-law audio for HOLD_MS: each caller streams 20 ms packets from
# its own media socket, as a phone or a carrier's media gateway does
# (SIPp's rtp_stream, the audio taken from the recording SIPp ships).
# AUDIO=pcap replays that recording instead (SIPp's play_pcap_audio:
# 30 ms packets sent through a raw socket per call, which makes the
# kernel offer every UDP packet on the machine to each of those sockets,
# the relay's own included). Switchboard (release build) queues each call,
# rings a phone, relays RTP both ways and records every call.
# Reports: calls set up and failed, concurrent calls, the server's CPU per
# call, and the relay's delay per packet from a loopback capture (tshark's
# dumpcap) during the steady part, packets paired within each call (the
# SIP, captured too, says which of Switchboard's ports are one call's).
#
#   bench/voice-load.sh                # N=500 RATE=60 HOLD_MS=8000
#   N=200 RATE=100 HOLD_MS=2000 bench/voice-load.sh   # setup rate
#   MEDIA_REALTIME=1 bench/voice-load.sh  # the relay at real-time priority
#   AUDIO=pcap bench/voice-load.sh        # callers replay a capture (before 2026-11-28, late)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-500}; RATE=${RATE:-60}; HOLD_MS=${HOLD_MS:-8000}; CALLS=${CALLS:-$((N * 2))}
command -v sipp >/dev/null || apt-get install -y -q sip-tester >/dev/null
command -v dumpcap >/dev/null || apt-get install -y -q tshark >/dev/null
if [ -z "${BIN:-}" ]; then cargo build -q --release -p switchboard; BIN=target/release/switchboard; fi
WORK=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; pkill -f "sipp -sf bench/sipp" || true; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT; echo "work: $WORK"
HTTP=127.0.0.1:18181; SIP_PORT=5062
SWITCHBOARD_LOG=warn SWITCHBOARD_SMTP=127.0.0.1:0 $BIN --data-dir "$WORK/data" demo --no-traffic --http $HTTP --sip 127.0.0.1:$SIP_PORT ${MEDIA_REALTIME:+--media-realtime} >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do curl -fs http://$HTTP/healthz >/dev/null 2>&1 && break; sleep 0.2; done
python3 bench/voice-setup.py http://$HTTP "$N" >/dev/null
echo "== $N agents' phones register"
# (SIPp's own digest takes only MD5, which Switchboard offers second.)
python3 bench/register-phones.py 127.0.0.1:$SIP_PORT "$N" 5070
# The SIP of every call, to tell which of Switchboard's ports belong to one call.
dumpcap -q -i lo -f "udp and port $SIP_PORT" -B 32 -P -w "$WORK/sip.pcap" 2>/dev/null &
SIPCAP=$!; sleep 1
# The callers' audio: A-law payloads of SIPp's own recording, streamed.
python3 - /usr/share/sip-tester/g711a.pcap "$WORK/g711a.alaw" <<'PY'
import struct, sys
data, out, at = open(sys.argv[1], "rb").read(), bytearray(), 24
while at + 16 <= len(data):
    incl = struct.unpack("<I", data[at + 8:at + 12])[0]
    pkt, at = data[at + 16:at + 16 + incl], at + 16 + incl
    ip = 14 + (pkt[14] & 15) * 4  # Ethernet, IPv4, UDP, RTP without extensions
    out += pkt[ip + 8 + 12:]
open(sys.argv[2], "wb").write(out)
PY
if [ "${AUDIO:-stream}" = pcap ]; then audio='play_pcap_audio="/usr/share/sip-tester/g711a.pcap"'
else audio="rtp_stream=\"$WORK/g711a.alaw,-1,8\""; fi
sed "s|<exec AUDIO/>|<exec $audio/>|" bench/sipp/caller.xml > "$WORK/caller.xml"
echo "== phones answer (5070); callers dial at $RATE/s, $HOLD_MS ms each, $CALLS calls, at most $N at once"
sipp -sf bench/sipp/agent.xml -i 127.0.0.1 -p 5070 -mp 20000 -rtp_echo -nostdin -bg \
  -trace_stat -stf "$WORK/agent.csv" 127.0.0.1:$SIP_PORT >/dev/null 2>&1 || true  # -bg exits 99
sipp -sf "$WORK/caller.xml" -i 127.0.0.1 -p 5080 -mp 30000 -r "$RATE" -l "$N" -m "$CALLS" -d "$HOLD_MS" \
  -nostdin -trace_stat -stf "$WORK/caller.csv" -fd 1 -timeout 600s 127.0.0.1:$SIP_PORT >/dev/null 2>&1 &
CALLER=$!
# The steady part: after the ramp to N calls, before the first hang-ups end it.
RAMP=$(python3 -c "print(max(2, min($N / $RATE, $HOLD_MS / 1000) + 1))")
sleep "$RAMP"
ticks() { awk '{print $14 + $15}' /proc/$SERVER/stat; }
T0=$(ticks); S0=$(date +%s.%N)
dumpcap -q -i lo -f "udp and not port $SIP_PORT and not port 5070 and not port 5080" -a duration:2 -P -B 64 -w "$WORK/rtp.pcap" 2>/dev/null
sleep 1
T1=$(ticks); S1=$(date +%s.%N)
tail -1 "$WORK/caller.csv" > "$WORK/sample.csv"
wait $CALLER || true
sleep 0.5; kill -INT $SIPCAP; wait $SIPCAP 2>/dev/null || true
python3 - "$WORK/caller.csv" "$T0" "$T1" "$S0" "$S1" "$WORK/sample.csv" "$RATE" <<'PY'
import csv, sys
path, t0, t1, s0, s1, sample, rate = sys.argv[1:]
rows = list(csv.reader(open(path), delimiter=";"))
head, last = rows[0], rows[-1]
col = lambda n: last[head.index(n)]
cpu = (float(t1) - float(t0)) / 100 / (float(s1) - float(s0)) * 100
now = next(csv.reader(open(sample), delimiter=";"))
conc = int(now[head.index("CurrentCall")])
print(f"calls: {col('SuccessfulCall(C)')} answered and ended, {col('FailedCall(C)')} failed; "
      f"{conc} at once during the sample; offered {rate}/s")
print(f"server CPU during the sample: {cpu:.1f} % of one core; {cpu / max(conc, 1):.3f} % per call")
PY
python3 bench/rtp-delay.py "$WORK/rtp.pcap" "$WORK/sip.pcap" $SIP_PORT 5080 5070
grep -c 'call ended' "$WORK/server.log" >/dev/null 2>&1 || true
kill $SERVER
