//! The storage contract: every test here runs against SQLite, and against
//! PostgreSQL when `SWITCHBOARD_TEST_DATABASE_URL` is set (CI sets it).

use sb_model::*;
use sb_store::*;
use uuid::Uuid;

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = sb_store::Store::open(&sb_store::StoreConfig::Sqlite { data_dir: dir.path().into(), sync: sb_store::SqliteSync::Full }).await.unwrap();
                    super::$name(store.clone()).await;
                    store.close().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = sb_store::testing::ScratchDatabase::from_env().await else {
                        eprintln!("SWITCHBOARD_TEST_DATABASE_URL is not set: PostgreSQL half skipped");
                        return;
                    };
                    let store = sb_store::Store::open(&sb_store::StoreConfig::Postgres { url: db.url.clone() }).await.unwrap();
                    super::$name(store.clone()).await;
                    store.close().await;
                    db.drop_database().await.unwrap();
                }
            )*
        }
    };
}

contract!(
    migrations_apply_once,
    tenants_have_unique_slugs,
    users_are_scoped_by_tenant_and_unique_by_email,
    user_listing_filters_and_pages,
    sessions_expire_and_end_with_deactivation,
    tokens_are_found_by_hash_until_revoked,
    agents_keep_their_skills,
    queues_round_trip,
    customer_status_changes_are_kept_in_history,
    customer_search_is_case_insensitive_and_literal,
    concurrent_contact_creations_all_commit_with_events,
    contact_updates_append_events_and_stay_scoped,
    audit_and_event_logs_are_append_only,
    routing_changes_commit_together,
    email_conversations_thread_queue_and_stay_scoped,
    sms_numbers_accounts_and_opt_outs_stay_scoped,
    chat_widgets_and_sessions_stay_scoped,
    imap_mailboxes_are_claimed_by_one_poller_at_a_time,
);

fn now() -> UnixMs {
    1_790_000_000_000
}

fn who() -> AuditEntry {
    AuditEntry {
        actor_user_id: None,
        actor_kind: "cli",
        source: "test".into(),
        at: now(),
    }
}

macro_rules! from_uuid {
    ($($t:ty),*) => {$( impl FromUuid for $t { fn make() -> Self { <$t>::from_uuid(Uuid::now_v7()) } } )*};
}
trait FromUuid {
    fn make() -> Self;
}
from_uuid!(
    TenantId, UserId, AgentId, SkillId, QueueId, CustomerId, ContactId, ApiTokenId
);
fn new<T: FromUuid>() -> T {
    T::make()
}

async fn tenant(store: &Store, slug: &str) -> Tenant {
    let t = Tenant {
        id: new(),
        name: format!("Tenant {slug}"),
        slug: format!("{slug}-{}", Uuid::now_v7().simple()),
        time_zone: "Australia/Sydney".into(),
        created_at: now(),
        updated_at: now(),
    };
    store.insert_tenant(&t, &who()).await.unwrap();
    t
}

async fn user(store: &Store, t: TenantId, roles: &str) -> User {
    let u = User {
        id: new(),
        tenant_id: t,
        email: format!("{}@example.com", Uuid::now_v7().simple()),
        display_name: "Ann".into(),
        password_hash: Some("$argon2id$fake".into()),
        roles: RoleSet::parse_list(roles).unwrap(),
        active: 1,
        created_at: now(),
        updated_at: now(),
    };
    store.insert_user(&u, &who()).await.unwrap();
    u
}

async fn queue(store: &Store, t: TenantId, name: &str) -> Queue {
    let q = Queue {
        id: new(),
        tenant_id: t,
        name: name.into(),
        description: String::new(),
        strategy: Strategy::LongestIdle,
        priority: 5,
        service_level_seconds: 20,
        service_level_target_pct: 80,
        max_wait_seconds: Some(600),
        wrap_up_seconds: 30,
        routing_rules: r#"{"required_skills":[]}"#.into(),
        created_at: now(),
        updated_at: now(),
        department: "Care".into(),
    };
    store.insert_queue(&q, &who()).await.unwrap();
    q
}

async fn customer(store: &Store, t: TenantId, name: &str) -> Customer {
    let c = Customer {
        id: new(),
        tenant_id: t,
        kind: CustomerKind::Person,
        name: name.into(),
        email: Some(format!("{}@example.org", Uuid::now_v7().simple())),
        phone: Some("+61291234567".into()),
        status: CustomerStatus::Prospect,
        external_ref: None,
        created_at: now(),
        updated_at: now(),
    };
    store.insert_customer(&c, &who()).await.unwrap();
    c
}

/// Stores a new contact with its `contact.created` event, in one
/// transaction, as the routing task does.
async fn create(store: &Store, c: Contact, payload: serde_json::Value) -> Result<(), StoreError> {
    let event = NewEvent {
        kind: "contact.created",
        subject_id: c.id.to_string(),
        at: c.created_at,
        payload,
    };
    let tenant = c.tenant_id;
    store
        .apply_routing(
            tenant,
            &RoutingChanges {
                new_contacts: vec![c],
                events: vec![event],
                ..Default::default()
            },
        )
        .await
}

fn contact(t: TenantId, q: QueueId, at: UnixMs) -> Contact {
    Contact {
        id: new(),
        tenant_id: t,
        channel: Channel::Chat,
        direction: Direction::Inbound,
        queue_id: q,
        customer_id: None,
        agent_id: None,
        state: ContactState::Queued,
        priority: 5,
        subject: "Help".into(),
        from_address: None,
        to_address: None,
        reason: None,
        disposition: None,
        notes: String::new(),
        arrived_at: at,
        queued_at: Some(at),
        first_reserved_at: None,
        answered_at: None,
        hold_ms: 0,
        wrap_started_at: None,
        wrap_ended_at: None,
        ended_at: None,
        abandoned_at: None,
        created_at: at,
        updated_at: at,
        attributes: r#"{"language":"fr"}"#.into(),
        requested_agent_id: None,
    }
}

async fn migrations_apply_once(store: Store) {
    assert_eq!(
        store.migrate().await.unwrap(),
        0,
        "a second run applies nothing"
    );
    store.ping().await.unwrap();
}

async fn tenants_have_unique_slugs(store: Store) {
    let t = tenant(&store, "acme").await;
    let got = store.get_tenant(t.id).await.unwrap();
    assert_eq!(got.slug, t.slug);
    assert_eq!(
        store
            .find_tenant_by_slug(&t.slug)
            .await
            .unwrap()
            .unwrap()
            .id,
        t.id
    );
    let dup = Tenant {
        id: new(),
        ..t.clone()
    };
    assert!(matches!(
        store.insert_tenant(&dup, &who()).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.get_tenant(dup.id).await,
        Err(StoreError::NotFound)
    ));
    let mut renamed = got.clone();
    renamed.name = "Acme Pty Ltd".into();
    store.update_tenant(&renamed, &who()).await.unwrap();
    assert_eq!(store.get_tenant(t.id).await.unwrap().name, "Acme Pty Ltd");
}

async fn users_are_scoped_by_tenant_and_unique_by_email(store: Store) {
    let a = tenant(&store, "a").await;
    let b = tenant(&store, "b").await;
    let u = user(&store, a.id, "agent,team_leader").await;
    let got = store.get_user(a.id, u.id).await.unwrap();
    assert_eq!(got.roles.to_list(), "agent,team_leader");
    assert!(matches!(
        store.get_user(b.id, u.id).await,
        Err(StoreError::NotFound)
    ));
    let mut other = u.clone();
    other.id = new();
    other.tenant_id = b.id;
    assert!(matches!(
        store.insert_user(&other, &who()).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .find_user_by_email(&u.email)
            .await
            .unwrap()
            .unwrap()
            .id,
        u.id
    );
    // Updating through the wrong tenant changes nothing.
    let mut hijack = got.clone();
    hijack.tenant_id = b.id;
    hijack.display_name = "Mallory".into();
    assert!(matches!(
        store.update_user(&hijack, "user.updated", &who()).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.get_user(a.id, u.id).await.unwrap().display_name,
        "Ann"
    );
}

async fn user_listing_filters_and_pages(store: Store) {
    let t = tenant(&store, "list").await;
    let other = tenant(&store, "other").await;
    let mut agents = Vec::new();
    for _ in 0..5 {
        agents.push(user(&store, t.id, "agent").await.id);
    }
    user(&store, t.id, "admin").await;
    user(&store, other.id, "agent").await;
    let f = UserFilter {
        role: Some(Role::Agent),
        active: None,
    };
    let p1 = store.list_users(t.id, &f, None, 2).await.unwrap();
    assert_eq!(p1.items.len(), 2);
    let after: UserId = p1.next.clone().unwrap().parse().unwrap();
    let p2 = store.list_users(t.id, &f, Some(after), 2).await.unwrap();
    let p3 = store
        .list_users(t.id, &f, Some(p2.next.clone().unwrap().parse().unwrap()), 2)
        .await
        .unwrap();
    assert_eq!(p3.items.len(), 1);
    assert!(p3.next.is_none());
    let seen: Vec<UserId> = p1
        .items
        .iter()
        .chain(&p2.items)
        .chain(&p3.items)
        .map(|u| u.id)
        .collect();
    assert_eq!(seen, agents, "pages return every agent once, in id order");
    let all = store
        .list_users(t.id, &UserFilter::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(all.items.len(), 6);
}

async fn sessions_expire_and_end_with_deactivation(store: Store) {
    let t = tenant(&store, "s").await;
    let u = user(&store, t.id, "agent").await;
    store
        .insert_session("h1", t.id, u.id, now(), now() + 1000)
        .await
        .unwrap();
    assert_eq!(
        store
            .find_session_user("h1", now())
            .await
            .unwrap()
            .unwrap()
            .id,
        u.id
    );
    assert!(
        store
            .find_session_user("h1", now() + 1000)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert!(
        store
            .find_session_user("nope", now())
            .await
            .unwrap()
            .is_none()
    );
    store.delete_session("h1").await.unwrap();
    assert!(
        store
            .find_session_user("h1", now())
            .await
            .unwrap()
            .is_none()
    );
    store
        .insert_session("h2", t.id, u.id, now(), now() + 1000)
        .await
        .unwrap();
    let mut off = store.get_user(t.id, u.id).await.unwrap();
    off.active = 0;
    store
        .update_user(&off, "user.deactivated", &who())
        .await
        .unwrap();
    assert!(
        store
            .find_session_user("h2", now())
            .await
            .unwrap()
            .is_none()
    );
    store
        .insert_session("h3", t.id, u.id, now() - 10, now() - 1)
        .await
        .unwrap();
    assert_eq!(store.purge_sessions(now()).await.unwrap(), 1);
}

async fn tokens_are_found_by_hash_until_revoked(store: Store) {
    let t = tenant(&store, "tok").await;
    let other = tenant(&store, "tok2").await;
    let u = user(&store, t.id, "admin").await;
    let tok = ApiToken {
        id: new(),
        tenant_id: t.id,
        user_id: u.id,
        name: "crm".into(),
        token_hash: format!("hash-{}", Uuid::now_v7()),
        created_at: now(),
        revoked_at: None,
    };
    store.insert_token(&tok, &who()).await.unwrap();
    let (found, fu) = store
        .find_token_user(&tok.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.id, fu.id), (tok.id, u.id));
    assert!(matches!(
        store.revoke_token(other.id, tok.id, &who()).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        store
            .find_token_user(&tok.token_hash)
            .await
            .unwrap()
            .is_some(),
        "other tenant cannot revoke"
    );
    let revoked = store.revoke_token(t.id, tok.id, &who()).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(now()));
    assert!(
        store
            .find_token_user(&tok.token_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.list_tokens(t.id, None, 10).await.unwrap().items.len(),
        1
    );
    assert!(
        store
            .list_tokens(other.id, None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

async fn agents_keep_their_skills(store: Store) {
    let t = tenant(&store, "ag").await;
    let u = user(&store, t.id, "agent").await;
    let mut skills = Vec::new();
    for name in ["billing", "french", "sales"] {
        let s = Skill {
            id: new(),
            tenant_id: t.id,
            name: name.into(),
            description: String::new(),
            created_at: now(),
            updated_at: now(),
        };
        store.insert_skill(&s, &who()).await.unwrap();
        skills.push(s.id);
    }
    let dup = Skill {
        id: new(),
        tenant_id: t.id,
        name: "billing".into(),
        description: String::new(),
        created_at: now(),
        updated_at: now(),
    };
    assert!(matches!(
        store.insert_skill(&dup, &who()).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .existing_skills(t.id, &[skills[0], new()])
            .await
            .unwrap(),
        vec![skills[0]]
    );
    let mut a = Agent {
        id: new(),
        tenant_id: t.id,
        user_id: u.id,
        display_name: "Ann".into(),
        capacity_voice: 1,
        capacity_email: 5,
        capacity_chat: 3,
        capacity_sms: 3,
        voice_blocks_others: 1,
        created_at: now(),
        updated_at: now(),
        attributes: r#"{"team":"night"}"#.into(),
        skills: vec![
            AgentSkill {
                skill_id: skills[0],
                proficiency: 7,
            },
            AgentSkill {
                skill_id: skills[1],
                proficiency: 3,
            },
        ],
    };
    store.insert_agent(&a, &who()).await.unwrap();
    let got = store.get_agent(t.id, a.id).await.unwrap();
    let mut expect = a.skills.clone();
    expect.sort_by_key(|s| s.skill_id);
    assert_eq!(got.skills, expect);
    a.skills = vec![AgentSkill {
        skill_id: skills[2],
        proficiency: 10,
    }];
    a.capacity_chat = 4;
    store.update_agent(&a, &who()).await.unwrap();
    let got = store.get_agent(t.id, a.id).await.unwrap();
    assert_eq!(got.skills, a.skills);
    assert_eq!(got.capacity_chat, 4);
    assert_eq!(
        store
            .find_agent_by_user(t.id, u.id)
            .await
            .unwrap()
            .unwrap()
            .id,
        a.id
    );
    let by_skill = store
        .list_agents(
            t.id,
            &AgentFilter {
                skill_id: Some(skills[2]),
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(by_skill.items.len(), 1);
    assert_eq!(by_skill.items[0].skills, a.skills);
    assert!(
        store
            .list_agents(
                t.id,
                &AgentFilter {
                    skill_id: Some(skills[0])
                },
                None,
                10
            )
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let dup_agent = Agent {
        id: new(),
        ..a.clone()
    };
    assert!(matches!(
        store.insert_agent(&dup_agent, &who()).await,
        Err(StoreError::Conflict(_))
    ));
}

async fn queues_round_trip(store: Store) {
    let t = tenant(&store, "q").await;
    let b = tenant(&store, "q2").await;
    let q = queue(&store, t.id, "Support").await;
    let mut got = store.get_queue(t.id, q.id).await.unwrap();
    assert_eq!(got.strategy, Strategy::LongestIdle);
    assert_eq!(got.max_wait_seconds, Some(600));
    got.strategy = Strategy::RoundRobin;
    got.max_wait_seconds = None;
    store.update_queue(&got, &who()).await.unwrap();
    let again = store.get_queue(t.id, q.id).await.unwrap();
    assert_eq!(
        (again.strategy, again.max_wait_seconds),
        (Strategy::RoundRobin, None)
    );
    assert!(matches!(
        store.get_queue(b.id, q.id).await,
        Err(StoreError::NotFound)
    ));
    queue(&store, b.id, "Support").await; // the same name in another tenant is fine
    let dup = Queue {
        id: new(),
        ..q.clone()
    };
    assert!(matches!(
        store.insert_queue(&dup, &who()).await,
        Err(StoreError::Conflict(_))
    ));
}

async fn customer_status_changes_are_kept_in_history(store: Store) {
    let t = tenant(&store, "c").await;
    let c = customer(&store, t.id, "Ann Smith").await;
    let mut got = store.get_customer(t.id, c.id).await.unwrap();
    got.status = CustomerStatus::Customer;
    store
        .update_customer(&got, CustomerStatus::Prospect, &who())
        .await
        .unwrap();
    got.name = "Ann Jones".into();
    store
        .update_customer(&got, CustomerStatus::Customer, &who())
        .await
        .unwrap();
    got.status = CustomerStatus::Former;
    store
        .update_customer(&got, CustomerStatus::Customer, &who())
        .await
        .unwrap();
    let h = store.customer_status_history(t.id, c.id).await.unwrap();
    let steps: Vec<(Option<String>, String)> = h
        .into_iter()
        .map(|s| (s.from_status, s.to_status))
        .collect();
    assert_eq!(
        steps,
        vec![
            (None, "prospect".into()),
            (Some("prospect".into()), "customer".into()),
            (Some("customer".into()), "former".into()),
        ]
    );
}

async fn customer_search_is_case_insensitive_and_literal(store: Store) {
    let t = tenant(&store, "cs").await;
    customer(&store, t.id, "Ann Smith").await;
    customer(&store, t.id, "Bob 100% Jones").await;
    let b = customer(&store, t.id, "Carla_Diaz").await;
    let f = |s: &str| CustomerFilter {
        name_contains: Some(s.into()),
        ..Default::default()
    };
    assert_eq!(
        store
            .list_customers(t.id, &f("SMITH"), None, 10)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        store
            .list_customers(t.id, &f("%"), None, 10)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        store
            .list_customers(t.id, &f("a_d"), None, 10)
            .await
            .unwrap()
            .items[0]
            .id,
        b.id
    );
    let by_status = CustomerFilter {
        status: Some(CustomerStatus::Prospect),
        ..Default::default()
    };
    assert_eq!(
        store
            .list_customers(t.id, &by_status, None, 10)
            .await
            .unwrap()
            .items
            .len(),
        3
    );
    let by_email = CustomerFilter {
        email: b.email.clone(),
        ..Default::default()
    };
    assert_eq!(
        store
            .list_customers(t.id, &by_email, None, 10)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

async fn concurrent_contact_creations_all_commit_with_events(store: Store) {
    let t = tenant(&store, "cc").await;
    let q = queue(&store, t.id, "Chat").await;
    let mut tasks = Vec::new();
    for i in 0..300 {
        let store = store.clone();
        let c = contact(t.id, q.id, now() + i);
        tasks.push(tokio::spawn(async move {
            let id = c.id;
            create(&store, c, serde_json::json!({"n": i}))
                .await
                .map(|_| id)
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap().unwrap());
    }
    assert_eq!(store.count_contacts(t.id).await.unwrap(), 300);
    let events = store.list_events(t.id, 0, 1000).await.unwrap();
    let created: Vec<&Event> = events
        .iter()
        .filter(|e| e.kind == "contact.created")
        .collect();
    assert_eq!(created.len(), 300);
    let mut subjects: Vec<String> = created.iter().map(|e| e.subject_id.clone()).collect();
    subjects.sort();
    let mut expect: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    expect.sort();
    assert_eq!(subjects, expect, "one event per contact");
    // A contact naming a queue that does not exist fails alone; its neighbour commits.
    let bad = contact(t.id, new(), now());
    let good = contact(t.id, q.id, now());
    let (r1, r2) = tokio::join!(
        create(&store, bad, serde_json::json!({})),
        create(&store, good.clone(), serde_json::json!({}))
    );
    assert!(r1.is_err());
    r2.unwrap();
    store.get_contact(t.id, good.id).await.unwrap();
}

async fn contact_updates_append_events_and_stay_scoped(store: Store) {
    let t = tenant(&store, "cu").await;
    let b = tenant(&store, "cu2").await;
    let q = queue(&store, t.id, "Voice").await;
    let cust = customer(&store, t.id, "Dee").await;
    let c = contact(t.id, q.id, now());
    create(&store, c.clone(), serde_json::json!({}))
        .await
        .unwrap();
    let mut got = store.get_contact(t.id, c.id).await.unwrap();
    got.notes = "rang about a bill".into();
    got.customer_id = Some(cust.id.to_string());
    got.updated_at = now() + 5;
    store
        .update_contact(
            &got,
            "contact.updated",
            &serde_json::json!({"fields": ["notes"]}),
        )
        .await
        .unwrap();
    let again = store.get_contact(t.id, c.id).await.unwrap();
    assert_eq!(again.notes, "rang about a bill");
    assert!(matches!(
        store.get_contact(b.id, c.id).await,
        Err(StoreError::NotFound)
    ));
    let mut foreign = again.clone();
    foreign.tenant_id = b.id;
    assert!(matches!(
        store
            .update_contact(&foreign, "contact.updated", &serde_json::json!({}))
            .await,
        Err(StoreError::NotFound)
    ));
    let kinds: Vec<String> = store
        .list_events(t.id, 0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec!["contact.created", "contact.updated"]);
    assert!(store.list_events(b.id, 0, 10).await.unwrap().is_empty());
    let by_customer = ContactFilter {
        customer_id: Some(cust.id),
        ..Default::default()
    };
    assert_eq!(
        store
            .list_contacts(t.id, &by_customer, None, 10)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    let by_channel = ContactFilter {
        channel: Some(Channel::Email),
        ..Default::default()
    };
    assert!(
        store
            .list_contacts(t.id, &by_channel, None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let window = ContactFilter {
        arrived_from: Some(now()),
        arrived_before: Some(now() + 1),
        ..Default::default()
    };
    assert_eq!(
        store
            .list_contacts(t.id, &window, None, 10)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

async fn audit_and_event_logs_are_append_only(store: Store) {
    let t = tenant(&store, "au").await;
    let u = user(&store, t.id, "admin").await;
    let page = store
        .list_audit(t.id, &Default::default(), None, 100)
        .await
        .unwrap();
    let actions: Vec<&str> = page.items.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, vec!["tenant.created", "user.created"]);
    assert_eq!(page.items[1].object_id, u.id.to_string());
    assert_eq!(page.items[1].source, "test");
    let q = queue(&store, t.id, "Q").await;
    create(&store, contact(t.id, q.id, now()), serde_json::json!({}))
        .await
        .unwrap();
    // The raw tables refuse changes: the logs are append-only in the schema itself.
    let pool_err = store_exec(&store, "UPDATE audit_log SET action = 'x'").await;
    assert!(pool_err.is_err(), "audit rows cannot be changed");
    assert!(
        store_exec(&store, "DELETE FROM audit_log").await.is_err(),
        "audit rows cannot be deleted"
    );
    assert!(
        store_exec(&store, "DELETE FROM events").await.is_err(),
        "events cannot be deleted"
    );
    assert_eq!(
        store
            .list_audit(t.id, &Default::default(), None, 100)
            .await
            .unwrap()
            .items
            .len(),
        3
    );
}

async fn store_exec(store: &Store, sql: &'static str) -> Result<(), StoreError> {
    store.execute_raw_for_tests(sql).await
}

async fn routing_changes_commit_together(store: Store) {
    let t = tenant(&store, "rt").await;
    let b = tenant(&store, "rt2").await;
    let q = queue(&store, t.id, "Q").await;
    let u = user(&store, t.id, "agent").await;
    let a = Agent {
        id: new(),
        tenant_id: t.id,
        user_id: u.id,
        display_name: "Ann".into(),
        capacity_voice: 1,
        capacity_email: 1,
        capacity_chat: 1,
        capacity_sms: 1,
        voice_blocks_others: 1,
        created_at: now(),
        updated_at: now(),
        attributes: r#"{"team":"night"}"#.into(),
        skills: vec![],
    };
    store.insert_agent(&a, &who()).await.unwrap();
    let c1 = contact(t.id, q.id, now() + 2);
    let c0 = contact(t.id, q.id, now() + 1);
    let mut changes = RoutingChanges {
        new_contacts: vec![c1.clone(), c0.clone()],
        ..Default::default()
    };
    changes.agent_states.push(AgentStateRow {
        agent_id: a.id,
        tenant_id: t.id,
        presence: "available".into(),
        reason: None,
        since: now(),
    });
    changes.events.push(NewEvent {
        kind: "reservation.created",
        subject_id: c0.id.to_string(),
        at: now(),
        payload: serde_json::json!({"reservation": 1}),
    });
    store.apply_routing(t.id, &changes).await.unwrap();
    let open: Vec<ContactId> = store
        .open_contacts(t.id)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(open, vec![c0.id, c1.id], "oldest arrival first");
    // Routing columns change; what people wrote stays.
    let mut noted = store.get_contact(t.id, c0.id).await.unwrap();
    noted.notes = "caller is upset".into();
    store
        .update_contact(&noted, "contact.updated", &serde_json::json!({}))
        .await
        .unwrap();
    let mut routed = c0.clone();
    routed.state = ContactState::Ended;
    routed.agent_id = Some(a.id.to_string());
    routed.ended_at = Some(now() + 9);
    let mut changes = RoutingChanges {
        contacts: vec![routed],
        ..Default::default()
    };
    changes.agent_states.push(AgentStateRow {
        agent_id: a.id,
        tenant_id: t.id,
        presence: "away".into(),
        reason: Some("lunch".into()),
        since: now() + 9,
    });
    store.apply_routing(t.id, &changes).await.unwrap();
    let got = store.get_contact(t.id, c0.id).await.unwrap();
    assert_eq!(
        (got.state, got.notes.as_str(), got.ended_at),
        (ContactState::Ended, "caller is upset", Some(now() + 9))
    );
    assert_eq!(store.open_contacts(t.id).await.unwrap().len(), 1);
    let states = store.agent_states(t.id).await.unwrap();
    assert_eq!(
        (
            states.len(),
            states[0].presence.as_str(),
            states[0].reason.as_deref()
        ),
        (1, "away", Some("lunch"))
    );
    assert!(store.agent_states(b.id).await.unwrap().is_empty());
    assert!(store.open_contacts(b.id).await.unwrap().is_empty());
    // A failing batch writes nothing.
    let bad = contact(t.id, new(), now());
    let dup = RoutingChanges {
        new_contacts: vec![contact(t.id, q.id, now()), bad],
        ..Default::default()
    };
    assert!(store.apply_routing(t.id, &dup).await.is_err());
    assert_eq!(store.count_contacts(t.id).await.unwrap(), 2);
}

fn message(
    t: TenantId,
    conv: &str,
    contact: &str,
    dir: &str,
    mid: &str,
    status: &str,
) -> MessageRow {
    MessageRow {
        id: Uuid::now_v7().to_string(),
        tenant_id: t,
        conversation_id: conv.into(),
        contact_id: contact.into(),
        direction: dir.into(),
        message_id: mid.into(),
        in_reply_to: None,
        from_address: "kiri@customer.example".into(),
        from_name: Some("Kiri".into()),
        to_address: "support@acme.example".into(),
        subject: "Router".into(),
        text_body: "red lights".into(),
        html_body: None,
        remote_images_blocked: 0,
        automatic: None,
        author_user_id: None,
        status: status.into(),
        attempts: 0,
        next_attempt_at: (status == "pending").then_some(now()),
        last_error: None,
        sent_at: None,
        raw: None,
        created_at: now(),
        channel: "email".into(),
    }
}

async fn email_conversations_thread_queue_and_stay_scoped(store: Store) {
    let t = tenant(&store, "mail").await;
    let b = tenant(&store, "mail2").await;
    let q = queue(&store, t.id, "Support").await;
    let qb = queue(&store, b.id, "Support").await;
    let addr = EmailAddressRow {
        address: "support@acme.example".into(),
        tenant_id: t.id,
        queue_id: q.id.to_string(),
        display_name: "Acme Support".into(),
        updated_at: now(),
    };
    store.put_email_address(&addr, &who()).await.unwrap();
    // Another tenant cannot take the address.
    let theirs = EmailAddressRow {
        tenant_id: b.id,
        queue_id: qb.id.to_string(),
        ..addr.clone()
    };
    assert!(matches!(
        store.put_email_address(&theirs, &who()).await,
        Err(StoreError::Conflict(_))
    ));
    let found = store
        .find_email_address("support@acme.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.tenant_id, t.id);
    assert!(
        store
            .find_email_address("nobody@acme.example")
            .await
            .unwrap()
            .is_none()
    );

    let conv = Conversation {
        id: Uuid::now_v7().to_string(),
        tenant_id: t.id,
        channel: "email".into(),
        reference: "K3M9Q2XA".into(),
        address: addr.address.clone(),
        customer_address: "kiri@customer.example".into(),
        customer_name: None,
        subject: "Router".into(),
        queue_id: q.id.to_string(),
        created_at: now(),
        updated_at: now(),
    };
    let contact = Uuid::now_v7().to_string();
    let inbound = message(
        t.id,
        &conv.id,
        &contact,
        "in",
        "c1@customer.example",
        "received",
    );
    let ack = message(
        t.id,
        &conv.id,
        &contact,
        "out",
        "a1@acme.example",
        "pending",
    );
    let file = AttachmentRow {
        id: Uuid::now_v7().to_string(),
        tenant_id: t.id,
        message_id: inbound.id.clone(),
        filename: "photo.jpg".into(),
        content_type: "image/jpeg".into(),
        bytes: 3,
        sha256: "ab".into(),
        created_at: now(),
    };
    store
        .insert_received(&Received {
            conversation: Some(conv.clone()),
            message: inbound.clone(),
            attachments: vec![file.clone()],
            acknowledgement: Some(ack.clone()),
        })
        .await
        .unwrap();
    // Threading lookups, scoped by tenant.
    let got = store
        .find_message_by_message_id(t.id, "c1@customer.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.conversation_id, conv.id);
    assert!(
        store
            .find_message_by_message_id(b.id, "c1@customer.example")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .find_conversation_by_reference(t.id, "K3M9Q2XA")
            .await
            .unwrap()
            .unwrap()
            .id,
        conv.id
    );
    assert!(
        store
            .find_conversation_by_reference(b.id, "K3M9Q2XA")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .contact_conversation(t.id, &contact)
            .await
            .unwrap()
            .unwrap()
            .id,
        conv.id
    );
    assert!(
        store
            .contact_conversation(b.id, &contact)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .latest_conversation_contact(t.id, &conv.id)
            .await
            .unwrap()
            .as_deref(),
        Some(contact.as_str())
    );
    let msgs = store
        .list_conversation_messages(t.id, &conv.id)
        .await
        .unwrap();
    assert_eq!(
        msgs.iter()
            .map(|m| m.direction.as_str())
            .collect::<Vec<_>>(),
        ["in", "out"]
    );
    assert!(
        store
            .list_conversation_messages(b.id, &conv.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .list_conversation_attachments(t.id, &conv.id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store.attachment_contact(t.id, &file.id).await.unwrap(),
        contact
    );
    assert!(matches!(
        store.get_attachment(b.id, &file.id).await,
        Err(StoreError::NotFound)
    ));

    // The outbound queue: due now, then sent with its event.
    let due = store.due_messages(now(), 10, true).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(store.next_message_due(true).await.unwrap(), Some(now()));
    let mut sent = due[0].clone();
    sent.status = "sent".into();
    sent.attempts = 1;
    sent.sent_at = Some(now() + 5);
    sent.next_attempt_at = None;
    store.record_message_attempt(&sent).await.unwrap();
    assert!(
        store
            .due_messages(now() + 1_000_000, 10, true)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.next_message_due(true).await.unwrap(), None);
    let events = store.events_of(t.id, &contact, 100).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["message.received", "message.sent"]);

    // A reply queued by an agent.
    let reply = message(
        t.id,
        &conv.id,
        &contact,
        "out",
        "r1@acme.example",
        "pending",
    );
    store.insert_outbound(&reply, &[]).await.unwrap();
    assert_eq!(
        store.due_messages(now(), 10, true).await.unwrap()[0].id,
        reply.id
    );
}

async fn sms_numbers_accounts_and_opt_outs_stay_scoped(store: Store) {
    let t = tenant(&store, "sms").await;
    let b = tenant(&store, "sms2").await;
    let q = queue(&store, t.id, "Support").await;
    let qb = queue(&store, b.id, "Support").await;
    let n = SmsNumber {
        number: "+61480000000".into(),
        tenant_id: t.id,
        queue_id: q.id.to_string(),
        updated_at: now(),
    };
    store.put_sms_number(&n, &who()).await.unwrap();
    let theirs = SmsNumber {
        tenant_id: b.id,
        queue_id: qb.id.to_string(),
        ..n.clone()
    };
    assert!(matches!(
        store.put_sms_number(&theirs, &who()).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .find_sms_number("+61480000000")
            .await
            .unwrap()
            .unwrap()
            .tenant_id,
        t.id
    );
    assert!(store.list_sms_numbers(b.id).await.unwrap().is_empty());

    let account = SmsAccount {
        tenant_id: t.id,
        provider: "twilio".into(),
        account_sid: "AC1".into(),
        auth_token: "tok".into(),
        api_base: "https://api.twilio.com".into(),
        webhook_url: "https://sb.example/api/v1/sms/twilio".into(),
        updated_at: now(),
    };
    store.put_sms_account(&account, &who()).await.unwrap();
    store.put_sms_account(&account, &who()).await.unwrap(); // replaced, not doubled
    assert_eq!(
        store
            .get_sms_account(t.id)
            .await
            .unwrap()
            .unwrap()
            .auth_token,
        "tok"
    );
    assert!(store.get_sms_account(b.id).await.unwrap().is_none());

    store
        .set_sms_opt_out(t.id, "+61412345678", true, now())
        .await
        .unwrap();
    store
        .set_sms_opt_out(t.id, "+61412345678", true, now())
        .await
        .unwrap();
    assert!(store.sms_opted_out(t.id, "+61412345678").await.unwrap());
    assert!(!store.sms_opted_out(b.id, "+61412345678").await.unwrap());
    store
        .set_sms_opt_out(t.id, "+61412345678", false, now())
        .await
        .unwrap();
    assert!(!store.sms_opted_out(t.id, "+61412345678").await.unwrap());

    // An SMS conversation, found by both numbers; its pending text is due
    // even without an email relay, an email is not.
    let conv = Conversation {
        id: Uuid::now_v7().to_string(),
        tenant_id: t.id,
        channel: "sms".into(),
        reference: "SMS00001".into(),
        address: "+61480000000".into(),
        customer_address: "+61412345678".into(),
        customer_name: None,
        subject: "Text message".into(),
        queue_id: q.id.to_string(),
        created_at: now(),
        updated_at: now(),
    };
    let contact = Uuid::now_v7().to_string();
    let mut inbound = message(t.id, &conv.id, &contact, "in", "SM1", "received");
    inbound.channel = "sms".into();
    store
        .insert_received(&Received {
            conversation: Some(conv.clone()),
            message: inbound,
            attachments: vec![],
            acknowledgement: None,
        })
        .await
        .unwrap();
    let found = store
        .find_sms_conversation(t.id, "+61412345678", "+61480000000")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, conv.id);
    assert!(
        store
            .find_sms_conversation(b.id, "+61412345678", "+61480000000")
            .await
            .unwrap()
            .is_none()
    );
    let mut text = message(t.id, &conv.id, &contact, "out", "o1@sms", "pending");
    text.channel = "sms".into();
    store.insert_outbound(&text, &[]).await.unwrap();
    let email = message(
        t.id,
        &conv.id,
        &contact,
        "out",
        "o2@acme.example",
        "pending",
    );
    store.insert_outbound(&email, &[]).await.unwrap();
    let due: Vec<String> = store
        .due_messages(now(), 10, false)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(due, [text.id.clone()]);
    assert_eq!(store.due_messages(now(), 10, true).await.unwrap().len(), 2);
}

async fn chat_widgets_and_sessions_stay_scoped(store: Store) {
    let t = tenant(&store, "chat").await;
    let b = tenant(&store, "chat2").await;
    let q = queue(&store, t.id, "Support").await;
    let qb = queue(&store, b.id, "Support").await;
    let w = ChatWidget {
        id: Uuid::now_v7().to_string(),
        tenant_id: t.id,
        name: "Website".into(),
        queue_id: q.id.to_string(),
        allowed_origins: "https://shop.example".into(),
        transcript_from: None,
        greeting: "Hello".into(),
        updated_at: now(),
    };
    store.put_chat_widget(&w, &who()).await.unwrap();
    let mut changed = w.clone();
    changed.greeting = "Hi".into();
    store.put_chat_widget(&changed, &who()).await.unwrap();
    let found = store.find_chat_widget(&w.id).await.unwrap().unwrap();
    assert_eq!((found.tenant_id, found.greeting.as_str()), (t.id, "Hi"));
    // Another tenant can neither take the id over nor see or remove it.
    let theirs = ChatWidget {
        tenant_id: b.id,
        queue_id: qb.id.to_string(),
        ..w.clone()
    };
    assert!(matches!(
        store.put_chat_widget(&theirs, &who()).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.list_chat_widgets(b.id).await.unwrap().is_empty());
    assert!(matches!(
        store.delete_chat_widget(b.id, &w.id, &who()).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.list_chat_widgets(t.id).await.unwrap().len(), 1);
    // Sessions are found by the hash of their secret only.
    let s = ChatSession {
        token_sha256: "ab".repeat(32),
        tenant_id: t.id,
        widget_id: w.id.clone(),
        conversation_id: Uuid::now_v7().to_string(),
        created_at: now(),
    };
    store.insert_chat_session(&s).await.unwrap();
    let got = store
        .find_chat_session(&s.token_sha256)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (got.tenant_id, got.conversation_id),
        (t.id, s.conversation_id.clone())
    );
    assert!(
        store
            .find_chat_session(&"cd".repeat(32))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store.insert_chat_session(&s).await.is_err(),
        "a secret is one session"
    );
    store.delete_chat_widget(t.id, &w.id, &who()).await.unwrap();
    assert!(store.find_chat_widget(&w.id).await.unwrap().is_none());
}

async fn imap_mailboxes_are_claimed_by_one_poller_at_a_time(store: Store) {
    let t = tenant(&store, "imap").await;
    let b = tenant(&store, "imap2").await;
    let m = ImapMailbox {
        id: Uuid::now_v7().to_string(),
        tenant_id: t.id,
        address: "help@imap.example".into(),
        host: "imap.example".into(),
        port: 993,
        security: "tls".into(),
        username: "help".into(),
        password: "pw".into(),
        folder: "INBOX".into(),
        delete_after: 0,
        interval_seconds: 60,
        enabled: 1,
        uid_validity: None,
        last_uid: 0,
        taken: 0,
        refused: 0,
        next_poll_at: now(),
        claimed_until: None,
        last_polled_at: None,
        last_error: None,
        updated_at: now(),
    };
    store.put_imap_mailbox(&m, &who()).await.unwrap();
    let disabled = ImapMailbox {
        id: Uuid::now_v7().to_string(),
        enabled: 0,
        ..m.clone()
    };
    store.put_imap_mailbox(&disabled, &who()).await.unwrap();
    // Not yet due; then due, claimed once (the disabled one never).
    assert!(
        store
            .claim_due_imap_mailboxes(now() - 1, 1_000, 8)
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = store
        .claim_due_imap_mailboxes(now(), 1_000, 8)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let mine = claimed[0].clone();
    assert_eq!(
        (mine.id.as_str(), mine.claimed_until),
        (m.id.as_str(), Some(now() + 1_000))
    );
    assert!(
        store
            .claim_due_imap_mailboxes(now() + 500, 1_000, 8)
            .await
            .unwrap()
            .is_empty()
    );
    // Progress counts while the claim is this poll's.
    assert!(
        store
            .advance_imap_mailbox(&mine, Some(7), 41, 3, 1)
            .await
            .unwrap()
    );
    // Made due again during the poll ("poll now"): finishing keeps that.
    store
        .poll_imap_mailbox_now(t.id, &m.id, now() + 600)
        .await
        .unwrap();
    store
        .finish_imap_poll(&mine, now(), now() + 700, Some("x".into()), now() + 60_000)
        .await
        .unwrap();
    let after = store.get_imap_mailbox(t.id, &m.id).await.unwrap();
    assert_eq!(
        (
            after.uid_validity,
            after.last_uid,
            after.taken,
            after.refused,
            after.claimed_until
        ),
        (Some(7), 41, 3, 1, None)
    );
    assert_eq!(
        (after.next_poll_at, after.last_error.as_deref()),
        (now() + 600, Some("x"))
    );
    // A claim not finished in time lapses and another poller takes it;
    // the first can no longer record progress.
    let first = store
        .claim_due_imap_mailboxes(now() + 600, 1_000, 8)
        .await
        .unwrap()
        .remove(0);
    let second = store
        .claim_due_imap_mailboxes(now() + 1_601, 1_000, 8)
        .await
        .unwrap()
        .remove(0);
    assert!(
        !store
            .advance_imap_mailbox(&first, Some(7), 99, 1, 0)
            .await
            .unwrap()
    );
    assert!(
        store
            .advance_imap_mailbox(&second, Some(7), 42, 1, 0)
            .await
            .unwrap()
    );
    store
        .finish_imap_poll(&second, now() + 1_601, now() + 1_700, None, now() + 61_700)
        .await
        .unwrap();
    assert_eq!(
        store.next_imap_poll_due().await.unwrap(),
        Some(now() + 61_700)
    );
    // Another tenant can neither see, take over, poll nor remove it.
    assert!(store.list_imap_mailboxes(b.id).await.unwrap().is_empty());
    assert!(matches!(
        store
            .put_imap_mailbox(
                &ImapMailbox {
                    tenant_id: b.id,
                    ..m.clone()
                },
                &who()
            )
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.poll_imap_mailbox_now(b.id, &m.id, now()).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_imap_mailbox(b.id, &m.id, &who()).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.get_imap_mailbox(t.id, &m.id).await.unwrap().last_uid,
        42
    );
    // Changing settings keeps the poller's place and counts; another
    // folder starts afresh (the counts stay).
    let slower = ImapMailbox {
        interval_seconds: 300,
        ..m.clone()
    };
    store.put_imap_mailbox(&slower, &who()).await.unwrap();
    let kept = store.get_imap_mailbox(t.id, &m.id).await.unwrap();
    assert_eq!(
        (
            kept.interval_seconds,
            kept.uid_validity,
            kept.last_uid,
            kept.taken
        ),
        (300, Some(7), 42, 4)
    );
    let elsewhere = ImapMailbox {
        folder: "Support".into(),
        ..slower
    };
    store.put_imap_mailbox(&elsewhere, &who()).await.unwrap();
    let moved = store.get_imap_mailbox(t.id, &m.id).await.unwrap();
    assert_eq!(
        (
            moved.folder.as_str(),
            moved.uid_validity,
            moved.last_uid,
            moved.taken
        ),
        ("Support", None, 0, 4)
    );
    store
        .delete_imap_mailbox(t.id, &m.id, &who())
        .await
        .unwrap();
    assert_eq!(store.list_imap_mailboxes(t.id).await.unwrap().len(), 1);
}
