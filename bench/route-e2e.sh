#!/usr/bin/env bash
# Benchmark: contacts created and reserved per second end to end through
# the JSON API with the embedded SQLite store, and the latency from create
# to reservation (the 201 is sent only after the contact and its
# reservation are committed).
#
#   bench/route-e2e.sh [seconds] [connections] [agents]
#
# Starts `switchboard demo` on a fresh data directory, adds a queue any
# agent may serve and AGENTS agents with 50 chat slots each (all
# available, so no contact has to wait for a slot to free), then drives
# POST /api/v1/contacts with wrk and counts the answers in state
# `reserved`. Afterwards it checks the store: every contact answered is
# there, reserved.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN="${1:-10}"
CONNECTIONS="${2:-32}"
AGENTS="${3:-2000}"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
cargo build --release -q -p switchboard
BIN=target/release/switchboard
DATA="$(mktemp -d)"
PORT="${SB_BENCH_PORT:-18182}"
trap 'kill $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
SWITCHBOARD_LOG=warn SWITCHBOARD_SIP=127.0.0.1:0 SWITCHBOARD_SMTP=127.0.0.1:0 $BIN --data-dir "$DATA" --sqlite-sync "${SB_SQLITE_SYNC:-full}" demo --http "127.0.0.1:$PORT" --no-traffic >/dev/null &
PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
curl -s -c "$DATA/cookies" -H 'content-type: application/json' \
  -d '{"email":"admin@demo.example","password":"switchboard"}' "http://127.0.0.1:$PORT/api/v1/auth/login" >/dev/null
export SB_TOKEN="$(curl -s -b "$DATA/cookies" -H 'content-type: application/json' -d '{"name":"bench"}' \
  "http://127.0.0.1:$PORT/api/v1/tokens" | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')"
export SB_QUEUE="$(python3 bench/route-setup.py "http://127.0.0.1:$PORT" "$SB_TOKEN" "$AGENTS")"
echo "machine: $(nproc) cores, $(uname -r); connections=$CONNECTIONS seconds=$SECONDS_TO_RUN agents=$AGENTS (50 chat slots each); SQLite WAL, --sqlite-sync ${SB_SQLITE_SYNC:-full}"
count() { python3 -c 'import sqlite3,sys; print(sqlite3.connect("file:"+sys.argv[1]+"/switchboard.db?mode=ro", uri=True).execute("select count(*) from contacts where queue_id = ? and state = ?", (sys.argv[2], sys.argv[3])).fetchone()[0])' "$DATA" "$SB_QUEUE" "$1"; }
wrk -t2 -c"$CONNECTIONS" -d2s -s bench/route-contact.lua "http://127.0.0.1:$PORT/api/v1/contacts" >/dev/null
BEFORE="$(count reserved)"
RESULT="$(wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_TO_RUN}s" --latency -s bench/route-contact.lua "http://127.0.0.1:$PORT/api/v1/contacts" | tee /dev/stderr | grep '^RESULT')"
echo "$RESULT"
AFTER="$(count reserved)"
RESERVED="$(echo "$RESULT" | sed -E 's/.*reserved=([0-9]+).*/\1/')"
echo "store: reserved_answers=$RESERVED reserved_rows_added=$((AFTER - BEFORE)) queued=$(count queued)"
if [ "$((AFTER - BEFORE))" -lt "$RESERVED" ]; then echo "MISSING reserved contacts" >&2; exit 1; fi
