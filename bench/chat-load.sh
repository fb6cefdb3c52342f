#!/usr/bin/env bash
# Benchmark: web chat sessions held open at once on one node, and the
# round trip of a message (sent on the widget's WebSocket until its ack,
# which the server sends only once the message is stored).
# A release build of `switchboard demo --no-traffic` on a fresh data
# directory; the client (crates/switchboard/benches/chat_load.rs) opens
# SESSIONS widgets at RAMP a second through the pre-chat form (each a chat
# contact queued in Support), then each writes every INTERVAL_MS for
# SECONDS while they are all open. Then the store is counted: every
# message acknowledged must be there.
#
#   bench/chat-load.sh [sessions] [seconds] [interval_ms] [ramp]   # defaults 10000 60 20000 400
#   SB_SQLITE_SYNC=normal bench/chat-load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SESSIONS="${1:-10000}"; SECONDS_RUN="${2:-60}"; INTERVAL="${3:-20000}"; RAMP="${4:-400}"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ -z "${BIN:-}" ]; then cargo build --release -q -p switchboard; BIN=target/release/switchboard; fi
cargo bench -q -p switchboard --bench chat_load --no-run 2>/dev/null
DATA="$(mktemp -d)"; PORT="${SB_BENCH_PORT:-18183}"; OUT="$DATA/out.log"
trap 'kill $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
SWITCHBOARD_LOG=warn SWITCHBOARD_SIP=127.0.0.1:0 SWITCHBOARD_SMTP=127.0.0.1:0 $BIN --data-dir "$DATA" \
  --sqlite-sync "${SB_SQLITE_SYNC:-full}" demo --http "127.0.0.1:$PORT" --no-traffic >"$OUT" &
PID=$!
for _ in $(seq 100); do grep -q "chat/w/" "$OUT" 2>/dev/null && break; sleep 0.1; done
WIDGET="$(sed -nE 's#.*/chat/w/([0-9a-f-]+).*#\1#p' "$OUT" | head -1)"
echo "machine: $(nproc) cores, $(uname -r); $SESSIONS sessions at $RAMP/s, each writing every $INTERVAL ms for ${SECONDS_RUN} s; SQLite WAL, --sqlite-sync ${SB_SQLITE_SYNC:-full}"
ticks() { awk '{print $14 + $15}' /proc/$PID/stat; }
T0=$(ticks); S0=$(date +%s.%N)
cargo bench -q -p switchboard --bench chat_load -- "http://127.0.0.1:$PORT" "$WIDGET" "$SESSIONS" "$SECONDS_RUN" "$INTERVAL" "$RAMP"
T1=$(ticks); S1=$(date +%s.%N)
echo "server: $(grep VmHWM /proc/$PID/status | awk '{printf "%.0f MiB peak resident", $2/1024}'), CPU $(python3 -c "print(f'{($T1 - $T0) / 100 / ($S1 - $S0) * 100:.0f} % of one core over the whole run')")"
python3 - "$DATA" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}/switchboard.db?mode=ro", uri=True)
msgs = db.execute("select count(*) from messages where channel = 'chat' and direction = 'in'").fetchone()[0]
contacts = db.execute("select count(*) from contacts where channel = 'chat'").fetchone()[0]
print(f"stored: {msgs} chat messages from customers (questions included), {contacts} chat contacts")
PY
