#!/usr/bin/env bash
# Erlang C staffing of a 96-interval day (15-minute intervals), Switchboard
# against pyworkforce (installed from PyPI into a virtualenv here), same
# day, same targets (80 % in 20 s, occupancy at most 85 %, 30 % shrinkage):
# the agent counts of every interval must agree, and the time per day is
# compared (best of repeated runs, each side in-process).
#
#   bench/wfm-staff.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-target/bench-venv}
day=target/bench-day.csv
mkdir -p target
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q pyworkforce==0.5.1

# The day: quiet nights, a morning peak and a smaller afternoon one.
python3 - > "$day" <<'PY'
import math
print("interval_start,contacts,aht_seconds")
for i in range(96):
    h = i / 4
    peak = math.exp(-((h - 10.5) / 2) ** 2) * 420 + math.exp(-((h - 15) / 2.5) ** 2) * 300
    print(f"2026-11-30T{i // 4:02d}:{(i % 4) * 15:02d},{round(peak + 8)},{240 + 60 * h / 24:.2f}")
PY

cargo build -q --release -p switchboard
ours=$(cargo bench -q -p sb-wfm --bench staffing -- "$PWD/$day" | grep '"erlang-c"')
target/release/switchboard wfm staff --input "$day" --sl-target 80 --sl-seconds 20 \
  --max-occupancy 85 --shrinkage 30 --interval-minutes 15 > target/bench-staff.csv

OURS="$ours" "$venv/bin/python" - "$day" target/bench-staff.csv <<'PY'
import csv, json, os, sys, time
from pyworkforce.queuing import ErlangC

day = [(int(r["contacts"]), float(r["aht_seconds"])) for r in csv.DictReader(open(sys.argv[1]))]
ours = [int(r["positions"]) for r in csv.DictReader(open(sys.argv[2]))]

def run():
    out = []
    for contacts, aht in day:
        if contacts == 0:
            out.append(0)
            continue
        e = ErlangC(transactions=contacts, aht=aht, asa=20, interval=900, shrinkage=0.3)
        out.append(e.required_positions(service_level=0.8, max_occupancy=0.85)["positions"])
    return out

theirs = run()
best, runs, start = float("inf"), 0, time.perf_counter()
while time.perf_counter() - start < 2 or runs < 5:
    t = time.perf_counter(); run(); best = min(best, time.perf_counter() - t); runs += 1
mine = json.loads(os.environ["OURS"])
differ = [(i, a, b) for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]
print(f"intervals: {len(day)}; positions Switchboard {sum(ours)}, pyworkforce {sum(theirs)}; intervals that differ: {len(differ)} {differ[:5]}")
print(f"time per day: Switchboard {mine['best_day_us']:.1f} us, pyworkforce {best * 1e6:.1f} us ({runs} runs); ratio {best * 1e6 / mine['best_day_us']:.0f}x")
PY
