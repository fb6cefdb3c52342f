//! Rostering: named agents onto the shifts a schedule starts. Every
//! assignment keeps the rules — the agent is available for the whole
//! shift, has the shift's skill, works at most one shift a day, rests at
//! least the minimum between shifts, works no more than the maximum run
//! of consecutive days and no more than their contracted maximum hours —
//! and among those who may, the shift goes to whoever is furthest below
//! their contracted hours, with weekend shifts spread evenly. Shifts no
//! one may take are returned with the reason for each agent.

/// Minutes from the start of the roster's first day.
pub type Minute = i64;

#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    pub name: String,
    pub skills: Vec<String>,
    /// When the agent can work: (from, to) minutes from the start of day 0.
    pub available: Vec<(Minute, Minute)>,
    /// Contracted paid minutes over the roster: at least and at most.
    pub min_minutes: i64,
    pub max_minutes: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Shift {
    /// The day it starts, from 0.
    pub day: usize,
    pub start: Minute,
    pub end: Minute,
    /// Paid minutes (the length less unpaid breaks).
    pub paid: i64,
    /// The skill it needs, if any.
    pub skill: Option<String>,
    pub label: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    /// Minimum rest between the end of one shift and the start of the next.
    pub min_rest_minutes: i64,
    pub max_consecutive_days: usize,
    /// Days of the roster that are weekend days (day index % 7).
    pub weekend: [bool; 7],
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            min_rest_minutes: 10 * 60,
            max_consecutive_days: 6,
            weekend: [false, false, false, false, false, true, true],
        }
    }
}

/// Why an agent could not take a shift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    Unavailable,
    Skill,
    AlreadyWorking,
    Rest,
    ConsecutiveDays,
    MaxHours,
}

impl Reason {
    pub fn describe(self) -> &'static str {
        match self {
            Reason::Unavailable => "not available for the whole shift",
            Reason::Skill => "lacks the shift's skill",
            Reason::AlreadyWorking => "already works that day",
            Reason::Rest => "would rest too little between shifts",
            Reason::ConsecutiveDays => "would work too many days in a row",
            Reason::MaxHours => "would exceed contracted hours",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Roster {
    /// For each shift (in the order given), the agent index or `None`.
    pub assigned: Vec<Option<usize>>,
    /// Shifts no one could take: the shift index and, per reason, how
    /// many agents it stopped.
    pub unfilled: Vec<(usize, Vec<(Reason, usize)>)>,
    /// Agents below their contracted minimum: index and minutes short.
    pub under_contract: Vec<(usize, i64)>,
    pub paid_minutes: Vec<i64>,
    pub weekend_shifts: Vec<u32>,
}

fn check(a: &Agent, mine: &[&Shift], s: &Shift, paid: i64, rules: &Rules) -> Option<Reason> {
    if !a.available.iter().any(|&(f, t)| f <= s.start && s.end <= t) {
        return Some(Reason::Unavailable);
    }
    if let Some(k) = &s.skill
        && !a.skills.iter().any(|x| x == k)
    {
        return Some(Reason::Skill);
    }
    if mine.iter().any(|m| m.day == s.day) {
        return Some(Reason::AlreadyWorking);
    }
    if mine.iter().any(|m| {
        let gap = if m.start < s.start {
            s.start - m.end
        } else {
            m.start - s.end
        };
        gap < rules.min_rest_minutes
    }) {
        return Some(Reason::Rest);
    }
    // The run of working days through this one.
    let mut days: Vec<usize> = mine.iter().map(|m| m.day).collect();
    days.push(s.day);
    days.sort_unstable();
    let (mut run, mut best) = (1usize, 1usize);
    for w in days.windows(2) {
        run = if w[1] == w[0] + 1 { run + 1 } else { 1 };
        best = best.max(run);
    }
    if best > rules.max_consecutive_days {
        return Some(Reason::ConsecutiveDays);
    }
    if paid + s.paid > a.max_minutes {
        return Some(Reason::MaxHours);
    }
    None
}

/// Assigns `shifts` to `agents` under `rules`.
pub fn roster(agents: &[Agent], shifts: &[Shift], rules: &Rules) -> Roster {
    // Hardest first: the shifts the fewest agents could ever take.
    let could = |s: &Shift| {
        agents
            .iter()
            .filter(|a| {
                a.available.iter().any(|&(f, t)| f <= s.start && s.end <= t)
                    && s.skill.as_ref().is_none_or(|k| a.skills.contains(k))
            })
            .count()
    };
    let mut order: Vec<usize> = (0..shifts.len()).collect();
    order.sort_by_key(|&i| (could(&shifts[i]), shifts[i].start, i));
    let mut assigned = vec![None; shifts.len()];
    let mut by_agent: Vec<Vec<usize>> = vec![Vec::new(); agents.len()];
    let mut paid = vec![0i64; agents.len()];
    let mut weekend = vec![0u32; agents.len()];
    let mut unfilled = Vec::new();
    for i in order {
        let s = &shifts[i];
        let is_weekend = rules.weekend[s.day % 7];
        let mut reasons: Vec<(Reason, usize)> = Vec::new();
        let mut best: Option<(usize, (bool, i64, u32, usize))> = None;
        for (ai, a) in agents.iter().enumerate() {
            let mine: Vec<&Shift> = by_agent[ai].iter().map(|&k| &shifts[k]).collect();
            match check(a, &mine, s, paid[ai], rules) {
                Some(r) => match reasons.iter_mut().find(|(x, _)| *x == r) {
                    Some(e) => e.1 += 1,
                    None => reasons.push((r, 1)),
                },
                None => {
                    // Below contract first (most short first), then fewest
                    // weekend shifts for a weekend shift, then least paid.
                    let short = a.min_minutes - paid[ai];
                    let w = if is_weekend { weekend[ai] } else { 0 };
                    let key = if short > 0 {
                        (false, -short, w, ai)
                    } else {
                        (true, paid[ai], w, ai)
                    };
                    if best.as_ref().is_none_or(|(_, k)| key < *k) {
                        best = Some((ai, key));
                    }
                }
            }
        }
        match best {
            Some((ai, _)) => {
                assigned[i] = Some(ai);
                by_agent[ai].push(i);
                paid[ai] += s.paid;
                if is_weekend {
                    weekend[ai] += 1;
                }
            }
            None => {
                reasons.sort();
                unfilled.push((i, reasons));
            }
        }
    }
    unfilled.sort_by_key(|(i, _)| *i);
    let under_contract = agents
        .iter()
        .enumerate()
        .filter(|(ai, a)| paid[*ai] < a.min_minutes)
        .map(|(ai, a)| (ai, a.min_minutes - paid[ai]))
        .collect();
    Roster {
        assigned,
        unfilled,
        under_contract,
        paid_minutes: paid,
        weekend_shifts: weekend,
    }
}
