//! The `switchboard` binary: configuration, wiring and the command line.
//! It holds no business logic; it opens the store, builds the application
//! and hands it to the HTTP shell.

mod cli;
mod demo;
mod simulate;
mod traffic;
mod wfm;

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use cli::{Cli, Command, ListenArgs, StoreArgs, TenantCommand, UserCommand, WfmCommand};
use sb_app::{App, AppConfig, Principal, Secret};
use sb_model::{EmailAddress, RoleSet, Text};
use sb_store::{Store, StoreConfig};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Run on the worker threads rather than on this one, so every core
    // serves requests.
    let outcome = runtime.block_on(async { tokio::spawn(run(cli)).await });
    match outcome {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: the server stopped unexpectedly: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("SWITCHBOARD_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn open_store(args: &StoreArgs) -> Result<Store> {
    let config = match &args.database {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            StoreConfig::Postgres { url: url.clone() }
        }
        Some(url) => bail!(
            "--database must be a postgres:// URL (got {})",
            sb_store::redact_url(url)
        ),
        None => StoreConfig::Sqlite {
            sync: if args.sqlite_sync == "normal" {
                sb_store::SqliteSync::Normal
            } else {
                sb_store::SqliteSync::Full
            },
            data_dir: args.data_dir.clone(),
        },
    };
    Ok(Store::open(&config).await?)
}

fn store_description(args: &StoreArgs) -> String {
    match &args.database {
        Some(url) => format!("PostgreSQL at {}", sb_store::redact_url(url)),
        None => format!(
            "SQLite at {}",
            args.data_dir.join(sb_store::SQLITE_FILE).display()
        ),
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Wfm(WfmCommand::Forecast(a)) => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            wfm::forecast_command(&a, &mut out)
        }
        Command::Wfm(WfmCommand::Schedule(a)) => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            wfm::schedule_command(&a, &mut out)
        }
        Command::Wfm(WfmCommand::Roster(a)) => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            wfm::roster_command(&a, &mut out)
        }
        Command::Simulate(a) => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            simulate::simulate_command(&a, &mut out)
        }
        Command::Wfm(WfmCommand::Staff(a)) => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            wfm::staff_command(&a, &mut out)
        }
        Command::Migrate => {
            let store = open_store(&cli.store).await?;
            // Opening applies pending migrations; report the state.
            println!("database is up to date ({})", store_description(&cli.store));
            store.close().await;
            Ok(())
        }
        Command::Serve(args) => {
            let store = open_store(&cli.store).await?;
            let config = AppConfig {
                session_ttl: Duration::from_secs(args.session_hours * 3600),
                platform_token: args.platform_token.map(Secret::new),
                data_dir: cli.store.data_dir.clone(),
                ..AppConfig::default()
            };
            let app = App::new(store, config);
            if app.store().list_tenants().await?.is_empty() {
                println!("The store is empty. Create a tenant and its administrator with:");
                println!(
                    "  switchboard tenant add --name \"My Centre\" --slug my-centre --admin-email you@example.com"
                );
                println!("or try the demo: switchboard demo");
            }
            serve(app, &args.listen, &cli.store, None).await
        }
        Command::Demo(args) => {
            if !args.listen.http.ip().is_loopback() {
                bail!(
                    "the demo listens on localhost only; --http {} is not a loopback address",
                    args.listen.http
                );
            }
            let store = open_store(&cli.store).await?;
            let config = AppConfig {
                data_dir: cli.store.data_dir.clone(),
                ..AppConfig::default()
            };
            let app = App::new(store, config);
            let created = demo::seed(&app).await.context("seeding the demo tenant")?;
            println!();
            println!(
                "Switchboard demo {}",
                if created {
                    "(tenant \"Demo\" created)"
                } else {
                    "(tenant \"Demo\" already present)"
                }
            );
            println!(
                "  Open http://{} and log in with any of these (password: {}):",
                args.listen.http,
                demo::DEMO_PASSWORD
            );
            println!("    {:<24} admin", "admin@demo.example");
            for (email, _, roles) in demo::DEMO_USERS {
                let roles: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
                println!("    {email:<24} {}", roles.join(", "));
            }
            let traffic = (!args.no_traffic).then_some(traffic::Settings {
                speed: args.traffic_speed,
            });
            if created && traffic.is_some() {
                let n = demo::seed_history(&app)
                    .await
                    .context("simulating the demo's history")?;
                println!(
                    "  {n} contacts of the last {} days simulated as history (reports, forecasts and what-if read them).",
                    demo::HISTORY_DAYS
                );
            }
            println!(
                "  Calls: register a softphone at sip:{} as {} (password: {}), set the agent available, and call {} from this machine.",
                if args.listen.sip.ip().is_unspecified() {
                    std::net::SocketAddr::new([127, 0, 0, 1].into(), args.listen.sip.port())
                } else {
                    args.listen.sip
                },
                demo::DEMO_PHONES
                    .iter()
                    .map(|(_, u)| *u)
                    .collect::<Vec<_>>()
                    .join(", "),
                demo::DEMO_PASSWORD,
                demo::DEMO_NUMBER
            );
            println!(
                "  Email: send mail over SMTP to {} for {}; it becomes an email contact.",
                args.listen.smtp,
                demo::DEMO_EMAIL
                    .iter()
                    .map(|(a, _, _)| *a)
                    .collect::<Vec<_>>()
                    .join(" or ")
            );
            if let Some(w) = demo::chat_widget(&app).await {
                println!(
                    "  Web chat: open http://{}/chat/w/{} (a page embeds it with <script src=\"http://{}/chat/widget.js\" data-widget=\"{}\" async></script>).",
                    args.listen.http, w.id, args.listen.http, w.id
                );
            }
            if traffic.is_some() {
                println!(
                    "  Live traffic: customers and agent1–agent4 are simulated ({}x time; --no-traffic to stop it).",
                    args.traffic_speed
                );
                println!("  Log in as agent5 or agent6 to take contacts among them.");
            }
            println!();
            serve(app, &args.listen, &cli.store, traffic).await
        }
        Command::Tenant(TenantCommand::Add(a)) => {
            let store = open_store(&cli.store).await?;
            let app = App::new(store, AppConfig::default());
            let password = read_password(&format!("Password for {}: ", a.admin_email))?;
            let new = sb_app::tenants::NewTenant {
                name: Text::parse(&a.name, 200).map_err(|e| anyhow!("--name {e}"))?,
                slug: a.slug,
                time_zone: a.time_zone,
                admin_email: EmailAddress::parse(&a.admin_email)
                    .map_err(|e| anyhow!("--admin-email {e}"))?,
                admin_name: Text::parse(&a.admin_name, 200)
                    .map_err(|e| anyhow!("--admin-name {e}"))?,
                admin_password: password,
            };
            let (t, u) = app.create_tenant(new, "cli").await.map_err(describe)?;
            println!(
                "created tenant {} ({}) with administrator {}",
                t.slug, t.id, u.email
            );
            Ok(())
        }
        Command::Tenant(TenantCommand::List) => {
            let store = open_store(&cli.store).await?;
            for t in store.list_tenants().await? {
                println!("{}\t{}\t{}\t{}", t.slug, t.id, t.time_zone, t.name);
            }
            Ok(())
        }
        Command::User(UserCommand::Add(a)) => {
            let store = open_store(&cli.store).await?;
            let app = App::new(store, AppConfig::default());
            let tenant = app
                .store()
                .find_tenant_by_slug(&a.tenant)
                .await?
                .ok_or_else(|| {
                    anyhow!(
                        "no tenant with slug `{}` (see `switchboard tenant list`)",
                        a.tenant
                    )
                })?;
            let roles = RoleSet::parse_list(&a.roles).map_err(|e| anyhow!("--roles {e}"))?;
            let password = if a.no_password {
                None
            } else {
                Some(read_password(&format!("Password for {}: ", a.email))?)
            };
            let new = sb_app::accounts::NewUser {
                email: EmailAddress::parse(&a.email).map_err(|e| anyhow!("--email {e}"))?,
                display_name: Text::parse(&a.name, 200).map_err(|e| anyhow!("--name {e}"))?,
                roles,
                password,
            };
            let u = app
                .create_user(&Principal::cli(tenant.id), new)
                .await
                .map_err(describe)?;
            println!(
                "created user {} ({}) in {} with roles {}",
                u.email,
                u.id,
                tenant.slug,
                u.roles.to_list()
            );
            Ok(())
        }
    }
}

/// An application error as one line for the terminal.
fn describe(e: sb_app::AppError) -> anyhow::Error {
    match e {
        sb_app::AppError::Invalid(fields) => {
            anyhow!(
                "{}",
                fields
                    .iter()
                    .map(|f| format!("{}: {}", f.field.replace('_', "-"), f.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        }
        other => anyhow!("{other}"),
    }
}

/// Prompts on a terminal; otherwise reads one line from standard input.
fn read_password(prompt: &str) -> Result<String> {
    let stdin = std::io::stdin();
    let password = if stdin.is_terminal() {
        let first = rpassword::prompt_password(prompt).context("reading the password")?;
        let again = rpassword::prompt_password("Again: ").context("reading the password")?;
        if first != again {
            bail!("the passwords differ");
        }
        first
    } else {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if password.is_empty() {
        bail!("no password given (pipe one to standard input, or use a terminal)");
    }
    Ok(password)
}

async fn serve(
    app: App,
    listen: &ListenArgs,
    store_args: &StoreArgs,
    traffic: Option<traffic::Settings>,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(listen.http)
        .await
        .with_context(|| format!("cannot listen for HTTP on {}", listen.http))?;
    let addr = listener.local_addr()?;
    let voice = sb_voice::start(
        app.clone(),
        sb_voice::VoiceConfig {
            bind: listen.sip,
            advertise: listen.sip_advertise,
            moh: listen.moh.clone(),
            data_dir: app.config().data_dir.clone(),
            media_realtime: listen.media_realtime,
        },
    )
    .await?;
    let smtp = tokio::net::TcpListener::bind(listen.smtp)
        .await
        .with_context(|| format!("cannot listen for SMTP on {}", listen.smtp))?;
    let smtp_addr = smtp.local_addr()?;
    let mail = tokio::spawn(sb_mail::server::serve(
        smtp,
        sb_mail::server::ServerConfig {
            hostname: listen.smtp_hostname.clone(),
            limits: sb_mail::smtp::Limits {
                max_message_bytes: listen.smtp_max_bytes as usize,
                ..Default::default()
            },
            ..Default::default()
        },
        std::sync::Arc::new(sb_app::email::Mailroom(app.clone())),
    ));
    if listen.smtp_relay.is_none() {
        tracing::warn!("no --smtp-relay: replies and acknowledgements wait in the queue");
    }
    let mail_out = tokio::spawn(app.clone().run_message_delivery(listen.smtp_relay.clone()));
    let chat_relay = tokio::spawn(app.clone().run_chat_relay());
    let mail_roots = match &listen.mail_ca_file {
        Some(path) => {
            sb_app::imap::read_ca_file(path).map_err(|e| anyhow::anyhow!("--mail-ca-file {e}"))?
        }
        None => Vec::new(),
    };
    let imap = tokio::spawn(
        app.clone()
            .run_imap_polling(mail_roots, listen.smtp_max_bytes as usize),
    );
    let secure = !addr.ip().is_loopback();
    tracing::info!(http = %addr, store = %store_description(store_args), "switchboard is serving");
    if listen.nats.is_some() {
        tracing::warn!(
            "--nats is accepted but event fan-out between nodes is not enabled in this version"
        );
    }
    println!(
        "Switchboard is listening on http://{addr} (store: {})",
        store_description(store_args)
    );
    println!("SIP (voice) is listening on udp://{}", voice.addr);
    println!("SMTP (email) is listening on smtp://{smtp_addr}");
    let state = sb_http::AppState::new(app.clone(), secure);
    let webhooks = tokio::spawn(app.clone().run_webhook_delivery());
    let callbacks = tokio::spawn(app.clone().run_callback_release());
    let traffic = traffic.map(|t| tokio::spawn(traffic::run(app.clone(), addr, t)));
    let purge = {
        let app = app.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(600));
            loop {
                every.tick().await;
                if let Err(e) = app.store().purge_sessions(app.now()).await {
                    tracing::warn!(error = %e, "purging expired sessions failed");
                }
            }
        })
    };
    sb_http::serve(listener, state, shutdown_signal())
        .await
        .context("serving HTTP")?;
    purge.abort();
    mail.abort();
    mail_out.abort();
    chat_relay.abort();
    imap.abort();
    webhooks.abort();
    callbacks.abort();
    if let Some(t) = traffic {
        t.abort();
    }
    app.store().close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
