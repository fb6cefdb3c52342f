//! `switchboard wfm …`: workforce-management commands that read and write
//! files, for planners to script against.
//!
//! `wfm staff` reads a day (or more) of intervals as CSV with the header
//! `interval_start,contacts,aht_seconds` and writes the same rows with
//! `agents,positions,service_level,asa_seconds,occupancy` added: agents
//! taking contacts, positions to roster after shrinkage, and what that
//! achieves (service level and occupancy as fractions, ASA in seconds).
//!
//! `wfm forecast` reads history in the same shape and writes the days
//! ahead in it (so its output feeds `wfm staff`), with the model's and the
//! seasonal-naive baseline's accuracy on the last week of history on
//! standard error.
//!
//! `wfm schedule` reads a requirement per interval (what `wfm staff`
//! writes) and shift templates, and writes the shifts to start.

use std::io::{Read, Write};

use anyhow::{Context, Result, bail};
use sb_wfm::{Model, Target, staff};

use crate::cli::{ForecastArgs, RosterArgs, ScheduleArgs, StaffArgs};

type Row = sb_wfm::intervals::IntervalRow;

/// The intervals of a file (`-`: standard input).
/// A spinner on stderr naming the step under way, with the time it has
/// taken; drawn only when stderr is a terminal, so scripts see nothing.
fn working_on(message: &'static str) -> indicatif::ProgressBar {
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.set_message(message);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

fn read_rows(input: &str) -> Result<Vec<Row>> {
    let text = if input == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading standard input")?;
        s
    } else {
        std::fs::read_to_string(input).with_context(|| format!("reading {input}"))?
    };
    Ok(sb_wfm::intervals::read_intervals(&text)?)
}

/// The interval length in seconds: given, or the smallest step between
/// consecutive rows (days may have gaps, such as closed nights).
fn interval_seconds(rows: &[Row], given: Option<u32>) -> Result<f64> {
    if let Some(m) = given {
        if m == 0 || m > 1440 {
            bail!("--interval-minutes must be from 1 to 1440");
        }
        return Ok(f64::from(m) * 60.0);
    }
    let mut step: Option<i64> = None;
    for w in rows.windows(2) {
        let d = w[1].start - w[0].start;
        if d <= 0 {
            bail!(
                "line {}: interval_start must increase from one row to the next",
                w[1].line
            );
        }
        step = Some(step.map_or(d, |s| s.min(d)));
    }
    match step {
        Some(s) => Ok(s as f64),
        None => bail!("one interval alone does not say how long it is: give --interval-minutes"),
    }
}

fn percent(flag: &str, v: f64) -> Result<f64> {
    if !(0.0..=100.0).contains(&v) {
        bail!("{flag} is a percentage from 0 to 100, not {v}");
    }
    Ok(v / 100.0)
}

pub fn staff_command(a: &StaffArgs, out: &mut dyn Write) -> Result<()> {
    let model = match (a.model.as_str(), a.patience_seconds) {
        ("erlang-c", None) => Model::ErlangC,
        ("erlang-c", Some(_)) => bail!("--patience-seconds is for --model erlang-a"),
        ("erlang-a", Some(p)) => Model::ErlangA { patience: p },
        ("erlang-a", None) => {
            bail!("--model erlang-a needs --patience-seconds (callers' mean patience)")
        }
        (m, _) => bail!("--model must be erlang-c or erlang-a, not {m}"),
    };
    let target = Target {
        service_level: match (a.sl_target, a.sl_seconds) {
            (Some(t), Some(s)) => Some((percent("--sl-target", t)?, s)),
            (None, None) => None,
            _ => bail!("give --sl-target and --sl-seconds together"),
        },
        asa: a.asa_seconds,
        max_occupancy: a
            .max_occupancy
            .map(|o| percent("--max-occupancy", o))
            .transpose()?,
        shrinkage: percent("--shrinkage", a.shrinkage)?,
    };
    target.check()?;
    let rows = read_rows(&a.input)?;
    let interval = interval_seconds(&rows, a.interval_minutes)?;
    // Every interval first, so a bad row leaves no half-written output.
    let reqs = rows
        .iter()
        .map(|r| {
            staff(r.contacts, r.aht, interval, model, &target)
                .with_context(|| format!("line {}", r.line))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut w = csv::WriterBuilder::new().from_writer(out);
    w.write_record([
        "interval_start",
        "contacts",
        "aht_seconds",
        "agents",
        "positions",
        "service_level",
        "asa_seconds",
        "occupancy",
    ])?;
    for (r, req) in rows.iter().zip(reqs) {
        w.write_record([
            r.start_text.clone(),
            r.contacts_text.clone(),
            r.aht_text.clone(),
            req.agents.to_string(),
            req.positions.to_string(),
            format!("{:.4}", req.service_level),
            format!("{:.1}", req.asa),
            format!("{:.4}", req.occupancy),
        ])?;
    }
    w.flush()?;
    Ok(())
}

pub fn forecast_command(a: &ForecastArgs, out: &mut dyn Write) -> Result<()> {
    if a.days == 0 || a.days > 62 {
        bail!("--days must be from 1 to 62");
    }
    let rows = read_rows(&a.input)?;
    if rows[0].local.is_none() {
        bail!("give history in local time (2026-11-27T08:00), without offsets");
    }
    let step = interval_seconds(&rows, a.interval_minutes)? as i64;
    if step % 60 != 0 || 86_400 % step != 0 {
        bail!("the interval must divide a day into whole minutes (got {step} s)");
    }
    let per_day = (86_400 / step) as usize;
    let holidays = a
        .holidays
        .iter()
        .map(|d| {
            d.parse::<jiff::civil::Date>()
                .with_context(|| format!("--holidays: {d:?} is not a date like 2026-12-25"))
        })
        .collect::<Result<Vec<_>>>()?;
    // A continuous series; intervals not in the file (closed hours) had no
    // contacts.
    // Whole days: from the midnight before the first row to the last
    // interval of the last row's day.
    let first = rows[0].start.div_euclid(86_400) * 86_400;
    let last = rows[rows.len() - 1].start.div_euclid(86_400) * 86_400 + 86_400 - step;
    let len = ((last - first) / step + 1) as usize;
    let mut volumes = vec![0.0; len];
    let mut aht = vec![0.0; len];
    for r in &rows {
        if (r.start - first) % step != 0 {
            bail!(
                "line {}: interval_start is not on the {} minute grid",
                r.line,
                step / 60
            );
        }
        let i = ((r.start - first) / step) as usize;
        volumes[i] = r.contacts;
        aht[i] = r.aht;
    }
    let date_of = |secs: i64| -> Result<jiff::civil::DateTime> {
        Ok(jiff::tz::TimeZone::UTC.to_datetime(jiff::Timestamp::from_second(secs)?))
    };
    let is_holiday = |secs: i64| -> Result<bool> { Ok(holidays.contains(&date_of(secs)?.date())) };
    let holiday_history = (0..len)
        .map(|i| is_holiday(first + i as i64 * step))
        .collect::<Result<Vec<_>>>()?;
    let horizon = a.days as usize * per_day;
    let ahead_start = last + step;
    let holiday_ahead = (0..horizon)
        .map(|i| is_holiday(ahead_start + i as i64 * step))
        .collect::<Result<Vec<_>>>()?;
    let bar = working_on("forecasting contacts (MSTL + ETS, backtested on the last week)");
    let f = sb_wfm::forecast::forecast_volumes(
        &volumes,
        &holiday_history,
        &holiday_ahead,
        per_day,
        horizon,
    );
    bar.set_message("forecasting handle times");
    let handle = sb_wfm::forecast::forecast_aht(&volumes, &aht, per_day, horizon);
    bar.finish_and_clear();
    let f = f?;
    let pct = |v: Option<f64>| {
        v.map(|x| format!("{:.1} %", x * 100.0))
            .unwrap_or_else(|| "—".into())
    };
    eprintln!(
        "accuracy on the last week of history: WAPE {} (seasonal naive {}), MAPE {} (seasonal naive {})",
        pct(f.accuracy.wape),
        pct(f.accuracy.naive_wape),
        pct(f.accuracy.mape),
        pct(f.accuracy.naive_mape),
    );
    let mut w = csv::WriterBuilder::new().from_writer(out);
    w.write_record(["interval_start", "contacts", "aht_seconds"])?;
    for (i, (v, h)) in f.values.iter().zip(&handle).enumerate() {
        let at = date_of(ahead_start + i as i64 * step)?;
        w.write_record([
            at.strftime("%Y-%m-%dT%H:%M").to_string(),
            format!("{v:.1}"),
            format!("{h:.1}"),
        ])?;
    }
    w.flush()?;
    Ok(())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ShiftsFile {
    shifts: Vec<ShiftIn>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ShiftIn {
    name: String,
    minutes: u32,
    starts: Vec<String>,
    #[serde(default)]
    breaks: Vec<BreakIn>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BreakIn {
    minutes: u32,
    #[serde(default)]
    paid: bool,
    earliest_minutes: u32,
    latest_minutes: u32,
}

fn minute_of_day(name: &str, hhmm: &str) -> Result<u32> {
    let t = hhmm
        .parse::<jiff::civil::Time>()
        .with_context(|| format!("shift {name}: start {hhmm:?} is not a time like 06:30"))?;
    Ok(t.hour() as u32 * 60 + t.minute() as u32)
}

pub fn schedule_command(a: &ScheduleArgs, out: &mut dyn Write) -> Result<()> {
    let text = if a.requirements == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s
    } else {
        std::fs::read_to_string(&a.requirements)
            .with_context(|| format!("reading {}", a.requirements))?
    };
    let shifts_text =
        std::fs::read_to_string(&a.shifts).with_context(|| format!("reading {}", a.shifts))?;
    let file: ShiftsFile = serde_json::from_str(&shifts_text).with_context(|| a.shifts.clone())?;
    let templates = file
        .shifts
        .iter()
        .map(|s| {
            Ok(sb_wfm::schedule::ShiftTemplate {
                name: s.name.clone(),
                minutes: s.minutes,
                starts: s
                    .starts
                    .iter()
                    .map(|t| minute_of_day(&s.name, t))
                    .collect::<Result<_>>()?,
                breaks: s
                    .breaks
                    .iter()
                    .map(|b| sb_wfm::schedule::Break {
                        minutes: b.minutes,
                        paid: b.paid,
                        earliest: b.earliest_minutes,
                        latest: b.latest_minutes,
                    })
                    .collect(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader.headers().context("reading the header")?.clone();
    let col = |n: &str| headers.iter().position(|h| h == n);
    let at_col = col("interval_start").context("the requirement needs an interval_start column")?;
    let need_col = col("positions")
        .or_else(|| col("agents"))
        .context("the requirement needs a positions or agents column")?;
    let mut rows: Vec<(i64, u32, u64)> = Vec::new();
    for rec in reader.records() {
        let rec = rec.context("reading a row")?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let at = rec[at_col]
            .replace(' ', "T")
            .parse::<jiff::civil::DateTime>()
            .with_context(|| {
                format!("line {line}: interval_start must be a local date and time")
            })?;
        let need: u32 = rec[need_col].parse().with_context(|| {
            format!("line {line}: the requirement must be a whole number of agents")
        })?;
        let secs = jiff::tz::TimeZone::UTC.to_timestamp(at)?.as_second();
        rows.push((secs, need, line));
    }
    if rows.len() < 2 {
        bail!("the requirement needs at least two intervals");
    }
    let step = rows
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .filter(|d| *d > 0)
        .min()
        .context("interval_start must increase")?;
    if step % 60 != 0 || 86_400 % step != 0 {
        bail!("the interval must divide a day into whole minutes");
    }
    let first = rows[0].0.div_euclid(86_400) * 86_400;
    let last = rows[rows.len() - 1].0.div_euclid(86_400) * 86_400 + 86_400;
    let mut req = vec![0u32; ((last - first) / step) as usize];
    for (secs, need, line) in &rows {
        if (secs - first) % step != 0 {
            bail!("line {line}: not on the {} minute grid", step / 60);
        }
        req[((secs - first) / step) as usize] = *need;
    }
    let started = std::time::Instant::now();
    let bar = working_on("scheduling shifts (LP relaxation, rounding, local search)");
    let s = sb_wfm::schedule::schedule(&req, (step / 60) as u32, &templates);
    bar.finish_and_clear();
    let s = s?;
    let took = started.elapsed();
    let day0 = jiff::tz::TimeZone::UTC
        .to_datetime(jiff::Timestamp::from_second(first)?)
        .date();
    let mut w = csv::WriterBuilder::new().from_writer(out);
    w.write_record(["date", "shift", "start", "end", "breaks", "agents"])?;
    let hhmm = |m: u32| format!("{:02}:{:02}", (m / 60) % 24, m % 60);
    let mut shifts = s.shifts.clone();
    shifts.sort_by_key(|(p, _)| (p.day, p.start, p.template));
    for (p, n) in &shifts {
        let t = &templates[p.template];
        let date = day0.checked_add(jiff::Span::new().days(p.day as i64))?;
        let breaks: Vec<String> = p
            .breaks
            .iter()
            .zip(&t.breaks)
            .map(|(&at, b)| format!("{}-{}", hhmm(p.start + at), hhmm(p.start + at + b.minutes)))
            .collect();
        w.write_record([
            date.to_string(),
            t.name.clone(),
            hhmm(p.start),
            hhmm(p.start + t.minutes),
            breaks.join(" "),
            n.to_string(),
        ])?;
    }
    w.flush()?;
    let gap = if s.lower_bound > 0 {
        format!(
            "{:.1} %",
            100.0 * (s.total - s.lower_bound) as f64 / s.lower_bound as f64
        )
    } else {
        "0 %".into()
    };
    eprintln!(
        "shifts: {} (lower bound {}, {gap} above); over-staffing {} agent-intervals; under-staffing {} in {} intervals no shift reaches; solved in {:.2} ms",
        s.total,
        s.lower_bound,
        s.over,
        s.under,
        s.shortfall.len(),
        took.as_secs_f64() * 1000.0
    );
    Ok(())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentsFile {
    agents: Vec<AgentIn>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentIn {
    name: String,
    #[serde(default)]
    skills: Vec<String>,
    #[serde(default)]
    min_hours_per_week: f64,
    max_hours_per_week: f64,
    /// Weekday name → "HH:MM-HH:MM" spans; absent: any time.
    available: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

fn span_minutes(who: &str, span: &str) -> Result<(i64, i64)> {
    let (a, b) = span
        .split_once('-')
        .with_context(|| format!("{who}: availability {span:?} must look like 06:00-22:00"))?;
    let m = |t: &str| -> Result<i64> {
        if t.trim() == "24:00" {
            return Ok(1440);
        }
        let t = t
            .trim()
            .parse::<jiff::civil::Time>()
            .with_context(|| format!("{who}: {t:?} is not a time"))?;
        Ok(i64::from(t.hour()) * 60 + i64::from(t.minute()))
    };
    Ok((m(a)?, m(b)?))
}

pub fn roster_command(a: &RosterArgs, out: &mut dyn Write) -> Result<()> {
    use sb_wfm::roster::{Agent, Rules, Shift, roster};
    let text =
        std::fs::read_to_string(&a.shifts).with_context(|| format!("reading {}", a.shifts))?;
    let agents_text =
        std::fs::read_to_string(&a.agents).with_context(|| format!("reading {}", a.agents))?;
    let file: AgentsFile = serde_json::from_str(&agents_text).with_context(|| a.agents.clone())?;
    if !(a.min_rest_hours >= 0.0 && a.min_rest_hours < 48.0) {
        bail!("--min-rest-hours must be from 0 to 48");
    }
    if a.max_consecutive_days == 0 {
        bail!("--max-consecutive-days must be at least 1");
    }
    // Shifts: one per agent the schedule asks for.
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader.headers()?.clone();
    if headers.iter().take(6).collect::<Vec<_>>()
        != ["date", "shift", "start", "end", "breaks", "agents"]
    {
        bail!(
            "the shifts need the header date,shift,start,end,breaks,agents (what wfm schedule writes)"
        );
    }
    let mut raw = Vec::new();
    for rec in reader.records() {
        let rec = rec?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let date = rec[0]
            .parse::<jiff::civil::Date>()
            .with_context(|| format!("line {line}: date must be YYYY-MM-DD"))?;
        let (start, _) = span_minutes(&format!("line {line}"), &format!("{}-00:00", &rec[2]))?;
        let (end, _) = span_minutes(&format!("line {line}"), &format!("{}-00:00", &rec[3]))?;
        let mut unpaid = 0;
        for b in rec[4].split_whitespace() {
            let (f, t) = span_minutes(&format!("line {line}"), b)?;
            unpaid += (t - f).rem_euclid(1440);
        }
        let n: usize = rec[5]
            .parse()
            .with_context(|| format!("line {line}: agents must be a whole number"))?;
        raw.push((date, rec[1].to_owned(), start, end, unpaid, n));
    }
    let first = raw
        .iter()
        .map(|r| r.0)
        .min()
        .context("no shifts to roster")?;
    let days = raw
        .iter()
        .map(|r| (r.0 - first).get_days())
        .max()
        .unwrap_or(0) as i64
        + 1;
    let mut shifts = Vec::new();
    for (date, name, start, end, unpaid, n) in &raw {
        let day = (*date - first).get_days() as i64;
        let s = day * 1440 + start;
        let mut e = day * 1440 + end;
        if e <= s {
            e += 1440;
        }
        for _ in 0..*n {
            shifts.push(Shift {
                day: day as usize,
                start: s,
                end: e,
                paid: e - s - unpaid,
                skill: None,
                label: format!("{date} {name}"),
            });
        }
    }
    let weeks = days as f64 / 7.0;
    let agents = file
        .agents
        .iter()
        .map(|g| {
            let weekly = match &g.available {
                None => sb_wfm::availability::Weekly::always(),
                Some(map) => {
                    let mut pairs = std::collections::BTreeMap::new();
                    for (day, spans) in map {
                        let mut v = Vec::new();
                        for span in spans {
                            let (a, b) = span.split_once('-').with_context(|| {
                                format!(
                                    "{}: availability {span:?} must look like 06:00-22:00",
                                    g.name
                                )
                            })?;
                            v.push([a.trim().to_owned(), b.trim().to_owned()]);
                        }
                        pairs.insert(day.clone(), v);
                    }
                    sb_wfm::availability::Weekly::parse("available", &pairs).map_err(|p| {
                        let all: Vec<String> = p.iter().map(|(f, m)| format!("{f}: {m}")).collect();
                        anyhow::anyhow!("{}: {}", g.name, all.join("; "))
                    })?
                }
            };
            let first_weekday = first.weekday().to_monday_zero_offset() as usize;
            let available = weekly
                .windows(first_weekday, days as usize, |d, m| {
                    Ok::<_, std::convert::Infallible>(d as i64 * 1440 + i64::from(m))
                })
                .unwrap_or_else(|never| match never {});
            if !(g.max_hours_per_week > 0.0
                && g.min_hours_per_week >= 0.0
                && g.min_hours_per_week <= g.max_hours_per_week)
            {
                bail!(
                    "{}: hours per week must be 0 ≤ min ≤ max, max above 0",
                    g.name
                );
            }
            Ok(Agent {
                name: g.name.clone(),
                skills: g.skills.clone(),
                available,
                min_minutes: (g.min_hours_per_week * 60.0 * weeks).round() as i64,
                max_minutes: (g.max_hours_per_week * 60.0 * weeks).round() as i64,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let rules = Rules {
        min_rest_minutes: (a.min_rest_hours * 60.0).round() as i64,
        max_consecutive_days: a.max_consecutive_days,
        ..Rules::default()
    };
    let bar = working_on("putting agents on shifts");
    let r = roster(&agents, &shifts, &rules);
    bar.finish_and_clear();
    let mut w = csv::WriterBuilder::new().from_writer(out);
    w.write_record(["date", "shift", "start", "end", "agent"])?;
    let hhmm = |m: i64| format!("{:02}:{:02}", m.rem_euclid(1440) / 60, m % 60);
    for (s, who) in shifts.iter().zip(&r.assigned) {
        let date = first.checked_add(jiff::Span::new().days(s.day as i64))?;
        let name = s.label.split_once(' ').map(|x| x.1).unwrap_or("");
        w.write_record([
            date.to_string(),
            name.to_owned(),
            hhmm(s.start),
            hhmm(s.end),
            who.map(|k| agents[k].name.clone()).unwrap_or_default(),
        ])?;
    }
    w.flush()?;
    let filled = r.assigned.iter().filter(|x| x.is_some()).count();
    eprintln!("rostered {filled} of {} shifts", shifts.len());
    for (i, why) in &r.unfilled {
        let reasons: Vec<String> = why
            .iter()
            .map(|(k, n)| format!("{n} {}", k.describe()))
            .collect();
        eprintln!(
            "unfilled: {} {}–{}: {}",
            shifts[*i].label,
            hhmm(shifts[*i].start),
            hhmm(shifts[*i].end),
            reasons.join("; ")
        );
    }
    for (ai, short) in &r.under_contract {
        eprintln!(
            "under contract: {} by {:.1} hours",
            agents[*ai].name,
            *short as f64 / 60.0
        );
    }
    Ok(())
}
