//! The configuration read from the environment: defaults, every variable, refusals.

use super::*;
use std::collections::HashMap;

fn from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_lookup(|k| map.get(k).cloned())
}

#[test]
fn defaults_run_on_sqlite_in_dev_mode() {
    let c = from(&[]).unwrap();
    assert_eq!(c.bind_addr.to_string(), "127.0.0.1:8080");
    assert_eq!(c.database_url, "sqlite://support.db");
    assert_eq!(c.jwt, JwtSource::DevRandom);
    assert_eq!(c.event_retention, DEFAULT_EVENT_RETENTION);
    assert_eq!(c.body_timeout, Duration::from_secs(10));
    assert_eq!(c.keep_alive, Duration::from_secs(5));
    assert_eq!(c.send_buffer, Some(64 * 1024));
    assert_eq!(c.sqlite_synchronous, SqliteSynchronous::Full);
    assert_eq!(c.rate_limits, RateLimits::default());
}

#[test]
fn reads_every_variable() {
    let c = from(&[
        ("BIND_ADDR", "0.0.0.0:9000"),
        ("DATABASE_URL", "postgres://u@h/db"),
        ("JWT_SECRET", "s3cret"),
        ("JWT_ISSUER", "mtables"),
        ("JWT_AUDIENCE", "support"),
        ("HTTP_WORKERS", "3"),
        ("EVENT_RETENTION_HOURS", "24"),
        ("DATABASE_POOL_SIZE", "6"),
        ("HTTP_BODY_TIMEOUT_SECS", "3"),
        ("HTTP_KEEP_ALIVE_SECS", "30"),
        ("HTTP_SEND_BUFFER_BYTES", "8192"),
        ("SQLITE_SYNCHRONOUS", "normal"),
        ("RATE_LIMITS", "off"),
    ])
    .unwrap();
    assert_eq!(c.bind_addr.port(), 9000);
    assert_eq!(c.database_url, "postgres://u@h/db");
    assert_eq!(c.jwt, JwtSource::Secret("s3cret".into()));
    assert_eq!(c.jwt_issuer.as_deref(), Some("mtables"));
    assert_eq!(c.jwt_audience.as_deref(), Some("support"));
    assert_eq!(c.workers, Some(3));
    assert_eq!(c.event_retention, Duration::from_secs(24 * 3600));
    assert_eq!(c.pool_size, Some(6));
    assert_eq!(c.body_timeout, Duration::from_secs(3));
    assert_eq!(c.keep_alive, Duration::from_secs(30));
    assert_eq!(c.send_buffer, Some(8192));
    assert_eq!(c.sqlite_synchronous, SqliteSynchronous::Normal);
    assert_eq!(c.rate_limits, RateLimits::OFF);
    assert_eq!(
        from(&[("HTTP_SEND_BUFFER_BYTES", "0")])
            .unwrap()
            .send_buffer,
        None
    );
}

#[test]
fn rejects_bad_values() {
    assert!(from(&[("BIND_ADDR", "nope")]).is_err());
    assert!(from(&[("HTTP_WORKERS", "0")]).is_err());
    assert!(from(&[("EVENT_RETENTION_HOURS", "0")]).is_err());
    assert!(from(&[("DATABASE_POOL_SIZE", "0")]).is_err());
    assert!(from(&[("EVENT_RETENTION_HOURS", "99999999")]).is_err());
    assert!(from(&[("JWT_SECRET", "a"), ("JWT_PUBLIC_KEY_FILE", "/k.pem")]).is_err());
    assert!(from(&[("HTTP_BODY_TIMEOUT_SECS", "0")]).is_err());
    assert!(from(&[("HTTP_BODY_TIMEOUT_SECS", "301")]).is_err());
    assert!(from(&[("HTTP_KEEP_ALIVE_SECS", "soon")]).is_err());
    assert!(from(&[("HTTP_SEND_BUFFER_BYTES", "100")]).is_err());
    assert!(from(&[("SQLITE_SYNCHRONOUS", "OFF")]).is_err());
    assert!(from(&[("RATE_LIMITS", "caller=lots")]).is_err());
}

#[test]
fn reads_the_sla_policy() {
    use chrono::TimeDelta;
    use support_domain::Priority;
    assert_eq!(from(&[]).unwrap().sla_policy, SlaPolicy::default());
    let c = from(&[
        ("SLA_POLICY", "urgent=2s/4s,low=1d/3d"),
        ("SLA_WARNING_LEAD", "1s"),
        ("RESOLVED_AUTO_CLOSE_AFTER", "off"),
    ])
    .unwrap();
    let urgent = c.sla_policy.targets(Priority::Urgent);
    assert_eq!(
        (urgent.first_response, urgent.resolution),
        (TimeDelta::seconds(2), TimeDelta::seconds(4))
    );
    assert_eq!(c.sla_policy.warning_lead(), TimeDelta::seconds(1));
    assert_eq!(c.sla_policy.auto_close_after(), None);
    let c = from(&[("RESOLVED_AUTO_CLOSE_AFTER", "2d")]).unwrap();
    assert_eq!(c.sla_policy.auto_close_after(), Some(TimeDelta::days(2)));
}

#[test]
fn a_bad_sla_value_names_its_variable() {
    for (name, value) in [
        ("SLA_POLICY", "urgent=1x/2h"),
        ("SLA_POLICY", "critical=1h/2h"),
        ("SLA_WARNING_LEAD", "soon"),
        ("SLA_WARNING_LEAD", "-1m"),
        ("RESOLVED_AUTO_CLOSE_AFTER", "0h"),
        ("RESOLVED_AUTO_CLOSE_AFTER", "never"),
    ] {
        let error = from(&[(name, value)]).unwrap_err().to_string();
        assert!(error.starts_with(&format!("{name}: ")), "{error}");
    }
}

#[test]
fn reads_the_idempotency_ttl_in_the_sla_syntax() {
    let ttl = |value| from(&[("IDEMPOTENCY_TTL", value)]).map(|c| c.idempotency_ttl);
    assert_eq!(ttl("2h").unwrap(), Duration::from_secs(7200));
    assert_eq!(ttl(" 90s ").unwrap(), Duration::from_secs(90));
    assert_eq!(ttl("3d").unwrap(), Duration::from_secs(3 * 86_400));
    for bad in ["0s", "24", "1w", "-1h", "soon"] {
        let error = ttl(bad).unwrap_err().to_string();
        assert!(error.starts_with("IDEMPOTENCY_TTL: "), "{bad}: {error}");
    }
}
