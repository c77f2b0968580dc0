//! The server under test: the real release binary as a child process, on a
//! fresh database and a free loopback port, killed when dropped.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::BoxError;
use crate::procfs::{self, CpuTime};

/// Rate limits far above any load the benchmarks make (`BENCH_RATE_LIMITS`
/// in the benchmark's environment replaces them, e.g. `off` to measure what
/// the limiter costs).
pub const BENCH_RATE_LIMITS: &str = "caller=1000000000/1s:1000000000,ip=1000000000/1s:1000000000,\
     create=1000000000/1s:1000000000,sockets=1000000";

/// How long the server gets to answer `GET /readyz` with 200.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The database a server runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A new SQLite file in a temporary directory, removed with the server.
    TempSqlite,
    /// This `DATABASE_URL` (e.g. a scratch PostgreSQL database).
    Url(String),
}

/// A running server. Dropping it kills the process (also when the benchmark
/// fails half-way) and then removes its temporary database, if any.
pub struct Server {
    child: Child,
    addr: SocketAddr,
    /// When the process was spawned.
    spawned: Instant,
    /// Holds a temporary SQLite database; removed after the process is killed.
    _dir: Option<TempDir>,
}

impl Server {
    /// Starts `binary` on a fresh SQLite database with `JWT_SECRET=secret`
    /// and waits until it is ready.
    pub async fn start(binary: &Path, secret: &str, http: &awc::Client) -> Result<Self, BoxError> {
        let mut server = Self::spawn(binary, secret, &Database::TempSqlite)?;
        server.wait_ready(http, Duration::from_millis(50)).await?;
        Ok(server)
    }

    /// Spawns `binary` on `database` with `JWT_SECRET=secret`,
    /// `RUST_LOG=warn` and a free port, without waiting for it.
    pub fn spawn(binary: &Path, secret: &str, database: &Database) -> Result<Self, BoxError> {
        Self::spawn_with(binary, secret, database, &[])
    }

    /// [`Server::spawn`] with more environment variables (`(name, value)`).
    pub fn spawn_with(
        binary: &Path,
        secret: &str,
        database: &Database,
        env: &[(&str, &str)],
    ) -> Result<Self, BoxError> {
        let (url, dir) = match database {
            Database::TempSqlite => {
                let dir = tempfile::tempdir()?;
                let url = format!("sqlite://{}", dir.path().join("bench.db").display());
                (url, Some(dir))
            }
            Database::Url(url) => (url.clone(), None),
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let spawned = Instant::now();
        let child = Command::new(binary)
            .env("DATABASE_URL", url)
            .env("JWT_SECRET", secret)
            .env("BIND_ADDR", addr.to_string())
            .env("RUST_LOG", "warn")
            // Limits on, so their cost is in every figure, but out of reach:
            // the load comes from a few callers on one address.
            .env(
                "RATE_LIMITS",
                std::env::var("BENCH_RATE_LIMITS").unwrap_or_else(|_| BENCH_RATE_LIMITS.to_owned()),
            )
            // Settings that would make our HS256 tokens invalid.
            .env_remove("JWT_PUBLIC_KEY_FILE")
            .env_remove("JWT_ISSUER")
            .env_remove("JWT_AUDIENCE")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            // The server logs to stdout; keep ours for the results.
            .stdout(Stdio::from(std::io::stderr()))
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        Ok(Self {
            child,
            addr,
            spawned,
            _dir: dir,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `ws://127.0.0.1:<port><path>`.
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// Polls `GET /readyz` every `every` until it answers 200 and returns
    /// the time from spawn to that answer; fails if the process exits.
    pub async fn wait_ready(
        &mut self,
        http: &awc::Client,
        every: Duration,
    ) -> Result<Duration, BoxError> {
        let deadline = self.spawned + READY_TIMEOUT;
        let url = self.url("/readyz");
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(format!("the server exited during start-up: {status}").into());
            }
            if let Ok(res) = http.get(&url).send().await
                && res.status().as_u16() == 200
            {
                return Ok(self.spawned.elapsed());
            }
            if Instant::now() > deadline {
                return Err(format!("the server was not ready within {READY_TIMEOUT:?}").into());
            }
            tokio::time::sleep(every).await;
        }
    }

    /// The server's resident set size (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> Result<u64, BoxError> {
        procfs::rss_kib(self.child.id())
    }

    /// The server's peak resident set size so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> Result<u64, BoxError> {
        procfs::peak_rss_kib(self.child.id())
    }

    /// CPU time the server has used so far (all threads).
    pub fn cpu_time(&self) -> Result<CpuTime, BoxError> {
        procfs::cpu_time(self.child.id())
    }

    /// The value of a metric without labels from `GET /metrics`, if present.
    pub async fn metric(&self, http: &awc::Client, name: &str) -> Result<Option<f64>, BoxError> {
        let mut res = http.get(self.url("/metrics")).send().await?;
        let body = res.body().await?;
        let text = String::from_utf8_lossy(&body);
        Ok(text.lines().find_map(|line| {
            let value = line.strip_prefix(name)?.strip_prefix(' ')?;
            value.trim().parse().ok()
        }))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Nothing to do if it already exited.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port that was free a moment ago (the OS picks it).
fn free_port() -> Result<u16, BoxError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
