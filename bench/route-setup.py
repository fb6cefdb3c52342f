"""Sets up the end-to-end routing benchmark on a running server: a queue
any agent may serve and AGENTS agents with 50 chat slots each, all
available, so that every contact created during the run finds a free slot.
Prints the queue id. Usage: route-setup.py BASE TOKEN AGENTS"""
import json
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

base, token, agents = sys.argv[1], sys.argv[2], int(sys.argv[3])


def call(method, path, body=None):
    req = urllib.request.Request(
        base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"authorization": "Bearer " + token, "content-type": "application/json"},
    )
    with urllib.request.urlopen(req) as r:
        return json.load(r)


queue = call("POST", "/api/v1/queues", {"name": "Bench", "wrap_up_seconds": 0})["id"]


def agent(n):
    user = call("POST", "/api/v1/users", {
        "email": f"bench{n}@bench.example", "display_name": f"Bench {n}", "roles": ["agent"]})["id"]
    a = call("POST", "/api/v1/agents", {
        "user_id": user, "capacity": {"voice": 0, "email": 0, "chat": 50, "sms": 0}})["id"]
    call("PUT", f"/api/v1/agents/{a}/state", {"state": "available"})


with ThreadPoolExecutor(8) as pool:
    list(pool.map(agent, range(agents)))
print(queue)
