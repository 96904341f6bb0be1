//! The command line: `klaxon [run | console | doctor | incidents | timeline | postmortem | report |
//! runbooks | oncall | migrate | config check | probe]`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};

use crate::app::{ConsoleSettings, run_console};
use crate::clock::long;
use crate::config::Config;
use crate::store::{self, Store};

mod oncall;
mod probe;
mod read;

use oncall::oncall;
use read::{existing, find, incident_json, print_incident};

/// Klaxon: an incident-response bot for Slack, Discord and the terminal.
#[derive(Debug, Parser)]
#[command(name = "klaxon", version, about)]
pub struct Cli {
    /// SQLite database: a file path or an sqlite: URL.
    #[arg(
        long,
        global = true,
        env = "KLAXON_DATABASE_URL",
        default_value = "./klaxon.db"
    )]
    pub db: String,
    /// Configuration file [default: ./klaxon.toml, if present].
    #[arg(long, global = true, env = "KLAXON_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run every configured platform; with none configured, the console (the default).
    Run,
    /// Run an incident in the terminal: `/inc` lines on standard input.
    Console(ConsoleArgs),
    /// Check each configured platform's token, scopes or permissions and channels; one line
    /// per check with what to fix; exits non-zero when any check fails. Changes nothing.
    Doctor,
    /// Look at incidents.
    #[command(subcommand)]
    Incidents(IncidentsCmd),
    /// Print an incident's timeline, oldest first, with UTC times.
    Timeline {
        /// The incident number (7 or INC-7).
        number: String,
        #[command(flatten)]
        tenant: TenantArg,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print or write an incident's postmortem draft (the latest stored version, or a fresh
    /// one from the record when none is stored yet).
    Postmortem {
        /// The incident number (7 or INC-7).
        number: String,
        #[command(flatten)]
        tenant: TenantArg,
        /// A stored version (1, 2, …) instead of the latest.
        #[arg(long)]
        version: Option<i64>,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Time to acknowledge and to resolve by severity (overall and per week), and the
    /// follow-ups and postmortems that are overdue.
    Report {
        /// How far back, by when incidents were declared (`30d`, `12h`, at most `366d`).
        #[arg(long, default_value = "30d")]
        since: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Runbook files.
    #[command(subcommand)]
    Runbooks(RunbooksCmd),
    /// On-call schedule files.
    #[command(subcommand)]
    Oncall(OncallCmd),
    /// Create or upgrade the database, then exit.
    Migrate,
    /// Configuration commands.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Ask the running Klaxon (at `KLAXON_HTTP_ADDR`) for `/readyz`, or another path; exit 0
    /// when it answers 2xx: a container health check without curl.
    Probe {
        /// The path to ask for.
        #[arg(default_value = "/readyz")]
        path: String,
    },
}

#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// Use a clock that only moves with `:advance 15m`.
    #[arg(long)]
    pub virtual_time: bool,
    /// Where the virtual clock starts (RFC 3339, e.g. 2026-11-23T09:00:00Z) [default: now].
    #[arg(long, requires = "virtual_time")]
    pub start: Option<DateTime<Utc>>,
    /// Who you are at the start.
    #[arg(long, default_value = "oncall")]
    pub user: String,
    /// The channel you start in.
    #[arg(long, default_value = "general")]
    pub channel: String,
}

#[derive(Debug, Subcommand)]
pub enum IncidentsCmd {
    /// Every incident, newest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One incident's details.
    Show {
        /// The incident number (7 or INC-7).
        number: String,
        #[command(flatten)]
        tenant: TenantArg,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum RunbooksCmd {
    /// Validate every runbook file; print file:line:column errors and exit non-zero on any.
    Check {
        /// The folder [default: [runbooks] dir from the configuration, `runbooks`].
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum OncallCmd {
    /// Validate every schedule file and look 90 days ahead for times with nobody on call;
    /// print file:line:column errors and exit non-zero on any.
    Check {
        /// The folder [default: [oncall] dir from the configuration, `oncall`].
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Print a schedule's rota: each layer's shifts in UTC, with the local handoff time.
    Show {
        /// The schedule: the file name without `.toml`.
        schedule: String,
        /// The first day shown (YYYY-MM-DD, UTC) [default: today].
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// How many days to show.
        #[arg(long, default_value_t = 14, value_parser = clap::value_parser!(u16).range(1..=366))]
        days: u16,
        /// The folder [default: [oncall] dir from the configuration, `oncall`].
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Print the secret address of a schedule's calendar feed, or of one person's (needs
    /// KLAXON_FEED_SECRET, the bot's); `--rotate` gives a new one and the old stops working.
    Feed {
        /// The schedule: the file name without `.toml`.
        #[arg(required_unless_present = "person", conflicts_with = "person")]
        schedule: Option<String>,
        /// One person's feed over every schedule instead (a participant's id, e.g. U0ALICE).
        #[arg(long)]
        person: Option<String>,
        /// Replace the feed's address; the one given out before answers 404 from now on.
        #[arg(long)]
        rotate: bool,
        /// The folder [default: [oncall] dir from the configuration, `oncall`].
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Validate the configuration file and print the severity ladder.
    Check,
}

#[derive(Debug, Args)]
pub struct TenantArg {
    /// Which workspace, as platform:workspace (e.g. slack:T0123); needed only when several
    /// workspaces have an incident with that number.
    #[arg(long)]
    pub tenant: Option<String>,
}

/// Parses arguments, runs, and turns an error into one line and exit code 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("klaxon: error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("klaxon: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(cli: &Cli) {
    // The console's own output is the conversation: keep logs to warnings there unless asked.
    let console = matches!(cli.command, None | Some(Cmd::Run))
        && !crate::app::PlatformSettings::from_env().is_ok_and(|s| s.any());
    let quiet = console
        || matches!(
            cli.command,
            Some(Cmd::Console(_) | Cmd::Runbooks(_) | Cmd::Oncall(_))
        );
    let default = if quiet { "warn" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // `KLAXON_LOG_FORMAT=json`: one JSON object per line, with the command span's fields
    // (correlation id, tenant, user) on every event inside it.
    let json = std::env::var("KLAXON_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().with_current_span(true).init();
    } else {
        builder.init();
    }
}

fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    match &cli.config {
        Some(path) => Config::load(path, true),
        None => Config::load(std::path::Path::new("klaxon.toml"), false),
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut out = String::new();
    let result = dispatch(&cli, &mut out).await;
    emit(&out);
    result
}

/// Writes the command's output; a closed pipe (`klaxon … | head`) is not an error.
fn emit(text: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => eprintln!("klaxon: error: writing output: {e}"),
    }
}

/// What keeps a second Klaxon off a SQLite file while this one runs: a lock file beside it.
/// On PostgreSQL there is none: several replicas share one database, each claiming the
/// reminders it fires and the platform calls it makes (`store::reminders::claim`,
/// `store::outbox::claim`).
fn one_process(db: &str) -> anyhow::Result<Option<crate::lock::ProcessLock>> {
    let url = crate::store::database_url(db);
    if crate::store::Backend::of(&url) == crate::store::Backend::Postgres {
        return Ok(None);
    }
    crate::lock::ProcessLock::acquire(db)
}

async fn dispatch(cli: &Cli, out: &mut String) -> anyhow::Result<()> {
    use std::fmt::Write as _;
    let config = load_config(cli)?;
    match &cli.command {
        None | Some(Cmd::Run) if crate::app::PlatformSettings::from_env()?.any() => {
            let _lock = one_process(&cli.db)?;
            let store = Store::open(&cli.db).await?;
            crate::app::run_platforms(store, config, crate::app::PlatformSettings::from_env()?)
                .await
        }
        None | Some(Cmd::Run) => {
            let _lock = one_process(&cli.db)?;
            eprintln!(
                "klaxon: no Slack or Discord tokens set; running the console on {} (type :help).",
                crate::store::redact(&cli.db)
            );
            let store = Store::open(&cli.db).await?;
            run_console(
                store,
                config,
                ConsoleSettings {
                    user: "oncall".into(),
                    channel: "general".into(),
                    virtual_time: None,
                    http_addr: std::env::var("KLAXON_HTTP_ADDR").ok(),
                },
            )
            .await
        }
        Some(Cmd::Console(args)) => {
            let _lock = one_process(&cli.db)?;
            let store = Store::open(&cli.db).await?;
            let virtual_time = args
                .virtual_time
                .then(|| args.start.unwrap_or_else(Utc::now));
            run_console(
                store,
                config,
                ConsoleSettings {
                    user: args.user.trim_start_matches('@').to_owned(),
                    channel: args.channel.trim_start_matches('#').to_owned(),
                    virtual_time,
                    http_addr: std::env::var("KLAXON_HTTP_ADDR").ok(),
                },
            )
            .await
        }
        Some(Cmd::Doctor) => {
            let settings = crate::app::PlatformSettings::from_env()?;
            let checks = crate::doctor::run(&config, &settings).await;
            let (report, passed) = crate::doctor::report(&checks);
            out.push_str(&report);
            anyhow::ensure!(
                passed,
                "klaxon doctor found problems (the FAIL lines say what to fix)"
            );
            Ok(())
        }
        Some(Cmd::Incidents(IncidentsCmd::List { json })) => {
            let store = existing(&cli.db).await?;
            let mut conn = store.read().await?;
            let all = store::incidents::all(&mut conn).await?;
            if *json {
                let rows: Vec<_> = all.iter().map(incident_json).collect();
                writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
            } else if all.is_empty() {
                writeln!(out, "No incidents.")?;
            } else {
                writeln!(
                    out,
                    "{:<16} {:<7} {:<5} {:<11} {:<24} TITLE",
                    "TENANT", "ID", "SEV", "STATUS", "DECLARED"
                )?;
                for i in &all {
                    writeln!(
                        out,
                        "{:<16} {:<7} {:<5} {:<11} {:<24} {}",
                        i.tenant.to_string(),
                        i.key(),
                        i.severity.to_string(),
                        i.status.as_str(),
                        long(i.declared_at),
                        i.title
                    )?;
                }
            }
            Ok(())
        }
        Some(Cmd::Incidents(IncidentsCmd::Show {
            number,
            tenant,
            json,
        })) => {
            let store = existing(&cli.db).await?;
            let mut conn = store.read().await?;
            let incident = find(&mut conn, number, tenant).await?;
            let roles = store::incidents::roles(&mut conn, incident.id).await?;
            if *json {
                let mut value = incident_json(&incident);
                value["roles"] = roles
                    .iter()
                    .map(|(r, u)| (r.as_str().to_owned(), serde_json::json!(u)))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
                writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
            } else {
                print_incident(out, &incident, &roles)?;
            }
            Ok(())
        }
        Some(Cmd::Timeline {
            number,
            tenant,
            json,
        }) => {
            let store = existing(&cli.db).await?;
            let mut conn = store.read().await?;
            let incident = find(&mut conn, number, tenant).await?;
            let entries = store::timeline::all(&mut conn, incident.id).await?;
            if *json {
                let value = serde_json::json!({
                    "incident": incident_json(&incident),
                    "timeline": entries,
                });
                writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
            } else {
                writeln!(
                    out,
                    "{} · {} · {} · {}",
                    incident.key(),
                    incident.severity,
                    incident.status,
                    incident.title
                )?;
                for e in &entries {
                    writeln!(
                        out,
                        "{}  @{:<12} {:<13} {}",
                        long(e.at),
                        e.actor.label(),
                        e.kind.word(),
                        e.text.replace('\n', "\n    ")
                    )?;
                }
            }
            Ok(())
        }
        Some(Cmd::Postmortem {
            number,
            tenant,
            version,
            out: file,
        }) => {
            let store = existing(&cli.db).await?;
            let mut conn = store.read().await?;
            let incident = find(&mut conn, number, tenant).await?;
            let stored = store::postmortems::get(&mut conn, incident.id, *version).await?;
            let markdown = match (stored, version) {
                (Some(draft), _) => draft.markdown,
                (None, Some(v)) => {
                    anyhow::bail!("{} has no postmortem version {v}", incident.key())
                }
                (None, None) => {
                    eprintln!(
                        "klaxon: {} has no stored draft yet; this one is fresh from the record (`/inc postmortem` stores one).",
                        incident.key()
                    );
                    let renderer = crate::engine::postmortem::Renderer::new(&config)?;
                    let context = crate::engine::postmortem::gather(
                        &mut conn,
                        &config,
                        &incident,
                        0,
                        Utc::now(),
                    )
                    .await?;
                    renderer.render(&context)?
                }
            };
            match file {
                Some(path) => {
                    std::fs::write(path, &markdown)
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!("klaxon: wrote {}", path.display());
                }
                None => out.push_str(&markdown),
            }
            Ok(())
        }
        Some(Cmd::Runbooks(RunbooksCmd::Check { dir })) => {
            let dir = dir.clone().unwrap_or_else(|| config.runbooks.dir.clone());
            anyhow::ensure!(dir.is_dir(), "no runbook folder at {}", dir.display());
            let (catalog, problems) = crate::runbooks::Catalog::load_dir(&dir);
            for problem in &problems {
                writeln!(out, "{problem}")?;
            }
            let files = std::fs::read_dir(&dir)?
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "toml"))
                .count();
            if problems.is_empty() {
                writeln!(
                    out,
                    "{}: {} runbooks and {} actions, all valid.",
                    dir.display(),
                    catalog.runbooks.len(),
                    catalog.actions.len()
                )?;
                Ok(())
            } else {
                let bad = files - catalog.runbooks.len();
                anyhow::bail!(
                    "{} problems in {bad} of {files} runbook files in {}",
                    problems.len(),
                    dir.display()
                )
            }
        }
        Some(Cmd::Oncall(cmd)) => oncall(cmd, &config, &cli.db, Utc::now(), out).await,
        Some(Cmd::Report { since, json }) => {
            let back = klaxon_commands::Duration::parse(since)
                .map_err(|e| anyhow::anyhow!("--since: {}", e.text()))?;
            let store = existing(&cli.db).await?;
            let now = Utc::now();
            let from = now - chrono::Duration::seconds(i64::try_from(back.as_secs())?);
            crate::report::write(&store, from, now, *json, out).await
        }
        Some(Cmd::Probe { path }) => {
            writeln!(out, "{}", probe::probe(path).await?)?;
            Ok(())
        }
        Some(Cmd::Migrate) => {
            Store::open(&cli.db).await?.close().await;
            writeln!(
                out,
                "Database {} is up to date.",
                crate::store::redact(&cli.db)
            )?;
            Ok(())
        }
        Some(Cmd::Config(ConfigCmd::Check)) => {
            let source = cli.config.as_ref().map_or_else(
                || "defaults (no klaxon.toml)".to_owned(),
                |p| p.display().to_string(),
            );
            writeln!(out, "Configuration OK: {source}")?;
            writeln!(
                out,
                "Default severity {}; paging channel {}; channels named {}-YYYY-MM-DD-<slug>.",
                config.incidents.default_severity,
                config.incidents.paging_channel,
                config.incidents.channel_prefix
            )?;
            for s in klaxon_commands::Severity::ALL {
                let level = config.ladder(s);
                let every = level.update_every.map_or_else(
                    || "no update reminders".to_owned(),
                    |d| format!("updates every {d}"),
                );
                writeln!(
                    out,
                    "{s}: acknowledge within {}; {every}. {}",
                    level.ack_within, level.description
                )?;
            }
            Ok(())
        }
    }
}
