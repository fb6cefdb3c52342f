//! The centre's configuration: skills, agents and queues.
//! Administrators configure everything; team leaders may change only an
//! agent's skills and proficiencies (allocating duties).

use std::collections::BTreeMap;

use sb_model::{
    AgentId, Capacity, Permission, Proficiency, QueueId, RoutingRules, SkillId, Strategy, Text,
    UserId,
};
use sb_store::{Agent, AgentFilter, AgentSkill, Page, Queue, Skill, StoreError};

use crate::{App, AppError, FieldError, Principal};

// ---- skills ----

#[derive(Debug, Clone)]
pub struct NewSkill {
    pub name: Text,
    pub description: String,
}

#[derive(Debug, Clone, Default)]
pub struct SkillPatch {
    pub name: Option<Text>,
    pub description: Option<String>,
}

// ---- agents ----

/// Per-channel capacity: how many contacts of each channel at once.
#[derive(Debug, Clone, Copy)]
pub struct Capacities {
    pub voice: Capacity,
    pub email: Capacity,
    pub chat: Capacity,
    pub sms: Capacity,
}

impl Default for Capacities {
    fn default() -> Self {
        let c = |n| Capacity::new(n).expect("in range");
        Capacities {
            voice: c(1),
            email: c(5),
            chat: c(3),
            sms: c(3),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewAgent {
    pub user_id: UserId,
    pub display_name: Option<Text>,
    pub capacity: Capacities,
    pub voice_blocks_others: bool,
    pub skills: Vec<(SkillId, Proficiency)>,
    /// For routing conditions (`language`, `team`, …).
    pub attributes: BTreeMap<String, String>,
}

/// The most attributes an agent or a contact carries.
pub const MAX_ATTRIBUTES: usize = 32;

/// Checks attributes routing conditions can read: names are lower-case
/// identifiers (so a condition can name them) and not one of `reserved`
/// (which the routing task fills in itself); values are short text.
pub fn attribute_problems(
    field: &str,
    attrs: &BTreeMap<String, String>,
    reserved: &[&str],
) -> Vec<FieldError> {
    let mut out = Vec::new();
    if attrs.len() > MAX_ATTRIBUTES {
        out.push(FieldError {
            field: field.into(),
            message: format!("at most {MAX_ATTRIBUTES} attributes"),
        });
    }
    for (k, v) in attrs {
        let name_ok = (1..=64).contains(&k.len())
            && k.starts_with(|c: char| c.is_ascii_lowercase())
            && k.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !name_ok {
            out.push(FieldError {
                field: format!("{field}.{k}"),
                message:
                    "names are 1 to 64 lower-case letters, digits or _, starting with a letter"
                        .into(),
            });
        } else if reserved.contains(&k.as_str()) {
            out.push(FieldError {
                field: format!("{field}.{k}"),
                message: "is filled in by Switchboard".into(),
            });
        }
        if v.chars().count() > 200 || v.chars().any(char::is_control) {
            out.push(FieldError {
                field: format!("{field}.{k}"),
                message: "values are at most 200 characters of text".into(),
            });
        }
    }
    out
}

/// Attribute names the routing task sets on agents.
pub const AGENT_RESERVED: &[&str] = &["id", "skills"];

#[derive(Debug, Clone, Default)]
pub struct AgentPatch {
    pub display_name: Option<Text>,
    pub capacity: Option<Capacities>,
    pub voice_blocks_others: Option<bool>,
    pub skills: Option<Vec<(SkillId, Proficiency)>>,
    pub attributes: Option<BTreeMap<String, String>>,
}

impl AgentPatch {
    fn only_skills(&self) -> bool {
        self.display_name.is_none()
            && self.capacity.is_none()
            && self.voice_blocks_others.is_none()
            && self.attributes.is_none()
    }
}

/// The most skills one agent holds.
pub const MAX_SKILLS_PER_AGENT: usize = 200;

// ---- queues ----

#[derive(Debug, Clone)]
pub struct NewQueue {
    pub name: Text,
    pub description: String,
    /// The department the queue belongs to; empty for none.
    pub department: String,
    pub strategy: Strategy,
    pub priority: i64,
    pub service_level_seconds: i64,
    pub service_level_target_pct: sb_model::Percent,
    pub max_wait_seconds: Option<i64>,
    pub wrap_up_seconds: i64,
    pub routing_rules: RoutingRules,
}

#[derive(Debug, Clone, Default)]
pub struct QueuePatch {
    pub name: Option<Text>,
    pub description: Option<String>,
    pub department: Option<String>,
    pub strategy: Option<Strategy>,
    pub priority: Option<i64>,
    pub service_level_seconds: Option<i64>,
    pub service_level_target_pct: Option<sb_model::Percent>,
    pub max_wait_seconds: Option<Option<i64>>,
    pub wrap_up_seconds: Option<i64>,
    pub routing_rules: Option<RoutingRules>,
}

/// Bounds of queue numbers: priority 0–100 (higher first), times in seconds.
fn queue_number_problems(q: &Queue) -> Vec<FieldError> {
    let mut out = Vec::new();
    let mut check = |field: &str, v: i64, lo: i64, hi: i64| {
        if !(lo..=hi).contains(&v) {
            out.push(FieldError {
                field: field.into(),
                message: format!("must be from {lo} to {hi}"),
            });
        }
    };
    check("priority", q.priority, 0, 100);
    check("service_level_seconds", q.service_level_seconds, 1, 86_400);
    check("wrap_up_seconds", q.wrap_up_seconds, 0, 3_600);
    if let Some(m) = q.max_wait_seconds {
        check("max_wait_seconds", m, 1, 7 * 86_400);
    }
    out
}

impl App {
    // ---- skills ----

    pub async fn create_skill(&self, p: &Principal, s: NewSkill) -> Result<Skill, AppError> {
        p.require(Permission::SkillManage)?;
        let now = self.now();
        let skill = Skill {
            id: SkillId::from_uuid(self.new_uuid()),
            tenant_id: p.tenant_id,
            name: s.name.into_string(),
            description: s.description,
            created_at: now,
            updated_at: now,
        };
        self.store().insert_skill(&skill, &p.audit(now)).await?;
        Ok(skill)
    }

    pub async fn get_skill(&self, p: &Principal, id: SkillId) -> Result<Skill, AppError> {
        p.require(Permission::SkillRead)?;
        self.store()
            .get_skill(p.tenant_id, id)
            .await
            .map_err(AppError::from_store("skill"))
    }

    pub async fn update_skill(
        &self,
        p: &Principal,
        id: SkillId,
        patch: SkillPatch,
    ) -> Result<Skill, AppError> {
        p.require(Permission::SkillManage)?;
        let mut s = self
            .store()
            .get_skill(p.tenant_id, id)
            .await
            .map_err(AppError::from_store("skill"))?;
        if let Some(n) = patch.name {
            s.name = n.into_string();
        }
        if let Some(d) = patch.description {
            s.description = d;
        }
        s.updated_at = self.now();
        self.store()
            .update_skill(&s, &p.audit(s.updated_at))
            .await
            .map_err(AppError::from_store("skill"))?;
        Ok(s)
    }

    pub async fn list_skills(
        &self,
        p: &Principal,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<Page<Skill>, AppError> {
        p.require(Permission::SkillRead)?;
        let (limit, after) = crate::page_args(limit, cursor)?;
        Ok(self.store().list_skills(p.tenant_id, after, limit).await?)
    }

    /// Fails with a field error for each skill that is not in the tenant.
    async fn check_skills_exist(
        &self,
        p: &Principal,
        ids: &[SkillId],
        field_of: impl Fn(usize) -> String,
    ) -> Result<(), AppError> {
        let found = self.store().existing_skills(p.tenant_id, ids).await?;
        let missing: Vec<FieldError> = ids
            .iter()
            .enumerate()
            .filter(|(_, id)| !found.contains(id))
            .map(|(i, _)| FieldError {
                field: field_of(i),
                message: "no such skill".into(),
            })
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(AppError::Invalid(missing))
        }
    }

    async fn agent_skills(
        &self,
        p: &Principal,
        skills: Vec<(SkillId, Proficiency)>,
    ) -> Result<Vec<AgentSkill>, AppError> {
        if skills.len() > MAX_SKILLS_PER_AGENT {
            return Err(AppError::invalid(
                "skills",
                format!("at most {MAX_SKILLS_PER_AGENT} skills"),
            ));
        }
        for (i, (id, _)) in skills.iter().enumerate() {
            if skills[..i].iter().any(|(o, _)| o == id) {
                return Err(AppError::invalid(
                    format!("skills[{i}].skill_id"),
                    "is listed twice",
                ));
            }
        }
        let ids: Vec<SkillId> = skills.iter().map(|s| s.0).collect();
        self.check_skills_exist(p, &ids, |i| format!("skills[{i}].skill_id"))
            .await?;
        Ok(skills
            .into_iter()
            .map(|(skill_id, prof)| AgentSkill {
                skill_id,
                proficiency: i64::from(prof.get()),
            })
            .collect())
    }

    // ---- agents ----

    pub async fn create_agent(&self, p: &Principal, a: NewAgent) -> Result<Agent, AppError> {
        p.require(Permission::AgentManage)?;
        let user = self
            .store()
            .get_user(p.tenant_id, a.user_id)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => AppError::invalid("user_id", "no such user"),
                other => other.into(),
            })?;
        let problems = attribute_problems("attributes", &a.attributes, AGENT_RESERVED);
        if !problems.is_empty() {
            return Err(AppError::Invalid(problems));
        }
        let skills = self.agent_skills(p, a.skills).await?;
        let now = self.now();
        let agent = Agent {
            id: AgentId::from_uuid(self.new_uuid()),
            tenant_id: p.tenant_id,
            user_id: user.id,
            display_name: a
                .display_name
                .map(Text::into_string)
                .unwrap_or(user.display_name),
            capacity_voice: i64::from(a.capacity.voice.get()),
            capacity_email: i64::from(a.capacity.email.get()),
            capacity_chat: i64::from(a.capacity.chat.get()),
            capacity_sms: i64::from(a.capacity.sms.get()),
            voice_blocks_others: i64::from(a.voice_blocks_others),
            created_at: now,
            updated_at: now,
            attributes: serde_json::to_string(&a.attributes)
                .map_err(|e| AppError::Internal(e.to_string()))?,
            skills,
        };
        self.store().insert_agent(&agent, &p.audit(now)).await?;
        self.agent_changed(p, agent.id).await;
        self.store()
            .get_agent(p.tenant_id, agent.id)
            .await
            .map_err(AppError::from_store("agent"))
    }

    pub async fn get_agent(&self, p: &Principal, id: AgentId) -> Result<Agent, AppError> {
        p.require(Permission::AgentRead)?;
        self.store()
            .get_agent(p.tenant_id, id)
            .await
            .map_err(AppError::from_store("agent"))
    }

    pub async fn list_agents(
        &self,
        p: &Principal,
        f: &AgentFilter,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<Page<Agent>, AppError> {
        p.require(Permission::AgentRead)?;
        let (limit, after) = crate::page_args(limit, cursor)?;
        Ok(self
            .store()
            .list_agents(p.tenant_id, f, after, limit)
            .await?)
    }

    pub async fn update_agent(
        &self,
        p: &Principal,
        id: AgentId,
        patch: AgentPatch,
    ) -> Result<Agent, AppError> {
        if p.require(Permission::AgentManage).is_err() {
            // Allocating duties: team leaders change skills and nothing else.
            p.require(Permission::AgentAllocate)?;
            if !patch.only_skills() {
                return Err(AppError::Forbidden(Permission::AgentManage));
            }
        }
        let mut a = self
            .store()
            .get_agent(p.tenant_id, id)
            .await
            .map_err(AppError::from_store("agent"))?;
        if let Some(s) = patch.skills {
            a.skills = self.agent_skills(p, s).await?;
        }
        if let Some(n) = patch.display_name {
            a.display_name = n.into_string();
        }
        if let Some(c) = patch.capacity {
            a.capacity_voice = i64::from(c.voice.get());
            a.capacity_email = i64::from(c.email.get());
            a.capacity_chat = i64::from(c.chat.get());
            a.capacity_sms = i64::from(c.sms.get());
        }
        if let Some(v) = patch.voice_blocks_others {
            a.voice_blocks_others = i64::from(v);
        }
        if let Some(attrs) = patch.attributes {
            let problems = attribute_problems("attributes", &attrs, AGENT_RESERVED);
            if !problems.is_empty() {
                return Err(AppError::Invalid(problems));
            }
            a.attributes =
                serde_json::to_string(&attrs).map_err(|e| AppError::Internal(e.to_string()))?;
        }
        a.updated_at = self.now();
        self.store()
            .update_agent(&a, &p.audit(a.updated_at))
            .await
            .map_err(AppError::from_store("agent"))?;
        self.agent_changed(p, id).await;
        self.store()
            .get_agent(p.tenant_id, id)
            .await
            .map_err(AppError::from_store("agent"))
    }

    // ---- queues ----

    async fn check_rules(
        &self,
        p: &Principal,
        own: Option<QueueId>,
        rules: &RoutingRules,
    ) -> Result<(), AppError> {
        let mut errors: Vec<FieldError> = rules
            .problems(own)
            .into_iter()
            .map(|(field, message)| FieldError { field, message })
            .collect();
        if !errors.is_empty() {
            return Err(AppError::Invalid(errors));
        }
        let ids = rules.skill_ids();
        let found = self.store().existing_skills(p.tenant_id, &ids).await?;
        for id in ids.iter().filter(|id| !found.contains(id)) {
            errors.push(FieldError {
                field: "routing_rules".into(),
                message: format!("skill {id} does not exist"),
            });
        }
        if let Some(o) = &rules.overflow {
            match self.store().get_queue(p.tenant_id, o.queue_id).await {
                Ok(_) => {}
                Err(StoreError::NotFound) => errors.push(FieldError {
                    field: "routing_rules.overflow.queue_id".into(),
                    message: "no such queue".into(),
                }),
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(q) = rules.when_closed.as_ref().and_then(|w| w.queue_id) {
            match self.store().get_queue(p.tenant_id, q).await {
                Ok(_) => {}
                Err(StoreError::NotFound) => errors.push(FieldError {
                    field: "routing_rules.when_closed.queue_id".into(),
                    message: "no such queue".into(),
                }),
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(src) = &rules.condition
            && let Err(e) = sb_routing::Expr::parse(src)
        {
            errors.push(FieldError {
                field: "routing_rules.condition".into(),
                message: e.to_string(),
            });
        }
        if let Some(h) = rules.business_hours_id {
            match self.store().get_business_hours(p.tenant_id, h).await {
                Ok(_) => {}
                Err(StoreError::NotFound) => errors.push(FieldError {
                    field: "routing_rules.business_hours_id".into(),
                    message: "no such business hours".into(),
                }),
                Err(e) => return Err(e.into()),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(AppError::Invalid(errors))
        }
    }

    pub async fn create_queue(&self, p: &Principal, q: NewQueue) -> Result<Queue, AppError> {
        p.require(Permission::QueueManage)?;
        let now = self.now();
        let id = QueueId::from_uuid(self.new_uuid());
        let queue = Queue {
            id,
            tenant_id: p.tenant_id,
            name: q.name.into_string(),
            description: q.description,
            department: q.department,
            strategy: q.strategy,
            priority: q.priority,
            service_level_seconds: q.service_level_seconds,
            service_level_target_pct: i64::from(q.service_level_target_pct.get()),
            max_wait_seconds: q.max_wait_seconds,
            wrap_up_seconds: q.wrap_up_seconds,
            routing_rules: serde_json::to_string(&q.routing_rules)
                .map_err(|e| AppError::Internal(e.to_string()))?,
            created_at: now,
            updated_at: now,
        };
        let problems = queue_number_problems(&queue);
        if !problems.is_empty() {
            return Err(AppError::Invalid(problems));
        }
        self.check_rules(p, Some(id), &q.routing_rules).await?;
        self.store().insert_queue(&queue, &p.audit(now)).await?;
        self.routing_changed(p).await;
        Ok(queue)
    }

    pub async fn get_queue(&self, p: &Principal, id: QueueId) -> Result<Queue, AppError> {
        p.require(Permission::QueueRead)?;
        self.store()
            .get_queue(p.tenant_id, id)
            .await
            .map_err(AppError::from_store("queue"))
    }

    pub async fn list_queues(
        &self,
        p: &Principal,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<Page<Queue>, AppError> {
        p.require(Permission::QueueRead)?;
        let (limit, after) = crate::page_args(limit, cursor)?;
        Ok(self.store().list_queues(p.tenant_id, after, limit).await?)
    }

    pub async fn update_queue(
        &self,
        p: &Principal,
        id: QueueId,
        patch: QueuePatch,
    ) -> Result<Queue, AppError> {
        p.require(Permission::QueueManage)?;
        let mut q = self
            .store()
            .get_queue(p.tenant_id, id)
            .await
            .map_err(AppError::from_store("queue"))?;
        if let Some(v) = patch.name {
            q.name = v.into_string();
        }
        if let Some(v) = patch.department {
            q.department = v;
        }
        if let Some(v) = patch.description {
            q.description = v;
        }
        if let Some(v) = patch.strategy {
            q.strategy = v;
        }
        if let Some(v) = patch.priority {
            q.priority = v;
        }
        if let Some(v) = patch.service_level_seconds {
            q.service_level_seconds = v;
        }
        if let Some(v) = patch.service_level_target_pct {
            q.service_level_target_pct = i64::from(v.get());
        }
        if let Some(v) = patch.max_wait_seconds {
            q.max_wait_seconds = v;
        }
        if let Some(v) = patch.wrap_up_seconds {
            q.wrap_up_seconds = v;
        }
        let problems = queue_number_problems(&q);
        if !problems.is_empty() {
            return Err(AppError::Invalid(problems));
        }
        if let Some(rules) = patch.routing_rules {
            self.check_rules(p, Some(id), &rules).await?;
            q.routing_rules =
                serde_json::to_string(&rules).map_err(|e| AppError::Internal(e.to_string()))?;
        }
        q.updated_at = self.now();
        self.store()
            .update_queue(&q, &p.audit(q.updated_at))
            .await
            .map_err(AppError::from_store("queue"))?;
        self.remember_queue(&q);
        self.routing_changed(p).await;
        Ok(q)
    }
}
