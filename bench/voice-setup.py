#!/usr/bin/env python3
"""Sets up a demo server for the voice load test: a queue anyone may serve,
N agents with SIP phones (username phoneN, password load-test-pw), all
available; the demo's number pointed at the queue; this machine its trunk.
  voice-setup.py BASE_URL N
"""
import http.cookiejar
import json
import sys
import urllib.request

base, n = sys.argv[1], int(sys.argv[2])
jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))


def call(method, path, body=None, token=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base + path, method=method, headers=headers,
                                 data=json.dumps(body).encode() if body is not None else None)
    with opener.open(req) as r:
        text = r.read()
        return json.loads(text) if text else None


call("POST", "/api/v1/auth/login", {"email": "admin@demo.example", "password": "switchboard"})
token = call("POST", "/api/v1/tokens", {"name": "voice load"})["secret"]
queue = call("POST", "/api/v1/queues", {"name": "Load", "wrap_up_seconds": 0}, token)["id"]
call("PUT", "/api/v1/voice/numbers/+61290000000", {"queue_id": queue}, token)
call("PUT", "/api/v1/voice/trunks/load", {"sources": ["127.0.0.1"]}, token)
for i in range(n):
    u = call("POST", "/api/v1/users", {"email": f"load{i}@demo.example", "display_name": f"Load {i}",
                                        "roles": ["agent"]}, token)
    a = call("POST", "/api/v1/agents", {"user_id": u["id"], "skills": []}, token)
    call("PUT", f"/api/v1/agents/{a['id']}/phone", {"username": f"phone{i}", "password": "load-test-pw"}, token)
    call("PUT", f"/api/v1/agents/{a['id']}/state", {"state": "available"}, token)
print(token)
