//! Start-up and shutdown: build every adapter, wire them to the domain, serve.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use support_domain::SupportService;
use support_http::request_id::request_id_middleware;
use support_http::{ApiState, JwtKeys, JwtSettings, KeyError, json_error_handlers};
use support_persistence::{Database, DatabaseError, PoolSettings};
use support_realtime::{Broadcaster, WsSettings};
use tokio::task::JoinHandle;

use crate::config::{Config, JwtSource};
use crate::dev_mode::{self, DevTokens};
use crate::system::{RandomTicketNumbers, SystemClock};

/// How long in-flight requests get to finish on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The JWT key could not be read or used.
    #[error("JWT key: {0}")]
    Key(String),
    /// The database could not be reached or migrated.
    #[error("database: {0}")]
    Database(#[from] DatabaseError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

impl From<KeyError> for StartError {
    fn from(e: KeyError) -> Self {
        Self::Key(e.to_string())
    }
}

/// A server that is accepting connections.
pub struct RunningServer {
    addr: SocketAddr,
    handle: ServerHandle,
    broadcaster: Broadcaster,
    task: JoinHandle<std::io::Result<()>>,
    dev_tokens: Option<DevTokens>,
}

impl RunningServer {
    /// The address actually bound (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Dev-mode tokens, when no key was configured.
    pub fn dev_tokens(&self) -> Option<(&str, &str)> {
        self.dev_tokens
            .as_ref()
            .map(|t| (t.customer.as_str(), t.staff.as_str()))
    }

    /// Runs until the server stops by itself or SIGINT/SIGTERM arrives; a
    /// signal triggers a graceful [`RunningServer::stop`].
    pub async fn run_until_signal(mut self) -> std::io::Result<()> {
        tokio::select! {
            finished = &mut self.task => flatten(finished),
            () = shutdown_signal() => {
                tracing::info!("shutdown signal received; draining");
                self.stop(true).await
            }
        }
    }

    /// Closes every WebSocket with 1001 (going away), stops accepting, lets
    /// in-flight requests finish (when `graceful`, up to 10 s), and waits.
    pub async fn stop(self, graceful: bool) -> std::io::Result<()> {
        self.broadcaster.shutdown();
        self.handle.stop(graceful).await;
        flatten(self.task.await)
    }
}

fn flatten(joined: Result<std::io::Result<()>, tokio::task::JoinError>) -> std::io::Result<()> {
    joined.unwrap_or_else(|e| Err(std::io::Error::other(e)))
}

/// Resolves on SIGINT (Ctrl-C) or, on Unix, SIGTERM (what orchestrators send).
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

fn jwt_settings(config: &Config) -> JwtSettings {
    JwtSettings {
        issuer: config.jwt_issuer.clone(),
        audience: config.jwt_audience.clone(),
    }
}

/// Builds the verification keys once; in dev mode also the dev tokens.
fn build_keys(config: &Config) -> Result<(JwtKeys, Option<DevTokens>), StartError> {
    let settings = jwt_settings(config);
    match &config.jwt {
        JwtSource::Secret(secret) => {
            if secret.len() < 32 {
                tracing::warn!("JWT_SECRET is shorter than 32 bytes; use a longer random secret");
            }
            Ok((JwtKeys::hs256(secret.as_bytes(), &settings)?, None))
        }
        JwtSource::PublicKeyFile(path) => {
            let pem = std::fs::read(path)
                .map_err(|e| StartError::Key(format!("cannot read {}: {e}", path.display())))?;
            Ok((JwtKeys::public_key_pem(&pem, &settings)?, None))
        }
        JwtSource::DevRandom => {
            tracing::warn!(
                "!!! DEV MODE: neither JWT_SECRET nor JWT_PUBLIC_KEY_FILE is set. Tokens are \
                 signed with a random secret that changes on every restart. Never run like this \
                 in production. !!!"
            );
            let (keys, tokens) = dev_mode::generate(&settings)?;
            Ok((keys, Some(tokens)))
        }
    }
}

/// Connects to the database and applies pending migrations.
pub async fn migrate(config: &Config) -> Result<Vec<String>, StartError> {
    let db = Database::connect(&config.database_url, PoolSettings::default()).await?;
    Ok(db.run_migrations().await?)
}

/// Starts the service: migrations, adapters, HTTP and WebSocket server.
/// Must be called inside a multi-thread tokio runtime (the database adapters
/// run their queries there, off actix's single-threaded workers).
pub async fn start(config: &Config) -> Result<RunningServer, StartError> {
    let (keys, dev_tokens) = build_keys(config)?;

    let db = Database::connect(&config.database_url, PoolSettings::default()).await?;
    let applied = db.run_migrations().await?;
    if !applied.is_empty() {
        tracing::info!(?applied, "applied database migrations");
    }

    let broadcaster = Broadcaster::new(support_realtime::DEFAULT_CAPACITY);
    let shutdown_handle = broadcaster.clone();
    let service = SupportService::new(
        db.tickets(),
        Arc::new(broadcaster.clone()),
        db.points(),
        Arc::new(SystemClock),
        Arc::new(RandomTicketNumbers),
    );
    let state = ApiState {
        service: web::Data::new(service),
        keys: keys.clone(),
    };
    let ws_settings = WsSettings::default();

    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(json_error_handlers())
            .wrap(from_fn(request_id_middleware))
            .configure(support_http::configure(state.clone()))
            .configure(support_realtime::configure(
                broadcaster.clone(),
                keys.clone(),
                ws_settings.clone(),
            ))
            .default_service(web::to(support_http::app::route_not_found))
    })
    // Signals are ours (see `run_until_signal`): sockets must close before HTTP drains.
    .disable_signals()
    .shutdown_timeout(SHUTDOWN_GRACE.as_secs());
    if let Some(workers) = config.workers {
        server = server.workers(workers);
    }
    let server = server
        .bind(config.bind_addr)
        .map_err(|source| StartError::Bind {
            addr: config.bind_addr,
            source,
        })?;
    let addr = server.addrs().first().copied().unwrap_or(config.bind_addr);
    let server = server.run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    tracing::info!(%addr, backend = ?db.backend(), "support service listening");
    Ok(RunningServer {
        addr,
        handle,
        broadcaster: shutdown_handle,
        task,
        dev_tokens,
    })
}
