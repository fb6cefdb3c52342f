//! The demo tenant: "Demo" with users for every role (all with the password
//! `switchboard`), skills, agents, queues and customers. Seeding is done
//! once; a second `switchboard demo` on the same data reuses it.

use anyhow::{Context, Result};
use sb_app::accounts::NewUser;
use sb_app::codes::CodeKind;
use sb_app::customers::NewCustomer;
use sb_app::directory::{Capacities, NewAgent, NewQueue, NewSkill};
use sb_app::tenants::NewTenant;
use sb_app::voice::{NumberSpec, PhoneSpec, TrunkSpec};
use sb_app::{App, Principal};
use sb_model::*;

pub const DEMO_SLUG: &str = "demo";
pub const DEMO_PASSWORD: &str = "switchboard";

/// The people of the demo centre: (email, name, roles).
/// The number the demo's callers dial (from this machine).
pub const DEMO_NUMBER: &str = "+61290000000";
/// The demo's email addresses: address, queue, the name replies go out under.
pub const DEMO_EMAIL: &[(&str, &str, &str)] = &[
    ("support@demo.example", "Support", "Demo Support"),
    ("sales@demo.example", "Sales", "Demo Sales"),
];
/// Who has a SIP phone in the demo, and its username (password: the demo's).
pub const DEMO_PHONES: &[(&str, &str)] = &[
    ("lead@demo.example", "lead"),
    ("agent5@demo.example", "agent5"),
    ("agent6@demo.example", "agent6"),
];

pub const DEMO_USERS: &[(&str, &str, &[Role])] = &[
    (
        "lead@demo.example",
        "Lee Team-Leader",
        &[Role::TeamLeader, Role::Agent],
    ),
    ("trainer@demo.example", "Tina Trainer", &[Role::Trainer]),
    (
        "planner@demo.example",
        "Paul Planner",
        &[Role::WorkforcePlanner],
    ),
    ("agent1@demo.example", "Aroha Ngata", &[Role::Agent]),
    ("agent2@demo.example", "Ben Nguyen", &[Role::Agent]),
    ("agent3@demo.example", "Chloé Martin", &[Role::Agent]),
    ("agent4@demo.example", "Dev Patel", &[Role::Agent]),
    ("agent5@demo.example", "Emma Wilson", &[Role::Agent]),
    ("agent6@demo.example", "Farid Haddad", &[Role::Agent]),
];

const CUSTOMERS: &[(&str, &str, &str, CustomerStatus)] = &[
    (
        "Olivia Brown",
        "olivia.brown@example.com",
        "+61412345001",
        CustomerStatus::Customer,
    ),
    (
        "Jack Taylor",
        "jack.taylor@example.com",
        "+61412345002",
        CustomerStatus::Customer,
    ),
    (
        "Mia Thompson",
        "mia.t@example.com",
        "+61412345003",
        CustomerStatus::Prospect,
    ),
    (
        "Noah Williams",
        "noah.w@example.com",
        "+61412345004",
        CustomerStatus::Customer,
    ),
    (
        "Isla Roberts",
        "isla.roberts@example.com",
        "+64211234005",
        CustomerStatus::Former,
    ),
    (
        "Leo Walker",
        "leo.walker@example.com",
        "+61412345006",
        CustomerStatus::Prospect,
    ),
    (
        "Ruby Harris",
        "ruby.h@example.com",
        "+61412345007",
        CustomerStatus::Customer,
    ),
    (
        "Oscar King",
        "oscar.king@example.com",
        "+64211234008",
        CustomerStatus::Customer,
    ),
    (
        "Harbour Freight Pty Ltd",
        "accounts@harbourfreight.example",
        "+61290001009",
        CustomerStatus::Customer,
    ),
    (
        "Kauri Software Ltd",
        "hello@kauri.example",
        "+6493001010",
        CustomerStatus::Prospect,
    ),
];

fn text(s: &str) -> Result<Text> {
    Text::parse(s, 200).map_err(|e| anyhow::anyhow!("{s}: {e}"))
}

/// Creates the demo tenant unless it exists; returns whether it was created.
pub async fn seed(app: &App) -> Result<bool> {
    if app.store().find_tenant_by_slug(DEMO_SLUG).await?.is_some() {
        return Ok(false);
    }
    let (tenant, _admin) = app
        .create_tenant(
            NewTenant {
                name: text("Demo")?,
                slug: DEMO_SLUG.into(),
                time_zone: "Australia/Sydney".into(),
                admin_email: EmailAddress::parse("admin@demo.example")
                    .map_err(|e| anyhow::anyhow!(e))?,
                admin_name: text("Ada Admin")?,
                admin_password: DEMO_PASSWORD.into(),
            },
            "demo",
        )
        .await
        .map_err(|e| anyhow::anyhow!("creating the demo tenant: {e}"))?;
    let p = Principal::cli(tenant.id);
    let err = |what: &'static str| move |e: sb_app::AppError| anyhow::anyhow!("demo {what}: {e:?}");

    for (kind, code, label) in [
        (CodeKind::Reason, "break", "Break"),
        (CodeKind::Reason, "lunch", "Lunch"),
        (CodeKind::Reason, "meeting", "Meeting"),
        (CodeKind::Reason, "training", "Training"),
        (CodeKind::Reason, "coaching", "Coaching"),
        (CodeKind::Disposition, "resolved", "Resolved"),
        (CodeKind::Disposition, "follow_up", "Needs follow-up"),
        (CodeKind::Disposition, "escalated", "Escalated"),
        (CodeKind::Disposition, "sale", "Sale"),
        (CodeKind::Disposition, "no_sale", "No sale"),
        (CodeKind::Disposition, "wrong_number", "Wrong number"),
    ] {
        app.create_code(&p, kind, code.into(), text(label)?)
            .await
            .map_err(err("code"))?;
    }

    let mut skills = Vec::new();
    for (name, description) in [
        ("billing", "Bills, payments and refunds"),
        ("sales", "New services and upgrades"),
        ("technical", "Faults and set-up help"),
        ("french", "Speaks French"),
    ] {
        let s = app
            .create_skill(
                &p,
                NewSkill {
                    name: text(name)?,
                    description: description.into(),
                },
            )
            .await
            .map_err(err("skill"))?;
        skills.push(s.id);
    }
    let [billing, sales, technical, french] = [skills[0], skills[1], skills[2], skills[3]];
    let prof = |n| Proficiency::new(n).context("proficiency");

    let mut users = Vec::new();
    for (email, name, roles) in DEMO_USERS {
        let u = app
            .create_user(
                &p,
                NewUser {
                    email: EmailAddress::parse(email).map_err(|e| anyhow::anyhow!(e))?,
                    display_name: text(name)?,
                    roles: RoleSet::new(roles.iter().copied())?,
                    password: Some(DEMO_PASSWORD.into()),
                },
            )
            .await
            .map_err(err("user"))?;
        users.push(u);
    }
    let agent_skills: [Vec<(SkillId, Proficiency)>; 7] = [
        vec![
            (billing, prof(9)?),
            (technical, prof(8)?),
            (sales, prof(6)?),
        ],
        vec![(billing, prof(8)?), (sales, prof(4)?)],
        vec![(technical, prof(7)?), (billing, prof(5)?)],
        vec![
            (french, prof(10)?),
            (billing, prof(6)?),
            (technical, prof(5)?),
        ],
        vec![(sales, prof(9)?), (billing, prof(3)?)],
        vec![(sales, prof(7)?), (technical, prof(6)?)],
        vec![(technical, prof(9)?), (french, prof(4)?)],
    ];
    let agent_users = users.iter().filter(|u| u.roles.contains(Role::Agent));
    let mut agents_by_email = Vec::new();
    for (i, (u, sk)) in agent_users.zip(agent_skills).enumerate() {
        // Languages spoken, for queue conditions such as
        // `languages HAS task.language`.
        let languages = if sk.iter().any(|(s, _)| *s == french) {
            "en,fr"
        } else {
            "en"
        };
        let attributes = [
            ("languages".to_owned(), languages.to_owned()),
            (
                "team".to_owned(),
                if i % 2 == 0 { "north" } else { "south" }.to_owned(),
            ),
        ]
        .into_iter()
        .collect();
        let a = app
            .create_agent(
                &p,
                NewAgent {
                    user_id: u.id,
                    display_name: None,
                    capacity: Capacities::default(),
                    voice_blocks_others: true,
                    skills: sk,
                    attributes,
                },
            )
            .await
            .map_err(err("agent"))?;
        agents_by_email.push((u.email.as_str().to_owned(), a.id));
    }

    let req = |skill, min| SkillRequirement {
        skill_id: skill,
        min_proficiency: min,
    };
    let queue = |name: &str, strategy, priority, rules: RoutingRules| -> Result<NewQueue> {
        Ok(NewQueue {
            name: text(name)?,
            description: String::new(),
            department: match name {
                "Billing" => "Accounts",
                "Sales" => "Sales",
                _ => "Customer care",
            }
            .into(),
            strategy,
            priority,
            service_level_seconds: 20,
            service_level_target_pct: Percent::new(80).map_err(|e| anyhow::anyhow!(e))?,
            max_wait_seconds: Some(900),
            wrap_up_seconds: 30,
            routing_rules: rules,
        })
    };
    let support = app
        .create_queue(
            &p,
            queue(
                "Support",
                Strategy::LongestIdle,
                50,
                RoutingRules {
                    required_skills: vec![req(technical, 6)],
                    escalation: vec![EscalationStep {
                        after_seconds: 60,
                        required_skills: vec![req(technical, 3)],
                    }],
                    overflow: None,
                    ..Default::default()
                },
            )?,
        )
        .await
        .map_err(err("queue"))?;
    app.create_queue(
        &p,
        queue(
            "Billing",
            Strategy::MostSkilled,
            60,
            RoutingRules {
                required_skills: vec![req(billing, 5)],
                escalation: vec![],
                overflow: Some(Overflow {
                    queue_id: support.id,
                    after_seconds: Some(300),
                    queue_length_over: None,
                }),
                ..Default::default()
            },
        )?,
    )
    .await
    .map_err(err("queue"))?;
    let sales = app
        .create_queue(
            &p,
            queue(
                "Sales",
                Strategy::RoundRobin,
                70,
                RoutingRules {
                    required_skills: vec![req(sales, 5)],
                    ..Default::default()
                },
            )?,
        )
        .await
        .map_err(err("queue"))?;
    app.create_queue(
        &p,
        queue(
            "Français",
            Strategy::LongestIdle,
            50,
            RoutingRules {
                required_skills: vec![req(french, 7)],
                ..Default::default()
            },
        )?,
    )
    .await
    .map_err(err("queue"))?;

    for (name, email, phone, status) in CUSTOMERS {
        let kind = if name.contains("Ltd") {
            CustomerKind::Organisation
        } else {
            CustomerKind::Person
        };
        app.create_customer(
            &p,
            NewCustomer {
                kind,
                name: text(name)?,
                email: Some(EmailAddress::parse(email).map_err(|e| anyhow::anyhow!(e))?),
                phone: Some(PhoneNumber::parse(phone).map_err(|e| anyhow::anyhow!(e))?),
                status: *status,
                external_ref: None,
            },
        )
        .await
        .map_err(err("customer"))?;
    }

    // Voice: the demo's number goes to Support; calls may come from this
    // machine; the team leader and the agents left to people have phones.
    app.put_voice_trunk(
        &p,
        "this machine",
        TrunkSpec {
            sources: vec!["127.0.0.1".into()],
            ..TrunkSpec::default()
        },
    )
    .await
    .map_err(err("trunk"))?;
    app.put_voice_number(
        &p,
        DEMO_NUMBER,
        NumberSpec {
            queue_id: support.id.to_string(),
            menu: None,
        },
    )
    .await
    .map_err(err("number"))?;
    // Email: two addresses, to Support and Sales.
    for (address, queue, name) in DEMO_EMAIL {
        let id = if *queue == "Sales" {
            sales.id
        } else {
            support.id
        };
        let spec = sb_app::email::AddressSpec {
            queue_id: id.to_string(),
            display_name: name.to_string(),
        };
        app.put_email_address(&p, address, spec)
            .await
            .map_err(err("email address"))?;
    }
    // Web chat: a widget any page may embed, to Support; transcripts are
    // sent from Support's address.
    app.put_chat_widget(
        &p,
        None,
        sb_app::chat::WidgetSpec {
            name: "Demo chat".into(),
            queue_id: support.id.to_string(),
            allowed_origins: Vec::new(),
            transcript_from: Some(DEMO_EMAIL[0].0.into()),
            greeting: Some("Hello! Ask us anything and an agent will be with you shortly.".into()),
        },
    )
    .await
    .map_err(err("chat widget"))?;
    for (email, username) in DEMO_PHONES {
        if let Some((_, agent)) = agents_by_email.iter().find(|(e, _)| e == email) {
            app.put_agent_phone(
                &p,
                *agent,
                PhoneSpec {
                    username: username.to_string(),
                    password: DEMO_PASSWORD.into(),
                },
            )
            .await
            .map_err(err("phone"))?;
        }
    }
    Ok(true)
}

/// The demo tenant, and a principal acting for it from the command line.
pub async fn demo_tenant(app: &App) -> Result<(sb_store::Tenant, Principal)> {
    let tenant = app
        .store()
        .find_tenant_by_slug(DEMO_SLUG)
        .await?
        .context("no demo tenant")?;
    let p = Principal::cli(tenant.id);
    Ok((tenant, p))
}

/// The demo's chat widget, if it has one.
pub async fn chat_widget(app: &App) -> Option<sb_app::chat::WidgetView> {
    let (_, p) = demo_tenant(app).await.ok()?;
    app.list_chat_widgets(&p).await.ok()?.into_iter().next()
}

/// Weeks of past contacts a new demo gets, so that reports, forecasts and
/// what-if have history to read.
pub const HISTORY_DAYS: i64 = 21;

/// Simulates the demo centre's last three weeks on the routing engine —
/// the same daily profile as the live traffic, weekdays busier than
/// weekends, agents on early and late shifts with lunch — and stores
/// what happened as its history. Returns the contacts stored.
pub async fn seed_history(app: &App) -> Result<usize> {
    use sb_sim::{HandleTime, Scenario, SimAgent, SimBreak, SimQueue, SimShift};
    let (tenant, p) = demo_tenant(app).await?;
    let tz = jiff::tz::TimeZone::get(&tenant.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let today = tz.to_datetime(jiff::Timestamp::now()).date();
    let first = today.checked_sub(jiff::Span::new().days(HISTORY_DAYS))?;
    let midnight = |d: jiff::civil::Date| -> Result<i64> {
        Ok(tz
            .to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))?
            .as_millisecond())
    };
    let origin = midnight(first)?;
    let horizon = midnight(today)? - origin;
    let step: i64 = 30 * 60_000;
    let intervals = (horizon / step) as usize;
    // Busier early in the week, quiet at weekends.
    let day_factor = |d: jiff::civil::Date| match d.weekday().to_monday_zero_offset() {
        0 => 1.1,
        1..=3 => 1.0,
        4 => 0.9,
        5 => 0.45,
        _ => 0.3,
    };
    let local = |ms: i64| -> Result<jiff::civil::DateTime> {
        Ok(tz.to_datetime(jiff::Timestamp::from_millisecond(origin + ms)?))
    };
    let setup = app
        .engine_setup(&p)
        .await
        .map_err(|e| anyhow::anyhow!("reading the demo's set-up: {e}"))?;
    let weights = [0.4, 0.25, 0.1, 0.25];
    let mut queues = Vec::new();
    for (i, (name, config)) in setup.queues.iter().enumerate() {
        for (channel, share, handle) in [
            (Channel::Voice, 0.7, (240.0, 0.7)),
            (Channel::Chat, 0.3, (420.0, 0.6)),
        ] {
            let mut arrivals = Vec::with_capacity(intervals);
            for k in 0..intervals {
                let at = local(k as i64 * step)?;
                let minute = f64::from(at.hour()) * 60.0 + f64::from(at.minute()) + 15.0;
                arrivals.push(
                    crate::traffic::rate(minute)
                        * 1800.0
                        * day_factor(at.date())
                        * weights.get(i).copied().unwrap_or(0.1)
                        * share,
                );
            }
            queues.push(SimQueue {
                name: format!("{name} ({channel})"),
                config: config.clone(),
                channel,
                arrivals,
                handle: HandleTime::LogNormal {
                    mean_ms: handle.0 * 1000.0,
                    cv: handle.1,
                },
                patience_mean_ms: Some(150_000.0),
                retrial: None,
                callback: None,
            });
        }
    }
    // Agents alternate early and late shifts on weekdays; every third
    // works the weekend.
    let mut agents = Vec::new();
    for (i, (name, config)) in setup.agents.iter().enumerate() {
        let mut shifts = Vec::new();
        for d in 0..HISTORY_DAYS {
            let date = first.checked_add(jiff::Span::new().days(d))?;
            let weekend = date.weekday().to_monday_zero_offset() >= 5;
            let (start, end, lunch) = match (weekend, i % 2) {
                (true, _) if i % 3 != 0 => continue,
                (true, _) => ((9, 0), (17, 0), (13, 0)),
                (false, 0) => ((7, 30), (16, 0), (11, 30)),
                (false, _) => ((11, 0), (19, 30), (15, 0)),
            };
            let at = |(h, m): (i8, i8)| -> Result<u64> {
                let t = tz.to_timestamp(date.at(h, m, 0, 0))?.as_millisecond();
                Ok((t - origin).max(0) as u64)
            };
            let lunch_start = at(lunch)?;
            shifts.push(SimShift {
                start_ms: at(start)?,
                end_ms: at(end)?,
                breaks: vec![SimBreak {
                    start_ms: lunch_start,
                    end_ms: lunch_start + 30 * 60_000,
                    reason: "lunch".into(),
                }],
            });
        }
        agents.push(SimAgent {
            name: name.clone(),
            config: config.clone(),
            shifts,
        });
    }
    let scenario = Scenario {
        seed: 2026,
        replications: 1,
        interval_ms: step as u64,
        intervals,
        warm_up_intervals: 0,
        queues,
        agents,
        answer_delay_ms: 3_000,
    };
    let trace = tokio::task::spawn_blocking({
        let scenario = scenario.clone();
        move || sb_sim::trace(&scenario)
    })
    .await??;
    app.import_simulated_history(&p, origin, &scenario, &trace, "resolved")
        .await
        .map_err(|e| anyhow::anyhow!("storing the demo's history: {e}"))
}
