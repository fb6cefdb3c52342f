//! The agents one interval needs: the smallest number meeting every target
//! given (service level, average speed of answer, maximum occupancy), and
//! the positions to roster once shrinkage (breaks, training, absence) is
//! allowed for.

use crate::erlang::{ErlangA, ErlangC, erlang_b};

/// The queueing model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Model {
    /// Callers wait as long as it takes.
    ErlangC,
    /// Callers abandon after an exponential patience with this mean, seconds.
    ErlangA { patience: f64 },
}

/// What an interval must achieve. At least one of `service_level` and
/// `asa` is required.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Target {
    /// (share, seconds): e.g. (0.8, 20.0) for 80 % answered within 20 s.
    pub service_level: Option<(f64, f64)>,
    /// Average speed of answer at most this many seconds.
    pub asa: Option<f64>,
    /// Agents busy at most this share of the time, e.g. 0.85.
    pub max_occupancy: Option<f64>,
    /// The share of paid time agents are not available to take contacts,
    /// in `[0, 1)`.
    pub shrinkage: f64,
}

/// What one interval needs and what it would achieve with it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Requirement {
    /// Offered load, Erlangs.
    pub erlangs: f64,
    /// Agents taking contacts (before shrinkage).
    pub agents: u64,
    /// Agents to roster (after shrinkage).
    pub positions: u64,
    pub service_level: f64,
    /// Average speed of answer, seconds (Erlang A: mean wait of all
    /// arrivals, answered or not).
    pub asa: f64,
    pub occupancy: f64,
    /// Probability of abandoning (Erlang A; 0 for Erlang C).
    pub abandon: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StaffingError {
    #[error("contacts must be a number of at least 0, not {0}")]
    Contacts(f64),
    #[error("the average handle time must be more than 0 seconds, not {0}")]
    Aht(f64),
    #[error("the interval must be more than 0 seconds, not {0}")]
    Interval(f64),
    #[error("the service level target must be more than 0 % and at most 100 %, not {0} %")]
    ServiceLevel(f64),
    #[error("the service level threshold must be at least 0 seconds, not {0}")]
    Threshold(f64),
    #[error("the ASA target must be more than 0 seconds, not {0}")]
    Asa(f64),
    #[error("the maximum occupancy must be more than 0 % and at most 100 %, not {0} %")]
    Occupancy(f64),
    #[error("shrinkage must be at least 0 % and less than 100 %, not {0} %")]
    Shrinkage(f64),
    #[error("the mean patience must be more than 0 seconds, not {0}")]
    Patience(f64),
    #[error("give a service level or an ASA target")]
    NoTarget,
}

impl Target {
    pub fn check(&self) -> Result<(), StaffingError> {
        if let Some((share, t)) = self.service_level {
            if !(share > 0.0 && share <= 1.0) {
                return Err(StaffingError::ServiceLevel(share * 100.0));
            }
            if !(t >= 0.0 && t.is_finite()) {
                return Err(StaffingError::Threshold(t));
            }
        }
        if let Some(asa) = self.asa
            && !(asa > 0.0 && asa.is_finite())
        {
            return Err(StaffingError::Asa(asa));
        }
        if let Some(o) = self.max_occupancy
            && !(o > 0.0 && o <= 1.0)
        {
            return Err(StaffingError::Occupancy(o * 100.0));
        }
        if !(self.shrinkage >= 0.0 && self.shrinkage < 1.0) {
            return Err(StaffingError::Shrinkage(self.shrinkage * 100.0));
        }
        if self.service_level.is_none() && self.asa.is_none() {
            return Err(StaffingError::NoTarget);
        }
        Ok(())
    }

    fn positions(&self, agents: u64) -> u64 {
        if agents == 0 {
            return 0;
        }
        // A hair under the exact quotient is still that quotient: 14 agents
        // at 30 % shrinkage is 20 positions, not 21.
        ((agents as f64 / (1.0 - self.shrinkage)) - 1e-9).ceil() as u64
    }
}

struct Eval {
    service_level: f64,
    asa: f64,
    occupancy: f64,
    abandon: f64,
}

fn meets(t: &Target, e: &Eval) -> bool {
    t.service_level
        .is_none_or(|(share, _)| e.service_level >= share - 1e-12)
        && t.asa.is_none_or(|asa| e.asa <= asa + 1e-12)
        && t.max_occupancy.is_none_or(|o| e.occupancy <= o + 1e-12)
}

fn eval_c(a: f64, aht: f64, n: u64, b: f64, t: &Target) -> Eval {
    let c = ErlangC::from_b(a, aht, n, b);
    Eval {
        service_level: t.service_level.map_or(1.0, |(_, s)| c.service_level(s)),
        asa: c.asa(),
        occupancy: c.occupancy(),
        abandon: 0.0,
    }
}

fn eval_a(a: f64, aht: f64, patience: f64, n: u64, t: &Target) -> Eval {
    let e = ErlangA::new(a, aht, patience, n);
    Eval {
        service_level: t.service_level.map_or(1.0, |(_, s)| e.service_level(s)),
        asa: e.asa(),
        occupancy: e.occupancy(),
        abandon: e.p_abandon,
    }
}

/// The smallest Erlang C agent count meeting `t`, stepping up one agent at
/// a time from the first stable count (Erlang B carried along).
fn smallest_c(a: f64, aht: f64, t: &Target) -> (u64, Eval) {
    let start = a.floor() as u64 + 1;
    let mut b = erlang_b(a, start - 1);
    let mut n = start - 1;
    loop {
        n += 1;
        let ab = a * b;
        b = ab / (n as f64 + ab);
        let e = eval_c(a, aht, n, b, t);
        if meets(t, &e) {
            return (n, e);
        }
    }
}

/// Agents for one interval of `interval` seconds with `contacts` arriving
/// and handle time `aht` seconds.
pub fn staff(
    contacts: f64,
    aht: f64,
    interval: f64,
    model: Model,
    t: &Target,
) -> Result<Requirement, StaffingError> {
    if !(contacts >= 0.0 && contacts.is_finite()) {
        return Err(StaffingError::Contacts(contacts));
    }
    if !(interval > 0.0 && interval.is_finite()) {
        return Err(StaffingError::Interval(interval));
    }
    if !(aht >= 0.0 && aht.is_finite()) || (contacts > 0.0 && aht == 0.0) {
        return Err(StaffingError::Aht(aht));
    }
    if let Model::ErlangA { patience } = model
        && !(patience > 0.0 && patience.is_finite())
    {
        return Err(StaffingError::Patience(patience));
    }
    t.check()?;
    let a = contacts * aht / interval;
    if a == 0.0 {
        return Ok(Requirement {
            erlangs: 0.0,
            agents: 0,
            positions: 0,
            service_level: 1.0,
            asa: 0.0,
            occupancy: 0.0,
            abandon: 0.0,
        });
    }
    let (agents, e) = match model {
        Model::ErlangC => smallest_c(a, aht, t),
        Model::ErlangA { patience } => {
            // Abandonment only shortens waits, so Erlang C's count is
            // enough; the smallest Erlang A count lies at or below it, and
            // every target improves with each agent added: bisect.
            let (mut hi, _) = smallest_c(a, aht, t);
            let mut best = eval_a(a, aht, patience, hi, t);
            while !meets(t, &best) {
                // Only rounding could make it so; step up until it holds.
                hi += 1;
                best = eval_a(a, aht, patience, hi, t);
            }
            let mut lo = 0u64;
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                let e = eval_a(a, aht, patience, mid, t);
                if meets(t, &e) {
                    hi = mid;
                    best = e;
                } else {
                    lo = mid;
                }
            }
            (hi, best)
        }
    };
    Ok(Requirement {
        erlangs: a,
        agents,
        positions: t.positions(agents),
        service_level: e.service_level,
        asa: e.asa,
        occupancy: e.occupancy,
        abandon: e.abandon,
    })
}
