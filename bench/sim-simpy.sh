#!/usr/bin/env bash
# The simulator against a SimPy model (installed from PyPI into a
# virtualenv here) of the same M/M/c+M system: 50 agents, 180 s mean handle
# time (exponential), 120 s mean patience (exponential), 450 calls a half
# hour, 1,000,000 calls in all as 10 replications of 100,000 (the first
# half hour of each left out as warm-up). Runs RUNS rounds (5 unless set),
# each of Switchboard on one thread, Switchboard on all, then SimPy, so a
# machine whose speed drifts slows both sides alike; reports the wall time
# of each (whole process) as the median with its range, the ratio of the
# medians and the range of the rounds' own ratios, and the service level
# (answered within 20 s over answered and abandoned) and abandonment with
# 95 % confidence intervals, which should overlap.
#
# SimPy runs on the distribution's Python (/usr/bin/python3, built with
# profile-guided optimisation) when there is one, else on python3; PYTHON
# chooses another.
#
# Then the simulator alone on a larger centre: 500 agents and 50 queues
# (each agent skilled for 5 of them) for a simulated week, events per
# second on one core.
#
#   bench/sim-simpy.sh
#   RUNS=1 bench/sim-simpy.sh   # one round
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
  PYTHON=python3
  [ -x /usr/bin/python3 ] && PYTHON=/usr/bin/python3
fi
venv=${VENV:-target/simpy-venv}
mkdir -p target
[ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
"$venv/bin/pip" install -q simpy==4.1.1
cargo build -q --release -p switchboard

# The same system for Switchboard: 223 half hours of 450 calls ≈ 100,000.
python3 - > target/bench-mmcm.json <<'PY'
import json
print(json.dumps({
    "seed": 1, "replications": 10, "interval_minutes": 30, "intervals": 223,
    "warm_up_intervals": 1,
    "queues": [{"name": "calls", "arrivals": [450.0], "service_level_seconds": 20,
                "handle": {"distribution": "exponential", "mean_seconds": 180},
                "patience_seconds": 120}],
    "agents": [{"name": "agent", "count": 50,
                "shifts": [{"start": "00:00", "end": "00:00", "day": d} for d in range(5)]}],
}))
PY
# The SimPy model: runs the replications, prints the seconds they took and
# each replication's service level and abandonment.
cat > target/bench-simpy.py <<'PY'
import json, random, sys, time
import simpy

C, AHT, PATIENCE, RATE, SL = 50, 180.0, 120.0, 450 / 1800, 20.0
CALLS, REPS, WARM = 100_000, 10, 1800.0

def replication(seed):
    rng = random.Random(seed)
    env = simpy.Environment()
    agents = simpy.Resource(env, capacity=C)
    s = {"answered": 0, "abandoned": 0, "within": 0}

    def customer(env):
        arrived = env.now
        patience = rng.expovariate(1 / PATIENCE)
        with agents.request() as req:
            got = yield req | env.timeout(patience)
            counted = arrived >= WARM
            if req in got:
                if counted:
                    s["answered"] += 1
                    s["within"] += env.now - arrived <= SL
                yield env.timeout(rng.expovariate(1 / AHT))
            elif counted:
                s["abandoned"] += 1

    def source(env):
        for _ in range(CALLS):
            yield env.timeout(rng.expovariate(RATE))
            env.process(customer(env))

    env.process(source(env))
    env.run()
    left = s["answered"] + s["abandoned"]
    return s["within"] / left, s["abandoned"] / left

start = time.perf_counter()
runs = [replication(seed) for seed in range(REPS)]
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "runs": runs, "simpy": simpy.__version__,
                  "python": sys.version.split()[0], "executable": sys._base_executable}))
PY

RUNS=${RUNS:-5}
timed() { local start; start=$(date +%s.%N); "$@" > target/bench-mmcm.csv 2> target/bench-mmcm.txt; echo "$(date +%s.%N) - $start" | bc; }
one=""; ours=""; : > target/bench-simpy.jsonl
for _ in $(seq "$RUNS"); do
  one="$one $(timed target/release/switchboard simulate --threads 1 target/bench-mmcm.json)"
  ours="$ours $(timed target/release/switchboard simulate target/bench-mmcm.json)"
  "$venv/bin/python" target/bench-simpy.py >> target/bench-simpy.jsonl
done

python3 - "$ours" "$one" target/bench-mmcm.txt target/bench-simpy.jsonl <<'PY'
import json, math, re, statistics, sys

def ci(xs):
    m = statistics.mean(xs)
    return m, 2.262 * statistics.stdev(xs) / math.sqrt(len(xs))

ours_all = [float(x) for x in sys.argv[1].split()]
one_all = [float(x) for x in sys.argv[2].split()]
simpy = [json.loads(line) for line in open(sys.argv[4])]
theirs_all = [r["seconds"] for r in simpy]
runs = simpy[-1]["runs"]
sl, ab = ci([r[0] for r in runs]), ci([r[1] for r in runs])

span = lambda xs, d=2: f"{min(xs):.{d}f}–{max(xs):.{d}f}"
ours, one, theirs = (statistics.median(xs) for xs in (ours_all, one_all, theirs_all))
per_round = [t / o for t, o in zip(theirs_all, ours_all)]
per_round_one = [t / o for t, o in zip(theirs_all, one_all)]
summary = open(sys.argv[3]).read()
m = re.search(r"service level ([\d.]+) % ± ([\d.]+), abandoned ([\d.]+) % ± ([\d.]+)", summary)
our_sl, our_sl_ci, our_ab, our_ab_ci = (float(x) for x in m.groups())
events = re.search(r"on (\d+) threads, (\d+) events", summary)
print(f"M/M/50+M, 1,000,000 calls (10 x 100,000), median of {len(simpy)} rounds (range):")
print(f"  Switchboard simulate: {ours:.2f} s ({span(ours_all)}) on {events.group(1)} threads "
      f"({events.group(2)} events); {one:.2f} s ({span(one_all)}) on one")
print(f"  SimPy {simpy[-1]['simpy']} on Python {simpy[-1]['python']} ({simpy[-1]['executable']}): "
      f"{theirs:.2f} s ({span(theirs_all)}) on one thread")
print(f"  ratio of medians: {theirs / ours:.0f}x ({theirs / one:.0f}x thread for thread); "
      f"rounds' own ratios {span(per_round, 0)}x ({span(per_round_one, 0)}x)")
print(f"  service level: Switchboard {our_sl:.1f} % ± {our_sl_ci:.1f}, SimPy {sl[0] * 100:.1f} % ± {sl[1] * 100:.1f}")
print(f"  abandoned:     Switchboard {our_ab:.1f} % ± {our_ab_ci:.1f}, SimPy {ab[0] * 100:.1f} % ± {ab[1] * 100:.1f}")
overlap = abs(our_sl - sl[0] * 100) <= our_sl_ci + sl[1] * 100
print(f"  service-level intervals overlap: {'yes' if overlap else 'NO'}")
PY

# 500 agents, 50 queues, a week of half hours, one replication.
python3 - > target/bench-week.json <<'PY'
import json, math
queues = []
for q in range(50):
    profile = []
    for day in range(7):
        weekday = [1, 0.95, 0.9, 0.9, 0.85, 0.45, 0.3][day]
        for slot in range(48):
            h = slot / 2
            profile.append(round((math.exp(-((h - 10.5 - q % 5) / 3) ** 2) * 36 + 1) * weekday, 1))
    queues.append({"name": f"queue {q}", "arrivals": profile, "skills": {f"s{q}": 1},
                   "handle": {"distribution": "lognormal", "mean_seconds": 240, "cv": 0.8},
                   "patience_seconds": 180, "wrap_up_seconds": 20})
agents = []
for g in range(10):
    skills = {f"s{(g * 5 + k) % 50}": 5 + k for k in range(5)}
    for start, end in [("06:00", "14:30"), ("09:00", "17:30"), ("13:30", "22:00")]:
        shifts = [{"day": d, "start": start, "end": end,
                   "breaks": [{"start": f"{int(start[:2]) + 4:02d}:00", "end": f"{int(start[:2]) + 4:02d}:30", "reason": "lunch"}]}
                  for d in range(7)]
        agents.append({"name": f"g{g} {start}", "count": 17 if start != "13:30" else 16, "skills": skills, "shifts": shifts})
print(json.dumps({"seed": 7, "replications": 1, "interval_minutes": 30, "queues": queues, "agents": agents}))
PY
echo "500 agents, 50 queues, a simulated week (one replication, one core):"
target/release/switchboard simulate --threads 1 target/bench-week.json 2>&1 > target/bench-week.csv | sed -n 1p | sed 's/^/  /'
