#!/usr/bin/env bash
# Shift scheduling of a week, Switchboard against pyworkforce's
# MinRequiredResources (OR-Tools CP-SAT; installed from PyPI into a
# virtualenv here): the same hourly requirement over 7 days and the same
# shift patterns (8-hour shifts starting 06:00–14:00 with a one-hour break
# four hours in, 4-hour shifts starting 07:00–18:00). Both must cover every
# hour; the fewer shifts started, the better. Times: theirs is `solve()`
# in-process; ours both the solve as the command reports it and the whole
# `switchboard wfm schedule` process (start, read, solve, write).
#
#   bench/wfm-schedule.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-target/bench-venv}
mkdir -p target/bench-schedule
dir=target/bench-schedule
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q pyworkforce==0.5.1

python3 - "$dir" <<'PY'
import json, math, sys
d = sys.argv[1]
days, periods = 7, 24
weekday = [1.0, 0.95, 0.9, 0.9, 0.85, 0.45, 0.3]
req = [[0 if h < 6 or h >= 22 else round((math.exp(-((h + .5 - 10.5) / 2.5) ** 2) * 40 + math.exp(-((h + .5 - 15) / 3) ** 2) * 28 + 3) * weekday[day])
        for h in range(periods)] for day in range(days)]
patterns, templates = {}, []
for s in range(6, 15):
    cov = [1 if s <= h < s + 8 and h != s + 4 else 0 for h in range(periods)]
    patterns[f"eight_{s:02d}"] = cov
    templates.append({"name": f"eight_{s:02d}", "minutes": 480, "starts": [f"{s:02d}:00"],
                      "breaks": [{"minutes": 60, "paid": False, "earliest_minutes": 240, "latest_minutes": 240}]})
for s in range(7, 19):
    patterns[f"four_{s:02d}"] = [1 if s <= h < s + 4 else 0 for h in range(periods)]
    templates.append({"name": f"four_{s:02d}", "minutes": 240, "starts": [f"{s:02d}:00"]})
json.dump({"req": req, "patterns": patterns}, open(f"{d}/pyworkforce.json", "w"))
json.dump({"shifts": templates}, open(f"{d}/shifts.json", "w"))
import datetime
with open(f"{d}/requirement.csv", "w") as f:
    f.write("interval_start,agents\n")
    for day in range(days):
        date = datetime.date(2026, 11, 30) + datetime.timedelta(days=day)  # a Monday
        for h in range(periods):
            f.write(f"{date}T{h:02d}:00,{req[day][h]}\n")
PY

cargo build -q --release -p switchboard
start=$(date +%s.%N)
target/release/switchboard wfm schedule --requirements "$dir/requirement.csv" --shifts "$dir/shifts.json" \
  > "$dir/ours.csv" 2> "$dir/ours.txt"
end=$(date +%s.%N)
ours_ms=$(python3 -c "print(round(($end - $start) * 1000, 1))")
ours_total=$(python3 -c "import csv; print(sum(int(r['agents']) for r in csv.DictReader(open('$dir/ours.csv'))))")

"$venv/bin/python" - "$dir" "$ours_total" "$ours_ms" "$(cat "$dir/ours.txt")" <<'PY'
import json, sys, time
from pyworkforce.scheduling import MinRequiredResources
d, ours_total, ours_ms, ours_txt = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
data = json.load(open(f"{d}/pyworkforce.json"))
t = time.perf_counter()
m = MinRequiredResources(num_days=7, periods=24, shifts_coverage=data["patterns"], required_resources=data["req"],
                         max_period_concurrency=1000, max_shift_concurrency=1000, max_search_time=120.0, num_search_workers=2)
sol = m.solve()
theirs_ms = (time.perf_counter() - t) * 1000
theirs_total = sum(r["resources"] for r in sol["resources_shifts"])
print(f"Switchboard: {ours_total} shifts in {ours_ms:.0f} ms (process wall time); {ours_txt}")
print(f"pyworkforce: {theirs_total} shifts in {theirs_ms:.0f} ms ({sol['status']})")
import re
solve_ms = float(re.search(r"solved in ([0-9.]+) ms", ours_txt).group(1))
print(f"staff ratio {ours_total / theirs_total:.3f}; solve time ratio {theirs_ms / max(solve_ms, 0.001):.0f}x "
      f"(Switchboard's solve {solve_ms:.2f} ms); whole-process ratio {theirs_ms / ours_ms:.1f}x")
PY
