//! A private PostgreSQL cluster for a test: `initdb` in a temporary folder, started on
//! 127.0.0.1 on a free port, stopped (and its folder deleted) when dropped.
//!
//! The server binaries are Debian's (`/usr/lib/postgresql/<version>/bin`, the newest there) or
//! the first `initdb` on `PATH`; `scripts/test` installs the `postgresql` package when neither
//! exists, so no test is skipped for want of a database. PostgreSQL refuses to run as root:
//! as root the cluster belongs to the `postgres` user the package creates and its commands run
//! through `runuser`. Durability is off (`fsync = off`): a test cluster never outlives a
//! machine crash, and tests that kill processes kill Klaxon's, not PostgreSQL's.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use anyhow::{Context as _, bail};

/// A running cluster; dropped, it stops.
pub struct Postgres {
    server: Server,
    data: PathBuf,
    port: u16,
    dir: tempfile::TempDir,
    /// Whether commits are flushed to disk ([`Postgres::start_durable`]).
    durable: bool,
}

/// Where the server binaries are.
fn bin_dir() -> anyhow::Result<PathBuf> {
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    debian.sort();
    if let Some((_, bin)) = debian.pop() {
        return Ok(bin);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .find(|dir| dir.join("initdb").is_file())
        .context("no PostgreSQL server binaries (initdb): scripts/test installs Debian's postgresql package")
}

/// A port nobody listens on now.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// How the server's commands run: from its binaries, as the cluster's owner.
struct Server {
    bin: PathBuf,
    /// Runs them as this user (when the tests run as root).
    user: Option<String>,
}

impl Server {
    fn run(&self, program: &str, args: &[&str]) -> anyhow::Result<Output> {
        let program = self.bin.join(program);
        let mut command = match &self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        let output = command
            .args(args)
            .current_dir("/")
            .output()
            .with_context(|| format!("running {}", program.display()))?;
        if !output.status.success() {
            bail!(
                "{} {}: {}{}",
                program.display(),
                args.join(" "),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(output)
    }
}

impl Postgres {
    /// Creates and starts a cluster; its superuser is `klaxon`, without a password, reachable
    /// on 127.0.0.1 only. Not durable (no fsync): a test's data need not survive a power cut.
    pub fn start() -> anyhow::Result<Self> {
        Self::start_with(false)
    }

    /// [`Self::start`] with PostgreSQL's durable defaults (every commit flushed to disk), for
    /// benchmarks that compare it with SQLite's `synchronous = FULL`.
    pub fn start_durable() -> anyhow::Result<Self> {
        Self::start_with(true)
    }

    fn start_with(durable: bool) -> anyhow::Result<Self> {
        let server = Server {
            bin: bin_dir()?,
            user: nix::unistd::geteuid()
                .is_root()
                .then(|| "postgres".to_owned()),
        };
        let dir = tempfile::Builder::new().prefix("klaxon-pg-").tempdir()?;
        if let Some(user) = &server.user {
            let owner = nix::unistd::User::from_name(user)?
                .with_context(|| format!("user {user} (from Debian's postgresql package)"))?;
            std::os::unix::fs::chown(
                dir.path(),
                Some(owner.uid.as_raw()),
                Some(owner.gid.as_raw()),
            )?;
        }
        let data = dir.path().join("data");
        let log = dir.path().join("server.log");
        server.run(
            "initdb",
            &[
                "-D",
                path(&data)?,
                "-U",
                "klaxon",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ],
        )?;
        // A free port can be taken between asking and listening: try a few.
        let mut last = None;
        for _ in 0..5 {
            let port = free_port()?;
            match pg_ctl_start(&server, dir.path(), port, durable) {
                Ok(_) => {
                    return Ok(Self {
                        server,
                        data,
                        port,
                        dir,
                        durable,
                    });
                }
                Err(e) => {
                    let log = std::fs::read_to_string(&log).unwrap_or_default();
                    last = Some(e.context(log));
                }
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("PostgreSQL did not start")))
    }

    /// Stops the server, cutting every connection, and keeps its data for [`Self::resume`]
    /// (`-m fast`, a server restart: `immediate` would lose the last commits, durability being
    /// off here).
    pub fn halt(&self) -> anyhow::Result<()> {
        self.server.run(
            "pg_ctl",
            &["stop", "-w", "-m", "fast", "-D", path(&self.data)?],
        )?;
        Ok(())
    }

    /// Starts a halted server again, on the same port with the same data.
    pub fn resume(&self) -> anyhow::Result<()> {
        pg_ctl_start(&self.server, self.dir.path(), self.port, self.durable)?;
        Ok(())
    }

    /// The URL of database `name` (the `postgres` database exists from the start).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://klaxon@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates an empty database and returns its URL.
    pub async fn database(&self, name: &str) -> anyhow::Result<String> {
        use sqlx::Connection as _;
        anyhow::ensure!(
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "database names here are lower-case words: {name:?}"
        );
        let mut admin = tokio::time::timeout(
            Duration::from_secs(30),
            sqlx::PgConnection::connect(&self.url("postgres")),
        )
        .await
        .context("connecting to the test cluster")??;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
        Ok(self.url(name))
    }
}

/// `pg_ctl start` of the cluster in `dir` on 127.0.0.1:`port`, durable or not.
fn pg_ctl_start(server: &Server, dir: &Path, port: u16, durable: bool) -> anyhow::Result<Output> {
    let (data, log) = (dir.join("data"), dir.join("server.log"));
    let fast = if durable {
        ""
    } else {
        " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    };
    let options = format!(
        "-c listen_addresses=127.0.0.1 -p {port} -k {}{fast}",
        path(dir)?
    );
    server.run(
        "pg_ctl",
        &[
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            path(&data)?,
            "-l",
            path(&log)?,
            "-o",
            &options,
        ],
    )
}

fn path(p: &Path) -> anyhow::Result<&str> {
    p.to_str().context("a non-UTF-8 temporary path")
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Ok(data) = path(&self.data) {
            let _ = self
                .server
                .run("pg_ctl", &["stop", "-w", "-m", "immediate", "-D", data]);
        }
    }
}
