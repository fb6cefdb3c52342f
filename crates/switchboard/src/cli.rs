//! The command line: every flag has a `SWITCHBOARD_…` environment twin, and
//! every default lets `switchboard serve` work alone.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about = "Switchboard: an open-source contact-centre platform in one binary.", long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Log format: `text` for people, `json` for log collectors.
    #[arg(long, global = true, env = "SWITCHBOARD_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Directory for the embedded SQLite database, recordings and attachments.
    #[arg(
        long,
        global = true,
        env = "SWITCHBOARD_DATA_DIR",
        default_value = "./switchboard-data"
    )]
    pub data_dir: PathBuf,
    /// PostgreSQL URL (postgres://user@host/db) for scale-out; the embedded SQLite file when absent.
    #[arg(
        long,
        global = true,
        env = "SWITCHBOARD_DATABASE_URL",
        hide_env_values = true
    )]
    pub database: Option<String>,
    /// SQLite durability: `full` fsyncs every commit (survives power loss);
    /// `normal` fsyncs at checkpoints (survives a process crash; a power loss
    /// may lose the last moments).
    #[arg(long, global = true, env = "SWITCHBOARD_SQLITE_SYNC", default_value = "full", value_parser = ["full", "normal"])]
    pub sqlite_sync: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: web UI, JSON API and channel listeners.
    Serve(ServeArgs),
    /// Run the server with a demo tenant, users for every role, agents, queues and customers (localhost only).
    Demo(DemoArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Workforce management: staffing from files, for planners' scripts.
    #[command(subcommand)]
    Wfm(WfmCommand),
    /// Simulate a contact centre on the real routing engine: a scenario file
    /// (TOML or JSON) of queues with their forecast and customers, and agents
    /// with skills and shifts; writes per interval and queue results as CSV
    /// with 95 % confidence intervals, and a summary on standard error.
    Simulate(SimulateArgs),
}

#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// The scenario file (`.toml`, or JSON).
    pub scenario: String,
    /// Replications run at once (default: one per core); the results do
    /// not depend on it.
    #[arg(long, value_parser = clap::value_parser!(usize))]
    pub threads: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum WfmCommand {
    /// Agents needed per interval (Erlang C or A): reads CSV
    /// `interval_start,contacts,aht_seconds`, writes it back with
    /// `agents,positions,service_level,asa_seconds,occupancy` added.
    Staff(StaffArgs),
    /// Interval volumes and handle times for the days after a history CSV
    /// (`interval_start,contacts,aht_seconds`, local times), in the same
    /// shape; accuracy on the last week of history on standard error.
    Forecast(ForecastArgs),
    /// Shifts to start each day so that every interval's requirement is
    /// covered: reads the requirement as CSV (`interval_start` and
    /// `positions` or `agents`, as `wfm staff` writes) and shift templates
    /// as JSON; writes the shifts as CSV and a summary on standard error.
    Schedule(ScheduleArgs),
    /// Named agents onto the shifts `wfm schedule` wrote, keeping
    /// availability, contracted hours, rest, consecutive days and fair
    /// weekends; what cannot be filled is explained on standard error.
    Roster(RosterArgs),
}

#[derive(Debug, Clone, Args)]
pub struct RosterArgs {
    /// Shifts as CSV: `date,shift,start,end,breaks,agents` (what `wfm schedule` writes).
    #[arg(long)]
    pub shifts: String,
    /// Agents as JSON: `{"agents": [{"name", "skills", "min_hours_per_week",
    /// "max_hours_per_week", "available": {"monday": ["06:00-22:00"], …}}]}`
    /// (no `available`: any time).
    #[arg(long)]
    pub agents: String,
    /// Minimum rest between shifts, hours.
    #[arg(long, default_value_t = 10.0)]
    pub min_rest_hours: f64,
    /// Most days worked in a row.
    #[arg(long, default_value_t = 6)]
    pub max_consecutive_days: usize,
}

#[derive(Debug, Clone, Args)]
pub struct ScheduleArgs {
    /// The requirement as CSV (`-` for standard input).
    #[arg(long)]
    pub requirements: String,
    /// Shift templates as JSON: `{"shifts": [{"name", "minutes", "starts": ["06:00", …],
    /// "breaks": [{"minutes", "paid", "earliest_minutes", "latest_minutes"}]}]}`.
    #[arg(long)]
    pub shifts: String,
}

#[derive(Debug, Clone, Args)]
pub struct ForecastArgs {
    /// The history as CSV (`-` for standard input); at least two weeks.
    #[arg(long)]
    pub input: String,
    /// Days to forecast.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Holiday dates (YYYY-MM-DD), in history or ahead, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub holidays: Vec<String>,
    /// Interval length; inferred from consecutive rows when absent.
    #[arg(long)]
    pub interval_minutes: Option<u32>,
}

#[derive(Debug, Clone, Args)]
pub struct StaffArgs {
    /// The intervals as CSV (`-` for standard input).
    #[arg(long)]
    pub input: String,
    /// Service level target, percent answered within --sl-seconds.
    #[arg(long)]
    pub sl_target: Option<f64>,
    /// Service level threshold, seconds.
    #[arg(long)]
    pub sl_seconds: Option<f64>,
    /// Average speed of answer target, seconds.
    #[arg(long)]
    pub asa_seconds: Option<f64>,
    /// Maximum occupancy, percent.
    #[arg(long)]
    pub max_occupancy: Option<f64>,
    /// Shrinkage, percent of paid time agents cannot take contacts.
    #[arg(long, default_value_t = 0.0)]
    pub shrinkage: f64,
    /// `erlang-c` (callers wait) or `erlang-a` (callers abandon; needs --patience-seconds).
    #[arg(long, default_value = "erlang-c")]
    pub model: String,
    /// Callers' mean patience, seconds (Erlang A).
    #[arg(long)]
    pub patience_seconds: Option<f64>,
    /// Interval length; inferred from consecutive rows when absent.
    #[arg(long)]
    pub interval_minutes: Option<u32>,
}

#[derive(Debug, Clone, Args)]
pub struct ListenArgs {
    /// Address for the web UI and API.
    #[arg(long, env = "SWITCHBOARD_HTTP", default_value = "127.0.0.1:8080")]
    pub http: SocketAddr,
    /// Address for SIP (the voice channel: trunks and agents' phones).
    #[arg(long, env = "SWITCHBOARD_SIP", default_value = "0.0.0.0:5060")]
    pub sip: SocketAddr,
    /// The IP address phones and trunks reach this server at, put in SIP
    /// and SDP (default: the --sip address, or 127.0.0.1 when that is 0.0.0.0).
    #[arg(long, env = "SWITCHBOARD_SIP_ADVERTISE")]
    pub sip_advertise: Option<std::net::IpAddr>,
    /// Relay calls' audio on threads of their own at real-time priority
    /// (SCHED_RR; needs CAP_SYS_NICE), so other work on the machine does
    /// not delay it.
    #[arg(long, env = "SWITCHBOARD_MEDIA_REALTIME")]
    pub media_realtime: bool,
    /// Music on hold: an 8 kHz mono 16-bit WAV file (default: a built-in phrase).
    #[arg(long, env = "SWITCHBOARD_MOH")]
    pub moh: Option<PathBuf>,
    /// Address for inbound email over SMTP (the email channel).
    #[arg(long, env = "SWITCHBOARD_SMTP", default_value = "127.0.0.1:2525")]
    pub smtp: SocketAddr,
    /// The name the SMTP listener greets with and gives in EHLO.
    #[arg(long, env = "SWITCHBOARD_SMTP_HOSTNAME", default_value = "switchboard")]
    pub smtp_hostname: String,
    /// The largest message the SMTP listener takes, in bytes (larger: 552).
    #[arg(long, env = "SWITCHBOARD_SMTP_MAX_BYTES", default_value_t = 10 * 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(1024..=100 * 1024 * 1024))]
    pub smtp_max_bytes: u64,
    /// Where replies and acknowledgements are sent: smtp://host:port
    /// (plain), smtp://host:port?tls=required (STARTTLS) or smtps://host:port,
    /// with user:password@ before the host if the relay needs them. Without
    /// it, outgoing mail waits in the queue.
    #[arg(long, env = "SWITCHBOARD_SMTP_RELAY", hide_env_values = true)]
    pub smtp_relay: Option<String>,
    /// PEM certificates trusted, beside the web's roots, by TLS to the
    /// IMAP servers mail is fetched from (a company's own certificate
    /// authority).
    #[arg(long, env = "SWITCHBOARD_MAIL_CA_FILE")]
    pub mail_ca_file: Option<PathBuf>,
    /// NATS URL (nats://host:4222) for fanning events out between nodes.
    #[arg(long, env = "SWITCHBOARD_NATS")]
    pub nats: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub listen: ListenArgs,
    /// A secret that lets its holder create tenants through POST /api/v1/tenants.
    #[arg(long, env = "SWITCHBOARD_PLATFORM_TOKEN", hide_env_values = true)]
    pub platform_token: Option<String>,
    /// Hours a browser session lasts.
    #[arg(long, env = "SWITCHBOARD_SESSION_HOURS", default_value_t = 12, value_parser = clap::value_parser!(u64).range(1..=720))]
    pub session_hours: u64,
}

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub listen: ListenArgs,
    /// Start quiet: no live traffic (simulated customers and agents) and,
    /// for a new demo, no simulated history.
    #[arg(long)]
    pub no_traffic: bool,
    /// How fast the demo's day runs: simulated seconds per real second
    /// (60: an hour a minute).
    #[arg(long, default_value_t = 60.0, value_parser = speed)]
    pub traffic_speed: f64,
}

fn speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (1.0..=3600.0).contains(&v) => Ok(v),
        _ => Err("must be a number from 1 to 3600".into()),
    }
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and its first administrator (password from the prompt or standard input).
    Add(TenantAddArgs),
    /// List tenants.
    List,
}

#[derive(Debug, Args)]
pub struct TenantAddArgs {
    /// The organisation's name.
    #[arg(long)]
    pub name: String,
    /// Short lower-case name used in addresses, e.g. `acme`.
    #[arg(long)]
    pub slug: String,
    /// IANA time zone of the centre.
    #[arg(long, default_value = "Australia/Sydney")]
    pub time_zone: String,
    /// The first administrator's email address (their login).
    #[arg(long)]
    pub admin_email: String,
    /// The first administrator's name.
    #[arg(long, default_value = "Administrator")]
    pub admin_name: String,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user (password from the prompt or standard input).
    Add(UserAddArgs),
}

#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// The tenant's slug.
    #[arg(long)]
    pub tenant: String,
    /// The user's email address (their login).
    #[arg(long)]
    pub email: String,
    /// The user's name.
    #[arg(long)]
    pub name: String,
    /// Comma-separated roles: agent, team_leader, trainer, workforce_planner, admin.
    #[arg(long, default_value = "agent")]
    pub roles: String,
    /// Create the user without a password (they cannot log in until one is set).
    #[arg(long)]
    pub no_password: bool,
}
