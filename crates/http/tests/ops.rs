//! Health, readiness, metrics, request ids and the OpenAPI document.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn health_readiness_metrics_and_request_ids() {
    let s = TestServer::start().await;
    let f = fixture(&s, "ops").await;
    let h = s.client.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(h.status(), 200);
    assert!(
        h.headers().get("x-request-id").is_some(),
        "every response carries a request id"
    );
    assert_eq!(
        h.headers().get("x-content-type-options").unwrap(),
        "nosniff"
    );
    assert_eq!(
        s.client
            .get(s.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let given = s
        .client
        .get(s.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers().get("x-request-id").unwrap(), "abc-123");
    s.post(
        "/api/v1/contacts",
        &f.admin_token,
        json!({"channel": "email", "queue_id": f.queue}),
    )
    .await
    .expect(201);
    let m = s
        .client
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("switchboard_contacts_created_total{"), "{m}");
    assert!(m.contains(&format!("tenant=\"{}\"", f.tenant.id)));
    assert!(m.contains("switchboard_http_requests_total{"));
    // When the store is gone, readiness says so.
    s.app.store().close().await;
    assert_eq!(
        s.client
            .get(s.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    assert_eq!(
        s.client
            .get(s.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let s = TestServer::start().await;
    let doc: serde_json::Value = s
        .client
        .get(s.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/auth/login",
        "/api/v1/tenants",
        "/api/v1/tenants/{id}",
        "/api/v1/users",
        "/api/v1/users/{id}",
        "/api/v1/tokens",
        "/api/v1/tokens/{id}",
        "/api/v1/skills",
        "/api/v1/agents/{id}",
        "/api/v1/queues",
        "/api/v1/customers",
        "/api/v1/customers/{id}/status-history",
        "/api/v1/contacts",
        "/api/v1/contacts/{id}",
        "/api/v1/audit",
        "/api/v1/agents/{id}/state",
        "/api/v1/agents/{id}/status",
        "/api/v1/queues/{id}/status",
        "/api/v1/reservations/{id}/accept",
        "/api/v1/contacts/{id}/wrap-up",
        "/api/v1/contacts/{id}/transfer",
    ] {
        assert!(paths.contains_key(p), "missing {p}");
    }
    assert!(paths["/api/v1/contacts"]["post"]["requestBody"].is_object());
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    s.finish().await;
}

#[tokio::test]
async fn lists_page_with_cursors_and_filters() {
    let s = TestServer::start().await;
    let f = fixture(&s, "pages").await;
    let t = f.admin_token.as_str();
    for i in 0..7 {
        let status = if i % 2 == 0 { "customer" } else { "prospect" };
        s.post(
            "/api/v1/customers",
            t,
            json!({"name": format!("Page Person {i}"), "status": status}),
        )
        .await
        .expect(201);
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = s
            .get(
                &format!("/api/v1/customers?limit=3&name=page%20person&cursor={cursor}"),
                t,
            )
            .await
            .expect(200);
        for item in r.body["items"].as_array().unwrap() {
            seen.push(item["name"].as_str().unwrap().to_owned());
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(
        seen,
        (0..7)
            .map(|i| format!("Page Person {i}"))
            .collect::<Vec<_>>()
    );
    let customers = s
        .get("/api/v1/customers?status=customer&name=Page", t)
        .await
        .expect(200);
    assert_eq!(customers.body["items"].as_array().unwrap().len(), 4);
    // Status changes are kept.
    let id = customers.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.patch(
        &format!("/api/v1/customers/{id}"),
        t,
        json!({"status": "former", "email": null}),
    )
    .await
    .expect(200);
    let h = s
        .get(&format!("/api/v1/customers/{id}/status-history"), t)
        .await
        .expect(200);
    let steps: Vec<_> = h.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["to_status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(steps, vec!["customer", "former"]);
    let contacts = s
        .get(
            &format!("/api/v1/contacts?queue_id={}&channel=voice", f.queue),
            t,
        )
        .await
        .expect(200);
    assert_eq!(contacts.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(contacts.body["items"][0]["state"], "queued");
    assert!(contacts.body["items"][0]["timeline"]["arrived_at"].is_i64());
    s.finish().await;
}
