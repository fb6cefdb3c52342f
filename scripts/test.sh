#!/usr/bin/env bash
# Sets up and runs every check and test: formatting, lints, and the whole
# test suite, including the PostgreSQL half of the storage contract.
#
#   scripts/test.sh
#
# PostgreSQL: uses $SWITCHBOARD_TEST_DATABASE_URL if set; otherwise a server
# at 127.0.0.1:5432 (database `test`, user `postgres`, trust auth), starting
# the local cluster if it is installed but stopped. Set
# SWITCHBOARD_REQUIRE_POSTGRES=1 to fail rather than skip when none is found.
#
# Voice and email tests: real SIP peers from pjsua2-python and a real mail
# relay from aiosmtpd (PyPI), installed into target/sip-venv; set
# SWITCHBOARD_SIP_PYTHON to use another Python with both.
# SIPp (Debian's sip-tester, installed with apt-get when missing) plays a
# carrier that challenges; set SWITCHBOARD_SIPP to use another. Dovecot
# (Debian's dovecot-imapd, likewise) is the IMAP server mail is polled from.
#
# Browser tests (e2e/): Debian's Chromium driven by playwright-core from the
# npm registry (installed from e2e/package-lock.json). Chromium is
# installed with apt-get when missing; set SWITCHBOARD_SKIP_BROWSER=1 to
# leave the browser tests out.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1 || { echo "scripts/test.sh: $1 is needed: $2" >&2; exit 1; }; }
need cargo "install Rust from https://rustup.rs"
need python3 "install Python 3 (a test uses its sqlite3 module as a second program)"

if [ -z "${SWITCHBOARD_TEST_DATABASE_URL:-}" ]; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "starting the local PostgreSQL cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    export SWITCHBOARD_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:5432/test"
  elif [ "${SWITCHBOARD_REQUIRE_POSTGRES:-0}" = 1 ]; then
    echo "scripts/test.sh: PostgreSQL is required but none answers at 127.0.0.1:5432" >&2
    exit 1
  else
    echo "scripts/test.sh: no PostgreSQL at 127.0.0.1:5432; running the SQLite half only" >&2
  fi
fi
[ -n "${SWITCHBOARD_TEST_DATABASE_URL:-}" ] && echo "PostgreSQL tests use ${SWITCHBOARD_TEST_DATABASE_URL%%\?*}"

# Protocol peers for the channel tests, from PyPI in a virtual environment
# under target/: PJSIP's Python binding (pjsua2-python: callers and phones)
# and aiosmtpd (the mail relay); the email tests send with Python's smtplib.
SIP_VENV=target/sip-venv
if [ -z "${SWITCHBOARD_SIP_PYTHON:-}" ]; then
  if ! "$SIP_VENV/bin/python" -c "import pjsua2, aiosmtpd" >/dev/null 2>&1; then
    echo "installing pjsua2-python and aiosmtpd (the SIP and mail peers of the channel tests) into $SIP_VENV"
    mkdir -p target
    [ -x "$SIP_VENV/bin/python" ] || python3 -m venv "$SIP_VENV" || { echo "scripts/test.sh: python3 -m venv failed (on Debian: apt-get install python3-venv)" >&2; exit 1; }
    "$SIP_VENV/bin/pip" install -q --disable-pip-version-check "pjsua2-python==2.15.1.post1" "aiosmtpd==1.4.6"
  fi
  export SWITCHBOARD_SIP_PYTHON="$PWD/$SIP_VENV/bin/python"
fi

# A carrier for the outbound-call tests: SIPp (Debian's sip-tester).
if [ -z "${SWITCHBOARD_SIPP:-}" ] && ! command -v sipp >/dev/null 2>&1; then
  echo "installing Debian's sip-tester (SIPp, a carrier in the voice tests)"
  if [ "$(id -u)" = 0 ]; then apt-get install -y -q sip-tester >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q sip-tester >/dev/null; }
  else sudo apt-get install -y -q sip-tester >/dev/null; fi
fi
[ -n "${SWITCHBOARD_SIPP:-}" ] || export SWITCHBOARD_SIPP="$(command -v sipp)"

# A mail server for the IMAP polling tests: Dovecot (Debian's dovecot-imapd),
# started by each test on a free port with its own configuration; set
# SWITCHBOARD_DOVECOT to use another build.
if [ -z "${SWITCHBOARD_DOVECOT:-}" ] && [ ! -x /usr/sbin/dovecot ]; then
  echo "installing Debian's dovecot-imapd (the IMAP server in the email tests)"
  if [ "$(id -u)" = 0 ]; then apt-get install -y -q dovecot-imapd >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q dovecot-imapd >/dev/null; }
  else sudo apt-get install -y -q dovecot-imapd >/dev/null; fi
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
echo "== tests"
status=0
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast || status=$?
else
  cargo test --workspace --no-fail-fast || status=$?
fi

if [ "${SWITCHBOARD_SKIP_BROWSER:-0}" != 1 ]; then
  echo "== browser tests (e2e/)"
  need node "install Node.js 18 or later (for the browser tests)"
  need npm "install npm (for the browser tests)"
  if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
    echo "installing Debian's chromium for the browser tests"
    if [ "$(id -u)" = 0 ]; then apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
    else sudo apt-get install -y -q chromium >/dev/null; fi
  fi
  cargo build -q -p switchboard
  (cd e2e && npm ci --no-audit --no-fund --silent && npm test) || status=$?
  echo "screenshots: e2e/artifacts/"
fi
exit "$status"
