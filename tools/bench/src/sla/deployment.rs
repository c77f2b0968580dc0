//! The service under test for one measurement: one server on a fresh SQLite
//! file, or several servers sharing one fresh PostgreSQL database; and the
//! database itself, read afterwards to audit what was stored.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support_bench::BoxError;
use support_bench::postgres::{Postgres, ScratchDatabase};
use support_bench::server::{Database, Server};
use tempfile::TempDir;

/// The scratch database of every PostgreSQL measurement (dropped after
/// each, and dropped first if an interrupted run left it).
const SCRATCH_DATABASE: &str = "support_bench_sla";

/// A database the service runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// One server on a SQLite file.
    Sqlite,
    /// Several servers on one PostgreSQL database.
    Postgres,
}

impl Backend {
    /// Its name in the tables.
    pub fn label(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        }
    }
}

/// What every server of a run is started with.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The server binary.
    pub binary: PathBuf,
    /// `JWT_SECRET`.
    pub secret: String,
    /// Where PostgreSQL is.
    pub postgres: Postgres,
    /// Servers on one PostgreSQL database.
    pub pg_instances: usize,
}

/// Running servers on one database. Dropping it kills the servers, then
/// removes the database.
pub struct Deployment {
    /// Which database.
    pub backend: Backend,
    /// The servers (declared first: killed before the database goes).
    pub servers: Vec<Server>,
    store: Store,
}

enum Store {
    Sqlite {
        path: PathBuf,
        _dir: TempDir,
    },
    Postgres {
        postgres: Postgres,
        db: ScratchDatabase,
    },
}

impl Deployment {
    /// Starts the servers of `backend` on a fresh database with `env`, one
    /// after the other (the first runs the migrations), each ready.
    pub async fn start(
        backend: Backend,
        launch: &Launch,
        http: &awc::Client,
        env: &[(&str, &str)],
    ) -> Result<Self, BoxError> {
        let (store, database, count) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir()?;
                let path = dir.path().join("sla-bench.db");
                let database = Database::Url(format!("sqlite://{}", path.display()));
                (Store::Sqlite { path, _dir: dir }, database, 1)
            }
            Backend::Postgres => {
                let db = launch.postgres.scratch_database(SCRATCH_DATABASE)?;
                let database = Database::Url(db.url());
                let store = Store::Postgres {
                    postgres: launch.postgres.clone(),
                    db,
                };
                (store, database, launch.pg_instances.max(1))
            }
        };
        let mut deployment = Self {
            backend,
            servers: Vec::new(),
            store,
        };
        for _ in 0..count {
            let mut server = Server::spawn_with(&launch.binary, &launch.secret, &database, env)?;
            server.wait_ready(http, Duration::from_millis(20)).await?;
            deployment.servers.push(server);
        }
        Ok(deployment)
    }

    /// The servers' addresses.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.servers.iter().map(Server::addr).collect()
    }

    /// The rows `sql` returns, one line each, columns separated by `|`.
    pub fn sql(&self, sql: &str) -> Result<String, BoxError> {
        match &self.store {
            Store::Sqlite { path, .. } => sqlite3(path, sql),
            Store::Postgres { postgres, db } => postgres.query(db.name(), sql),
        }
    }
}

/// Runs `sql` with the `sqlite3` command-line shell on the file at `path`
/// (waiting up to 10 s for a lock); its output, one line a row, columns
/// separated by `|`.
pub fn sqlite3(path: &Path, sql: &str) -> Result<String, BoxError> {
    let output = Command::new("sqlite3")
        .args(["-batch", "-noheader", "-bail", "-cmd", ".timeout 10000"])
        .arg(path)
        .arg(sql)
        .output()
        .map_err(|e| format!("cannot run sqlite3 (Debian: apt-get install sqlite3): {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "sqlite3 {}: {}: {}",
            path.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
