#!/usr/bin/env bash
# Benchmark: durable contact creations per second through the JSON API with
# the embedded SQLite store, and their latency percentiles.
#
#   bench/api-create.sh [seconds] [connections]
#
# Builds the release binary, starts `switchboard demo` on a fresh data
# directory, drives POST /api/v1/contacts with wrk (a C load generator, so
# the client takes little of the machine's CPU), then restarts the server
# and checks that every contact acknowledged with 201 is in the store.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN="${1:-20}"
CONNECTIONS="${2:-64}"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
cargo build --release -q -p switchboard
BIN=target/release/switchboard
DATA="$(mktemp -d)"
PORT="${SB_BENCH_PORT:-18181}"
trap 'kill $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
SWITCHBOARD_LOG=warn SWITCHBOARD_SIP=127.0.0.1:0 SWITCHBOARD_SMTP=127.0.0.1:0 $BIN --data-dir "$DATA" --sqlite-sync "${SB_SQLITE_SYNC:-full}" demo --http "127.0.0.1:$PORT" --no-traffic >/dev/null &
PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
curl -s -c "$DATA/cookies" -H 'content-type: application/json' \
  -d '{"email":"admin@demo.example","password":"switchboard"}' "http://127.0.0.1:$PORT/api/v1/auth/login" >/dev/null
export SB_TOKEN="$(curl -s -b "$DATA/cookies" -H 'content-type: application/json' -d '{"name":"bench"}' \
  "http://127.0.0.1:$PORT/api/v1/tokens" | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')"
export SB_QUEUE="$(curl -s -H "authorization: Bearer $SB_TOKEN" "http://127.0.0.1:$PORT/api/v1/queues" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')"
echo "machine: $(nproc) cores, $(uname -r); connections=$CONNECTIONS seconds=$SECONDS_TO_RUN; SQLite WAL, --sqlite-sync ${SB_SQLITE_SYNC:-full}"
# Warm up, then measure.
wrk -t2 -c"$CONNECTIONS" -d3s -s bench/create-contact.lua "http://127.0.0.1:$PORT/api/v1/contacts" >/dev/null
count() { python3 -c 'import sqlite3,sys; print(sqlite3.connect("file:"+sys.argv[1]+"/switchboard.db?mode=ro", uri=True).execute("select count(*) from contacts").fetchone()[0])' "$DATA"; }
BEFORE="$(count)"
RESULT="$(wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_TO_RUN}s" --latency -s bench/create-contact.lua "http://127.0.0.1:$PORT/api/v1/contacts" | tee /dev/stderr | grep '^RESULT')"
echo "$RESULT"
# Durability check: restart and count what the store holds.
kill $PID; wait $PID 2>/dev/null || true
SWITCHBOARD_LOG=warn SWITCHBOARD_SIP=127.0.0.1:0 SWITCHBOARD_SMTP=127.0.0.1:0 $BIN --data-dir "$DATA" --sqlite-sync "${SB_SQLITE_SYNC:-full}" serve --http "127.0.0.1:$PORT" >/dev/null &
PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
AFTER="$(count)"
CREATED="$(echo "$RESULT" | sed -E 's/.*created=([0-9]+).*/\1/')"
STORED=$((AFTER - BEFORE))
echo "durability: acknowledged=$CREATED stored_after_restart=$STORED"
if [ "$STORED" -lt "$CREATED" ]; then echo "LOST $((CREATED - STORED)) acknowledged contacts" >&2; exit 1; fi
