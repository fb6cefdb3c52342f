#!/usr/bin/env python3
"""Registers agents' phones (phone0…phoneN-1, password load-test-pw) from
one UDP address, answering Switchboard's digest challenge (SHA-256), so
that a SIPp bound there afterwards answers as all of them.

  register-phones.py SERVER_HOST:PORT N [LOCAL_PORT]
"""
import hashlib
import re
import socket
import sys

server = sys.argv[1]
host, port = server.split(":")
n = int(sys.argv[2])
local = int(sys.argv[3]) if len(sys.argv) > 3 else 5070
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", local))
s.settimeout(5)
h = lambda x: hashlib.sha256(x.encode()).hexdigest()


def register(i, cseq, auth=""):
    user = f"phone{i}"
    msg = (f"REGISTER sip:{server} SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bKreg{i}x{cseq};rport\r\n"
           f"From: <sip:{user}@{host}>;tag=r{i}\r\nTo: <sip:{user}@{host}>\r\n"
           f"Call-ID: reg-{i}@load\r\nCSeq: {cseq} REGISTER\r\n"
           f"Contact: <sip:{user}@127.0.0.1:{local}>\r\nExpires: 3600\r\n{auth}Content-Length: 0\r\n\r\n")
    s.sendto(msg.encode(), (host, int(port)))
    return s.recvfrom(65535)[0].decode(errors="replace")


ok = 0
for i in range(n):
    r = register(i, 1)
    nonce = re.search(r'nonce="([^"]+)"', r).group(1)
    user, uri = f"phone{i}", f"sip:{server}"
    ha1 = h(f"{user}:switchboard:load-test-pw")
    resp = h(f"{ha1}:{nonce}:00000001:c0ffee:auth:{h('REGISTER:' + uri)}")
    auth = (f'Authorization: Digest username="{user}", realm="switchboard", nonce="{nonce}", uri="{uri}", '
            f'response="{resp}", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="c0ffee"\r\n')
    if register(i, 2, auth).startswith("SIP/2.0 200"):
        ok += 1
print(f"{ok} of {n} phones registered")
sys.exit(0 if ok == n else 1)
