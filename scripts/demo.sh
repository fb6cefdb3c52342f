#!/usr/bin/env bash
# Sets up and runs the demo: builds Switchboard and starts it with a demo
# tenant, users for every role and sample data, on http://127.0.0.1:8080.
#
#   scripts/demo.sh [extra flags for `switchboard demo`, e.g. --http 127.0.0.1:9090]
#
# Data is kept in ./switchboard-data; delete it to start afresh.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null 2>&1 || { echo "scripts/demo.sh: cargo is needed: install Rust from https://rustup.rs" >&2; exit 1; }
cargo build --release -p switchboard
exec target/release/switchboard demo "$@"
