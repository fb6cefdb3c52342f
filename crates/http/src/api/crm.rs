//! Customers and contacts.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use sb_app::contacts::{ContactPatch, MAX_NOTES_CHARS, NewContact};
use sb_app::customers::{CustomerPatch, NewCustomer};
use sb_store::{ContactFilter, CustomerFilter};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{CREATED, path_id};
use crate::AppState;
use crate::dto::*;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_customers, create_customer))
        .routes(routes!(get_customer, update_customer))
        .routes(routes!(customer_status_history))
        .routes(routes!(list_contacts, create_contact))
        .routes(routes!(get_contact, update_contact))
        .routes(routes!(contact_events))
}

// ---- customers ----

#[utoipa::path(get, path = "/customers", tag = "customers", params(CustomerQuery), responses((status = 200, body = CustomerPage)))]
async fn list_customers(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<CustomerQuery>,
) -> ApiResult<Json<CustomerPage>> {
    let f = CustomerFilter {
        status: q.status,
        email: q.email,
        phone: q.phone,
        name_contains: q.name,
    };
    Ok(Json(
        s.app
            .list_customers(&p, &f, q.limit, q.cursor.as_deref())
            .await?
            .into(),
    ))
}

#[utoipa::path(post, path = "/customers", tag = "customers", request_body = CustomerIn,
    responses((status = 201, body = CustomerOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_customer(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<CustomerIn>,
) -> ApiResult<(StatusCode, Json<CustomerOut>)> {
    let mut ck = Check::default();
    let name = ck.text("name", &b.name, 200);
    let email = b.email.as_deref().map(|e| ck.email("email", e));
    let phone = b.phone.as_deref().map(|e| ck.phone("phone", e));
    let external_ref = ck.opt_text("external_ref", b.external_ref.as_deref(), 100);
    ck.finish()?;
    let c = s
        .app
        .create_customer(
            &p,
            NewCustomer {
                kind: b.kind,
                name: got(name)?,
                email: email.map(got).transpose()?,
                phone: phone.map(got).transpose()?,
                status: b.status,
                external_ref: got(external_ref)?,
            },
        )
        .await?;
    Ok((CREATED, Json(c.into())))
}

#[utoipa::path(get, path = "/customers/{id}", tag = "customers", params(("id" = String, Path)),
    responses((status = 200, body = CustomerOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_customer(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<CustomerOut>> {
    Ok(Json(
        s.app
            .get_customer(&p, path_id(&id, "customer")?)
            .await?
            .into(),
    ))
}

#[utoipa::path(patch, path = "/customers/{id}", tag = "customers", params(("id" = String, Path)), request_body = CustomerPatchIn,
    responses((status = 200, body = CustomerOut), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn update_customer(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<CustomerPatchIn>,
) -> ApiResult<Json<CustomerOut>> {
    let id = path_id(&id, "customer")?;
    let mut ck = Check::default();
    let name = b.name.as_deref().map(|n| ck.text("name", n, 200));
    let email = b.email.as_ref().map(|o| match o.as_deref() {
        None => Some(None),
        Some(e) => ck.email("email", e).map(Some),
    });
    let phone = b.phone.as_ref().map(|o| match o.as_deref() {
        None => Some(None),
        Some(e) => ck.phone("phone", e).map(Some),
    });
    let external_ref = b
        .external_ref
        .as_ref()
        .map(|o| ck.opt_text("external_ref", o.as_deref(), 100));
    ck.finish()?;
    let patch = CustomerPatch {
        kind: b.kind,
        name: name.map(got).transpose()?,
        email: email.map(got).transpose()?,
        phone: phone.map(got).transpose()?,
        status: b.status,
        external_ref: external_ref.map(got).transpose()?,
    };
    Ok(Json(s.app.update_customer(&p, id, patch).await?.into()))
}

#[utoipa::path(get, path = "/customers/{id}/status-history", tag = "customers", params(("id" = String, Path)),
    responses((status = 200, body = StatusHistory), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn customer_status_history(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<StatusHistory>> {
    let items = s
        .app
        .customer_status_history(&p, path_id(&id, "customer")?)
        .await?;
    Ok(Json(StatusHistory {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

// ---- contacts ----

#[utoipa::path(get, path = "/contacts", tag = "contacts", params(ContactQuery), responses((status = 200, body = ContactPage)))]
async fn list_contacts(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiQuery(q): ApiQuery<ContactQuery>,
) -> ApiResult<Json<ContactPage>> {
    let f = ContactFilter {
        queue_id: q.queue_id,
        channel: q.channel,
        state: q.state,
        customer_id: q.customer_id,
        arrived_from: q.arrived_from,
        arrived_before: q.arrived_before,
        agent_id: q.agent_id,
    };
    Ok(Json(
        s.app
            .list_contacts(&p, &f, q.limit, q.cursor.as_deref())
            .await?
            .into(),
    ))
}

#[utoipa::path(post, path = "/contacts", tag = "contacts", request_body = ContactIn,
    description = "A contact arrives and waits in its queue. Acknowledged only once it is durably stored.",
    responses((status = 201, body = ContactOut), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn create_contact(
    State(s): State<AppState>,
    Auth(p): Auth,
    ApiJson(b): ApiJson<ContactIn>,
) -> ApiResult<(StatusCode, Json<ContactOut>)> {
    let mut ck = Check::default();
    let subject = ck.opt_text("subject", b.subject.as_deref(), 500);
    let from_address = ck.opt_text("from_address", b.from_address.as_deref(), 320);
    let to_address = ck.opt_text("to_address", b.to_address.as_deref(), 320);
    ck.finish()?;
    let c = s
        .app
        .create_contact(
            &p,
            NewContact {
                channel: b.channel,
                direction: b.direction,
                queue_id: b.queue_id,
                customer_id: b.customer_id,
                priority: b.priority,
                subject: got(subject)?,
                from_address: got(from_address)?,
                to_address: got(to_address)?,
                attributes: b.attributes,
                requested_agent_id: b.requested_agent_id,
            },
        )
        .await?;
    Ok((CREATED, Json(c.into())))
}

/// One event in a contact's timeline.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TimelineEventOut {
    pub seq: i64,
    /// `contact.created`, `reservation.created`, `contact.answered`, …
    pub kind: String,
    pub at: i64,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TimelineOut {
    pub items: Vec<TimelineEventOut>,
}

/// Everything recorded about a contact, oldest first: arrival, queueing,
/// each reservation and why, answer, transfers, wrap-up, notes, the end.
#[utoipa::path(get, path = "/contacts/{id}/events", tag = "contacts", params(("id" = String, Path)),
    responses((status = 200, body = TimelineOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn contact_events(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<TimelineOut>> {
    let events = s.app.contact_events(&p, path_id(&id, "contact")?).await?;
    Ok(Json(TimelineOut {
        items: events
            .into_iter()
            .map(|e| TimelineEventOut {
                seq: e.seq,
                kind: e.kind,
                at: e.at,
                payload: serde_json::from_str(&e.payload).unwrap_or(serde_json::Value::Null),
            })
            .collect(),
    }))
}

#[utoipa::path(get, path = "/contacts/{id}", tag = "contacts", params(("id" = String, Path)),
    responses((status = 200, body = ContactOut), (status = 404, body = Problem, content_type = "application/problem+json")))]
async fn get_contact(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ContactOut>> {
    Ok(Json(
        s.app
            .get_contact(&p, path_id(&id, "contact")?)
            .await?
            .into(),
    ))
}

#[utoipa::path(patch, path = "/contacts/{id}", tag = "contacts", params(("id" = String, Path)), request_body = ContactPatchIn,
    responses((status = 200, body = ContactOut), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn update_contact(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ContactPatchIn>,
) -> ApiResult<Json<ContactOut>> {
    let id = path_id(&id, "contact")?;
    let mut ck = Check::default();
    let subject = b.subject.as_deref().map(|v| ck.text("subject", v, 500));
    let reason = b
        .reason
        .as_ref()
        .map(|o| ck.opt_text("reason", o.as_deref(), 200));
    let disposition = b
        .disposition
        .as_ref()
        .map(|o| ck.opt_text("disposition", o.as_deref(), 100));
    let notes = b
        .notes
        .as_deref()
        .map(|n| ck.long_text("notes", n, MAX_NOTES_CHARS));
    ck.finish()?;
    let patch = ContactPatch {
        customer_id: b.customer_id,
        subject: subject.map(got).transpose()?,
        reason: reason.map(got).transpose()?,
        disposition: disposition.map(got).transpose()?,
        notes: notes.map(got).transpose()?,
    };
    Ok(Json(s.app.update_contact(&p, id, patch).await?.into()))
}
