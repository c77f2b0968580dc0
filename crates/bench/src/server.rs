//! The server under test: the real release binary as a child process, on a
//! fresh SQLite database and a free loopback port, killed when dropped.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::BoxError;
use crate::procfs::{self, CpuTime};

/// How long the server gets to answer `GET /readyz` with 200.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running server. Dropping it kills the process (also when the benchmark
/// fails half-way) and then removes its database.
pub struct Server {
    child: Child,
    addr: SocketAddr,
    /// Holds the database; removed after the process is killed.
    _dir: TempDir,
}

impl Server {
    /// Starts `binary` with `JWT_SECRET=secret` and waits until it is ready.
    pub async fn start(binary: &Path, secret: &str, http: &awc::Client) -> Result<Self, BoxError> {
        let dir = tempfile::tempdir()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let database = format!("sqlite://{}", dir.path().join("bench.db").display());
        let child = Command::new(binary)
            .env("DATABASE_URL", database)
            .env("JWT_SECRET", secret)
            .env("BIND_ADDR", addr.to_string())
            .env("RUST_LOG", "warn")
            // Settings that would make our HS256 tokens invalid.
            .env_remove("JWT_PUBLIC_KEY_FILE")
            .env_remove("JWT_ISSUER")
            .env_remove("JWT_AUDIENCE")
            .stdin(Stdio::null())
            // The server logs to stdout; keep ours for the results.
            .stdout(Stdio::from(std::io::stderr()))
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let mut server = Self {
            child,
            addr,
            _dir: dir,
        };
        server.wait_ready(http).await?;
        Ok(server)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `ws://127.0.0.1:<port><path>`.
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// Polls `GET /readyz` until it answers 200; fails if the process exits.
    async fn wait_ready(&mut self, http: &awc::Client) -> Result<(), BoxError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let url = self.url("/readyz");
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(format!("the server exited during start-up: {status}").into());
            }
            if let Ok(res) = http.get(&url).send().await
                && res.status().as_u16() == 200
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("the server was not ready within {READY_TIMEOUT:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The server's resident set size (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> Result<u64, BoxError> {
        procfs::rss_kib(self.child.id())
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
