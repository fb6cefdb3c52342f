//! Business hours and holidays: when a queue is open, in local time.
//!
//! The shape people configure (`BusinessHours`, times as `"HH:MM"`) is
//! checked by [`BusinessHours::problems`] and compiled into [`OpenHours`],
//! which answers "open at this local time?" and "when does that next
//! change?". Local time is a civil date and time; turning an instant into
//! it (the tenant's time zone, daylight saving) is the shell's job.

use std::collections::BTreeMap;

use jiff::civil::{Date, DateTime, Time};
use serde::{Deserialize, Serialize};

/// One opening: from `open` up to (not including) `close`, `"HH:MM"`.
/// `close` may be `"24:00"` (midnight at the end of the day).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Opening {
    pub open: String,
    pub close: String,
}

/// A date with its own hours: none (closed all day, the usual holiday)
/// or special openings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    /// `YYYY-MM-DD`.
    pub date: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub hours: Vec<Opening>,
}

/// A weekly timetable plus exceptions by date.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    #[serde(default)]
    pub monday: Vec<Opening>,
    #[serde(default)]
    pub tuesday: Vec<Opening>,
    #[serde(default)]
    pub wednesday: Vec<Opening>,
    #[serde(default)]
    pub thursday: Vec<Opening>,
    #[serde(default)]
    pub friday: Vec<Opening>,
    #[serde(default)]
    pub saturday: Vec<Opening>,
    #[serde(default)]
    pub sunday: Vec<Opening>,
    #[serde(default)]
    pub holidays: Vec<Holiday>,
}

pub const MAX_OPENINGS_PER_DAY: usize = 8;
pub const MAX_HOLIDAYS: usize = 400;
/// The days of the week as the API names them, Monday first.
pub const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Minutes since midnight, `"HH:MM"`; `"24:00"` only where `end_of_day`.
pub fn minutes(s: &str, end_of_day: bool) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) if end_of_day => Some(1440),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

/// Checks one day's openings; returns them as sorted minute ranges.
fn day_ranges(
    path: &str,
    openings: &[Opening],
    out: &mut Vec<(String, String)>,
) -> Vec<(u16, u16)> {
    if openings.len() > MAX_OPENINGS_PER_DAY {
        out.push((
            path.to_owned(),
            format!("at most {MAX_OPENINGS_PER_DAY} openings a day"),
        ));
    }
    let mut ranges = Vec::new();
    for (i, o) in openings.iter().enumerate() {
        let open = minutes(&o.open, false);
        let close = minutes(&o.close, true);
        if open.is_none() {
            out.push((
                format!("{path}[{i}].open"),
                "must be a time HH:MM from 00:00 to 23:59".into(),
            ));
        }
        if close.is_none() {
            out.push((
                format!("{path}[{i}].close"),
                "must be a time HH:MM from 00:01 to 24:00".into(),
            ));
        }
        if let (Some(a), Some(b)) = (open, close) {
            if b <= a {
                out.push((
                    format!("{path}[{i}].close"),
                    "must be later than open".into(),
                ));
            } else {
                ranges.push((a, b, i));
            }
        }
    }
    ranges.sort();
    for w in ranges.windows(2) {
        if w[1].0 < w[0].1 {
            out.push((
                format!("{path}[{}]", w[1].2),
                "overlaps another opening that day".into(),
            ));
        }
    }
    ranges.into_iter().map(|(a, b, _)| (a, b)).collect()
}

impl BusinessHours {
    fn days(&self) -> [&Vec<Opening>; 7] {
        [
            &self.monday,
            &self.tuesday,
            &self.wednesday,
            &self.thursday,
            &self.friday,
            &self.saturday,
            &self.sunday,
        ]
    }

    /// Every problem as (field path, message); empty when the hours can
    /// be compiled.
    pub fn problems(&self) -> Vec<(String, String)> {
        self.compile_checked().err().unwrap_or_default()
    }

    /// The compiled form, or every problem found.
    pub fn compile(&self) -> Result<OpenHours, Vec<(String, String)>> {
        self.compile_checked()
    }

    fn compile_checked(&self) -> Result<OpenHours, Vec<(String, String)>> {
        let mut out = Vec::new();
        let mut weekly: [Vec<(u16, u16)>; 7] = Default::default();
        for (d, openings) in self.days().into_iter().enumerate() {
            weekly[d] = day_ranges(WEEKDAYS[d], openings, &mut out);
        }
        if self.holidays.len() > MAX_HOLIDAYS {
            out.push(("holidays".into(), format!("at most {MAX_HOLIDAYS} dates")));
        }
        let mut dates = BTreeMap::new();
        for (i, h) in self.holidays.iter().enumerate() {
            let path = format!("holidays[{i}]");
            let date = (h.date.len() == 10)
                .then(|| h.date.parse::<Date>().ok())
                .flatten();
            if h.name.chars().count() > 200 {
                out.push((format!("{path}.name"), "at most 200 characters".into()));
            }
            let ranges = day_ranges(&format!("{path}.hours"), &h.hours, &mut out);
            match date {
                None => out.push((format!("{path}.date"), "must be a date YYYY-MM-DD".into())),
                Some(d) => {
                    if dates.insert(d, ranges).is_some() {
                        out.push((format!("{path}.date"), "is listed twice".into()));
                    }
                }
            }
        }
        if out.is_empty() {
            Ok(OpenHours {
                weekly,
                holidays: dates,
            })
        } else {
            Err(out)
        }
    }
}

/// Business hours ready to answer questions about local times.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenHours {
    /// Monday first; sorted, non-overlapping minute ranges.
    weekly: [Vec<(u16, u16)>; 7],
    holidays: BTreeMap<Date, Vec<(u16, u16)>>,
}

/// How far ahead [`OpenHours::next_change`] looks.
const HORIZON_DAYS: i32 = 800;

impl OpenHours {
    /// Open round the clock, every day (a queue with no hours set).
    pub fn always() -> OpenHours {
        OpenHours {
            weekly: std::array::from_fn(|_| vec![(0, 1440)]),
            holidays: BTreeMap::new(),
        }
    }

    fn ranges(&self, date: Date) -> &[(u16, u16)] {
        if let Some(r) = self.holidays.get(&date) {
            return r;
        }
        &self.weekly[date.weekday().to_monday_zero_offset() as usize]
    }

    fn open_at(&self, date: Date, minute: u16) -> bool {
        self.ranges(date)
            .iter()
            .any(|&(a, b)| a <= minute && minute < b)
    }

    /// Whether the queue is open at this local time.
    pub fn is_open(&self, local: DateTime) -> bool {
        let minute = local.hour() as u16 * 60 + local.minute() as u16;
        self.open_at(local.date(), minute)
    }

    /// The first local time after `local` (to the minute) at which
    /// [`Self::is_open`] gives another answer, or `None` if it never does
    /// within two years.
    pub fn next_change(&self, local: DateTime) -> Option<DateTime> {
        let now_open = self.is_open(local);
        let today = local.date();
        let minute_now = local.hour() as u16 * 60 + local.minute() as u16;
        for offset in 0..HORIZON_DAYS {
            let date = today.checked_add(jiff::Span::new().days(offset)).ok()?;
            // Where the answer can change on this day: midnight, and each
            // opening's start and end.
            let mut marks: Vec<u16> = vec![0];
            for &(a, b) in self.ranges(date) {
                marks.push(a);
                if b < 1440 {
                    marks.push(b);
                }
            }
            marks.sort_unstable();
            marks.dedup();
            for m in marks {
                if offset == 0 && m <= minute_now {
                    continue;
                }
                if self.open_at(date, m) != now_open {
                    let time = Time::new((m / 60) as i8, (m % 60) as i8, 0, 0).ok()?;
                    return Some(date.to_datetime(time));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn o(open: &str, close: &str) -> Opening {
        Opening {
            open: open.into(),
            close: close.into(),
        }
    }

    fn weekdays_9_to_5() -> BusinessHours {
        let day = vec![o("09:00", "12:30"), o("13:30", "17:00")];
        BusinessHours {
            monday: day.clone(),
            tuesday: day.clone(),
            wednesday: day.clone(),
            thursday: day.clone(),
            friday: day,
            saturday: vec![o("10:00", "14:00")],
            sunday: vec![],
            holidays: vec![
                Holiday {
                    date: "2026-12-25".into(),
                    name: "Christmas Day".into(),
                    hours: vec![],
                },
                Holiday {
                    date: "2026-12-24".into(),
                    name: "Christmas Eve".into(),
                    hours: vec![o("09:00", "12:00")],
                },
            ],
        }
    }

    #[test]
    fn open_follows_the_week_and_the_holidays() {
        let h = weekdays_9_to_5().compile().unwrap();
        // 2026-12-21 is a Monday.
        assert!(!h.is_open(date(2026, 12, 21).at(8, 59, 0, 0)));
        assert!(h.is_open(date(2026, 12, 21).at(9, 0, 0, 0)));
        assert!(h.is_open(date(2026, 12, 21).at(12, 29, 59, 0)));
        assert!(!h.is_open(date(2026, 12, 21).at(12, 30, 0, 0)));
        assert!(!h.is_open(date(2026, 12, 21).at(17, 0, 0, 0)));
        // Christmas Eve (a Thursday) closes at noon; Christmas Day is shut.
        assert!(h.is_open(date(2026, 12, 24).at(11, 0, 0, 0)));
        assert!(!h.is_open(date(2026, 12, 24).at(14, 0, 0, 0)));
        assert!(!h.is_open(date(2026, 12, 25).at(10, 0, 0, 0)));
        assert!(h.is_open(date(2026, 12, 26).at(10, 0, 0, 0)), "Saturday");
        assert!(!h.is_open(date(2026, 12, 27).at(10, 0, 0, 0)), "Sunday");
    }

    #[test]
    fn next_change_skips_closed_days() {
        let h = weekdays_9_to_5().compile().unwrap();
        let at = |d: Date, hh, mm| d.at(hh, mm, 0, 0);
        assert_eq!(
            h.next_change(at(date(2026, 12, 21), 8, 0)),
            Some(at(date(2026, 12, 21), 9, 0))
        );
        assert_eq!(
            h.next_change(at(date(2026, 12, 21), 9, 0)),
            Some(at(date(2026, 12, 21), 12, 30))
        );
        // Thursday noon (Christmas Eve) → closed through Christmas Day →
        // Saturday 10:00.
        assert_eq!(
            h.next_change(at(date(2026, 12, 24), 11, 0)),
            Some(at(date(2026, 12, 24), 12, 0))
        );
        assert_eq!(
            h.next_change(at(date(2026, 12, 24), 12, 0)),
            Some(at(date(2026, 12, 26), 10, 0))
        );
        assert_eq!(
            OpenHours::always().next_change(at(date(2026, 1, 1), 0, 0)),
            None
        );
        assert_eq!(
            OpenHours::default().next_change(at(date(2026, 1, 1), 0, 0)),
            None
        );
    }

    #[test]
    fn open_through_midnight_does_not_change_at_midnight() {
        let h = BusinessHours {
            monday: vec![o("20:00", "24:00")],
            tuesday: vec![o("00:00", "06:00")],
            ..Default::default()
        }
        .compile()
        .unwrap();
        // 2026-11-30 is a Monday.
        assert_eq!(
            h.next_change(date(2026, 11, 30).at(21, 0, 0, 0)),
            Some(date(2026, 12, 1).at(6, 0, 0, 0))
        );
    }

    #[test]
    fn problems_name_each_field() {
        let h = BusinessHours {
            monday: vec![o("9:00", "17:00"), o("10:00", "24:00")],
            tuesday: vec![o("12:00", "11:00"), o("24:00", "25:00")],
            holidays: vec![
                Holiday {
                    date: "2026-13-01".into(),
                    name: String::new(),
                    hours: vec![],
                },
                Holiday {
                    date: "2026-12-25".into(),
                    name: String::new(),
                    hours: vec![],
                },
                Holiday {
                    date: "2026-12-25".into(),
                    name: String::new(),
                    hours: vec![],
                },
            ],
            ..Default::default()
        };
        let paths: Vec<String> = h.problems().into_iter().map(|p| p.0).collect();
        assert_eq!(
            paths,
            vec![
                "monday[0].open",
                "tuesday[0].close",
                "tuesday[1].open",
                "tuesday[1].close",
                "holidays[0].date",
                "holidays[2].date",
            ]
        );
        let overlap = BusinessHours {
            friday: vec![o("09:00", "12:00"), o("11:00", "13:00")],
            ..Default::default()
        };
        assert_eq!(overlap.problems()[0].0, "friday[1]");
        assert!(weekdays_9_to_5().problems().is_empty());
    }
}
