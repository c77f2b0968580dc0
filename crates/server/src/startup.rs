//! Start-up and shutdown: build every adapter, wire them to the domain, serve.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use support_domain::ports::EventLog;
use support_domain::{SlaPolicy, SupportPorts, SupportService};
use support_http::idempotency::InFlightRequests;
use support_http::metrics::metrics_middleware;
use support_http::request_id::request_id_middleware;
use support_http::{
    ApiState, BodyTimeout, JwtKeys, JwtSettings, KeyError, Metrics, json_error_handlers,
};
use support_persistence::{Database, DatabaseError, PoolSettings};
use support_realtime::{Broadcaster, SocketIo, SocketIoSettings, WsSettings};
use support_scheduler::{Alarm, AlarmingNotifier, Scheduler};
use support_web::RateLimiter;
use support_web::rate_limit::rate_limit;
use tokio::task::JoinHandle;

use crate::config::{Config, JwtSource};
use crate::dev_mode::{self, DevTokens};
use crate::purge;
use crate::system::{RandomTicketNumbers, SystemClock};

/// How long in-flight requests get to finish on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How often the tailer checks the log without a wake-up (a lost NOTIFY,
/// a commit by an instance that could not notify).
const TAIL_POLL: Duration = Duration::from_secs(1);
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
    background: Vec<JoinHandle<()>>,
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
        for task in &self.background {
            task.abort();
        }
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

fn pool_settings(config: &Config) -> PoolSettings {
    PoolSettings {
        max_size: config.pool_size,
        sqlite_synchronous: config.sqlite_synchronous,
        ..PoolSettings::default()
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

/// What every handle's use cases share: where changes are announced, the
/// scheduler's alarm that every committed change rings (it may have moved a
/// deadline), the SLA policy and how long idempotent answers are kept.
#[derive(Clone)]
struct Wiring {
    broadcaster: Broadcaster,
    alarm: Alarm,
    policy: SlaPolicy,
    answer_ttl: Duration,
}

/// The use cases over `db`'s ports.
fn support_service(db: &Database, wiring: &Wiring) -> SupportService {
    let notifier =
        AlarmingNotifier::new(Arc::new(wiring.broadcaster.clone()), wiring.alarm.clone());
    SupportService::new(SupportPorts {
        tickets: db.tickets(),
        events: db.events(),
        notifier: Arc::new(notifier),
        points: db.points(),
        clock: Arc::new(SystemClock),
        numbers: Arc::new(RandomTicketNumbers),
        answers: db.answers(),
    })
    .with_sla_policy(wiring.policy.clone())
    .with_answer_ttl(wiring.answer_ttl)
}

/// Caps the kernel's send buffer of an accepted connection. Left to its
/// autotuning, the kernel queues megabytes for a client that stopped
/// reading, and a WebSocket's send timeout only starts once that is full.
fn bound_send_buffer(connection: &dyn std::any::Any, bytes: usize) {
    if let Some(stream) = connection.downcast_ref::<actix_web::rt::net::TcpStream>()
        && let Err(error) = socket2::SockRef::from(stream).set_send_buffer_size(bytes)
    {
        tracing::debug!(%error, "could not bound a connection's send buffer");
    }
}

/// What the real-time endpoints (`/ws`, Socket.IO) are built from.
pub struct RealtimeParts {
    /// Where committed events are published.
    pub broadcaster: Broadcaster,
    /// The event log (replays, recovery).
    pub events: Arc<dyn EventLog>,
    /// Token verification.
    pub keys: JwtKeys,
    /// `/ws` settings.
    pub ws: WsSettings,
    /// The instance's Socket.IO sessions.
    pub socket_io: SocketIo,
}

/// Every route the service serves: the HTTP API (its OpenAPI document
/// included), `/ws` and Socket.IO. The server mounts exactly this; the
/// OpenAPI coverage test (tests/openapi.rs) enumerates it.
pub fn mount(api: ApiState, realtime: RealtimeParts) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        let RealtimeParts {
            broadcaster,
            events,
            keys,
            ws,
            socket_io,
        } = realtime;
        cfg.configure(support_http::configure(api))
            .configure(support_realtime::configure(
                broadcaster.clone(),
                events.clone(),
                keys.clone(),
                ws,
            ))
            .configure(socket_io.configure(broadcaster, events, keys));
    }
}

/// Connects to the database and applies pending migrations.
pub async fn migrate(config: &Config) -> Result<Vec<String>, StartError> {
    let db = Database::connect(&config.database_url, pool_settings(config)).await?;
    Ok(db.run_migrations().await?)
}

/// Starts the service: migrations, adapters, HTTP and WebSocket server.
/// Must be called inside a multi-thread tokio runtime: the background tasks
/// (tailer, commit listener, purge, SLA scheduler) and their database work run there; each
/// HTTP worker runs its own requests' queries on its own thread.
pub async fn start(config: &Config) -> Result<RunningServer, StartError> {
    let (keys, dev_tokens) = build_keys(config)?;

    let db = Database::connect(&config.database_url, pool_settings(config)).await?;
    let backend = db.backend();
    let applied = db.run_migrations().await?;
    if !applied.is_empty() {
        tracing::info!(?applied, "applied database migrations");
    }

    let metrics = Metrics::new();
    let broadcaster =
        Broadcaster::new(support_realtime::DEFAULT_CAPACITY).with_metrics(metrics.clone());
    let shutdown_handle = broadcaster.clone();
    let log = db.events();
    let wiring = Wiring {
        broadcaster: broadcaster.clone(),
        alarm: Alarm::new(),
        policy: config.sla_policy.clone(),
        answer_ttl: config.idempotency_ttl,
    };
    let service = support_service(&db, &wiring);

    // Publish from the end of the log as it is now; clients that need older
    // events ask for them with `since`.
    let tail_from = log.last_position().await.map_err(|e| {
        StartError::Database(DatabaseError::Connect {
            backend,
            message: e.to_string(),
        })
    })?;
    let mut background = vec![broadcaster.spawn_tailer(log.clone(), tail_from, TAIL_POLL)];
    let waker = broadcaster.clone();
    let alarm = wiring.alarm.clone();
    // Another instance's commit may have moved a deadline too: the
    // scheduler looks again (and the tailer publishes).
    let on_commit = move |newest: Option<i64>| {
        alarm.wake();
        match newest {
            Some(position) => waker.wake_for(position),
            None => waker.wake(),
        }
    };
    if let Some(listener) = db.spawn_commit_listener(Arc::new(on_commit)) {
        background.push(listener);
    }
    if let Some(sweep) = db.spawn_numbering_sweep() {
        background.push(sweep);
    }
    background.push(tokio::spawn(purge::expired_events(
        service.clone(),
        config.event_retention,
    )));
    background.push(tokio::spawn(purge::expired_answers(service.clone())));
    // Fires what came due while no instance ran at once, then sleeps until
    // the next due time.
    background
        .push(Scheduler::new(service.clone(), Arc::new(SystemClock), wiring.alarm.clone()).spawn());

    let metrics = web::Data::new(metrics);
    let ws_settings = WsSettings::default();
    // One for the instance: every worker must find its polling sessions.
    let socket_io = SocketIo::new(SocketIoSettings::default());
    let body_timeout = BodyTimeout(config.body_timeout);
    let limiter = web::Data::from(RateLimiter::new(config.rate_limits));
    // One for the instance: a key sent twice at once to two workers runs once.
    let in_flight = InFlightRequests::new();
    let send_buffer = config.send_buffer;
    let workers = config.workers.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });

    // Called once on each worker's thread: the worker gets database ports of
    // its own, whose queries run on that thread (see `Database::for_worker`).
    let server = HttpServer::new(move || {
        let local = db.for_worker(workers).unwrap_or_else(|error| {
            tracing::warn!(%error, "no worker-local database handle; sharing the main one");
            db.clone()
        });
        let state = ApiState {
            service: web::Data::new(support_service(&local, &wiring)),
            keys: keys.clone(),
            metrics: metrics.clone(),
            in_flight: in_flight.clone(),
        };
        App::new()
            .app_data(body_timeout)
            .app_data(limiter.clone())
            .wrap(json_error_handlers())
            .wrap(from_fn(rate_limit))
            .wrap(from_fn(metrics_middleware))
            .wrap(from_fn(request_id_middleware))
            .configure(mount(
                state,
                RealtimeParts {
                    broadcaster: broadcaster.clone(),
                    events: local.events(),
                    keys: keys.clone(),
                    ws: ws_settings.clone(),
                    socket_io: socket_io.clone(),
                },
            ))
            .default_service(web::to(support_http::app::route_not_found))
    })
    // Signals are ours (see `run_until_signal`): sockets must close before HTTP drains.
    .disable_signals()
    .keep_alive(config.keep_alive)
    .on_connect(move |connection, _| {
        if let Some(bytes) = send_buffer {
            bound_send_buffer(connection, bytes);
        }
    })
    .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
    .workers(workers);
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
    tracing::info!(%addr, %backend, workers, "support service listening");
    Ok(RunningServer {
        addr,
        handle,
        broadcaster: shutdown_handle,
        background,
        task,
        dev_tokens,
    })
}
