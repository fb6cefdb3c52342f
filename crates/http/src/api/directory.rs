//! Skills, agents and queues.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sb_app::directory::*;
use sb_store::AgentFilter;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{CREATED, path_id};
use crate::AppState;
use crate::dto::*;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth};

/// The longest department name.
const MAX_DEPARTMENT: usize = 80;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_skills, create_skill))
        .routes(routes!(get_skill, update_skill))
        .routes(routes!(list_agents, create_agent))
        .routes(routes!(get_agent, update_agent))
        .routes(routes!(list_queues, create_queue))
        .routes(routes!(get_queue, update_queue))
}

const MAX_DESCRIPTION: usize = 2000;

// ---- skills ----

#[utoipa::path(get, path = "/skills", tag = "directory", params(PageParams), responses((status = 200, body = SkillPage)))]
async fn list_skills(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Json<SkillPage>> {
    Ok(Json(
        s.app
            .list_skills(&p, q.limit, q.cursor.as_deref())
            .await?
            .into(),
    ))
}

#[utoipa::path(post, path = "/skills", tag = "directory", request_body = SkillIn,
    responses((status = 201, body = SkillOut), (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_skill(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<SkillIn>,
) -> ApiResult<(StatusCode, Json<SkillOut>)> {
    let mut ck = Check::default();
    let name = ck.text("name", &b.name, 100);
    let description = ck.long_text("description", &b.description, MAX_DESCRIPTION);
    ck.finish()?;
    let skill = s
        .app
        .create_skill(
            &p,
            NewSkill {
                name: got(name)?,
                description: got(description)?,
            },
        )
        .await?;
    Ok((CREATED, Json(skill.into())))
}

#[utoipa::path(get, path = "/skills/{id}", tag = "directory", params(("id" = String, Path)),
    responses((status = 200, body = SkillOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_skill(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<SkillOut>> {
    Ok(Json(
        s.app.get_skill(&p, path_id(&id, "skill")?).await?.into(),
    ))
}

#[utoipa::path(patch, path = "/skills/{id}", tag = "directory", params(("id" = String, Path)), request_body = SkillPatchIn,
    responses((status = 200, body = SkillOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn update_skill(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<SkillPatchIn>,
) -> ApiResult<Json<SkillOut>> {
    let id = path_id(&id, "skill")?;
    let mut ck = Check::default();
    let name = b.name.as_deref().map(|n| ck.text("name", n, 100));
    let description = b
        .description
        .as_deref()
        .map(|d| ck.long_text("description", d, MAX_DESCRIPTION));
    ck.finish()?;
    let patch = SkillPatch {
        name: name.map(got).transpose()?,
        description: description.map(got).transpose()?,
    };
    Ok(Json(s.app.update_skill(&p, id, patch).await?.into()))
}

// ---- agents ----

#[utoipa::path(get, path = "/agents", tag = "directory", params(AgentQuery), responses((status = 200, body = AgentPage)))]
async fn list_agents(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<AgentQuery>,
) -> ApiResult<Json<AgentPage>> {
    let f = AgentFilter {
        skill_id: q.skill_id,
    };
    Ok(Json(
        s.app
            .list_agents(&p, &f, q.limit, q.cursor.as_deref())
            .await?
            .into(),
    ))
}

#[utoipa::path(post, path = "/agents", tag = "directory", request_body = AgentIn,
    responses((status = 201, body = AgentOut), (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_agent(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<AgentIn>,
) -> ApiResult<(StatusCode, Json<AgentOut>)> {
    let mut ck = Check::default();
    let display_name = ck.opt_text("display_name", b.display_name.as_deref(), 200);
    let capacity = match &b.capacity {
        Some(c) => ck.capacities("capacity", c),
        None => Some(Capacities::default()),
    };
    let skills = ck.agent_skills("skills", &b.skills);
    ck.finish()?;
    let agent = s
        .app
        .create_agent(
            &p,
            NewAgent {
                user_id: b.user_id,
                display_name: got(display_name)?,
                capacity: got(capacity)?,
                voice_blocks_others: b.voice_blocks_others,
                skills: got(skills)?,
                attributes: b.attributes,
            },
        )
        .await?;
    Ok((CREATED, Json(agent.into())))
}

#[utoipa::path(get, path = "/agents/{id}", tag = "directory", params(("id" = String, Path)),
    responses((status = 200, body = AgentOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_agent(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<AgentOut>> {
    Ok(Json(
        s.app.get_agent(&p, path_id(&id, "agent")?).await?.into(),
    ))
}

#[utoipa::path(patch, path = "/agents/{id}", tag = "directory", params(("id" = String, Path)), request_body = AgentPatchIn,
    responses((status = 200, body = AgentOut), (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn update_agent(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<AgentPatchIn>,
) -> ApiResult<Json<AgentOut>> {
    let id = path_id(&id, "agent")?;
    let mut ck = Check::default();
    let display_name = b
        .display_name
        .as_deref()
        .map(|n| ck.text("display_name", n, 200));
    let capacity = b.capacity.as_ref().map(|c| ck.capacities("capacity", c));
    let skills = b.skills.as_deref().map(|sk| ck.agent_skills("skills", sk));
    ck.finish()?;
    let patch = AgentPatch {
        display_name: display_name.map(got).transpose()?,
        capacity: capacity.map(got).transpose()?,
        voice_blocks_others: b.voice_blocks_others,
        skills: skills.map(got).transpose()?,
        attributes: b.attributes,
    };
    Ok(Json(s.app.update_agent(&p, id, patch).await?.into()))
}

// ---- queues ----

#[utoipa::path(get, path = "/queues", tag = "directory", params(PageParams), responses((status = 200, body = QueuePage)))]
async fn list_queues(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Json<QueuePage>> {
    Ok(Json(
        s.app
            .list_queues(&p, q.limit, q.cursor.as_deref())
            .await?
            .into(),
    ))
}

#[utoipa::path(post, path = "/queues", tag = "directory", request_body = QueueIn,
    responses((status = 201, body = QueueOut), (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_queue(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<QueueIn>,
) -> ApiResult<(StatusCode, Json<QueueOut>)> {
    let mut ck = Check::default();
    let name = ck.text("name", &b.name, 100);
    let description = ck.long_text("description", &b.description, MAX_DESCRIPTION);
    let department = ck.opt_text("department", Some(&b.department), MAX_DEPARTMENT);
    let pct = ck.percent("service_level_target_pct", b.service_level_target_pct);
    ck.finish()?;
    let q = s
        .app
        .create_queue(
            &p,
            NewQueue {
                name: got(name)?,
                description: got(description)?,
                department: got(department)?
                    .map(|d| d.into_string())
                    .unwrap_or_default(),
                strategy: b.strategy,
                priority: b.priority,
                service_level_seconds: b.service_level_seconds,
                service_level_target_pct: got(pct)?,
                max_wait_seconds: b.max_wait_seconds,
                wrap_up_seconds: b.wrap_up_seconds,
                routing_rules: b.routing_rules,
            },
        )
        .await?;
    Ok((CREATED, Json(q.into())))
}

#[utoipa::path(get, path = "/queues/{id}", tag = "directory", params(("id" = String, Path)),
    responses((status = 200, body = QueueOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_queue(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<QueueOut>> {
    Ok(Json(
        s.app.get_queue(&p, path_id(&id, "queue")?).await?.into(),
    ))
}

#[utoipa::path(patch, path = "/queues/{id}", tag = "directory", params(("id" = String, Path)), request_body = QueuePatchIn,
    responses((status = 200, body = QueueOut), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn update_queue(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<QueuePatchIn>,
) -> ApiResult<Json<QueueOut>> {
    let id = path_id(&id, "queue")?;
    let mut ck = Check::default();
    let name = b.name.as_deref().map(|n| ck.text("name", n, 100));
    let description = b
        .description
        .as_deref()
        .map(|d| ck.long_text("description", d, MAX_DESCRIPTION));
    let department = b
        .department
        .as_deref()
        .map(|d| ck.opt_text("department", Some(d), MAX_DEPARTMENT));
    let pct = b
        .service_level_target_pct
        .map(|v| ck.percent("service_level_target_pct", v));
    ck.finish()?;
    let patch = QueuePatch {
        name: name.map(got).transpose()?,
        description: description.map(got).transpose()?,
        department: department
            .map(got)
            .transpose()?
            .map(|d| d.map(|t| t.into_string()).unwrap_or_default()),
        strategy: b.strategy,
        priority: b.priority,
        service_level_seconds: b.service_level_seconds,
        service_level_target_pct: pct.map(got).transpose()?,
        max_wait_seconds: b.max_wait_seconds,
        wrap_up_seconds: b.wrap_up_seconds,
        routing_rules: b.routing_rules,
    };
    Ok(Json(s.app.update_queue(&p, id, patch).await?.into()))
}
