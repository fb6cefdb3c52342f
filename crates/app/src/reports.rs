//! Reports: the interval report per queue (offered, answered, abandoned,
//! service level, ASA, AHT) over a range of days, in intervals of 15, 30
//! or 60 minutes of the tenant's local time. Contacts count in the
//! interval they arrived in, under the queue they ended in.

use std::collections::BTreeMap;

use sb_model::{Permission, QueueId, UnixMs};
use sb_store::ContactFilter;

use crate::{App, AppError, FieldError, Principal};

/// One queue in one interval.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct IntervalRow {
    /// Start of the interval (epoch ms) and the same in local time.
    pub start: UnixMs,
    pub local_start: String,
    pub queue_id: QueueId,
    pub queue: String,
    pub offered: u64,
    pub answered: u64,
    pub answered_within: u64,
    pub abandoned: u64,
    /// Answered within the queue's threshold over answered, percent.
    pub service_level_pct: Option<f64>,
    pub asa_ms: Option<u64>,
    /// Average handle time: answered to the end of wrap-up.
    pub aht_ms: Option<u64>,
}

/// An agent's day so far (since local midnight).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AgentToday {
    /// Contacts answered today.
    pub handled: u64,
    /// Average handle time of those finished: answered to end of wrap-up.
    pub aht_ms: Option<u64>,
    /// Milliseconds in each status today (`available`, `busy`, `wrap_up`,
    /// `away`, `offline`).
    pub time_in_state: BTreeMap<String, i64>,
}

/// The most days one report covers.
pub const MAX_REPORT_DAYS: i64 = 31;

#[derive(Default)]
struct Acc {
    offered: u64,
    answered: u64,
    within: u64,
    abandoned: u64,
    wait_ms: u64,
    handled: u64,
    handle_ms: u64,
}

impl App {
    /// The interval report from local date `from` to `to` (inclusive,
    /// `YYYY-MM-DD` in the tenant's time zone), optionally one queue.
    pub async fn interval_report(
        &self,
        p: &Principal,
        from: &str,
        to: &str,
        minutes: i64,
        queue: Option<QueueId>,
    ) -> Result<Vec<IntervalRow>, AppError> {
        p.require(Permission::ReportRead)?;
        let mut errors = Vec::new();
        let parse = |field: &str, v: &str, errors: &mut Vec<FieldError>| {
            let d = (v.len() == 10)
                .then(|| v.parse::<jiff::civil::Date>().ok())
                .flatten();
            if d.is_none() {
                errors.push(FieldError {
                    field: field.into(),
                    message: "must be a date YYYY-MM-DD".into(),
                });
            }
            d
        };
        let from_d = parse("from", from, &mut errors);
        let to_d = parse("to", to, &mut errors);
        if ![15, 30, 60].contains(&minutes) {
            errors.push(FieldError {
                field: "interval".into(),
                message: "must be 15, 30 or 60 (minutes)".into(),
            });
        }
        if let (Some(a), Some(b)) = (from_d, to_d) {
            let days = (b - a).get_days() as i64;
            if days < 0 {
                errors.push(FieldError {
                    field: "to".into(),
                    message: "must not be before from".into(),
                });
            } else if days >= MAX_REPORT_DAYS {
                errors.push(FieldError {
                    field: "to".into(),
                    message: format!("a report covers at most {MAX_REPORT_DAYS} days"),
                });
            }
        }
        let (Some(from_d), Some(to_d)) = (from_d, to_d) else {
            return Err(AppError::Invalid(errors));
        };
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let tenant = self.store().get_tenant(p.tenant_id).await?;
        let tz = jiff::tz::TimeZone::get(&tenant.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
        let instant = |d: jiff::civil::Date| {
            tz.to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
                .map(|t| t.as_millisecond())
                .map_err(|e| AppError::Internal(e.to_string()))
        };
        let start = instant(from_d)?;
        let end = instant(
            to_d.tomorrow()
                .map_err(|e| AppError::invalid("to", e.to_string()))?,
        )?;
        // Queue names and service-level thresholds.
        let mut queues = BTreeMap::new();
        let mut cursor = None;
        loop {
            let page = self.store().list_queues(p.tenant_id, cursor, 500).await?;
            for q in &page.items {
                queues.insert(q.id, (q.name.clone(), q.service_level_seconds * 1000));
            }
            match page.next {
                Some(n) => cursor = n.parse().ok(),
                None => break,
            }
        }
        if let Some(q) = queue
            && !queues.contains_key(&q)
        {
            return Err(AppError::invalid("queue_id", "no such queue"));
        }
        let filter = ContactFilter {
            queue_id: queue,
            arrived_from: Some(start),
            arrived_before: Some(end),
            ..Default::default()
        };
        let mut acc: BTreeMap<(UnixMs, QueueId), Acc> = BTreeMap::new();
        let mut after = None;
        loop {
            let page = self
                .store()
                .list_contacts(p.tenant_id, &filter, after, 500)
                .await?;
            for c in &page.items {
                let bucket = bucket_start(&tz, c.arrived_at, minutes);
                let sl_ms = queues.get(&c.queue_id).map(|q| q.1).unwrap_or(20_000);
                let a = acc.entry((bucket, c.queue_id)).or_default();
                a.offered += 1;
                if let Some(ans) = c.answered_at {
                    let waited = (ans - c.arrived_at).max(0);
                    a.answered += 1;
                    a.wait_ms += waited as u64;
                    if waited <= sl_ms {
                        a.within += 1;
                    }
                    if let Some(done) = c.wrap_ended_at.or(c.ended_at) {
                        a.handled += 1;
                        a.handle_ms += (done - ans).max(0) as u64;
                    }
                }
                if c.abandoned_at.is_some() {
                    a.abandoned += 1;
                }
            }
            match page.next {
                Some(n) => after = n.parse().ok(),
                None => break,
            }
        }
        Ok(acc
            .into_iter()
            .map(|((start, queue_id), a)| IntervalRow {
                start,
                local_start: jiff::Timestamp::from_millisecond(start)
                    .map(|t| tz.to_datetime(t).strftime("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default(),
                queue_id,
                queue: queues
                    .get(&queue_id)
                    .map(|q| q.0.clone())
                    .unwrap_or_default(),
                offered: a.offered,
                answered: a.answered,
                answered_within: a.within,
                abandoned: a.abandoned,
                service_level_pct: (a.answered > 0)
                    .then(|| 100.0 * a.within as f64 / a.answered as f64),
                asa_ms: (a.answered > 0).then(|| a.wait_ms / a.answered),
                aht_ms: (a.handled > 0).then(|| a.handle_ms / a.handled),
            })
            .collect())
    }
}

impl App {
    /// An agent's statistics today, in the tenant's time zone.
    pub async fn agent_today(
        &self,
        p: &Principal,
        agent: sb_model::AgentId,
    ) -> Result<AgentToday, AppError> {
        p.require(Permission::AgentRead)?;
        self.store()
            .get_agent(p.tenant_id, agent)
            .await
            .map_err(AppError::from_store("agent"))?;
        let tenant = self.store().get_tenant(p.tenant_id).await?;
        let tz = jiff::tz::TimeZone::get(&tenant.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
        let now = self.now();
        let today = jiff::Timestamp::from_millisecond(now)
            .map(|t| tz.to_datetime(t).date())
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let midnight = tz
            .to_timestamp(today.to_datetime(jiff::civil::Time::midnight()))
            .map(|t| t.as_millisecond())
            .map_err(|e| AppError::Internal(e.to_string()))?;
        // Contacts: those this agent answered since midnight.
        let filter = ContactFilter {
            agent_id: Some(agent),
            arrived_from: Some(midnight - 86_400_000),
            ..Default::default()
        };
        let (mut handled, mut finished, mut handle_ms) = (0u64, 0u64, 0u64);
        let mut after = None;
        loop {
            let page = self
                .store()
                .list_contacts(p.tenant_id, &filter, after, 500)
                .await?;
            for c in &page.items {
                let Some(ans) = c.answered_at.filter(|a| *a >= midnight) else {
                    continue;
                };
                handled += 1;
                if let Some(done) = c.wrap_ended_at.or(c.ended_at) {
                    finished += 1;
                    handle_ms += (done - ans).max(0) as u64;
                }
            }
            match page.next {
                Some(n) => after = n.parse().ok(),
                None => break,
            }
        }
        // Time in each status from the agent's events since midnight (and
        // the last one before, for the status the day began in).
        let events = self
            .store()
            .events_of_since(p.tenant_id, &agent.to_string(), midnight, 100_000)
            .await?;
        let mut time_in_state: BTreeMap<String, i64> = BTreeMap::new();
        let mut current: Option<(String, UnixMs)> = None;
        for e in events.iter().filter(|e| e.kind == "agent.status") {
            let status = serde_json::from_str::<serde_json::Value>(&e.payload)
                .ok()
                .and_then(|v| v["status"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "offline".into());
            if let Some((s, since)) = current.take() {
                let from = since.max(midnight);
                if e.at > from {
                    *time_in_state.entry(s).or_default() += e.at - from;
                }
            }
            current = Some((status, e.at));
        }
        if let Some((s, since)) = current {
            let from = since.max(midnight);
            if now > from {
                *time_in_state.entry(s).or_default() += now - from;
            }
        }
        Ok(AgentToday {
            handled,
            aht_ms: (finished > 0).then(|| handle_ms / finished),
            time_in_state,
        })
    }
}

/// The start of the local interval of `minutes` holding `at`.
fn bucket_start(tz: &jiff::tz::TimeZone, at: UnixMs, minutes: i64) -> UnixMs {
    let Ok(ts) = jiff::Timestamp::from_millisecond(at) else {
        return at;
    };
    let local = tz.to_datetime(ts);
    let minute = (local.minute() as i64 / minutes) * minutes;
    let floored = local
        .date()
        .to_datetime(jiff::civil::Time::constant(local.hour(), 0, 0, 0))
        .checked_add(jiff::Span::new().minutes(minute))
        .unwrap_or(local);
    tz.to_timestamp(floored)
        .map(|t| t.as_millisecond())
        .unwrap_or(at)
}

/// The report as CSV (RFC 4180: quoted where needed, CRLF line ends).
pub fn interval_csv(rows: &[IntervalRow]) -> String {
    let quote = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let num = |v: Option<f64>| v.map(|x| format!("{x:.1}")).unwrap_or_default();
    let secs = |v: Option<u64>| {
        v.map(|x| format!("{:.1}", x as f64 / 1000.0))
            .unwrap_or_default()
    };
    let mut out = String::from(
        "interval_start,queue,offered,answered,answered_within_threshold,abandoned,service_level_pct,asa_seconds,aht_seconds\r\n",
    );
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{}\r\n",
            quote(&r.local_start),
            quote(&r.queue),
            r.offered,
            r.answered,
            r.answered_within,
            r.abandoned,
            num(r.service_level_pct),
            secs(r.asa_ms),
            secs(r.aht_ms),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_start_on_local_boundaries() {
        let tz = jiff::tz::TimeZone::get("Asia/Kolkata").unwrap();
        // 2026-11-27 10:44:30 in Kolkata (UTC+05:30).
        let at = tz
            .to_timestamp(jiff::civil::date(2026, 11, 27).at(10, 44, 30, 0))
            .unwrap()
            .as_millisecond();
        let start = |m| {
            tz.to_datetime(jiff::Timestamp::from_millisecond(bucket_start(&tz, at, m)).unwrap())
                .to_string()
        };
        assert_eq!(start(15), "2026-11-27T10:30:00");
        assert_eq!(start(30), "2026-11-27T10:30:00");
        assert_eq!(start(60), "2026-11-27T10:00:00");
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let row = IntervalRow {
            start: 0,
            local_start: "2026-11-27 10:00".into(),
            queue_id: QueueId::from_uuid(uuid::Uuid::from_u128(1)),
            queue: "Sales, \"North\"".into(),
            offered: 3,
            answered: 2,
            answered_within: 1,
            abandoned: 1,
            service_level_pct: Some(50.0),
            asa_ms: Some(12_500),
            aht_ms: None,
        };
        let csv = interval_csv(&[row]);
        assert_eq!(
            csv.lines().nth(1).unwrap(),
            "2026-11-27 10:00,\"Sales, \"\"North\"\"\",3,2,1,1,50.0,12.5,"
        );
    }
}
