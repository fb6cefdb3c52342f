#!/usr/bin/env bash
# Benchmark: mail taken from an IMAP mailbox per second.
# Dovecot (Debian's dovecot-imapd) serves one mailbox holding TOTAL unread
# messages (put there with imaplib's APPEND beforehand, not timed). A
# release build of `switchboard demo --no-traffic` is given the mailbox
# through the API and polls it: every message is fetched, read (MIME, HTML
# sanitised), threaded, stored and routed as an email contact, then marked
# read on the server. Timed from the API call until the mailbox reports
# TOTAL taken. The same run times Python's imaplib fetching the same
# messages from the same Dovecot (the IMAP server's own pace, nothing
# stored), and the ratio of the two is printed. Then the store is counted.
#
#   bench/imap-load.sh [total]      # default 5000
set -euo pipefail
cd "$(dirname "$0")/.."
TOTAL="${1:-5000}"
DOVECOT="${SWITCHBOARD_DOVECOT:-/usr/sbin/dovecot}"
[ -x "$DOVECOT" ] || { echo "dovecot is needed: apt-get install -y dovecot-imapd" >&2; exit 1; }
if [ -z "${BIN:-}" ]; then cargo build --release -q -p switchboard; BIN=target/release/switchboard; fi
DATA="$(mktemp -d)"; MAIL="$(mktemp -d)"; PORT="${SB_BENCH_PORT:-18183}"
IMAP_PORT="${SB_BENCH_IMAP_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
PID=""; DPID=""
trap 'kill $PID $DPID 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$DATA" "$MAIL"' EXIT
chmod 755 "$MAIL"; mkdir -p "$MAIL/run" "$MAIL/mail"
if [ "$(id -u)" = 0 ]; then
  LOGIN=dovenull; INTERNAL=dovecot; GROUP=dovecot; OWNER=dovecot; chown dovecot:dovecot "$MAIL/mail"
else
  LOGIN="$(id -un)"; INTERNAL="$LOGIN"; GROUP="$(id -gn)"; OWNER="$LOGIN"
fi
cat > "$MAIL/dovecot.conf" <<CONF
protocols = imap
listen = 127.0.0.1
base_dir = $MAIL/run
state_dir = $MAIL/run
log_path = $MAIL/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_login_user = $LOGIN
default_internal_user = $INTERNAL
default_internal_group = $GROUP
first_valid_uid = 0
mail_location = maildir:$MAIL/mail/%u
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $MAIL/passwd
}
userdb {
  driver = static
  args = uid=$OWNER gid=$OWNER home=$MAIL/mail/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
CONF
echo 'support:{PLAIN}bench-secret' > "$MAIL/passwd"; chmod 644 "$MAIL/passwd"
"$DOVECOT" -F -c "$MAIL/dovecot.conf" &
DPID=$!
for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$IMAP_PORT") 2>/dev/null && break; sleep 0.1; done
echo "machine: $(nproc) cores, $(uname -r); $TOTAL messages in one IMAP mailbox (Dovecot $("$DOVECOT" --version | cut -d' ' -f1)); SQLite WAL, --sqlite-sync ${SB_SQLITE_SYNC:-full}"
python3 - "$IMAP_PORT" "$TOTAL" <<'PY'
import imaplib, sys, time
port, total = int(sys.argv[1]), int(sys.argv[2])
m = imaplib.IMAP4("127.0.0.1", port)
m.login("support", "bench-secret")
for i in range(total):
    raw = (f"Return-Path: <c{i}@customer.example>\r\nFrom: Customer {i} <c{i}@customer.example>\r\n"
           f"To: support@demo.example\r\nSubject: Question {i}\r\nMessage-ID: <imap-{i}@customer.example>\r\n"
           "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
           f"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMy order {i} has not arrived.\r\n"
           f"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>My order <b>{i}</b> has not arrived.</p>\r\n--b--\r\n")
    m.append("INBOX", None, None, raw.encode())
# The IMAP server's own pace: the same search and fetches, nothing kept.
m.select("INBOX", readonly=True)
t = time.perf_counter()
uids = m.uid("SEARCH", None, "UNSEEN")[1][0].split()
got = size = 0
for k in range(0, len(uids), 25):
    batch = b",".join(uids[k:k + 25]).decode()
    m.uid("FETCH", batch, "(UID RFC822.SIZE)")
    typ, data = m.uid("FETCH", batch, "(UID BODY.PEEK[])")
    for part in data:
        if isinstance(part, tuple):
            got += 1
            size += len(part[1])
secs = time.perf_counter() - t
assert got == total, f"imaplib fetched {got} of {total}"
print(f"imaplib alone: fetched {got} ({size // 1024} KiB) in {secs:.2f} s = {got / secs:.0f} messages/s")
PY
SWITCHBOARD_LOG=warn SWITCHBOARD_SIP=127.0.0.1:0 SWITCHBOARD_SMTP=127.0.0.1:0 $BIN --data-dir "$DATA" --sqlite-sync "${SB_SQLITE_SYNC:-full}" \
  demo --http "127.0.0.1:$PORT" --no-traffic >/dev/null &
PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
curl -s -c "$DATA/cookies" -H 'content-type: application/json' \
  -d '{"email":"admin@demo.example","password":"switchboard"}' "http://127.0.0.1:$PORT/api/v1/auth/login" >/dev/null
TOKEN="$(curl -s -b "$DATA/cookies" -H 'content-type: application/json' -d '{"name":"bench"}' \
  "http://127.0.0.1:$PORT/api/v1/tokens" | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')"
python3 - "$PORT" "$TOKEN" "$IMAP_PORT" "$TOTAL" "$PID" <<'PY'
import json, sys, time, urllib.request
port, token, imap_port, total, pid = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def call(method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"authorization": f"Bearer {token}", "content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")
def ticks():
    f = open(f"/proc/{pid}/stat").read().split()
    return int(f[13]) + int(f[14])
c0, t0 = ticks(), time.perf_counter()
box = call("POST", "/email/mailboxes", {"address": "support@demo.example", "host": "127.0.0.1", "port": imap_port,
                                        "security": "none", "username": "support", "password": "bench-secret",
                                        "interval_seconds": 600})
while True:
    m = [x for x in call("GET", "/email/mailboxes")["items"] if x["id"] == box["id"]][0]
    if m["taken"] + m["refused"] >= total or m["last_error"]:
        break
    time.sleep(0.05)
secs, cpu = time.perf_counter() - t0, (ticks() - c0) / 100
print(f"switchboard: took {m['taken']} (refused {m['refused']}, error {m['last_error']}) in {secs:.2f} s = "
      f"{m['taken'] / secs:.0f} messages/s; server CPU {cpu / secs * 100:.0f} % of one core")
PY
python3 - "$DATA" "$TOTAL" "$MAIL" <<'PY'
import sqlite3, sys, os, glob
data, total, mail = sys.argv[1], int(sys.argv[2]), sys.argv[3]
db = sqlite3.connect(f"file:{data}/switchboard.db?mode=ro", uri=True)
got = db.execute("select count(*) from messages where direction = 'in' and message_id like 'imap-%'").fetchone()[0]
made = db.execute("select count(*) from contacts where channel = 'email'").fetchone()[0]
seen = len([f for f in glob.glob(f"{mail}/mail/support/cur/*") if f.endswith("S") or ",S" in os.path.basename(f)])
print(f"stored: {got} of {total} messages, {made} email contacts; {seen} marked read on the server")
assert got == total and made == total, "messages missing"
PY
