//! Configuration from the environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use support_domain::{SlaPolicy, parse_duration};
use support_persistence::SqliteSynchronous;
use support_web::RateLimits;

/// Where token verification keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtSource {
    /// `JWT_SECRET`: HS256.
    Secret(String),
    /// `JWT_PUBLIC_KEY_FILE`: RS256 or ES256, by key type.
    PublicKeyFile(PathBuf),
    /// Neither set: a random secret for this run only (dev mode).
    DevRandom,
}

/// Everything the server needs to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `BIND_ADDR`, default `127.0.0.1:8080`.
    pub bind_addr: SocketAddr,
    /// `DATABASE_URL`, default `sqlite://support.db`.
    pub database_url: String,
    /// Token keys.
    pub jwt: JwtSource,
    /// `JWT_ISSUER`: required `iss` when set.
    pub jwt_issuer: Option<String>,
    /// `JWT_AUDIENCE`: required `aud` when set.
    pub jwt_audience: Option<String>,
    /// `HTTP_WORKERS`: actix worker threads, default: one per core.
    pub workers: Option<usize>,
    /// `EVENT_RETENTION_HOURS`: how long the event log keeps events, default 168 (7 days).
    pub event_retention: Duration,
    /// `DATABASE_POOL_SIZE`: database connections per instance; default 4 on
    /// SQLite and 8 on PostgreSQL. On PostgreSQL each HTTP worker has a pool
    /// of its own, an equal share of this; the background tasks have one of
    /// this size, which they rarely fill.
    pub pool_size: Option<usize>,
    /// `HTTP_BODY_TIMEOUT_SECS`: how long a request body may take to arrive
    /// once its headers are in, default 10 s; past it, 408 and the
    /// connection is closed.
    pub body_timeout: Duration,
    /// `HTTP_KEEP_ALIVE_SECS`: how long an idle keep-alive connection is
    /// kept open between requests, default 5 s.
    pub keep_alive: Duration,
    /// `HTTP_SEND_BUFFER_BYTES`: the kernel send buffer of each accepted
    /// connection, default 64 KiB; `None` (`0`) leaves it to the kernel's
    /// autotuning, which lets a client that stops reading queue megabytes.
    pub send_buffer: Option<usize>,
    /// `SQLITE_SYNCHRONOUS`: `FULL` (default; every acknowledged write
    /// survives a power loss) or `NORMAL` (survives a crash of the process
    /// only).
    pub sqlite_synchronous: SqliteSynchronous,
    /// `RATE_LIMITS`: the request, create, comment and socket limits (see
    /// [`RateLimits`]'s syntax); `off` disables them.
    pub rate_limits: RateLimits,
    /// `IDEMPOTENCY_TTL` (default `24h`, the SLA settings' syntax): how
    /// long the answer of a request sent with an `Idempotency-Key` is kept
    /// for its retries.
    pub idempotency_ttl: Duration,
    /// `SLA_POLICY` (targets per priority, e.g. `urgent=1h/4h,high=4h/24h`),
    /// `SLA_WARNING_LEAD` (default `15m`) and `RESOLVED_AUTO_CLOSE_AFTER`
    /// (default `96h`, `off` disables): the service-level policy.
    pub sla_policy: SlaPolicy,
}

/// Default time a request body may take to arrive.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Default idle time of a keep-alive connection (actix-web's default).
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(5);
/// Default kernel send buffer per connection.
pub const DEFAULT_SEND_BUFFER: usize = 64 * 1024;
/// Longest body or keep-alive timeout accepted: five minutes.
const MAX_TIMEOUT_SECS: u64 = 300;
/// Send buffers accepted: from one page to the kernel's usual ceiling.
const SEND_BUFFER_RANGE: std::ops::RangeInclusive<usize> = 4096..=(16 << 20);

/// Default time an idempotent answer is kept: a day.
pub const DEFAULT_IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 3600);

/// Default retention of the event log: a week.
pub const DEFAULT_EVENT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// Longest retention accepted: ten years.
const MAX_RETENTION_HOURS: u64 = 10 * 366 * 24;

/// A configuration value that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable holds an unusable value.
    #[error("{name}: {problem}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is wrong.
        problem: String,
    },
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "sqlite://support.db".to_owned(),
            jwt: JwtSource::DevRandom,
            jwt_issuer: None,
            jwt_audience: None,
            workers: None,
            event_retention: DEFAULT_EVENT_RETENTION,
            pool_size: None,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            keep_alive: DEFAULT_KEEP_ALIVE,
            send_buffer: Some(DEFAULT_SEND_BUFFER),
            sqlite_synchronous: SqliteSynchronous::Full,
            rate_limits: RateLimits::default(),
            idempotency_ttl: DEFAULT_IDEMPOTENCY_TTL,
            sla_policy: SlaPolicy::default(),
        }
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup` (the environment, or a map in tests).
    /// Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut config = Self::default();
        if let Some(addr) = get("BIND_ADDR") {
            config.bind_addr = addr.trim().parse().map_err(|e| ConfigError::Invalid {
                name: "BIND_ADDR",
                problem: format!("{e} (expected host:port, e.g. 127.0.0.1:8080)"),
            })?;
        }
        if let Some(url) = get("DATABASE_URL") {
            config.database_url = url.trim().to_owned();
        }
        config.jwt = match (get("JWT_SECRET"), get("JWT_PUBLIC_KEY_FILE")) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Invalid {
                    name: "JWT_SECRET",
                    problem: "set either JWT_SECRET or JWT_PUBLIC_KEY_FILE, not both".to_owned(),
                });
            }
            (Some(secret), None) => JwtSource::Secret(secret),
            (None, Some(path)) => JwtSource::PublicKeyFile(PathBuf::from(path.trim())),
            (None, None) => JwtSource::DevRandom,
        };
        config.jwt_issuer = get("JWT_ISSUER");
        config.jwt_audience = get("JWT_AUDIENCE");
        if let Some(workers) = get("HTTP_WORKERS") {
            config.workers = Some(
                workers
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n: &usize| *n > 0)
                    .ok_or_else(|| ConfigError::Invalid {
                        name: "HTTP_WORKERS",
                        problem: "must be a positive integer".to_owned(),
                    })?,
            );
        }
        if let Some(size) = get("DATABASE_POOL_SIZE") {
            config.pool_size = Some(
                size.trim()
                    .parse()
                    .ok()
                    .filter(|n: &usize| (1..=1024).contains(n))
                    .ok_or_else(|| ConfigError::Invalid {
                        name: "DATABASE_POOL_SIZE",
                        problem: "must be a whole number from 1 to 1024".to_owned(),
                    })?,
            );
        }
        if let Some(hours) = get("EVENT_RETENTION_HOURS") {
            let hours = hours
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|h| (1..=MAX_RETENTION_HOURS).contains(h))
                .ok_or_else(|| ConfigError::Invalid {
                    name: "EVENT_RETENTION_HOURS",
                    problem: format!(
                        "must be a whole number of hours from 1 to {MAX_RETENTION_HOURS}"
                    ),
                })?;
            config.event_retention = Duration::from_secs(hours * 3600);
        }
        if let Some(secs) = get("HTTP_BODY_TIMEOUT_SECS") {
            config.body_timeout = timeout_secs("HTTP_BODY_TIMEOUT_SECS", &secs)?;
        }
        if let Some(secs) = get("HTTP_KEEP_ALIVE_SECS") {
            config.keep_alive = timeout_secs("HTTP_KEEP_ALIVE_SECS", &secs)?;
        }
        if let Some(bytes) = get("HTTP_SEND_BUFFER_BYTES") {
            config.send_buffer = match bytes.trim().parse::<usize>() {
                Ok(0) => None,
                Ok(n) if SEND_BUFFER_RANGE.contains(&n) => Some(n),
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "HTTP_SEND_BUFFER_BYTES",
                        problem: format!(
                            "must be 0 (the kernel decides) or a whole number of bytes from {} to {}",
                            SEND_BUFFER_RANGE.start(),
                            SEND_BUFFER_RANGE.end()
                        ),
                    });
                }
            };
        }
        if let Some(limits) = get("RATE_LIMITS") {
            config.rate_limits = limits.parse().map_err(|problem| ConfigError::Invalid {
                name: "RATE_LIMITS",
                problem,
            })?;
        }
        if let Some(level) = get("SQLITE_SYNCHRONOUS") {
            config.sqlite_synchronous = level.parse().map_err(|problem| ConfigError::Invalid {
                name: "SQLITE_SYNCHRONOUS",
                problem,
            })?;
        }
        if let Some(ttl) = get("IDEMPOTENCY_TTL") {
            config.idempotency_ttl =
                positive_duration(&ttl).map_err(|problem| ConfigError::Invalid {
                    name: "IDEMPOTENCY_TTL",
                    problem,
                })?;
        }
        config.sla_policy = sla_policy(&get)?;
        Ok(config)
    }
}

/// The policy from `SLA_POLICY`, `SLA_WARNING_LEAD` and
/// `RESOLVED_AUTO_CLOSE_AFTER`; each unset one keeps its default.
fn sla_policy(get: &impl Fn(&str) -> Option<String>) -> Result<SlaPolicy, ConfigError> {
    let invalid = |name: &'static str| {
        move |e: support_domain::InvalidValue| ConfigError::Invalid {
            name,
            problem: e.message().to_owned(),
        }
    };
    let mut policy = SlaPolicy::default();
    if let Some(targets) = get("SLA_POLICY") {
        policy = policy
            .with_targets(&targets)
            .map_err(invalid("SLA_POLICY"))?;
    }
    if let Some(lead) = get("SLA_WARNING_LEAD") {
        policy = parse_duration(&lead)
            .and_then(|lead| policy.with_warning_lead(lead))
            .map_err(invalid("SLA_WARNING_LEAD"))?;
    }
    if let Some(after) = get("RESOLVED_AUTO_CLOSE_AFTER") {
        let after = match after.trim() {
            "off" => Ok(None),
            duration => parse_duration(duration).map(Some),
        };
        policy = after
            .and_then(|after| policy.with_auto_close_after(after))
            .map_err(invalid("RESOLVED_AUTO_CLOSE_AFTER"))?;
    }
    Ok(policy)
}

/// A duration in the SLA settings' syntax (`90s`, `15m`, `24h`, `2d`),
/// longer than zero.
fn positive_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text).map_err(|e| e.message().to_owned())?;
    duration
        .to_std()
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| "must be longer than zero".to_owned())
}

/// A whole number of seconds from 1 to [`MAX_TIMEOUT_SECS`].
fn timeout_secs(name: &'static str, value: &str) -> Result<Duration, ConfigError> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|secs| (1..=MAX_TIMEOUT_SECS).contains(secs))
        .map(Duration::from_secs)
        .ok_or_else(|| ConfigError::Invalid {
            name,
            problem: format!("must be a whole number of seconds from 1 to {MAX_TIMEOUT_SECS}"),
        })
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
