//! When in the week an agent can work: spans of local time per weekday,
//! read from `{"monday": [["08:00", "18:00"]], ...}`-shaped input with
//! every problem named, and laid over a roster's days as windows.

use std::collections::BTreeMap;

use sb_model::hours::minutes;

pub use sb_model::hours::WEEKDAYS;

fn hhmm(m: u32) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// Per weekday (Monday first), spans of minutes from local midnight,
/// sorted and not overlapping. A day with none is a day off.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Weekly(pub [Vec<(u32, u32)>; 7]);

/// A problem with the input: the field (under the prefix given) and what
/// is wrong.
pub type Problem = (String, String);

impl Weekly {
    /// Every hour of every day.
    pub fn always() -> Self {
        Weekly(std::array::from_fn(|_| vec![(0, 1440)]))
    }

    /// Reads spans by weekday name; `field` prefixes the names of fields
    /// in problems (`availability.monday[0]`).
    pub fn parse(
        field: &str,
        days: &BTreeMap<String, Vec<[String; 2]>>,
    ) -> Result<Self, Vec<Problem>> {
        let mut out = Weekly::default();
        let mut problems = Vec::new();
        for (day, spans) in days {
            let Some(i) = WEEKDAYS.iter().position(|d| d == day) else {
                problems.push((
                    format!("{field}.{day}"),
                    "is not a day of the week (monday … sunday)".into(),
                ));
                continue;
            };
            let mut parsed = Vec::new();
            for (k, [from, to]) in spans.iter().enumerate() {
                let f = format!("{field}.{day}[{k}]");
                let minute = |s: &str, end| minutes(s, end).map(u32::from);
                match (minute(from, false), minute(to, true)) {
                    (Some(a), Some(b)) if a < b => parsed.push((a, b)),
                    (Some(_), Some(_)) => problems.push((f, "must end after it starts".into())),
                    _ => problems.push((
                        f,
                        "times must be HH:MM (24:00 for the end of the day)".into(),
                    )),
                }
            }
            parsed.sort_unstable();
            if parsed.windows(2).any(|w| w[1].0 < w[0].1) {
                problems.push((format!("{field}.{day}"), "spans overlap".into()));
            }
            out.0[i] = parsed;
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(problems)
        }
    }

    /// The spans by weekday name, days off left out.
    pub fn to_map(&self) -> BTreeMap<String, Vec<[String; 2]>> {
        WEEKDAYS
            .iter()
            .zip(&self.0)
            .filter(|(_, s)| !s.is_empty())
            .map(|(d, s)| {
                (
                    (*d).to_owned(),
                    s.iter().map(|&(a, b)| [hhmm(a), hhmm(b)]).collect(),
                )
            })
            .collect()
    }

    /// Windows over `days` days (and the day after, for shifts past
    /// midnight) whose first is weekday `first_weekday` (0 = Monday), each
    /// end placed by `at(day, minute of day)`, joined where one ends as the
    /// next begins (so 22:00–24:00 then 00:00–06:00 is one window).
    pub fn windows<E>(
        &self,
        first_weekday: usize,
        days: usize,
        mut at: impl FnMut(usize, u32) -> Result<i64, E>,
    ) -> Result<Vec<(i64, i64)>, E> {
        let mut out: Vec<(i64, i64)> = Vec::new();
        for d in 0..=days {
            for &(f, t) in &self.0[(first_weekday + d) % 7] {
                let (f, t) = (at(d, f)?, at(d, t)?);
                match out.last_mut() {
                    Some(last) if last.1 >= f => last.1 = last.1.max(t),
                    _ => out.push((f, t)),
                }
            }
        }
        Ok(out)
    }
}
