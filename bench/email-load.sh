#!/usr/bin/env bash
# Benchmark: inbound emails parsed, threaded, stored and routed per second.
# A release build of `switchboard demo --no-traffic` on a fresh data
# directory takes mail on its SMTP listener from PROCS smtplib sessions
# (bench/email-send.py); every message is read (MIME, HTML sanitised),
# threaded (Message-ID, In-Reply-To, subject reference), stored with its
# acknowledgement before the 250, and a new conversation becomes an email
# contact in the routing engine. Then the store is counted: every message
# acknowledged must be there, and one contact per conversation.
#
#   bench/email-load.sh [total] [procs]      # defaults 10000 8
#   SB_SQLITE_SYNC=normal bench/email-load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
TOTAL="${1:-10000}"; PROCS="${2:-8}"
if [ -z "${BIN:-}" ]; then cargo build --release -q -p switchboard; BIN=target/release/switchboard; fi
DATA="$(mktemp -d)"; PORT="${SB_BENCH_PORT:-18182}"; SMTP="127.0.0.1:${SB_BENCH_SMTP_PORT:-12525}"
trap 'kill $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
SWITCHBOARD_LOG=warn SWITCHBOARD_SIP=127.0.0.1:0 $BIN --data-dir "$DATA" --sqlite-sync "${SB_SQLITE_SYNC:-full}" \
  demo --http "127.0.0.1:$PORT" --smtp "$SMTP" --no-traffic >/dev/null &
PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
echo "machine: $(nproc) cores, $(uname -r); $TOTAL messages over $PROCS SMTP sessions; SQLite WAL, --sqlite-sync ${SB_SQLITE_SYNC:-full}"
python3 bench/email-send.py "$SMTP" 400 "$PROCS" warm >/dev/null
ticks() { awk '{print $14 + $15}' /proc/$PID/stat; }
T0=$(ticks)
RESULT="$(python3 bench/email-send.py "$SMTP" "$TOTAL" "$PROCS" run)"
T1=$(ticks)
echo "$RESULT"
SECS=$(echo "$RESULT" | sed -E 's/.*seconds=([0-9.]+).*/\1/')
python3 -c "print(f'server CPU: {($T1 - $T0) / 100 / $SECS * 100:.0f} % of one core')"
python3 - "$DATA" "$TOTAL" "$PROCS" <<'PY'
import sqlite3, sys
data, total, procs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
db = sqlite3.connect(f"file:{data}/switchboard.db?mode=ro", uri=True)
per = total // procs
sent = per * procs
got = db.execute("select count(*) from messages where direction = 'in' and message_id like 'run-%'").fetchone()[0]
convs = db.execute("select count(distinct conversation_id) from messages where message_id like 'run-%'").fetchone()[0]
contacts = db.execute("select count(distinct contact_id) from messages where message_id like 'run-%'").fetchone()[0]
made = db.execute("select count(*) from contacts where channel = 'email'").fetchone()[0]
want = (per - len(range(3, per, 4))) * procs
print(f"stored: {got} of {sent} messages, {convs} conversations (want {want}), {contacts} contacts for them; {made} email contacts in all")
assert got == sent and convs == want, "messages or threads missing"
PY
