//! Rosters: agents' contracts (weekly hours and availability), named
//! agents put on the shifts a schedule starts (`sb_wfm::roster`), drafts
//! published for agents to see and subscribe to, and adherence of what
//! agents did to what was published.
//!
//! Shifts are local wall-clock times in the tenant's zone turned into
//! instants when the roster is built, so a shift lasts its length in real
//! time across a DST change, and rest between shifts is real rest.

use std::collections::{BTreeMap, HashMap};

use jiff::civil::{Date, Time};
use sb_model::{AgentId, Permission, UnixMs};
use sb_store::{AgentContract, Roster, RosterShift, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{new_secret, secret_hash};
use crate::{App, AppError, FieldError, Principal, Secret, local_midnight};

pub use sb_wfm::availability::WEEKDAYS;
use sb_wfm::availability::Weekly;

/// The most shifts one roster holds, and the most days it covers.
pub const MAX_ROSTER_SHIFTS: usize = 20_000;
pub const MAX_ROSTER_DAYS: u32 = 31;

/// Minutes from midnight of a time of day `HH:MM`.
fn day_minute(s: &str) -> Option<u32> {
    sb_model::hours::minutes(s, false).map(u32::from)
}

fn problems(v: Vec<sb_wfm::availability::Problem>) -> Vec<FieldError> {
    v.into_iter()
        .map(|(field, message)| FieldError { field, message })
        .collect()
}

/// An agent's contract as the planner sees it; agents without one may
/// work any time, up to 40 hours a week.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ContractView {
    pub agent_id: String,
    pub agent_name: String,
    pub min_hours: f64,
    pub max_hours: f64,
    pub availability: BTreeMap<String, Vec<[String; 2]>>,
    /// False while the defaults apply.
    pub set: bool,
}

/// The contract the roster uses for an agent without one.
const DEFAULT_MAX_MINUTES: i64 = 40 * 60;

/// A contract to set.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractSpec {
    pub min_hours: f64,
    pub max_hours: f64,
    #[serde(default)]
    pub availability: BTreeMap<String, Vec<[String; 2]>>,
}

/// Shifts to put agents on: `agents` of them, on local day `day` from the
/// first, from `start` (`HH:MM`) for `minutes`, with breaks.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShiftSpec {
    pub day: u32,
    pub shift: String,
    pub start: String,
    pub minutes: u32,
    #[serde(default)]
    pub breaks: Vec<BreakSpec>,
    pub agents: u32,
    /// A skill (by name) the agents on it need.
    #[serde(default)]
    pub skill: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakSpec {
    /// `HH:MM`, the time of day it starts.
    pub start: String,
    pub minutes: u32,
    #[serde(default)]
    pub paid: bool,
}

/// What to roster.
#[derive(Debug, Clone)]
pub struct RosterRequest {
    pub name: String,
    pub first_day: String,
    pub days: u32,
    pub shifts: Vec<ShiftSpec>,
    pub min_rest_hours: f64,
    pub max_consecutive_days: u32,
}

/// A shift as pages and feeds show it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ShiftView {
    pub id: String,
    pub roster_id: String,
    pub agent_id: Option<String>,
    pub agent_name: Option<String>,
    pub shift: String,
    pub skill: Option<String>,
    pub starts_at: UnixMs,
    pub ends_at: UnixMs,
    /// Local `YYYY-MM-DDTHH:MM` in the tenant's zone.
    pub local_start: String,
    pub local_end: String,
    pub breaks: Vec<BreakView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct BreakView {
    pub starts_at: UnixMs,
    pub ends_at: UnixMs,
    pub local_start: String,
    pub local_end: String,
    pub paid: bool,
}

/// A shift no one could take, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Unfilled {
    pub shift_id: String,
    pub shift: String,
    pub local_start: String,
    /// Per reason, how many agents it ruled out.
    pub reasons: Vec<ReasonCount>,
}

/// A reason agents could not take a shift, and how many it stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReasonCount {
    pub reason: String,
    pub agents: usize,
}

/// An agent left below their contracted minimum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UnderContract {
    pub agent_id: String,
    pub agent_name: String,
    pub short_hours: f64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct Explanation {
    pub unfilled: Vec<Unfilled>,
    pub under_contract: Vec<UnderContract>,
}

/// A roster without its shifts.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RosterSummary {
    pub id: String,
    pub name: String,
    /// The first local day, `YYYY-MM-DD`.
    pub first_day: String,
    pub days: i64,
    /// `draft`, `published` or `superseded`.
    pub state: String,
    pub created_at: UnixMs,
    pub published_at: Option<UnixMs>,
}

impl From<Roster> for RosterSummary {
    fn from(r: Roster) -> Self {
        RosterSummary {
            id: r.id,
            name: r.name,
            first_day: r.first_day,
            days: r.days,
            state: r.state,
            created_at: r.created_at,
            published_at: r.published_at,
        }
    }
}

/// A roster with its shifts.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RosterView {
    #[serde(flatten)]
    pub roster: RosterSummary,
    pub shifts: Vec<ShiftView>,
    pub explanation: Explanation,
}

/// One agent's adherence over a day.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AgentAdherence {
    pub agent_id: String,
    pub agent_name: String,
    pub scheduled_minutes: f64,
    pub adherence_pct: Option<f64>,
    pub conformance_pct: Option<f64>,
    pub exceptions: Vec<ExceptionView>,
    /// What the schedule says now: `work`, `break` or `off`.
    pub planned_now: String,
    /// The agent's status now (with the reason when away).
    pub actual_now: String,
    /// Out of adherence since (local time), when out for at least the
    /// grace period and still out now.
    pub out_since: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ExceptionView {
    pub local_start: String,
    pub local_end: String,
    pub minutes: f64,
    pub planned: String,
    pub actual: String,
}

/// An instant as local `YYYY-MM-DDTHH:MM` in `tz`.
pub(crate) fn local(tz: &jiff::tz::TimeZone, ms: UnixMs) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| tz.to_datetime(t).strftime("%Y-%m-%dT%H:%M").to_string())
        .unwrap_or_default()
}

fn parse_day(field: &str, s: &str) -> Result<Date, AppError> {
    s.parse::<Date>()
        .map_err(|_| AppError::invalid(field, "must be a date YYYY-MM-DD"))
}

fn at_local(tz: &jiff::tz::TimeZone, day: Date, minute: u32) -> Result<UnixMs, AppError> {
    let day = day
        .checked_add(jiff::Span::new().days(i64::from(minute / 1440)))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let m = minute % 1440;
    let t = Time::new((m / 60) as i8, (m % 60) as i8, 0, 0)
        .map_err(|e| AppError::Internal(e.to_string()))?;
    tz.to_timestamp(day.to_datetime(t))
        .map(|t| t.as_millisecond())
        .map_err(|e| AppError::Internal(e.to_string()))
}

fn weekday_index(d: Date) -> usize {
    d.weekday().to_monday_zero_offset() as usize
}

/// A shift's breaks: start, end, paid.
type Breaks = Vec<(UnixMs, UnixMs, bool)>;

fn parse_breaks(s: &str) -> Breaks {
    serde_json::from_str(s).unwrap_or_default()
}

impl App {
    /// The contracts set, by agent id.
    async fn contracts_by_agent(
        &self,
        p: &Principal,
    ) -> Result<HashMap<String, AgentContract>, AppError> {
        Ok(self
            .store()
            .list_contracts(p.tenant_id)
            .await?
            .into_iter()
            .map(|c| (c.agent_id.clone(), c))
            .collect())
    }

    /// Every agent's contract (defaults where none is set).
    pub async fn contracts(&self, p: &Principal) -> Result<Vec<ContractView>, AppError> {
        p.require(Permission::ReportRead)?;
        let set = self.contracts_by_agent(p).await?;
        let mut out = Vec::new();
        for a in self.all_agents(p).await? {
            let id = a.id.to_string();
            out.push(match set.get(&id) {
                Some(c) => ContractView {
                    agent_id: id,
                    agent_name: a.display_name,
                    min_hours: c.min_minutes as f64 / 60.0,
                    max_hours: c.max_minutes as f64 / 60.0,
                    availability: serde_json::from_str(&c.availability).unwrap_or_default(),
                    set: true,
                },
                None => ContractView {
                    agent_id: id,
                    agent_name: a.display_name,
                    min_hours: 0.0,
                    max_hours: DEFAULT_MAX_MINUTES as f64 / 60.0,
                    availability: Weekly::always().to_map(),
                    set: false,
                },
            });
        }
        out.sort_by(|a, b| a.agent_name.cmp(&b.agent_name));
        Ok(out)
    }

    pub async fn put_contract(
        &self,
        p: &Principal,
        agent: AgentId,
        c: ContractSpec,
    ) -> Result<ContractView, AppError> {
        p.require(Permission::RosterManage)?;
        let a = self
            .store()
            .get_agent(p.tenant_id, agent)
            .await
            .map_err(AppError::from_store("agent"))?;
        let mut errors = Vec::new();
        if !(c.min_hours.is_finite() && (0.0..=168.0).contains(&c.min_hours)) {
            errors.push(FieldError {
                field: "min_hours".into(),
                message: "must be from 0 to 168".into(),
            });
        }
        if !(c.max_hours.is_finite() && (0.0..=168.0).contains(&c.max_hours)) {
            errors.push(FieldError {
                field: "max_hours".into(),
                message: "must be from 0 to 168".into(),
            });
        } else if c.max_hours < c.min_hours {
            errors.push(FieldError {
                field: "max_hours".into(),
                message: "must be at least min_hours".into(),
            });
        }
        let avail = match Weekly::parse("availability", &c.availability) {
            Ok(a) => Some(a),
            Err(e) => {
                errors.extend(problems(e));
                None
            }
        };
        let Some(avail) = avail.filter(|_| errors.is_empty()) else {
            return Err(AppError::Invalid(errors));
        };
        let row = AgentContract {
            tenant_id: p.tenant_id,
            agent_id: agent.to_string(),
            min_minutes: (c.min_hours * 60.0).round() as i64,
            max_minutes: (c.max_hours * 60.0).round() as i64,
            availability: serde_json::to_string(&avail.to_map())
                .map_err(|e| AppError::Internal(e.to_string()))?,
            updated_at: self.now(),
        };
        self.store()
            .put_contract(&row, &p.audit(row.updated_at))
            .await?;
        Ok(ContractView {
            agent_id: row.agent_id,
            agent_name: a.display_name,
            min_hours: row.min_minutes as f64 / 60.0,
            max_hours: row.max_minutes as f64 / 60.0,
            availability: avail.to_map(),
            set: true,
        })
    }

    /// Puts the tenant's agents on the shifts under their contracts and
    /// the rules, and keeps the result as a draft roster.
    pub async fn build_roster(
        &self,
        p: &Principal,
        r: RosterRequest,
    ) -> Result<RosterView, AppError> {
        p.require(Permission::RosterManage)?;
        let tz = self.tenant_zone(p.tenant_id).await?;
        let mut errors = Vec::new();
        let mut err = |field: String, message: &str| {
            errors.push(FieldError {
                field,
                message: message.into(),
            })
        };
        let name = r.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 {
            err("name".into(), "must be 1 to 100 characters");
        }
        let first = r.first_day.parse::<Date>().ok();
        if first.is_none() {
            err("first_day".into(), "must be a date YYYY-MM-DD");
        }
        if !(1..=MAX_ROSTER_DAYS).contains(&r.days) {
            err("days".into(), "must be from 1 to 31");
        }
        if !(r.min_rest_hours.is_finite() && (0.0..=48.0).contains(&r.min_rest_hours)) {
            err("min_rest_hours".into(), "must be from 0 to 48");
        }
        if !(1..=31).contains(&r.max_consecutive_days) {
            err("max_consecutive_days".into(), "must be from 1 to 31");
        }
        if r.shifts.is_empty() {
            err("shifts".into(), "must list at least one shift");
        }
        let total: u64 = r.shifts.iter().map(|s| u64::from(s.agents)).sum();
        if total > MAX_ROSTER_SHIFTS as u64 {
            err("shifts".into(), "at most 20000 shifts in one roster");
        }
        let skills = crate::routing::skill_names(self.store(), p.tenant_id).await?;
        let skill_by_name: HashMap<&str, sb_model::SkillId> =
            skills.iter().map(|(id, n)| (n.as_str(), *id)).collect();
        // Each shift as (day, start minute of day, minutes, breaks (minute
        // of day, minutes, paid), skill name).
        let mut specs = Vec::with_capacity(r.shifts.len());
        for (i, s) in r.shifts.iter().enumerate() {
            let f = |k: &str| format!("shifts[{i}].{k}");
            if s.day >= r.days {
                err(f("day"), "must be within the roster's days");
            }
            let label = s.shift.trim();
            if label.is_empty() || label.chars().count() > 100 {
                err(f("shift"), "must be 1 to 100 characters");
            }
            let start = day_minute(&s.start).filter(|&m| m < 1440);
            if start.is_none() {
                err(f("start"), "must be a time HH:MM");
            }
            if s.minutes == 0 || s.minutes > 1440 {
                err(
                    f("minutes"),
                    "a shift lasts more than 0 and at most 1440 minutes",
                );
            }
            if let Some(k) = &s.skill
                && !skill_by_name.contains_key(k.as_str())
            {
                err(f("skill"), "no skill of this name");
            }
            let mut breaks = Vec::new();
            for (k, b) in s.breaks.iter().enumerate() {
                let at = day_minute(&b.start).filter(|&m| m < 1440);
                match (at, start) {
                    (Some(at), Some(st)) => {
                        // Minutes into the shift, the break may cross midnight.
                        let off = (at + 1440 - st) % 1440;
                        if b.minutes == 0 || off + b.minutes > s.minutes {
                            err(
                                format!("shifts[{i}].breaks[{k}]"),
                                "a break must last more than 0 minutes and fit in the shift",
                            );
                        }
                        breaks.push((off, b.minutes, b.paid));
                    }
                    _ => err(
                        format!("shifts[{i}].breaks[{k}].start"),
                        "must be a time HH:MM",
                    ),
                }
            }
            specs.push((
                s.day,
                start.unwrap_or(0),
                s.minutes,
                breaks,
                s.skill.clone(),
                label.to_owned(),
                s.agents,
            ));
        }
        let (Some(first), true) = (first, errors.is_empty()) else {
            return Err(AppError::Invalid(errors));
        };
        let origin = local_midnight(&tz, first)?;
        let minute_of = |ms: UnixMs| (ms - origin).div_euclid(60_000);
        // The shifts, one per agent needed, as instants.
        let mut shifts: Vec<(sb_wfm::roster::Shift, UnixMs, UnixMs, Breaks)> = Vec::new();
        for (day, start, minutes, breaks, skill, label, n) in &specs {
            let day_date = first
                .checked_add(jiff::Span::new().days(i64::from(*day)))
                .map_err(|e| AppError::Internal(e.to_string()))?;
            let starts = at_local(&tz, day_date, *start)?;
            let ends = starts + i64::from(*minutes) * 60_000;
            let unpaid: u32 = breaks.iter().filter(|b| !b.2).map(|b| b.1).sum();
            let bs: Breaks = breaks
                .iter()
                .map(|&(off, len, paid)| {
                    let b = starts + i64::from(off) * 60_000;
                    (b, b + i64::from(len) * 60_000, paid)
                })
                .collect();
            for _ in 0..*n {
                shifts.push((
                    sb_wfm::roster::Shift {
                        day: *day as usize,
                        start: minute_of(starts),
                        end: minute_of(ends),
                        paid: i64::from(minutes - unpaid),
                        skill: skill.clone(),
                        label: label.clone(),
                    },
                    starts,
                    ends,
                    bs.clone(),
                ));
            }
        }
        // Agents, with their contracts in this roster's terms.
        let contracts = self.contracts_by_agent(p).await?;
        let agents = self.all_agents(p).await?;
        // Contracted hours are weekly: a roster holds its whole weeks of the
        // minimum, and the maximum of every week it touches (so a roster
        // shorter than a week has no minimum and the weekly maximum).
        let (whole_weeks, weeks_touched) = (i64::from(r.days / 7), i64::from(r.days.div_ceil(7)));
        let mut ros_agents = Vec::with_capacity(agents.len());
        for a in &agents {
            let id = a.id.to_string();
            let (min, max, avail) = match contracts.get(&id) {
                Some(c) => {
                    let map: BTreeMap<String, Vec<[String; 2]>> =
                        serde_json::from_str(&c.availability).unwrap_or_default();
                    (
                        c.min_minutes,
                        c.max_minutes,
                        Weekly::parse("availability", &map).unwrap_or_else(|_| Weekly::always()),
                    )
                }
                None => (0, DEFAULT_MAX_MINUTES, Weekly::always()),
            };
            // Windows as minutes from the first midnight, each end placed
            // in the tenant's zone.
            let windows = avail.windows(weekday_index(first), r.days as usize, |d, m| {
                let date = first
                    .checked_add(jiff::Span::new().days(d as i64))
                    .map_err(|e| AppError::Internal(e.to_string()))?;
                Ok::<_, AppError>(minute_of(at_local(&tz, date, m)?))
            })?;
            ros_agents.push(sb_wfm::roster::Agent {
                name: a.display_name.clone(),
                skills: a
                    .skills
                    .iter()
                    .filter_map(|s| skills.get(&s.skill_id).cloned())
                    .collect(),
                available: windows,
                min_minutes: min * whole_weeks,
                max_minutes: max * weeks_touched,
            });
        }
        let rules = sb_wfm::roster::Rules {
            min_rest_minutes: (r.min_rest_hours * 60.0).round() as i64,
            max_consecutive_days: r.max_consecutive_days as usize,
            weekend: {
                let mut w = [false; 7];
                for (d, slot) in w.iter_mut().enumerate() {
                    let date = first
                        .checked_add(jiff::Span::new().days(d as i64))
                        .map_err(|e| AppError::Internal(e.to_string()))?;
                    *slot = weekday_index(date) >= 5;
                }
                w
            },
        };
        let pure: Vec<sb_wfm::roster::Shift> = shifts.iter().map(|s| s.0.clone()).collect();
        let result = sb_wfm::roster::roster(&ros_agents, &pure, &rules);
        let now = self.now();
        let roster_id = self.new_uuid().to_string();
        let rows: Vec<RosterShift> = shifts
            .iter()
            .zip(&result.assigned)
            .map(|((s, starts, ends, breaks), who)| RosterShift {
                id: self.new_uuid().to_string(),
                tenant_id: p.tenant_id,
                roster_id: roster_id.clone(),
                agent_id: who.map(|i| agents[i].id.to_string()),
                label: s.label.clone(),
                skill: s.skill.clone(),
                starts_at: *starts,
                ends_at: *ends,
                breaks: serde_json::to_string(breaks).unwrap_or_else(|_| "[]".into()),
            })
            .collect();
        let explanation = Explanation {
            unfilled: result
                .unfilled
                .iter()
                .map(|(i, reasons)| Unfilled {
                    shift_id: rows[*i].id.clone(),
                    shift: rows[*i].label.clone(),
                    local_start: local(&tz, rows[*i].starts_at),
                    reasons: reasons
                        .iter()
                        .map(|(r, n)| ReasonCount {
                            reason: r.describe().to_owned(),
                            agents: *n,
                        })
                        .collect(),
                })
                .collect(),
            under_contract: result
                .under_contract
                .iter()
                .map(|&(i, short)| UnderContract {
                    agent_id: agents[i].id.to_string(),
                    agent_name: agents[i].display_name.clone(),
                    short_hours: short as f64 / 60.0,
                })
                .collect(),
        };
        let end = first
            .checked_add(jiff::Span::new().days(i64::from(r.days)))
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let roster = Roster {
            id: roster_id.clone(),
            tenant_id: p.tenant_id,
            name,
            first_day: first.to_string(),
            end_day: end.to_string(),
            days: i64::from(r.days),
            state: "draft".into(),
            unfilled: serde_json::to_string(&explanation)
                .map_err(|e| AppError::Internal(e.to_string()))?,
            created_by: p.user_id.map(|u| u.to_string()),
            created_at: now,
            published_at: None,
            updated_at: now,
        };
        self.store()
            .insert_roster(&roster, &rows, &p.audit(now))
            .await?;
        self.roster(p, &roster_id).await
    }

    async fn agent_names(&self, p: &Principal) -> Result<HashMap<String, String>, AppError> {
        Ok(self
            .all_agents(p)
            .await?
            .into_iter()
            .map(|a| (a.id.to_string(), a.display_name))
            .collect())
    }

    fn shift_views(
        tz: &jiff::tz::TimeZone,
        names: &HashMap<String, String>,
        rows: Vec<RosterShift>,
    ) -> Vec<ShiftView> {
        rows.into_iter()
            .map(|s| ShiftView {
                agent_name: s.agent_id.as_ref().and_then(|a| names.get(a).cloned()),
                local_start: local(tz, s.starts_at),
                local_end: local(tz, s.ends_at),
                breaks: parse_breaks(&s.breaks)
                    .into_iter()
                    .map(|(a, b, paid)| BreakView {
                        starts_at: a,
                        ends_at: b,
                        local_start: local(tz, a),
                        local_end: local(tz, b),
                        paid,
                    })
                    .collect(),
                id: s.id,
                roster_id: s.roster_id,
                agent_id: s.agent_id,
                shift: s.label,
                skill: s.skill,
                starts_at: s.starts_at,
                ends_at: s.ends_at,
            })
            .collect()
    }

    /// A roster with its shifts.
    pub async fn roster(&self, p: &Principal, id: &str) -> Result<RosterView, AppError> {
        p.require(Permission::ReportRead)?;
        let r = self
            .store()
            .get_roster(p.tenant_id, id)
            .await
            .map_err(AppError::from_store("roster"))?;
        let tz = self.tenant_zone(p.tenant_id).await?;
        let names = self.agent_names(p).await?;
        let rows = self.store().roster_shifts(p.tenant_id, id).await?;
        Ok(RosterView {
            shifts: Self::shift_views(&tz, &names, rows),
            explanation: serde_json::from_str(&r.unfilled).unwrap_or_default(),
            roster: r.into(),
        })
    }

    /// The tenant's rosters, newest first (without their shifts).
    pub async fn list_rosters(&self, p: &Principal) -> Result<Vec<RosterSummary>, AppError> {
        p.require(Permission::ReportRead)?;
        Ok(self
            .store()
            .list_rosters(p.tenant_id, 200)
            .await?
            .into_iter()
            .map(RosterSummary::from)
            .collect())
    }

    /// Publishes a draft; returns the rosters it superseded.
    pub async fn publish_roster(&self, p: &Principal, id: &str) -> Result<Vec<String>, AppError> {
        p.require(Permission::RosterManage)?;
        let now = self.now();
        self.store()
            .publish_roster(p.tenant_id, id, now, &p.audit(now))
            .await
            .map_err(AppError::from_store("roster"))
    }

    pub async fn delete_roster(&self, p: &Principal, id: &str) -> Result<(), AppError> {
        p.require(Permission::RosterManage)?;
        let now = self.now();
        self.store()
            .delete_draft_roster(p.tenant_id, id, &p.audit(now))
            .await
            .map_err(AppError::from_store("roster"))
    }

    /// The caller's published shifts for `days` days from local day `from`
    /// (default today).
    pub async fn my_shifts(
        &self,
        p: &Principal,
        from: Option<&str>,
        days: u32,
    ) -> Result<Vec<ShiftView>, AppError> {
        let Some(agent) = self.own_agent(p).await? else {
            return Err(AppError::NotFound("agent"));
        };
        if !(1..=92).contains(&days) {
            return Err(AppError::invalid("days", "must be from 1 to 92"));
        }
        let tz = self.tenant_zone(p.tenant_id).await?;
        let from = match from {
            Some(s) => parse_day("from", s)?,
            None => jiff::Timestamp::from_millisecond(self.now())
                .map(|t| tz.to_datetime(t).date())
                .map_err(|e| AppError::Internal(e.to_string()))?,
        };
        let to = from
            .checked_add(jiff::Span::new().days(i64::from(days)))
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let rows = self
            .store()
            .published_shifts(
                p.tenant_id,
                Some(&agent.to_string()),
                local_midnight(&tz, from)?,
                local_midnight(&tz, to)?,
            )
            .await?;
        let names = self.agent_names(p).await?;
        Ok(Self::shift_views(&tz, &names, rows))
    }

    /// A new address for the caller's calendar feed; the one before stops
    /// working. The secret is returned once.
    pub async fn new_calendar_feed(&self, p: &Principal) -> Result<Secret, AppError> {
        let Some(agent) = self.own_agent(p).await? else {
            return Err(AppError::NotFound("agent"));
        };
        let secret = new_secret("sbc_")?;
        self.store()
            .replace_calendar_feed(
                p.tenant_id,
                &agent.to_string(),
                &secret_hash(secret.expose()),
                self.now(),
            )
            .await?;
        Ok(secret)
    }

    /// The published shifts behind a calendar feed's secret, from four
    /// weeks ago to three months ahead, with the agent's name; `None` for
    /// an unknown secret.
    pub async fn calendar_feed(
        &self,
        secret: &str,
    ) -> Result<Option<(String, Vec<ShiftView>)>, AppError> {
        let Some((tenant, agent)) = self
            .store()
            .find_calendar_feed(&secret_hash(secret))
            .await?
        else {
            return Ok(None);
        };
        let now = self.now();
        let day = 86_400_000;
        let rows = self
            .store()
            .published_shifts(tenant, Some(&agent), now - 28 * day, now + 92 * day)
            .await?;
        let tz = self.tenant_zone(tenant).await?;
        let name = match agent.parse() {
            Ok(id) => match self.store().get_agent(tenant, id).await {
                Ok(a) => a.display_name,
                Err(StoreError::NotFound) => return Ok(None),
                Err(e) => return Err(e.into()),
            },
            Err(_) => return Ok(None),
        };
        let names = HashMap::from([(agent, name.clone())]);
        Ok(Some((name, Self::shift_views(&tz, &names, rows))))
    }

    /// Adherence of every agent with published shifts on local day `date`
    /// (default today) up to now: exceptions shorter than `grace_minutes`
    /// are not listed, and an agent out of adherence now for longer than it
    /// is flagged with `out_since`.
    pub async fn adherence(
        &self,
        p: &Principal,
        date: Option<&str>,
        grace_minutes: u32,
    ) -> Result<Vec<AgentAdherence>, AppError> {
        p.require(Permission::ReportRead)?;
        if grace_minutes > 120 {
            return Err(AppError::invalid("grace", "must be from 0 to 120 minutes"));
        }
        let tz = self.tenant_zone(p.tenant_id).await?;
        let now = self.now();
        let day = match date {
            Some(s) => parse_day("date", s)?,
            None => jiff::Timestamp::from_millisecond(now)
                .map(|t| tz.to_datetime(t).date())
                .map_err(|e| AppError::Internal(e.to_string()))?,
        };
        let next = day
            .tomorrow()
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let (start, end) = (local_midnight(&tz, day)?, local_midnight(&tz, next)?);
        let shifts = self
            .store()
            .published_shifts(p.tenant_id, None, start, end)
            .await?;
        let mut by_agent: BTreeMap<String, Vec<RosterShift>> = BTreeMap::new();
        for s in shifts {
            if let Some(a) = s.agent_id.clone() {
                by_agent.entry(a).or_default().push(s);
            }
        }
        let agents: Vec<sb_store::Agent> = self
            .all_agents(p)
            .await?
            .into_iter()
            .filter(|a| by_agent.contains_key(&a.id.to_string()))
            .collect();
        let until = end.min(now).max(start);
        let spans = self
            .agent_spans(
                p,
                &agents,
                &crate::reports::Range {
                    tz: tz.clone(),
                    start,
                    end: until,
                },
            )
            .await?;
        let grace = i64::from(grace_minutes) * 60_000;
        let mut out = Vec::with_capacity(agents.len());
        for (a, spans) in agents.iter().zip(spans) {
            let planned = planned_activities(&by_agent[&a.id.to_string()], start, until);
            let actual: Vec<sb_wfm::adherence::Actual> = spans
                .iter()
                .map(|s| sb_wfm::adherence::Actual {
                    start: s.start,
                    end: s.end,
                    status: s.status.clone(),
                    reason: s.reason.clone(),
                })
                .collect();
            let adh = sb_wfm::adherence::adherence(&planned, &actual, grace);
            let all_planned = planned_activities(&by_agent[&a.id.to_string()], start, end);
            let live = now < end && now >= start;
            let planned_now = if live {
                all_planned
                    .iter()
                    .find(|x| x.start <= now && now < x.end)
                    .map(|x| x.activity.clone())
                    .unwrap_or_else(|| "off".into())
            } else {
                "off".into()
            };
            let actual_now = match actual.last() {
                Some(x) if live && x.end >= until => match &x.reason {
                    Some(r) if x.status == "away" => format!("away ({r})"),
                    _ => x.status.clone(),
                },
                _ => "offline".into(),
            };
            let out_since = adh
                .exceptions
                .last()
                .filter(|e| live && e.end >= until)
                .map(|e| local(&tz, e.start));
            out.push(AgentAdherence {
                agent_id: a.id.to_string(),
                agent_name: a.display_name.clone(),
                scheduled_minutes: adh.scheduled_ms as f64 / 60_000.0,
                adherence_pct: adh.adherence_pct,
                conformance_pct: adh.conformance_pct,
                exceptions: adh
                    .exceptions
                    .iter()
                    .map(|e| ExceptionView {
                        local_start: local(&tz, e.start),
                        local_end: local(&tz, e.end),
                        minutes: (e.end - e.start) as f64 / 60_000.0,
                        planned: e.planned.clone(),
                        actual: e.actual.clone(),
                    })
                    .collect(),
                planned_now,
                actual_now,
                out_since,
            });
        }
        out.sort_by(|a, b| a.agent_name.cmp(&b.agent_name));
        Ok(out)
    }

    /// Agents on published shifts and not on a break, per interval from
    /// `start` (epoch ms) for `intervals` intervals of `minutes`, averaged
    /// over each interval.
    pub(crate) async fn scheduled_by_interval(
        &self,
        p: &Principal,
        starts: &[UnixMs],
        minutes: i64,
    ) -> Result<Vec<f64>, AppError> {
        let (Some(&first), Some(&last)) = (starts.first(), starts.last()) else {
            return Ok(Vec::new());
        };
        let len = minutes * 60_000;
        let shifts = self
            .store()
            .published_shifts(p.tenant_id, None, first, last + len)
            .await?;
        let plans: Vec<Vec<sb_wfm::adherence::Planned>> = shifts
            .iter()
            .map(|s| planned_activities(std::slice::from_ref(s), first, last + len))
            .collect();
        Ok(starts
            .iter()
            .map(|&b| {
                let e = b + len;
                let worked: i64 = plans
                    .iter()
                    .flatten()
                    .filter(|x| x.activity == "work")
                    .map(|x| (x.end.min(e) - x.start.max(b)).max(0))
                    .sum();
                worked as f64 / len as f64
            })
            .collect())
    }
}

/// Shifts as scheduled activities (`work` between breaks, `break`) within
/// `from`..`to`.
fn planned_activities(
    shifts: &[RosterShift],
    from: UnixMs,
    to: UnixMs,
) -> Vec<sb_wfm::adherence::Planned> {
    let mut out = Vec::new();
    let mut push = |start: UnixMs, end: UnixMs, activity: &str| {
        let (s, e) = (start.max(from), end.min(to));
        if e > s {
            out.push(sb_wfm::adherence::Planned {
                start: s,
                end: e,
                activity: activity.into(),
            });
        }
    };
    for s in shifts {
        let mut breaks = parse_breaks(&s.breaks);
        breaks.sort_unstable();
        let mut at = s.starts_at;
        for (b, e, _) in breaks {
            push(at, b, "work");
            push(b, e, "break");
            at = e;
        }
        push(at, s.ends_at, "work");
    }
    out.sort_by_key(|x| x.start);
    out
}
