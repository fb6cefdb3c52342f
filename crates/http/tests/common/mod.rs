//! A real server on port 0 with a fresh store, and helpers to call it.
#![allow(dead_code)]

use reqwest::{Method, StatusCode};
use sb_app::{App, AppConfig, Principal, Secret};
use sb_model::{EmailAddress, Role, RoleSet, Text};
use sb_store::{Store, StoreConfig, Tenant, User};
use serde_json::Value;
use uuid::Uuid;

pub const PLATFORM_TOKEN: &str = "platform-secret-for-tests";

pub struct TestServer {
    pub base: String,
    pub app: App,
    pub client: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
    scratch: Option<sb_store::testing::ScratchDatabase>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Value,
    pub text: String,
}

impl TestServer {
    /// A server on SQLite in a temporary directory.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&StoreConfig::Sqlite {
            data_dir: dir.path().into(),
            sync: sb_store::SqliteSync::Full,
        })
        .await
        .unwrap();
        Self::start_on(store, Some(dir), None).await
    }

    /// A server on a scratch PostgreSQL database, if PostgreSQL tests are enabled.
    pub async fn start_postgres() -> Option<Self> {
        let db = sb_store::testing::ScratchDatabase::from_env().await?;
        let store = Store::open(&StoreConfig::Postgres {
            url: db.url.clone(),
        })
        .await
        .unwrap();
        Some(Self::start_on(store, None, Some(db)).await)
    }

    async fn start_on(
        store: Store,
        dir: Option<tempfile::TempDir>,
        scratch: Option<sb_store::testing::ScratchDatabase>,
    ) -> Self {
        let config = AppConfig {
            platform_token: Some(Secret::new(PLATFORM_TOKEN)),
            webhook_retry_base_ms: 200,
            ..AppConfig::default()
        };
        let app = App::new(store, config);
        tokio::spawn(app.clone().run_webhook_delivery());
        tokio::spawn(app.clone().run_callback_release());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = sb_http::AppState::new(app.clone(), false);
        tokio::spawn(sb_http::serve(listener, state, async move {
            let _ = stopped.await;
        }));
        sb_app::install_tls_provider();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        TestServer {
            base: format!("http://{addr}"),
            app,
            client,
            _dir: dir,
            scratch,
            stop: Some(stop),
        }
    }

    pub async fn finish(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.app.store().close().await;
        if let Some(db) = self.scratch.take() {
            db.drop_database().await.unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A tenant with an administrator whose password is `switchboard`.
    pub async fn tenant(&self, slug: &str) -> (Tenant, User) {
        let slug = format!("{slug}-{}", &Uuid::now_v7().simple().to_string()[20..]);
        self.app
            .create_tenant(
                sb_app::tenants::NewTenant {
                    name: Text::parse(&format!("Tenant {slug}"), 200).unwrap(),
                    slug: slug.clone(),
                    time_zone: "Australia/Sydney".into(),
                    admin_email: EmailAddress::parse(&format!("admin@{slug}.example")).unwrap(),
                    admin_name: Text::parse("Admin", 200).unwrap(),
                    admin_password: "switchboard".into(),
                },
                "test",
            )
            .await
            .unwrap()
    }

    /// A user of `tenant` with `roles` and an API token for it.
    pub async fn user_with_token(&self, tenant: &Tenant, roles: &[Role]) -> (User, String) {
        let p = Principal::cli(tenant.id);
        let u = self
            .app
            .create_user(
                &p,
                sb_app::accounts::NewUser {
                    email: EmailAddress::parse(&format!(
                        "{}@{}.example",
                        Uuid::now_v7().simple(),
                        tenant.slug
                    ))
                    .unwrap(),
                    display_name: Text::parse("Test User", 200).unwrap(),
                    roles: RoleSet::new(roles.iter().copied()).unwrap(),
                    password: None,
                },
            )
            .await
            .unwrap();
        let (_, secret) = self
            .app
            .create_token(&p, Some(u.id), "tests")
            .await
            .unwrap();
        (u, secret.expose().to_owned())
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::reply(req.send().await.unwrap()).await
    }

    pub async fn raw(&self, req: reqwest::RequestBuilder) -> Reply {
        Self::reply(req.send().await.unwrap()).await
    }

    async fn reply(res: reqwest::Response) -> Reply {
        let status = res.status();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            content_type,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, token, None).await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, token, Some(body)).await
    }
}

impl Reply {
    /// Asserts a status, showing the body when it differs.
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        self
    }

    pub fn id(&self) -> String {
        self.body["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {}", self.text))
            .to_owned()
    }

    /// Asserts a problem document naming `field`.
    pub fn problem_for(self, status: u16, field: &str) -> Self {
        let r = self.expect(status);
        assert_eq!(r.content_type, "application/problem+json", "{}", r.text);
        assert_eq!(r.body["status"], status);
        assert_eq!(r.body["field"], field, "{}", r.text);
        r
    }
}

/// The objects one tenant's admin sets up, for tests to poke at.
pub struct Fixture {
    pub tenant: Tenant,
    pub admin_token: String,
    pub skill: String,
    pub user: String,
    pub spare_user: String,
    pub agent: String,
    pub queue: String,
    pub customer: String,
    pub contact: String,
    pub token: String,
}

pub async fn fixture(s: &TestServer, slug: &str) -> Fixture {
    let (tenant, _) = s.tenant(slug).await;
    let (_, admin_token) = s.user_with_token(&tenant, &[Role::Admin]).await;
    let t = admin_token.as_str();
    let skill = s
        .post("/api/v1/skills", t, serde_json::json!({"name": "billing"}))
        .await
        .expect(201)
        .id();
    let user = s
        .post("/api/v1/users", t, serde_json::json!({"email": format!("u@{}.example", tenant.slug), "display_name": "Una", "roles": ["agent"]}))
        .await
        .expect(201)
        .id();
    let spare_user = s
        .post("/api/v1/users", t, serde_json::json!({"email": format!("v@{}.example", tenant.slug), "display_name": "Vic", "roles": ["agent"]}))
        .await
        .expect(201)
        .id();
    let agent = s
        .post(
            "/api/v1/agents",
            t,
            serde_json::json!({"user_id": user, "skills": [{"skill_id": skill, "proficiency": 7}]}),
        )
        .await
        .expect(201)
        .id();
    let queue = s
        .post(
            "/api/v1/queues",
            t,
            serde_json::json!({"name": "Support", "routing_rules": {"required_skills": [{"skill_id": skill, "min_proficiency": 5}]}}),
        )
        .await
        .expect(201)
        .id();
    let customer = s
        .post(
            "/api/v1/customers",
            t,
            serde_json::json!({"name": "Ann Smith", "email": "ann@example.com"}),
        )
        .await
        .expect(201)
        .id();
    let contact = s
        .post(
            "/api/v1/contacts",
            t,
            serde_json::json!({"channel": "voice", "queue_id": queue, "customer_id": customer}),
        )
        .await
        .expect(201)
        .id();
    let token = s
        .post(
            "/api/v1/tokens",
            t,
            serde_json::json!({"name": "crm", "user_id": user}),
        )
        .await
        .expect(201)
        .body["token"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    Fixture {
        tenant,
        admin_token,
        skill,
        user,
        spare_user,
        agent,
        queue,
        customer,
        contact,
        token,
    }
}

/// Today's date in the test tenants' time zone (Australia/Sydney).
pub fn tenant_today() -> String {
    jiff::Timestamp::now()
        .in_tz("Australia/Sydney")
        .unwrap()
        .date()
        .to_string()
}
