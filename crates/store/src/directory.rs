//! The centre's configuration: skills, agents (with skills and capacities)
//! and queues (with routing rules).

use std::collections::HashMap;

use sb_model::{AgentId, QueueId, SkillId, TenantId, UserId};
use serde_json::json;
use sqlx::{Any, Transaction};

use crate::audit::write_audit;
use crate::sql::{Bind, Sql};
use crate::{Agent, AgentSkill, AuditEntry, Page, Queue, Result, Skill, Store, StoreError, page};

fn name_conflict(what: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict(format!("a {what} with this name exists")),
        StoreError::Database(sqlx::Error::Database(d)) if d.is_foreign_key_violation() => {
            StoreError::Conflict(format!(
                "the {what} refers to something that does not exist"
            ))
        }
        other => other,
    }
}

/// Filters for listing agents.
#[derive(Debug, Clone, Default)]
pub struct AgentFilter {
    pub skill_id: Option<SkillId>,
}

impl Store {
    // ---- skills ----

    pub async fn insert_skill(&self, s: &Skill, who: &AuditEntry) -> Result<()> {
        let mut tx = self.write().begin().await?;
        sqlx::query("INSERT INTO skills (id, tenant_id, name, description, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(s.id.to_string())
            .bind(s.tenant_id.to_string())
            .bind(&s.name)
            .bind(&s.description)
            .bind(s.created_at)
            .bind(s.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(name_conflict("skill"))?;
        write_audit(
            &mut tx,
            s.tenant_id,
            who,
            "skill.created",
            "skill",
            &s.id.to_string(),
            json!({"name": s.name}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_skill(&self, tenant: TenantId, id: SkillId) -> Result<Skill> {
        Ok(
            sqlx::query_as::<Any, Skill>("SELECT * FROM skills WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.to_string())
                .bind(id.to_string())
                .fetch_one(self.read())
                .await?,
        )
    }

    pub async fn update_skill(&self, s: &Skill, who: &AuditEntry) -> Result<()> {
        let mut tx = self.write().begin().await?;
        let done = sqlx::query("UPDATE skills SET name = $1, description = $2, updated_at = $3 WHERE tenant_id = $4 AND id = $5")
            .bind(&s.name)
            .bind(&s.description)
            .bind(s.updated_at)
            .bind(s.tenant_id.to_string())
            .bind(s.id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(name_conflict("skill"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        write_audit(
            &mut tx,
            s.tenant_id,
            who,
            "skill.updated",
            "skill",
            &s.id.to_string(),
            json!({"name": s.name}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_skills(
        &self,
        tenant: TenantId,
        after: Option<SkillId>,
        limit: i64,
    ) -> Result<Page<Skill>> {
        let mut q = Sql::scoped("SELECT * FROM skills", tenant);
        q.page(after.map(|a| a.to_string()), limit);
        let rows = q.query_as::<Skill>().fetch_all(self.read()).await?;
        Ok(page(rows, limit, |s| s.id.to_string()))
    }

    /// Which of these skill ids exist in the tenant.
    pub async fn existing_skills(&self, tenant: TenantId, ids: &[SkillId]) -> Result<Vec<SkillId>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::scoped("SELECT id FROM skills", tenant);
        q.push(" AND id IN (");
        for (i, id) in ids.iter().enumerate() {
            q.bind(if i == 0 { "" } else { ", " }, Bind::Text(id.to_string()));
        }
        q.push(")");
        let rows: Vec<(String,)> = q.query_as::<(String,)>().fetch_all(self.read()).await?;
        rows.into_iter()
            .map(|(s,)| {
                s.parse()
                    .map_err(|e: uuid::Error| StoreError::Corrupt(e.to_string()))
            })
            .collect()
    }

    // ---- agents ----

    async fn write_agent_skills(tx: &mut Transaction<'_, Any>, a: &Agent) -> Result<()> {
        sqlx::query("DELETE FROM agent_skills WHERE tenant_id = $1 AND agent_id = $2")
            .bind(a.tenant_id.to_string())
            .bind(a.id.to_string())
            .execute(&mut **tx)
            .await?;
        for s in &a.skills {
            sqlx::query("INSERT INTO agent_skills (tenant_id, agent_id, skill_id, proficiency) VALUES ($1, $2, $3, $4)")
                .bind(a.tenant_id.to_string())
                .bind(a.id.to_string())
                .bind(s.skill_id.to_string())
                .bind(s.proficiency)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    pub async fn insert_agent(&self, a: &Agent, who: &AuditEntry) -> Result<()> {
        let mut tx = self.write().begin().await?;
        sqlx::query(
            "INSERT INTO agents (id, tenant_id, user_id, display_name, capacity_voice, capacity_email, capacity_chat, capacity_sms, \
             voice_blocks_others, created_at, updated_at, attributes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(a.id.to_string())
        .bind(a.tenant_id.to_string())
        .bind(a.user_id.to_string())
        .bind(&a.display_name)
        .bind(a.capacity_voice)
        .bind(a.capacity_email)
        .bind(a.capacity_chat)
        .bind(a.capacity_sms)
        .bind(a.voice_blocks_others)
        .bind(a.created_at)
        .bind(a.updated_at)
        .bind(&a.attributes)
        .execute(&mut *tx)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict("this user is already an agent".into()),
            other => other,
        })?;
        Self::write_agent_skills(&mut tx, a).await?;
        write_audit(
            &mut tx,
            a.tenant_id,
            who,
            "agent.created",
            "agent",
            &a.id.to_string(),
            agent_details(a),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn update_agent(&self, a: &Agent, who: &AuditEntry) -> Result<()> {
        let mut tx = self.write().begin().await?;
        let done = sqlx::query(
            "UPDATE agents SET display_name = $1, capacity_voice = $2, capacity_email = $3, capacity_chat = $4, capacity_sms = $5, \
             voice_blocks_others = $6, updated_at = $7, attributes = $8 WHERE tenant_id = $9 AND id = $10",
        )
        .bind(&a.display_name)
        .bind(a.capacity_voice)
        .bind(a.capacity_email)
        .bind(a.capacity_chat)
        .bind(a.capacity_sms)
        .bind(a.voice_blocks_others)
        .bind(a.updated_at)
        .bind(&a.attributes)
        .bind(a.tenant_id.to_string())
        .bind(a.id.to_string())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Self::write_agent_skills(&mut tx, a).await?;
        write_audit(
            &mut tx,
            a.tenant_id,
            who,
            "agent.updated",
            "agent",
            &a.id.to_string(),
            agent_details(a),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_agent(&self, tenant: TenantId, id: AgentId) -> Result<Agent> {
        let mut a =
            sqlx::query_as::<Any, Agent>("SELECT * FROM agents WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.to_string())
                .bind(id.to_string())
                .fetch_one(self.read())
                .await?;
        a.skills = sqlx::query_as::<Any, AgentSkill>(
            "SELECT skill_id, proficiency FROM agent_skills WHERE tenant_id = $1 AND agent_id = $2 ORDER BY skill_id",
        )
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_all(self.read())
        .await?;
        Ok(a)
    }

    pub async fn find_agent_by_user(
        &self,
        tenant: TenantId,
        user: UserId,
    ) -> Result<Option<Agent>> {
        let id: Option<(String,)> =
            sqlx::query_as("SELECT id FROM agents WHERE tenant_id = $1 AND user_id = $2")
                .bind(tenant.to_string())
                .bind(user.to_string())
                .fetch_optional(self.read())
                .await?;
        match id {
            None => Ok(None),
            Some((id,)) => {
                let id = id
                    .parse()
                    .map_err(|e: uuid::Error| StoreError::Corrupt(e.to_string()))?;
                Ok(Some(self.get_agent(tenant, id).await?))
            }
        }
    }

    pub async fn list_agents(
        &self,
        tenant: TenantId,
        f: &AgentFilter,
        after: Option<AgentId>,
        limit: i64,
    ) -> Result<Page<Agent>> {
        let mut q = Sql::scoped("SELECT * FROM agents", tenant);
        if let Some(s) = f.skill_id {
            q.bind(
                " AND EXISTS (SELECT 1 FROM agent_skills k WHERE k.agent_id = agents.id AND k.skill_id = ",
                Bind::Text(s.to_string()),
            );
            q.push(")");
        }
        q.page(after.map(|a| a.to_string()), limit);
        let mut rows = q.query_as::<Agent>().fetch_all(self.read()).await?;
        if !rows.is_empty() {
            let mut s = Sql::scoped(
                "SELECT agent_id, skill_id, proficiency FROM agent_skills",
                tenant,
            );
            s.push(" AND agent_id IN (");
            for (i, a) in rows.iter().enumerate() {
                s.bind(if i == 0 { "" } else { ", " }, Bind::Text(a.id.to_string()));
            }
            s.push(") ORDER BY skill_id");
            let skills: Vec<(String, String, i64)> = s.query_as().fetch_all(self.read()).await?;
            let mut by_agent: HashMap<String, Vec<AgentSkill>> = HashMap::new();
            for (agent, skill, proficiency) in skills {
                let skill_id = skill
                    .parse()
                    .map_err(|e: uuid::Error| StoreError::Corrupt(e.to_string()))?;
                by_agent.entry(agent).or_default().push(AgentSkill {
                    skill_id,
                    proficiency,
                });
            }
            for a in &mut rows {
                a.skills = by_agent.remove(&a.id.to_string()).unwrap_or_default();
            }
        }
        Ok(page(rows, limit, |a| a.id.to_string()))
    }

    // ---- queues ----

    pub async fn insert_queue(&self, q: &Queue, who: &AuditEntry) -> Result<()> {
        let mut tx = self.write().begin().await?;
        sqlx::query(
            "INSERT INTO queues (id, tenant_id, name, description, strategy, priority, service_level_seconds, service_level_target_pct, \
             max_wait_seconds, wrap_up_seconds, routing_rules, created_at, updated_at, department) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(q.id.to_string())
        .bind(q.tenant_id.to_string())
        .bind(&q.name)
        .bind(&q.description)
        .bind(q.strategy.as_str())
        .bind(q.priority)
        .bind(q.service_level_seconds)
        .bind(q.service_level_target_pct)
        .bind(q.max_wait_seconds)
        .bind(q.wrap_up_seconds)
        .bind(&q.routing_rules)
        .bind(q.created_at)
        .bind(q.updated_at)
        .bind(&q.department)
        .execute(&mut *tx)
        .await
        .map_err(name_conflict("queue"))?;
        write_audit(
            &mut tx,
            q.tenant_id,
            who,
            "queue.created",
            "queue",
            &q.id.to_string(),
            queue_details(q),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn update_queue(&self, q: &Queue, who: &AuditEntry) -> Result<()> {
        let mut tx = self.write().begin().await?;
        let done = sqlx::query(
            "UPDATE queues SET name = $1, description = $2, strategy = $3, priority = $4, service_level_seconds = $5, \
             service_level_target_pct = $6, max_wait_seconds = $7, wrap_up_seconds = $8, routing_rules = $9, updated_at = $10, \
             department = $11 WHERE tenant_id = $12 AND id = $13",
        )
        .bind(&q.name)
        .bind(&q.description)
        .bind(q.strategy.as_str())
        .bind(q.priority)
        .bind(q.service_level_seconds)
        .bind(q.service_level_target_pct)
        .bind(q.max_wait_seconds)
        .bind(q.wrap_up_seconds)
        .bind(&q.routing_rules)
        .bind(q.updated_at)
        .bind(&q.department)
        .bind(q.tenant_id.to_string())
        .bind(q.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(name_conflict("queue"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        write_audit(
            &mut tx,
            q.tenant_id,
            who,
            "queue.updated",
            "queue",
            &q.id.to_string(),
            queue_details(q),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_queue(&self, tenant: TenantId, id: QueueId) -> Result<Queue> {
        Ok(
            sqlx::query_as::<Any, Queue>("SELECT * FROM queues WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.to_string())
                .bind(id.to_string())
                .fetch_one(self.read())
                .await?,
        )
    }

    pub async fn list_queues(
        &self,
        tenant: TenantId,
        after: Option<QueueId>,
        limit: i64,
    ) -> Result<Page<Queue>> {
        let mut q = Sql::scoped("SELECT * FROM queues", tenant);
        q.page(after.map(|a| a.to_string()), limit);
        let rows = q.query_as::<Queue>().fetch_all(self.read()).await?;
        Ok(page(rows, limit, |q| q.id.to_string()))
    }
}

fn agent_details(a: &Agent) -> serde_json::Value {
    json!({
        "capacity": {"voice": a.capacity_voice, "email": a.capacity_email, "chat": a.capacity_chat, "sms": a.capacity_sms},
        "attributes": serde_json::from_str::<serde_json::Value>(&a.attributes).unwrap_or_default(),
        "skills": a.skills.iter().map(|s| json!({"skill_id": s.skill_id, "proficiency": s.proficiency})).collect::<Vec<_>>(),
    })
}

fn queue_details(q: &Queue) -> serde_json::Value {
    json!({"name": q.name, "department": q.department, "strategy": q.strategy.as_str(), "priority": q.priority, "routing_rules": q.routing_rules})
}
