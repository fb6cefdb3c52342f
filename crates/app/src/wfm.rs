//! Planning: the contacts expected in each interval of the days ahead
//! (forecast from the store's own contacts, or from history a planner
//! uploads as CSV) and the agents each interval needs (Erlang C or A).
//! Intervals live on the tenant's local wall clock: every day has the same
//! intervals, so on a daylight-saving change one hour is doubled or empty.

use std::collections::BTreeMap;

use sb_model::{Permission, QueueId};
use sb_store::ContactFilter;
use sb_wfm::forecast::{Accuracy, forecast_aht, forecast_volumes};
use sb_wfm::{Model, Target, staff};

use crate::{App, AppError, FieldError, Principal, local_midnight};

/// The most weeks of history one plan reads, and the most days it plans.
pub const MAX_HISTORY_WEEKS: u32 = 26;
pub const MAX_PLAN_DAYS: u32 = 31;

/// What to plan.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    pub queue: Option<QueueId>,
    /// The first local day to plan, `YYYY-MM-DD`.
    pub from: String,
    pub days: u32,
    pub interval_minutes: u32,
    /// Weeks of the store's history before `from` (ignored with a CSV).
    pub history_weeks: u32,
    /// Uploaded history, `interval_start,contacts,aht_seconds` in local time.
    pub history_csv: Option<String>,
    pub holidays: Vec<String>,
    /// Handle time where history has none (no contact was handled yet).
    pub default_aht: f64,
    pub model: Model,
    pub target: Target,
}

/// One planned interval.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PlannedInterval {
    /// Local start, `YYYY-MM-DDTHH:MM`.
    pub local_start: String,
    pub contacts: f64,
    pub aht_seconds: f64,
    pub agents: u64,
    pub positions: u64,
    pub service_level: f64,
    pub asa_seconds: f64,
    pub occupancy: f64,
    /// `skipped` when the clocks go forward over this local time (it does
    /// not happen: nobody is needed), `repeated` when they go back over it
    /// (it happens twice: the figures hold for each time).
    pub clock_change: Option<&'static str>,
}

/// A plan: the last week of history (for the chart), the intervals ahead,
/// and how well the forecast did on the last week of history.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub history: Vec<(String, f64)>,
    pub intervals: Vec<PlannedInterval>,
    pub accuracy: Accuracy,
    pub history_days: usize,
}

fn bad(field: &str, message: impl Into<String>) -> AppError {
    AppError::Invalid(vec![FieldError {
        field: field.into(),
        message: message.into(),
    }])
}

/// History parsed from CSV: (local start, contacts, aht seconds).
fn parse_history(text: &str) -> Result<Vec<(jiff::civil::DateTime, f64, f64)>, AppError> {
    let rows =
        sb_wfm::intervals::read_intervals(text).map_err(|e| bad("history_csv", e.to_string()))?;
    rows.into_iter()
        .map(|r| {
            let fail = |what: &str| bad("history_csv", format!("line {}: {what}", r.line));
            let local = r.local.ok_or_else(|| {
                fail("interval_start must be a local date and time, without an offset")
            })?;
            if r.contacts < 0.0 {
                return Err(fail("contacts must be at least 0"));
            }
            if r.aht < 0.0 {
                return Err(fail("aht_seconds must be at least 0"));
            }
            Ok((local, r.contacts, r.aht))
        })
        .collect()
}

impl App {
    pub async fn plan(&self, p: &Principal, r: PlanRequest) -> Result<Plan, AppError> {
        p.require(Permission::ReportRead)?;
        let mut errors = Vec::new();
        let mut check = |ok: bool, field: &str, message: &str| {
            if !ok {
                errors.push(FieldError {
                    field: field.into(),
                    message: message.into(),
                });
            }
        };
        check(
            [15, 30, 60].contains(&r.interval_minutes),
            "interval",
            "must be 15, 30 or 60 (minutes)",
        );
        check(
            (1..=MAX_PLAN_DAYS).contains(&r.days),
            "days",
            "must be from 1 to 31",
        );
        check(
            (2..=MAX_HISTORY_WEEKS).contains(&r.history_weeks),
            "history_weeks",
            "must be from 2 to 26",
        );
        let from = r.from.parse::<jiff::civil::Date>().ok();
        check(from.is_some(), "from", "must be a date YYYY-MM-DD");
        let holidays: Vec<jiff::civil::Date> =
            r.holidays.iter().filter_map(|h| h.parse().ok()).collect();
        check(
            holidays.len() == r.holidays.len(),
            "holidays",
            "must be dates YYYY-MM-DD",
        );
        check(
            r.default_aht.is_finite() && r.default_aht > 0.0 && r.default_aht <= 86_400.0,
            "default_aht_seconds",
            "must be more than 0 and at most a day",
        );
        if let Err(e) = r.target.check() {
            errors.push(FieldError {
                field: "target".into(),
                message: e.to_string(),
            });
        }
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let from = from.ok_or_else(|| bad("from", "must be a date YYYY-MM-DD"))?;
        if let Some(q) = r.queue {
            self.store()
                .get_queue(p.tenant_id, q)
                .await
                .map_err(|_| bad("queue_id", "no such queue"))?;
        }
        let per_day = (1440 / r.interval_minutes) as usize;
        let step = i64::from(r.interval_minutes);
        // The history grid: whole local days, `per_day` intervals each.
        let (start_day, rows) = match &r.history_csv {
            Some(text) => {
                let rows = parse_history(text)?;
                let first = rows.iter().map(|x| x.0.date()).min().unwrap_or(from);
                (first, rows)
            }
            None => {
                let weeks = i64::from(r.history_weeks);
                let first = from
                    .checked_sub(jiff::Span::new().days(weeks * 7))
                    .map_err(|e| bad("from", e.to_string()))?;
                (
                    first,
                    self.history_from_store(p, r.queue, first, from).await?,
                )
            }
        };
        let end_day = match &r.history_csv {
            Some(_) => rows
                .iter()
                .map(|x| x.0.date())
                .max()
                .and_then(|d| d.tomorrow().ok())
                .unwrap_or(from),
            None => from,
        };
        let days = (end_day - start_day).get_days().max(0) as usize;
        let len = days * per_day;
        let mut volumes = vec![0.0; len];
        let mut handle = vec![0.0; len];
        let mut weight = vec![0.0; len];
        for (at, c, a) in &rows {
            let day = (at.date() - start_day).get_days();
            let minute = i64::from(at.hour()) * 60 + i64::from(at.minute());
            if day < 0 || day as usize >= days {
                continue;
            }
            let i = day as usize * per_day + (minute / step) as usize;
            // Several rows in one interval (finer history): add volumes,
            // weight handle times by the contacts that had one.
            if *a > 0.0 && *c > 0.0 {
                handle[i] = (handle[i] * weight[i] + a * c) / (weight[i] + c);
                weight[i] += c;
            }
            volumes[i] += c;
        }
        if len < 14 * per_day {
            return Err(bad(
                if r.history_csv.is_some() {
                    "history_csv"
                } else {
                    "history_weeks"
                },
                format!("a forecast needs at least two weeks of history; there are {days} days"),
            ));
        }
        let day_of =
            |i: usize, base: jiff::civil::Date| -> Result<jiff::civil::DateTime, AppError> {
                let d = base
                    .checked_add(jiff::Span::new().days((i / per_day) as i64))
                    .map_err(|e| AppError::Internal(e.to_string()))?;
                let minutes = (i % per_day) as i64 * step;
                Ok(d.to_datetime(jiff::civil::Time::constant(
                    (minutes / 60) as i8,
                    (minutes % 60) as i8,
                    0,
                    0,
                )))
            };
        let holiday_history = (0..len)
            .map(|i| day_of(i, start_day).map(|t| holidays.contains(&t.date())))
            .collect::<Result<Vec<_>, _>>()?;
        // Plan from `from` on; a CSV's history may end before it: the gap
        // is forecast too, and left out of what is shown.
        let gap = (from - end_day).get_days().max(0) as usize * per_day;
        let horizon = gap + r.days as usize * per_day;
        let holiday_ahead = (0..horizon)
            .map(|i| day_of(i, end_day).map(|t| holidays.contains(&t.date())))
            .collect::<Result<Vec<_>, _>>()?;
        let f = forecast_volumes(&volumes, &holiday_history, &holiday_ahead, per_day, horizon)
            .map_err(|e| bad("history", e.to_string()))?;
        let ahts: Vec<f64> = forecast_aht(&volumes, &handle, per_day, horizon)
            .into_iter()
            .map(|a| if a > 0.0 { a } else { r.default_aht })
            .collect();
        let tz = self.tenant_zone(p.tenant_id).await?;
        let mut intervals = Vec::with_capacity(horizon - gap);
        for (i, (&forecast, &aht)) in f.values.iter().zip(&ahts).enumerate().skip(gap) {
            let local = day_of(i, end_day)?;
            let clock_change = match tz.to_ambiguous_timestamp(local).offset() {
                jiff::tz::AmbiguousOffset::Gap { .. } => Some("skipped"),
                jiff::tz::AmbiguousOffset::Fold { .. } => Some("repeated"),
                jiff::tz::AmbiguousOffset::Unambiguous { .. } => None,
            };
            let contacts = if clock_change == Some("skipped") {
                0.0
            } else {
                forecast
            };
            let req = staff(contacts, aht, step as f64 * 60.0, r.model, &r.target)
                .map_err(|e| bad("target", e.to_string()))?;
            intervals.push(PlannedInterval {
                local_start: local.strftime("%Y-%m-%dT%H:%M").to_string(),
                clock_change,
                contacts,
                aht_seconds: aht,
                agents: req.agents,
                positions: req.positions,
                service_level: req.service_level,
                asa_seconds: req.asa,
                occupancy: req.occupancy,
            });
        }
        let week = 7 * per_day;
        let history = (len.saturating_sub(week)..len)
            .map(|i| {
                Ok((
                    day_of(i, start_day)?.strftime("%Y-%m-%dT%H:%M").to_string(),
                    volumes[i],
                ))
            })
            .collect::<Result<Vec<_>, AppError>>()?;
        Ok(Plan {
            history,
            intervals,
            accuracy: f.accuracy,
            history_days: days,
        })
    }

    /// Contacts that arrived from local day `first` up to `until`, by local
    /// start minute, with their mean handle time.
    async fn history_from_store(
        &self,
        p: &Principal,
        queue: Option<QueueId>,
        first: jiff::civil::Date,
        until: jiff::civil::Date,
    ) -> Result<Vec<(jiff::civil::DateTime, f64, f64)>, AppError> {
        let tz = self.tenant_zone(p.tenant_id).await?;
        let filter = ContactFilter {
            queue_id: queue,
            arrived_from: Some(local_midnight(&tz, first)?),
            arrived_before: Some(local_midnight(&tz, until)?),
            ..Default::default()
        };
        // Minute of arrival (local) → (contacts, handled, handle ms).
        let mut acc: BTreeMap<jiff::civil::DateTime, (f64, f64, f64)> = BTreeMap::new();
        let mut after = None;
        loop {
            let page = self
                .store()
                .list_contacts(p.tenant_id, &filter, after, 500)
                .await?;
            for c in &page.items {
                let Ok(ts) = jiff::Timestamp::from_millisecond(c.arrived_at) else {
                    continue;
                };
                let local = tz.to_datetime(ts);
                let key = local.date().to_datetime(jiff::civil::Time::constant(
                    local.hour(),
                    local.minute(),
                    0,
                    0,
                ));
                let e = acc.entry(key).or_default();
                e.0 += 1.0;
                if let (Some(ans), Some(done)) = (c.answered_at, c.wrap_ended_at.or(c.ended_at)) {
                    e.1 += 1.0;
                    e.2 += (done - ans).max(0) as f64;
                }
            }
            match page.next {
                Some(n) => after = n.parse().ok(),
                None => break,
            }
        }
        Ok(acc
            .into_iter()
            .map(|(k, (n, handled, ms))| {
                (
                    k,
                    n,
                    if handled > 0.0 {
                        ms / handled / 1000.0
                    } else {
                        0.0
                    },
                )
            })
            .collect())
    }
}

impl App {
    /// Shifts to start so that `required` agents (per interval, whole
    /// days from local midnight) are covered; see `sb_wfm::schedule`.
    pub fn schedule_shifts(
        &self,
        p: &Principal,
        required: &[u32],
        interval_minutes: u32,
        templates: &[sb_wfm::schedule::ShiftTemplate],
    ) -> Result<sb_wfm::schedule::Schedule, AppError> {
        p.require(Permission::ReportRead)?;
        if required.len() > MAX_PLAN_DAYS as usize * 96 {
            return Err(bad("required", "at most 31 days of intervals"));
        }
        if templates.len() > 50 {
            return Err(bad("shifts", "at most 50 shift templates"));
        }
        sb_wfm::schedule::schedule(required, interval_minutes, templates).map_err(|e| {
            use sb_wfm::schedule::ScheduleError as E;
            let field = match &e {
                E::Interval(_) => "interval",
                E::Days(..) => "required",
                E::Solver(_) => return AppError::Internal(e.to_string()),
                _ => "shifts",
            };
            bad(field, e.to_string())
        })
    }
}

/// One interval of today as it goes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct IntradayInterval {
    pub local_start: String,
    /// This morning's forecast.
    pub forecast: f64,
    /// Contacts that arrived, for intervals begun.
    pub actual: Option<f64>,
    /// What is expected now: the actual for intervals over, the forecast
    /// scaled by how the day has run so far for the rest.
    pub reforecast: f64,
    /// Agents needed on the phones for the re-forecast (before shrinkage,
    /// so it compares with `staffed`).
    pub required: u64,
    /// Agents on published shifts and not on a break, on average over
    /// the interval.
    pub scheduled: f64,
    /// Agents logged in and not away, on average over the interval (for
    /// intervals begun).
    pub staffed: Option<f64>,
}

/// Today so far and the rest of it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Intraday {
    pub now_local: String,
    /// Actual over forecast for the intervals over (1 before any).
    pub ratio: f64,
    pub intervals: Vec<IntradayInterval>,
}

impl App {
    /// Today's forecast against what has happened: contacts and agents
    /// logged in per interval so far, and the rest of the day re-forecast
    /// from how far actuals have run above or below the forecast.
    pub async fn intraday(&self, p: &Principal, mut r: PlanRequest) -> Result<Intraday, AppError> {
        let tz = self.tenant_zone(p.tenant_id).await?;
        let now = self.now();
        let local_now = jiff::Timestamp::from_millisecond(now)
            .map(|t| tz.to_datetime(t))
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let today = local_now.date();
        r.from = today.to_string();
        r.days = 1;
        r.history_csv = None;
        let step = i64::from(r.interval_minutes);
        let (model, target) = (r.model, r.target);
        let queue = r.queue;
        let plan = self.plan(p, r).await?;
        let tomorrow = today
            .tomorrow()
            .map_err(|e| AppError::Internal(e.to_string()))?;
        // Contacts so far, by interval of the day.
        let per_day = (1440 / step) as usize;
        let mut actual = vec![0.0; per_day];
        for (at, n, _) in self.history_from_store(p, queue, today, tomorrow).await? {
            let minute = i64::from(at.hour()) * 60 + i64::from(at.minute());
            actual[(minute / step) as usize] += n;
        }
        let time = self
            .agent_time_by_interval(
                p,
                &tz,
                local_midnight(&tz, today)?,
                local_midnight(&tz, tomorrow)?,
                step,
            )
            .await?;
        let now_minute = i64::from(local_now.hour()) * 60 + i64::from(local_now.minute());
        let current = (now_minute / step) as usize;
        // How the day has run: actual over forecast for intervals over.
        let (done_actual, done_forecast): (f64, f64) = plan.intervals
            [..current.min(plan.intervals.len())]
            .iter()
            .zip(&actual)
            .fold((0.0, 0.0), |(a, f), (i, x)| (a + x, f + i.contacts));
        let ratio = if done_forecast > 0.0 {
            done_actual / done_forecast
        } else {
            1.0
        };
        let mut starts = Vec::with_capacity(plan.intervals.len());
        for i in &plan.intervals {
            let local: jiff::civil::DateTime = i
                .local_start
                .parse()
                .map_err(|_| AppError::Internal("a planned interval has a bad start".into()))?;
            starts.push(
                tz.to_timestamp(local)
                    .map(|t| t.as_millisecond())
                    .map_err(|e| AppError::Internal(e.to_string()))?,
            );
        }
        let scheduled = self.scheduled_by_interval(p, &starts, step).await?;
        let mut intervals = Vec::with_capacity(plan.intervals.len());
        for (k, i) in plan.intervals.iter().enumerate() {
            let begun = k <= current;
            let reforecast = if k < current {
                actual[k]
            } else {
                i.contacts * ratio
            };
            let required = if i.clock_change == Some("skipped") {
                0
            } else {
                sb_wfm::staff(
                    reforecast,
                    i.aht_seconds,
                    step as f64 * 60.0,
                    model,
                    &target,
                )
                .map_err(|e| bad("target", e.to_string()))?
                .agents
            };
            let staffed = if begun {
                let ms = time.get(&starts[k]).map(|v| v.1).unwrap_or(0);
                let elapsed = if k == current {
                    ((now_minute - k as i64 * step) * 60_000).max(1)
                } else {
                    step * 60_000
                };
                Some(ms as f64 / elapsed as f64)
            } else {
                None
            };
            intervals.push(IntradayInterval {
                local_start: i.local_start.clone(),
                forecast: i.contacts,
                actual: begun.then_some(actual[k]),
                reforecast,
                required,
                scheduled: scheduled[k],
                staffed,
            });
        }
        Ok(Intraday {
            now_local: local_now.strftime("%Y-%m-%dT%H:%M").to_string(),
            ratio,
            intervals,
        })
    }
}
