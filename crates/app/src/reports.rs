//! Reports: the interval report per queue (offered, answered, abandoned,
//! service level, ASA, AHT, occupancy) and the agent report (handled,
//! handle time, time in each state, occupancy) over a range of days in the
//! tenant's local time. Contacts count in the interval they arrived in,
//! under the queue they ended in; agents' time comes from their status
//! events.

use std::collections::BTreeMap;

use sb_model::{AgentId, Permission, QueueId, UnixMs};
use sb_store::{ContactFilter, Event};

use crate::{App, AppError, FieldError, Principal, local_midnight};

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
    /// Of the time agents were logged in and not away during the interval,
    /// the share spent handling contacts (busy or wrapping up), percent.
    /// Agents serve several queues, so this is the centre's figure.
    pub occupancy_pct: Option<f64>,
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

/// One agent over a report's range.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AgentRow {
    pub agent_id: AgentId,
    pub agent: String,
    /// Contacts the agent answered that arrived in the range.
    pub handled: u64,
    /// Average handle time of those finished: answered to end of wrap-up.
    pub aht_ms: Option<u64>,
    /// Milliseconds in each status within the range.
    pub time_in_state: BTreeMap<String, i64>,
    /// Milliseconds away, by reason.
    pub away_by_reason: BTreeMap<String, i64>,
    /// Busy and wrap-up over available, busy and wrap-up, percent.
    pub occupancy_pct: Option<f64>,
}

/// A stretch of time an agent spent in one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateSpan {
    pub status: String,
    pub reason: Option<String>,
    pub start: UnixMs,
    pub end: UnixMs,
}

/// The statuses an agent held from `from` to `to`, from its status events
/// (oldest first; one before `from` gives the status the range began in).
/// Before its first event an agent was offline.
pub fn state_spans(events: &[Event], from: UnixMs, to: UnixMs) -> Vec<StateSpan> {
    let mut out = Vec::new();
    let mut current: Option<(String, Option<String>, UnixMs)> = None;
    let mut close = |cur: Option<(String, Option<String>, UnixMs)>, end: UnixMs| {
        if let Some((status, reason, since)) = cur {
            let (start, end) = (since.max(from), end.min(to));
            if end > start {
                out.push(StateSpan {
                    status,
                    reason,
                    start,
                    end,
                });
            }
        }
    };
    for e in events.iter().filter(|e| e.kind == "agent.status") {
        let v = serde_json::from_str::<serde_json::Value>(&e.payload).unwrap_or_default();
        let status = v["status"].as_str().unwrap_or("offline").to_owned();
        let reason = v["reason"].as_str().map(str::to_owned);
        close(current.take(), e.at);
        current = Some((status, reason, e.at));
    }
    close(current, to);
    out
}

/// Busy and wrap-up over available, busy and wrap-up, percent.
fn occupancy(handling: i64, staffed: i64) -> Option<f64> {
    (staffed > 0).then(|| 100.0 * handling as f64 / staffed as f64)
}

fn is_handling(status: &str) -> bool {
    matches!(status, "busy" | "wrap_up")
}

fn is_staffed(status: &str) -> bool {
    matches!(status, "available" | "busy" | "wrap_up")
}

/// The most days one report covers.
pub const MAX_REPORT_DAYS: i64 = 31;

/// A report's range: from local midnight of `from` to local midnight after
/// `to`, in the tenant's time zone.
pub(crate) struct Range {
    pub(crate) tz: jiff::tz::TimeZone,
    pub(crate) start: UnixMs,
    pub(crate) end: UnixMs,
}

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
    async fn report_range(
        &self,
        p: &Principal,
        from: &str,
        to: &str,
        extra: Vec<FieldError>,
    ) -> Result<Range, AppError> {
        let mut errors = extra;
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
        let tz = self.tenant_zone(p.tenant_id).await?;
        let start = local_midnight(&tz, from_d)?;
        let end = local_midnight(
            &tz,
            to_d.tomorrow()
                .map_err(|e| AppError::invalid("to", e.to_string()))?,
        )?;
        Ok(Range { tz, start, end })
    }

    /// Every agent of the tenant, by id.
    pub(crate) async fn all_agents(&self, p: &Principal) -> Result<Vec<sb_store::Agent>, AppError> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .store()
                .list_agents(p.tenant_id, &Default::default(), after, 500)
                .await?;
            out.extend(page.items);
            match page.next {
                Some(n) => after = n.parse().ok(),
                None => break,
            }
        }
        Ok(out)
    }

    /// Each agent's status spans within the range.
    pub(crate) async fn agent_spans(
        &self,
        p: &Principal,
        agents: &[sb_store::Agent],
        range: &Range,
    ) -> Result<Vec<Vec<StateSpan>>, AppError> {
        let mut out = Vec::with_capacity(agents.len());
        for a in agents {
            let events = self
                .store()
                .events_between(
                    p.tenant_id,
                    &a.id.to_string(),
                    range.start,
                    range.end,
                    1_000_000,
                )
                .await?;
            out.push(state_spans(&events, range.start, range.end.min(self.now())));
        }
        Ok(out)
    }

    /// Agents' time per local interval from `start` to `end` (epoch ms):
    /// (busy or in wrap-up, logged in and not away), in milliseconds, by
    /// the interval's start.
    pub(crate) async fn agent_time_by_interval(
        &self,
        p: &Principal,
        tz: &jiff::tz::TimeZone,
        start: UnixMs,
        end: UnixMs,
        minutes: i64,
    ) -> Result<BTreeMap<UnixMs, (i64, i64)>, AppError> {
        let agents = self.all_agents(p).await?;
        let range = Range {
            tz: tz.clone(),
            start,
            end,
        };
        let mut occ: BTreeMap<UnixMs, (i64, i64)> = BTreeMap::new();
        for spans in self.agent_spans(p, &agents, &range).await? {
            for s in spans.iter().filter(|s| is_staffed(&s.status)) {
                let mut at = s.start;
                while at < s.end {
                    let bucket = bucket_start(tz, at, minutes);
                    let next = (bucket + minutes * 60_000).min(s.end).max(at + 1);
                    let e = occ.entry(bucket).or_default();
                    e.1 += next - at;
                    if is_handling(&s.status) {
                        e.0 += next - at;
                    }
                    at = next;
                }
            }
        }
        Ok(occ)
    }

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
        if ![15, 30, 60].contains(&minutes) {
            errors.push(FieldError {
                field: "interval".into(),
                message: "must be 15, 30 or 60 (minutes)".into(),
            });
        }
        let range = self.report_range(p, from, to, errors).await?;
        let tz = &range.tz;
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
            arrived_from: Some(range.start),
            arrived_before: Some(range.end),
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
                let bucket = bucket_start(tz, c.arrived_at, minutes);
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
        // The centre's occupancy per interval, from every agent's statuses.
        let occ = self
            .agent_time_by_interval(p, tz, range.start, range.end, minutes)
            .await?;
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
                occupancy_pct: occ.get(&start).and_then(|(h, s)| occupancy(*h, *s)),
            })
            .collect())
    }

    /// The agent report from local date `from` to `to` (inclusive): every
    /// agent's contacts handled, handle time, time in each state and
    /// occupancy, by name.
    pub async fn agent_report(
        &self,
        p: &Principal,
        from: &str,
        to: &str,
    ) -> Result<Vec<AgentRow>, AppError> {
        p.require(Permission::ReportRead)?;
        let range = self.report_range(p, from, to, Vec::new()).await?;
        let agents = self.all_agents(p).await?;
        // Contacts answered, by agent.
        let filter = ContactFilter {
            arrived_from: Some(range.start),
            arrived_before: Some(range.end),
            ..Default::default()
        };
        let mut handled: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
        let mut after = None;
        loop {
            let page = self
                .store()
                .list_contacts(p.tenant_id, &filter, after, 500)
                .await?;
            for c in &page.items {
                let (Some(agent), Some(ans)) = (&c.agent_id, c.answered_at) else {
                    continue;
                };
                let h = handled.entry(agent.clone()).or_default();
                h.0 += 1;
                if let Some(done) = c.wrap_ended_at.or(c.ended_at) {
                    h.1 += 1;
                    h.2 += (done - ans).max(0) as u64;
                }
            }
            match page.next {
                Some(n) => after = n.parse().ok(),
                None => break,
            }
        }
        let spans = self.agent_spans(p, &agents, &range).await?;
        let mut rows: Vec<AgentRow> = agents
            .into_iter()
            .zip(spans)
            .map(|(a, spans)| {
                let mut time_in_state: BTreeMap<String, i64> = BTreeMap::new();
                let mut away_by_reason: BTreeMap<String, i64> = BTreeMap::new();
                for s in &spans {
                    *time_in_state.entry(s.status.clone()).or_default() += s.end - s.start;
                    if s.status == "away" {
                        let r = s.reason.clone().unwrap_or_else(|| "unspecified".into());
                        *away_by_reason.entry(r).or_default() += s.end - s.start;
                    }
                }
                let t = |k: &str| time_in_state.get(k).copied().unwrap_or(0);
                let (n, finished, ms) = handled.get(&a.id.to_string()).copied().unwrap_or_default();
                AgentRow {
                    agent_id: a.id,
                    agent: a.display_name,
                    handled: n,
                    aht_ms: (finished > 0).then(|| ms / finished),
                    occupancy_pct: occupancy(
                        t("busy") + t("wrap_up"),
                        t("available") + t("busy") + t("wrap_up"),
                    ),
                    time_in_state,
                    away_by_reason,
                }
            })
            .collect();
        rows.sort_by(|a, b| a.agent.cmp(&b.agent).then(a.agent_id.cmp(&b.agent_id)));
        Ok(rows)
    }

    /// An agent's statistics today, in the tenant's time zone.
    pub async fn agent_today(&self, p: &Principal, agent: AgentId) -> Result<AgentToday, AppError> {
        p.require(Permission::AgentRead)?;
        self.store()
            .get_agent(p.tenant_id, agent)
            .await
            .map_err(AppError::from_store("agent"))?;
        let tz = self.tenant_zone(p.tenant_id).await?;
        let now = self.now();
        let today = jiff::Timestamp::from_millisecond(now)
            .map(|t| tz.to_datetime(t).date())
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let midnight = local_midnight(&tz, today)?;
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
        let events = self
            .store()
            .events_between(p.tenant_id, &agent.to_string(), midnight, now + 1, 100_000)
            .await?;
        let mut time_in_state: BTreeMap<String, i64> = BTreeMap::new();
        for s in state_spans(&events, midnight, now) {
            *time_in_state.entry(s.status).or_default() += s.end - s.start;
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

/// Seconds with one decimal, or empty.
fn secs(v: Option<u64>) -> String {
    v.map(|x| format!("{:.1}", x as f64 / 1000.0))
        .unwrap_or_default()
}

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.1}")).unwrap_or_default()
}

fn csv_of(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing to memory cannot fail.
    let _ = w.write_record(header);
    for r in rows {
        let _ = w.write_record(&r);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// The interval report as CSV (RFC 4180: quoted where needed, CRLF line ends).
pub fn interval_csv(rows: &[IntervalRow]) -> String {
    csv_of(
        &[
            "interval_start",
            "queue",
            "offered",
            "answered",
            "answered_within_threshold",
            "abandoned",
            "service_level_pct",
            "asa_seconds",
            "aht_seconds",
            "occupancy_pct",
        ],
        rows.iter().map(|r| {
            vec![
                r.local_start.clone(),
                r.queue.clone(),
                r.offered.to_string(),
                r.answered.to_string(),
                r.answered_within.to_string(),
                r.abandoned.to_string(),
                pct(r.service_level_pct),
                secs(r.asa_ms),
                secs(r.aht_ms),
                pct(r.occupancy_pct),
            ]
        }),
    )
}

/// The agent report as CSV; times in seconds.
pub fn agent_csv(rows: &[AgentRow]) -> String {
    let state =
        |r: &AgentRow, k: &str| secs(Some(r.time_in_state.get(k).copied().unwrap_or(0) as u64));
    csv_of(
        &[
            "agent",
            "handled",
            "aht_seconds",
            "available_seconds",
            "busy_seconds",
            "wrap_up_seconds",
            "away_seconds",
            "occupancy_pct",
        ],
        rows.iter().map(|r| {
            vec![
                r.agent.clone(),
                r.handled.to_string(),
                secs(r.aht_ms),
                state(r, "available"),
                state(r, "busy"),
                state(r, "wrap_up"),
                state(r, "away"),
                pct(r.occupancy_pct),
            ]
        }),
    )
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
            occupancy_pct: Some(62.5),
        };
        let csv = interval_csv(&[row]);
        assert_eq!(
            csv.lines().nth(1).unwrap(),
            "2026-11-27 10:00,\"Sales, \"\"North\"\"\",3,2,1,1,50.0,12.5,,62.5"
        );
    }

    fn status(at: UnixMs, status: &str, reason: Option<&str>) -> Event {
        Event {
            seq: at,
            tenant_id: "t".into(),
            kind: "agent.status".into(),
            subject_id: "a".into(),
            at,
            payload: serde_json::json!({"status": status, "reason": reason}).to_string(),
        }
    }

    #[test]
    fn spans_are_clipped_to_the_range_and_start_from_the_status_before_it() {
        let events = [
            status(50, "available", None),
            status(120, "busy", None),
            status(150, "wrap_up", None),
            status(170, "away", Some("lunch")),
            status(400, "available", None),
        ];
        let spans = state_spans(&events, 100, 300);
        let got: Vec<(&str, Option<&str>, i64, i64)> = spans
            .iter()
            .map(|s| (s.status.as_str(), s.reason.as_deref(), s.start, s.end))
            .collect();
        assert_eq!(
            got,
            [
                ("available", None, 100, 120),
                ("busy", None, 120, 150),
                ("wrap_up", None, 150, 170),
                ("away", Some("lunch"), 170, 300),
            ]
        );
        // No events: nothing to report (the agent was offline).
        assert!(state_spans(&[], 0, 1000).is_empty());
        // Occupancy: 50 of 70 staffed ms were spent handling.
        let (h, st) = spans.iter().fold((0, 0), |(h, st), s| {
            let d = s.end - s.start;
            (
                h + if is_handling(&s.status) { d } else { 0 },
                st + if is_staffed(&s.status) { d } else { 0 },
            )
        });
        assert_eq!((h, st), (50, 70));
        assert!((occupancy(h, st).unwrap() - 71.428).abs() < 0.01);
        assert_eq!(occupancy(0, 0), None);
    }

    #[test]
    fn agent_csv_has_one_row_per_agent() {
        let row = AgentRow {
            agent_id: AgentId::from_uuid(uuid::Uuid::from_u128(2)),
            agent: "Ana \"A\" Smith".into(),
            handled: 4,
            aht_ms: Some(61_000),
            time_in_state: [
                ("available".to_string(), 30_000),
                ("busy".to_string(), 90_000),
            ]
            .into(),
            away_by_reason: BTreeMap::new(),
            occupancy_pct: Some(75.0),
        };
        let csv = agent_csv(&[row]);
        let mut lines = csv.split("\r\n");
        assert_eq!(
            lines.next().unwrap(),
            "agent,handled,aht_seconds,available_seconds,busy_seconds,wrap_up_seconds,away_seconds,occupancy_pct"
        );
        assert_eq!(
            lines.next().unwrap(),
            "\"Ana \"\"A\"\" Smith\",4,61.0,30.0,90.0,0.0,0.0,75.0"
        );
    }
}
