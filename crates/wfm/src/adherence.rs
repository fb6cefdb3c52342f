//! Adherence: agents' actual states (from the routing engine's status
//! events) against their scheduled activities. Adherence is the share of
//! scheduled time spent doing what was scheduled; conformance is time
//! actually working over time scheduled to work; exceptions are the
//! stretches out of adherence longer than a grace period.

/// Milliseconds (any epoch, as long as both sides share it).
pub type Ms = i64;

/// What the schedule says an agent should be doing.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub start: Ms,
    pub end: Ms,
    /// `work` (taking contacts), `break` (not taking them, for any reason,
    /// or logged out) or an away reason code (`lunch`, `training`, …).
    pub activity: String,
}

/// What the agent was doing: a status (`available`, `busy`, `wrap_up`,
/// `away`, `offline`) and, when away, the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Actual {
    pub start: Ms,
    pub end: Ms,
    pub status: String,
    pub reason: Option<String>,
}

/// A stretch out of adherence.
#[derive(Debug, Clone, PartialEq)]
pub struct Exception {
    pub start: Ms,
    pub end: Ms,
    pub planned: String,
    /// The status (and reason) the agent was in at the start of it.
    pub actual: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Adherence {
    pub scheduled_ms: Ms,
    pub adherent_ms: Ms,
    /// Adherent over scheduled, percent (`None` with nothing scheduled).
    pub adherence_pct: Option<f64>,
    pub scheduled_work_ms: Ms,
    pub worked_ms: Ms,
    /// Worked over scheduled work, percent; may exceed 100.
    pub conformance_pct: Option<f64>,
    pub exceptions: Vec<Exception>,
}

fn working(status: &str) -> bool {
    matches!(status, "available" | "busy" | "wrap_up")
}

fn matches(planned: &str, a: &Actual) -> bool {
    if planned == "work" {
        working(&a.status)
    } else if planned == "break" {
        // A break is kept by not taking contacts, whatever the reason.
        !working(&a.status)
    } else {
        a.status == "away" && a.reason.as_deref() == Some(planned)
    }
}

fn describe(a: Option<&Actual>) -> String {
    match a {
        None => "offline".into(),
        Some(a) => match &a.reason {
            Some(r) if a.status == "away" => format!("away ({r})"),
            _ => a.status.clone(),
        },
    }
}

/// Compares `planned` with `actual` (each sorted by start, not
/// overlapping); stretches out of adherence shorter than `grace` are not
/// exceptions (they still count against adherence).
pub fn adherence(planned: &[Planned], actual: &[Actual], grace: Ms) -> Adherence {
    // Cut the time line at every boundary of either side.
    let mut cuts: Vec<Ms> = planned
        .iter()
        .flat_map(|p| [p.start, p.end])
        .chain(actual.iter().flat_map(|a| [a.start, a.end]))
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let at = |t: Ms| actual.iter().find(|a| a.start <= t && t < a.end);
    let plan_at = |t: Ms| planned.iter().find(|p| p.start <= t && t < p.end);
    let (mut scheduled, mut adherent, mut sched_work, mut worked) = (0, 0, 0, 0);
    let mut exceptions: Vec<Exception> = Vec::new();
    let mut open: Option<Exception> = None;
    for w in cuts.windows(2) {
        let (from, to) = (w[0], w[1]);
        let len = to - from;
        let a = at(from);
        if a.is_some_and(|a| working(&a.status)) {
            worked += len;
        }
        let Some(p) = plan_at(from) else {
            if let Some(e) = open.take() {
                exceptions.push(e);
            }
            continue;
        };
        scheduled += len;
        if p.activity == "work" {
            sched_work += len;
        }
        if a.is_some_and(|a| matches(&p.activity, a)) {
            adherent += len;
            if let Some(e) = open.take() {
                exceptions.push(e);
            }
        } else {
            match &mut open {
                Some(e) if e.end == from && e.planned == p.activity => e.end = to,
                _ => {
                    if let Some(e) = open.take() {
                        exceptions.push(e);
                    }
                    open = Some(Exception {
                        start: from,
                        end: to,
                        planned: p.activity.clone(),
                        actual: describe(a),
                    });
                }
            }
        }
    }
    if let Some(e) = open.take() {
        exceptions.push(e);
    }
    exceptions.retain(|e| e.end - e.start >= grace);
    let pct = |n: Ms, d: Ms| (d > 0).then(|| 100.0 * n as f64 / d as f64);
    Adherence {
        scheduled_ms: scheduled,
        adherent_ms: adherent,
        adherence_pct: pct(adherent, scheduled),
        scheduled_work_ms: sched_work,
        worked_ms: worked,
        conformance_pct: pct(worked, sched_work),
        exceptions,
    }
}
