//! Shift scheduling: how many of each shift to start on each day so that
//! every interval's requirement is covered with as little over-staffing as
//! possible. Shifts come from templates (length, allowed start times, and
//! breaks placed within windows); each placement of a template is a
//! column of a covering problem. The LP relaxation (solved by `microlp`,
//! pure Rust) gives a lower bound; its solution rounded up is feasible,
//! and a local search then removes and swaps shifts while coverage holds.
//! Intervals no shift can reach are reported as a shortfall.

use microlp::{ComparisonOp, OptimizationDirection, Problem};

/// A break within a shift.
#[derive(Debug, Clone, PartialEq)]
pub struct Break {
    pub minutes: u32,
    /// Paid breaks count as worked time for pay, never for coverage.
    pub paid: bool,
    /// The break starts between these many minutes after the shift starts
    /// (inclusive).
    pub earliest: u32,
    pub latest: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ShiftTemplate {
    pub name: String,
    pub minutes: u32,
    /// Allowed start times, minutes after midnight.
    pub starts: Vec<u32>,
    pub breaks: Vec<Break>,
}

/// One way to work a template: on a day, from a start, breaks placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub day: usize,
    pub template: usize,
    /// Minutes after midnight.
    pub start: u32,
    /// Each break's start, minutes after the shift's start.
    pub breaks: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// Placements used, with how many agents work each.
    pub shifts: Vec<(Placement, u32)>,
    pub coverage: Vec<u32>,
    /// Σ (coverage − requirement) over covered intervals.
    pub over: u64,
    /// Σ requirement no shift can reach.
    pub under: u64,
    /// Intervals no shift reaches although they need agents.
    pub shortfall: Vec<usize>,
    /// Shifts started.
    pub total: u64,
    /// The LP relaxation's optimum rounded up: no schedule starts fewer.
    pub lower_bound: u64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScheduleError {
    #[error("the interval must divide a day (got {0} minutes)")]
    Interval(u32),
    #[error("the requirement must cover whole days ({0} intervals is not a multiple of {1})")]
    Days(usize, usize),
    #[error("shift {0}: its length must be more than 0 and at most a day, in whole intervals")]
    Length(String),
    #[error("shift {0}: start {1} must be within the day and on an interval boundary")]
    Start(String, u32),
    #[error("shift {0}: a break must last whole intervals and fit in the shift")]
    Break(String),
    #[error("shift {0}: its breaks' windows allow too many placements (over {1})")]
    TooManyPlacements(String, usize),
    #[error("no shifts to schedule")]
    NoShifts,
    #[error("the solver failed: {0}")]
    Solver(String),
}

/// The most break placements one shift start may have.
pub const MAX_PLACEMENTS_PER_START: usize = 256;

/// Every placement of every template on every day, with the intervals it
/// covers (a shift past midnight runs into the next day; the week wraps).
fn placements(
    days: usize,
    per_day: usize,
    step: u32,
    templates: &[ShiftTemplate],
) -> Result<Vec<(Placement, Vec<usize>)>, ScheduleError> {
    let total = days * per_day;
    let mut out = Vec::new();
    for (ti, t) in templates.iter().enumerate() {
        if t.minutes == 0 || t.minutes > 1440 || t.minutes % step != 0 {
            return Err(ScheduleError::Length(t.name.clone()));
        }
        for b in &t.breaks {
            if b.minutes == 0
                || b.minutes % step != 0
                || b.earliest % step != 0
                || b.latest < b.earliest
                || b.latest + b.minutes > t.minutes
            {
                return Err(ScheduleError::Break(t.name.clone()));
            }
        }
        // Break positions: each break on the interval grid in its window.
        let mut combos: Vec<Vec<u32>> = vec![Vec::new()];
        for b in &t.breaks {
            let mut next = Vec::new();
            for c in &combos {
                let mut at = b.earliest;
                while at <= b.latest {
                    let mut c2 = c.clone();
                    c2.push(at);
                    next.push(c2);
                    at += step;
                }
            }
            combos = next;
            if combos.len() > MAX_PLACEMENTS_PER_START {
                return Err(ScheduleError::TooManyPlacements(
                    t.name.clone(),
                    MAX_PLACEMENTS_PER_START,
                ));
            }
        }
        for &s in &t.starts {
            if s >= 1440 || s % step != 0 {
                return Err(ScheduleError::Start(t.name.clone(), s));
            }
            for day in 0..days {
                for c in &combos {
                    // Breaks that overlap each other are not a placement.
                    let mut off: Vec<(u32, u32)> = c
                        .iter()
                        .zip(&t.breaks)
                        .map(|(&a, b)| (a, a + b.minutes))
                        .collect();
                    off.sort();
                    if off.windows(2).any(|w| w[1].0 < w[0].1) {
                        continue;
                    }
                    let first = day * per_day + (s / step) as usize;
                    let covers: Vec<usize> = (0..t.minutes / step)
                        .filter(|k| {
                            let m = k * step;
                            !off.iter().any(|&(a, b)| m >= a && m < b)
                        })
                        .map(|k| (first + k as usize) % total)
                        .collect();
                    out.push((
                        Placement {
                            day,
                            template: ti,
                            start: s,
                            breaks: c.clone(),
                        },
                        covers,
                    ));
                }
            }
        }
    }
    Ok(out)
}

/// Schedules `required` agents per interval (`days × per_day` values,
/// `interval_minutes` each) with shifts from `templates`.
pub fn schedule(
    required: &[u32],
    interval_minutes: u32,
    templates: &[ShiftTemplate],
) -> Result<Schedule, ScheduleError> {
    if interval_minutes == 0 || 1440 % interval_minutes != 0 {
        return Err(ScheduleError::Interval(interval_minutes));
    }
    let per_day = (1440 / interval_minutes) as usize;
    if required.is_empty() || !required.len().is_multiple_of(per_day) {
        return Err(ScheduleError::Days(required.len(), per_day));
    }
    if templates.is_empty() {
        return Err(ScheduleError::NoShifts);
    }
    let days = required.len() / per_day;
    let cols = placements(days, per_day, interval_minutes, templates)?;
    let n = required.len();
    let mut reachable = vec![false; n];
    for (_, c) in &cols {
        for &t in c {
            reachable[t] = true;
        }
    }
    let need: Vec<u32> = required
        .iter()
        .zip(&reachable)
        .map(|(&r, &ok)| if ok { r } else { 0 })
        .collect();
    let shortfall: Vec<usize> = (0..n)
        .filter(|&t| !reachable[t] && required[t] > 0)
        .collect();
    let under: u64 = shortfall.iter().map(|&t| u64::from(required[t])).sum();

    // LP relaxation: minimise shifts started, every interval covered.
    let mut lp = Problem::new(OptimizationDirection::Minimize);
    let vars: Vec<_> = cols
        .iter()
        .map(|_| lp.add_var(1.0, (0.0, f64::INFINITY)))
        .collect();
    let mut rows: Vec<Vec<(microlp::Variable, f64)>> = vec![Vec::new(); n];
    for (v, (_, c)) in vars.iter().zip(&cols) {
        for &t in c {
            rows[t].push((*v, 1.0));
        }
    }
    for (t, row) in rows.iter().enumerate() {
        if need[t] > 0 {
            lp.add_constraint(row.as_slice(), ComparisonOp::Ge, f64::from(need[t]));
        }
    }
    let solution = match lp
        .solve()
        .map_err(|e| ScheduleError::Solver(e.to_string()))?
    {
        microlp::SolveOutcome::Solution(s) => s,
        microlp::SolveOutcome::Interrupted(_) => {
            return Err(ScheduleError::Solver("stopped before a solution".into()));
        }
    };
    let lower_bound = (solution.objective() - 1e-6).ceil().max(0.0) as u64;
    let mut x: Vec<u32> = vars
        .iter()
        .map(|v| (solution[*v] - 1e-9).ceil().max(0.0) as u32)
        .collect();

    let mut cover = vec![0u32; n];
    for (xi, (_, c)) in x.iter().zip(&cols) {
        for &t in c {
            cover[t] += xi;
        }
    }
    improve(&mut x, &mut cover, &cols, &need);

    let over: u64 = cover
        .iter()
        .zip(&need)
        .map(|(&c, &r)| u64::from(c.saturating_sub(r)))
        .sum();
    let total: u64 = x.iter().map(|&v| u64::from(v)).sum();
    let shifts = cols
        .into_iter()
        .zip(&x)
        .filter(|(_, v)| **v > 0)
        .map(|((p, _), &v)| (p, v))
        .collect();
    Ok(Schedule {
        shifts,
        coverage: cover,
        over,
        under,
        shortfall,
        total,
        lower_bound,
    })
}

/// Local search on a feasible schedule: drop shifts that are not needed,
/// then move single shifts to placements that cover with less excess and
/// drop again, until nothing improves.
fn improve(x: &mut [u32], cover: &mut [u32], cols: &[(Placement, Vec<usize>)], need: &[u32]) {
    let removable = |c: &[usize], cover: &[u32]| c.iter().all(|&t| cover[t] > need[t]);
    loop {
        let mut changed = false;
        // Drop: most excess first.
        let mut order: Vec<usize> = (0..cols.len()).filter(|&i| x[i] > 0).collect();
        order.sort_by_key(|&i| {
            std::cmp::Reverse(
                cols[i]
                    .1
                    .iter()
                    .map(|&t| cover[t].saturating_sub(need[t]))
                    .sum::<u32>(),
            )
        });
        for i in order {
            while x[i] > 0 && removable(&cols[i].1, cover) {
                x[i] -= 1;
                for &t in &cols[i].1 {
                    cover[t] -= 1;
                }
                changed = true;
            }
        }
        // Move one shift from i to j when that frees a third shift k to be
        // dropped; bounded to keep it fast.
        let used: Vec<usize> = (0..cols.len()).filter(|&i| x[i] > 0).collect();
        'moves: for &i in &used {
            if x[i] == 0 {
                continue;
            }
            for t in &cols[i].1 {
                cover[*t] -= 1;
            }
            let deficit: Vec<usize> = cols[i]
                .1
                .iter()
                .copied()
                .filter(|&t| cover[t] < need[t])
                .collect();
            for j in 0..cols.len() {
                if j == i || !deficit.iter().all(|t| cols[j].1.contains(t)) {
                    continue;
                }
                for &t in &cols[j].1 {
                    cover[t] += 1;
                }
                let k = used
                    .iter()
                    .copied()
                    .find(|&k| x[k] > u32::from(k == i) && k != j && removable(&cols[k].1, cover));
                if let Some(k) = k {
                    x[i] -= 1;
                    x[j] += 1;
                    x[k] -= 1;
                    for &t in &cols[k].1 {
                        cover[t] -= 1;
                    }
                    changed = true;
                    break 'moves;
                }
                for &t in &cols[j].1 {
                    cover[t] -= 1;
                }
            }
            for t in &cols[i].1 {
                cover[*t] += 1;
            }
        }
        if !changed {
            return;
        }
    }
}
