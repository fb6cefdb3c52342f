#!/usr/bin/env python3
"""Mail peers for Switchboard's email tests.

  peer.py relay PORT DIR
      An SMTP relay (aiosmtpd) on 127.0.0.1:PORT that stands in for the
      provider replies go out through: each message it takes is written to
      DIR as N.eml, with N.json holding its envelope. Prints "ready".

  peer.py send HOST:PORT MAIL_FROM RCPT[,RCPT...] FILE
      Sends FILE (a whole RFC 5322 message) with smtplib and prints one
      JSON line: {"ok": true} or {"ok": false, "code": N, "stage": "..."}.

  peer.py fake-twilio PORT DIR
      A stand-in for Twilio's Messages API on 127.0.0.1:PORT: each POST is
      written to DIR as N.json (path, Authorization, form fields) and
      answered 201 with a message sid. Prints "ready".

  peer.py stream HOST:PORT RCPT N OUT
      Sends up to N new messages back to back on one session; after each
      250 appends its Message-ID to OUT (flushed), so OUT lists exactly
      what the server acknowledged. Ends quietly when the server goes.

  peer.py imap HOST:PORT USER PASSWORD FOLDER COMMAND [ARG...]
      An IMAP client (imaplib) on the mailbox: `append FILE [FLAGS]` adds
      FILE (with FLAGS like "\\Seen"); `unseen UID` removes \\Seen; `list`
      prints one JSON line {"UID": [flags...]} of what the folder holds.
"""
import json
import os
import sys
import time


def relay(port, out):
    from aiosmtpd.controller import Controller

    os.makedirs(out, exist_ok=True)

    class Keep:
        n = 0

        async def handle_DATA(self, server, session, envelope):
            Keep.n += 1
            base = os.path.join(out, str(Keep.n))
            with open(base + ".eml.tmp", "wb") as f:
                f.write(envelope.original_content)
            with open(base + ".json", "w") as f:
                json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}, f)
            os.rename(base + ".eml.tmp", base + ".eml")
            return "250 OK kept"

    c = Controller(Keep(), hostname="127.0.0.1", port=int(port))
    c.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        c.stop()


def send(addr, mail_from, rcpts, path):
    import smtplib

    host, port = addr.rsplit(":", 1)
    data = open(path, "rb").read()
    try:
        with smtplib.SMTP(host, int(port), timeout=30) as s:
            s.ehlo("tests.example")
            s.sendmail(mail_from, rcpts.split(","), data)
        print(json.dumps({"ok": True}))
    except smtplib.SMTPRecipientsRefused as e:
        code = list(e.recipients.values())[0][0]
        print(json.dumps({"ok": False, "code": code, "stage": "rcpt"}))
    except smtplib.SMTPSenderRefused as e:
        print(json.dumps({"ok": False, "code": e.smtp_code, "stage": "mail"}))
    except smtplib.SMTPDataError as e:
        print(json.dumps({"ok": False, "code": e.smtp_code, "stage": "data",
                          "text": e.smtp_error.decode("utf-8", "replace")}))
    except smtplib.SMTPServerDisconnected as e:
        print(json.dumps({"ok": False, "code": 0, "stage": "disconnected", "text": str(e)}))


def fake_twilio(port, out):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qsl

    os.makedirs(out, exist_ok=True)
    count = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            form = dict(parse_qsl(self.rfile.read(n).decode()))
            count[0] += 1
            path = os.path.join(out, f"{count[0]}.json")
            with open(path + ".tmp", "w") as f:
                json.dump({"path": self.path, "authorization": self.headers.get("Authorization"), "form": form}, f)
            os.rename(path + ".tmp", path)
            body = json.dumps({"sid": f"SM{count[0]:032d}", "status": "queued"}).encode()
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
    print("ready", flush=True)
    server.serve_forever()


def stream(addr, rcpt, n, out):
    import smtplib

    host, port = addr.rsplit(":", 1)
    with open(out, "a") as acked:
        try:
            with smtplib.SMTP(host, int(port), timeout=30) as s:
                s.ehlo("tests.example")
                for i in range(int(n)):
                    mid = f"stream-{os.getpid()}-{i}@customer.example"
                    raw = (f"From: c{i}@customer.example\r\nTo: {rcpt}\r\nSubject: Message {i}\r\n"
                           f"Message-ID: <{mid}>\r\n\r\nNumber {i}.\r\n")
                    s.sendmail(f"c{i}@customer.example", [rcpt], raw)
                    acked.write(mid + "\n")
                    acked.flush()
        except (OSError, smtplib.SMTPException):
            pass


def imap(addr, user, password, folder, command, *args):
    import imaplib
    import re

    host, port = addr.rsplit(":", 1)
    m = imaplib.IMAP4(host, int(port), timeout=30)
    m.login(user, password)
    if command == "append":
        flags = f"({args[1]})" if len(args) > 1 and args[1] else None
        typ, data = m.append(folder, flags, None, open(args[0], "rb").read())
        assert typ == "OK", data
    else:
        typ, data = m.select(folder)
        assert typ == "OK", data
        if command == "unseen":
            typ, data = m.uid("STORE", args[0], "-FLAGS.SILENT", "(\\Seen)")
            assert typ == "OK", data
        elif command == "list":
            typ, data = m.uid("FETCH", "1:*", "(UID FLAGS)")
            assert typ == "OK", data
            held = {}
            for line in data:
                if not line:
                    continue
                text = line.decode() if isinstance(line, bytes) else line[0].decode()
                uid = re.search(r"UID (\d+)", text)
                flags = re.search(r"FLAGS \(([^)]*)\)", text)
                if uid:
                    held[uid.group(1)] = flags.group(1).split() if flags else []
            print(json.dumps(held))
        else:
            sys.exit(f"unknown imap command {command}")
    m.logout()


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "relay":
        relay(sys.argv[2], sys.argv[3])
    elif mode == "send":
        send(*sys.argv[2:6])
    elif mode == "fake-twilio":
        fake_twilio(sys.argv[2], sys.argv[3])
    elif mode == "stream":
        stream(*sys.argv[2:6])
    elif mode == "imap":
        imap(*sys.argv[2:])
    else:
        sys.exit(f"unknown mode {mode}")
