//! Rate limits: token buckets per caller, per client IP for requests without
//! a valid token, per customer for creates and comments, and a cap on a caller's open
//! WebSockets. Limits are per instance (each instance counts on its own).
//!
//! The buckets are `governor`'s GCRA (no thread, no timer; one atomic per
//! check). The HTTP and WebSocket adapters check them where they have just
//! verified the caller's token, so no token is verified twice; what a check
//! saw is kept in the request's extensions and [`rate_limit_headers`] puts
//! it on the response as the IETF draft's `RateLimit-Policy` and `RateLimit`
//! fields.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, web};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter as Gcra};

use crate::error::ApiError;

/// One limit: `quota` requests per `window`, at most `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Requests a full window allows.
    pub quota: u32,
    /// The window.
    pub window: Duration,
    /// Requests allowed back to back (the bucket's size).
    pub burst: u32,
}

impl Policy {
    /// Time to earn back one request.
    fn period(self) -> Duration {
        (self.window / self.quota.max(1)).max(Duration::from_nanos(1))
    }

    fn quota(self) -> Option<Quota> {
        let burst = NonZeroU32::new(self.burst)?;
        Some(Quota::with_period(self.period())?.allow_burst(burst))
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}s:{}",
            self.quota,
            self.window.as_secs(),
            self.burst
        )
    }
}

/// The configured limits; `None` turns that limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Every request of an authenticated caller (role and user id).
    pub caller: Option<Policy>,
    /// Every request without a valid token, per client IP.
    pub ip: Option<Policy>,
    /// Ticket creates, per customer.
    pub create: Option<Policy>,
    /// Comments, per customer.
    pub comment: Option<Policy>,
    /// Open WebSockets per caller.
    pub sockets: Option<u32>,
}

impl RateLimits {
    /// No limit at all (`RATE_LIMITS=off`).
    pub const OFF: Self = Self {
        caller: None,
        ip: None,
        create: None,
        comment: None,
        sockets: None,
    };
}

impl Default for RateLimits {
    /// 600 requests a minute with bursts of 60, per caller and per IP; 20
    /// creates and 60 comments an hour per customer; 10 open sockets per
    /// caller.
    fn default() -> Self {
        let per_minute = Policy {
            quota: 600,
            window: Duration::from_secs(60),
            burst: 60,
        };
        Self {
            caller: Some(per_minute),
            ip: Some(per_minute),
            create: Some(Policy {
                quota: 20,
                window: Duration::from_secs(3600),
                burst: 20,
            }),
            comment: Some(Policy {
                quota: 60,
                window: Duration::from_secs(3600),
                burst: 60,
            }),
            sockets: Some(10),
        }
    }
}

impl FromStr for RateLimits {
    type Err = String;

    /// `off`, or comma-separated changes to the defaults:
    /// `caller=600/1m:60,ip=600/1m:60,create=20/1h,comment=60/1h,sockets=10`, a policy
    /// being `<quota>/<window>[:<burst>]` (window in `s`, `m`, `h` or `d`;
    /// burst defaults to the quota), or `off` for one limit.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(Self::OFF);
        }
        let mut limits = Self::default();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| format!("{item:?}: expected name=value"))?;
            let value = value.trim();
            let off = value.eq_ignore_ascii_case("off");
            match name.trim() {
                "caller" => limits.caller = (!off).then(|| policy(value)).transpose()?,
                "ip" => limits.ip = (!off).then(|| policy(value)).transpose()?,
                "create" => limits.create = (!off).then(|| policy(value)).transpose()?,
                "comment" => limits.comment = (!off).then(|| policy(value)).transpose()?,
                "sockets" => {
                    limits.sockets = (!off)
                        .then(|| {
                            value
                                .parse::<u32>()
                                .ok()
                                .filter(|n| *n > 0)
                                .ok_or_else(|| format!("sockets={value}: a positive number"))
                        })
                        .transpose()?;
                }
                other => {
                    return Err(format!(
                        "unknown limit {other:?} (caller, ip, create, comment, sockets)"
                    ));
                }
            }
        }
        Ok(limits)
    }
}

/// The longest window (and burst refill) accepted: a year.
const MAX_WINDOW_SECS: u64 = 366 * 86_400;

/// `<quota>/<window>[:<burst>]`.
fn policy(text: &str) -> Result<Policy, String> {
    let bad = || format!("{text:?}: expected <quota>/<window>[:<burst>], e.g. 600/1m:60");
    let (rate, burst) = match text.split_once(':') {
        Some((rate, burst)) => (rate, Some(burst)),
        None => (text, None),
    };
    let (quota, window) = rate.split_once('/').ok_or_else(bad)?;
    let quota: u32 = quota
        .trim()
        .parse()
        .ok()
        .filter(|q| *q > 0)
        .ok_or_else(bad)?;
    let window = window.trim();
    let unit = match window.chars().last() {
        Some('s') => 1,
        Some('m') => 60,
        Some('h') => 3600,
        Some('d') => 86_400,
        _ => return Err(bad()),
    };
    let count: u64 = window[..window.len() - 1]
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(bad)?;
    let burst = match burst {
        Some(b) => b.trim().parse().ok().filter(|b| *b > 0).ok_or_else(bad)?,
        None => quota,
    };
    let window = count
        .checked_mul(unit)
        .filter(|secs| *secs <= MAX_WINDOW_SECS)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?}: the window is at most a year"))?;
    let policy = Policy {
        quota,
        window,
        burst,
    };
    // The time to earn back a whole burst must stay within a year too.
    policy
        .period()
        .checked_mul(burst)
        .filter(|refill| refill.as_secs() <= MAX_WINDOW_SECS)
        .ok_or_else(|| format!("{text:?}: the burst takes more than a year to earn back"))?;
    Ok(policy)
}

/// Who is counted: a caller by role and user id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallerKey {
    /// The token's role claim (empty when it has none).
    pub role: String,
    /// The token's user id.
    pub user_id: i64,
}

impl CallerKey {
    /// The caller `user_id` with role `role` (as the token names it).
    pub fn new(role: Option<&support_domain::Role>, user_id: i64) -> Self {
        Self {
            role: role.map(|r| r.as_str().to_owned()).unwrap_or_default(),
            user_id,
        }
    }
}

type Keyed<K> = Gcra<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// Which bucket a check drew from; its name is the policy's name on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// Per caller.
    Caller = 0,
    /// Per client IP.
    Ip = 1,
    /// Creates per customer.
    Create = 2,
    /// Health probes per client IP (the `ip` policy, a bucket of their own,
    /// so token-less traffic from a proxy's address cannot starve them).
    Probe = 3,
    /// Comments per customer.
    Comment = 4,
}

impl Bucket {
    fn name(self) -> &'static str {
        match self {
            Self::Caller => "caller",
            Self::Ip => "ip",
            Self::Create => "create",
            Self::Probe => "probe",
            Self::Comment => "comment",
        }
    }
}

/// What one check saw, for the response's headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    bucket: Bucket,
    /// The bucket's `RateLimit-Policy` item, made once per bucket.
    policy_item: HeaderValue,
    /// Requests left in the bucket now.
    pub remaining: u32,
    /// Seconds until the bucket is full again.
    pub reset_secs: u64,
}

/// A check that failed: the caller must wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limited {
    /// What the check saw.
    pub usage: Usage,
    /// Seconds until the next request would be allowed (at least 1).
    pub retry_after_secs: u64,
}

/// A keyed bucket set for `policy`, if it is on.
fn keyed<K: Clone + Eq + std::hash::Hash>(policy: Option<Policy>) -> Option<Keyed<K>> {
    policy
        .and_then(Policy::quota)
        .map(|quota| Gcra::keyed(quota).with_middleware::<StateInformationMiddleware>())
}

/// Checks after this many are followed by forgetting idle keys, so memory
/// does not grow with every caller ever seen.
const FORGET_EVERY: u64 = 100_000;

/// The buckets of one instance. Cheap to share (`Arc`).
pub struct RateLimiter {
    limits: RateLimits,
    /// `RateLimit-Policy` items of the caller, ip, create, probe and
    /// comment buckets.
    policy_items: [HeaderValue; 5],
    caller: Option<Keyed<CallerKey>>,
    ip: Option<Keyed<IpAddr>>,
    create: Option<Keyed<i64>>,
    probe: Option<Keyed<IpAddr>>,
    comment: Option<Keyed<i64>>,
    sockets: Mutex<HashMap<CallerKey, u32>>,
    /// Checks per bucket, to forget each bucket's idle keys now and then.
    checks: [AtomicU64; 5],
    clock: DefaultClock,
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// Buckets for `limits`.
    pub fn new(limits: RateLimits) -> Arc<Self> {
        let item = |bucket: Bucket, policy: Option<Policy>| {
            let text = policy.map_or_else(String::new, |p| {
                let window = p.period() * p.burst;
                format!("\"{}\";q={};w={}", bucket.name(), p.burst, secs_up(window))
            });
            HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static(""))
        };
        Arc::new(Self {
            policy_items: [
                item(Bucket::Caller, limits.caller),
                item(Bucket::Ip, limits.ip),
                item(Bucket::Create, limits.create),
                item(Bucket::Probe, limits.ip),
                item(Bucket::Comment, limits.comment),
            ],
            probe: keyed(limits.ip),
            caller: keyed(limits.caller),
            ip: keyed(limits.ip),
            create: keyed(limits.create),
            comment: keyed(limits.comment),
            limits,
            sockets: Mutex::default(),
            checks: Default::default(),
            clock: DefaultClock::default(),
        })
    }

    /// Counts one request of `caller`; `None` when that limit is off.
    pub fn check_caller(&self, caller: &CallerKey) -> Option<Result<Usage, Limited>> {
        self.check(
            Bucket::Caller,
            self.limits.caller,
            self.caller.as_ref(),
            caller,
        )
    }

    /// Counts one request from `ip` without a valid token.
    pub fn check_ip(&self, ip: IpAddr) -> Option<Result<Usage, Limited>> {
        self.check(
            Bucket::Ip,
            self.limits.ip,
            self.ip.as_ref(),
            &client_key(ip),
        )
    }

    /// Counts one health probe from `ip`.
    pub fn check_probe(&self, ip: IpAddr) -> Option<Result<Usage, Limited>> {
        self.check(
            Bucket::Probe,
            self.limits.ip,
            self.probe.as_ref(),
            &client_key(ip),
        )
    }

    /// Counts one ticket create of `customer`.
    pub fn check_create(&self, customer: i64) -> Option<Result<Usage, Limited>> {
        self.check(
            Bucket::Create,
            self.limits.create,
            self.create.as_ref(),
            &customer,
        )
    }

    /// Counts one comment of `customer`.
    pub fn check_comment(&self, customer: i64) -> Option<Result<Usage, Limited>> {
        self.check(
            Bucket::Comment,
            self.limits.comment,
            self.comment.as_ref(),
            &customer,
        )
    }

    fn check<K: Clone + Eq + std::hash::Hash>(
        &self,
        bucket: Bucket,
        policy: Option<Policy>,
        limiter: Option<&Keyed<K>>,
        key: &K,
    ) -> Option<Result<Usage, Limited>> {
        let (policy, limiter) = (policy?, limiter?);
        let checks = &self.checks[bucket as usize];
        if checks.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        let period = policy.period();
        let refill = |missing: u32| secs_up(period.checked_mul(missing).unwrap_or(Duration::MAX));
        let policy_item = self.policy_items[bucket as usize].clone();
        Some(match limiter.check_key(key) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                Ok(Usage {
                    bucket,
                    policy_item,
                    remaining,
                    reset_secs: refill(policy.burst.saturating_sub(remaining)),
                })
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Err(Limited {
                    usage: Usage {
                        bucket,
                        policy_item,
                        remaining: 0,
                        reset_secs: refill(policy.burst),
                    },
                    retry_after_secs: secs_up(wait).max(1),
                })
            }
        })
    }

    /// Takes one of `caller`'s open-socket places; the returned permit gives
    /// it back when dropped. `Err` with the cap when all are taken; `Ok(None)`
    /// when sockets are not capped.
    pub fn open_socket(self: &Arc<Self>, caller: CallerKey) -> Result<Option<SocketPermit>, u32> {
        let Some(cap) = self.limits.sockets else {
            return Ok(None);
        };
        let mut open = self.sockets.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(caller.clone()).or_default();
        if *count >= cap {
            return Err(cap);
        }
        *count += 1;
        Ok(Some(SocketPermit {
            limiter: Arc::clone(self),
            caller,
        }))
    }
}

/// One open socket of a caller, counted until dropped.
#[derive(Debug)]
pub struct SocketPermit {
    limiter: Arc<RateLimiter>,
    caller: CallerKey,
}

impl Drop for SocketPermit {
    fn drop(&mut self) {
        let mut open = self
            .limiter
            .sockets
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.caller) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.caller);
            }
        }
    }
}

/// The instance's limiter, when the app has one (tests may leave it out).
fn limiter(req: &HttpRequest) -> Option<&RateLimiter> {
    req.app_data::<web::Data<RateLimiter>>()
        .map(|data| &***data)
}

/// Records what a check saw and turns a refusal into the 429 answer.
fn settle(req: &HttpRequest, checked: Option<Result<Usage, Limited>>) -> Result<(), ApiError> {
    match checked {
        None => Ok(()),
        Some(Ok(usage)) => {
            record_usage(req, usage);
            Ok(())
        }
        Some(Err(limited)) => {
            let error = ApiError::rate_limited(limited.retry_after_secs);
            record_usage(req, limited.usage);
            Err(error)
        }
    }
}

/// Counts a request of the verified `caller`: 429 when over its limit.
pub fn limit_caller(req: &HttpRequest, caller: &CallerKey) -> Result<(), ApiError> {
    settle(req, limiter(req).and_then(|l| l.check_caller(caller)))
}

/// Counts a request that brought a token that did not verify, by the
/// client's address: 429 when over the limit (else the caller answers 401).
pub fn limit_client(req: &HttpRequest) -> Result<(), ApiError> {
    let Some(ip) = req.peer_addr().map(|addr| addr.ip()) else {
        return Ok(());
    };
    settle(req, limiter(req).and_then(|l| l.check_ip(ip)))
}

/// Counts a health probe by the client's address: 429 when over.
fn limit_probe(req: &HttpRequest) -> Result<(), ApiError> {
    let Some(ip) = req.peer_addr().map(|addr| addr.ip()) else {
        return Ok(());
    };
    settle(req, limiter(req).and_then(|l| l.check_probe(ip)))
}

/// Counts a ticket create of `customer`: 429 when over the create limit.
pub fn limit_create(req: &HttpRequest, customer: i64) -> Result<(), ApiError> {
    settle(req, limiter(req).and_then(|l| l.check_create(customer)))
}

/// Counts a comment of `customer`: 429 when over the comment limit.
pub fn limit_comment(req: &HttpRequest, customer: i64) -> Result<(), ApiError> {
    settle(req, limiter(req).and_then(|l| l.check_comment(customer)))
}

/// How long a client refused for too many sockets is told to wait (`/ws`
/// and Socket.IO alike).
pub const SOCKET_RETRY_AFTER_SECS: u64 = 5;

/// Takes one of `caller`'s open-socket places for the socket `req` is
/// about to open (held until the permit is dropped): 429 when all are
/// taken, before the upgrade.
pub fn open_socket(req: &HttpRequest, caller: CallerKey) -> Result<Option<SocketPermit>, ApiError> {
    let Some(limiter) = req.app_data::<web::Data<RateLimiter>>() else {
        return Ok(None);
    };
    limiter
        .clone()
        .into_inner()
        .open_socket(caller)
        .map_err(|cap| ApiError::too_many_sockets(cap, SOCKET_RETRY_AFTER_SECS))
}

/// Whether requests to `path` have their token verified (and so counted) by
/// the route, or by the API's not-found and method-not-allowed answers.
pub fn verifies_tokens(path: &str) -> bool {
    path.starts_with("/api/") || path == "/ws"
}

/// Whether requests to `path` are counted by their endpoint, whatever they
/// carry: Socket.IO's, whose session may have authenticated its caller in an
/// earlier request (counted by caller then, else by address).
pub fn counts_itself(path: &str) -> bool {
    matches!(path, "/socket.io/" | "/socket.io")
}

/// Whether the request carries a token anywhere a route looks for one
/// (header, WebSocket sub-protocol, `?token=`): such a request is counted
/// where the token is verified, by caller, or by address if it does not
/// verify ([`limit_client`]); one without is counted by address in
/// [`rate_limit`].
pub fn brings_a_token(req: &HttpRequest) -> bool {
    req.headers().contains_key(header::AUTHORIZATION)
        || req
            .headers()
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .any(|v| v.to_str().is_ok_and(|v| v.contains("bearer.")))
        || req
            .query_string()
            .split('&')
            .any(|pair| pair.starts_with("token="))
}

/// The key a client address is counted under: an IPv4 address, or the /64
/// an IPv6 address belongs to (one host usually holds a whole /64, and
/// would otherwise get a fresh bucket per address).
fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(prefix.into())
        }
        v4 => v4,
    }
}

fn secs_up(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// What the checks of one request saw: at most two buckets apply to one
/// request (its caller's and the create or comment limit, or its address's).
#[derive(Debug, Clone, Default)]
struct Usages([Option<Usage>; 2]);

/// Remembers `usage` on the request, for [`rate_limit`]'s headers.
fn record_usage(req: &HttpRequest, usage: Usage) {
    let mut extensions = req.extensions_mut();
    match extensions.get_mut::<Usages>() {
        Some(Usages(slots)) => {
            if let Some(free) = slots.iter_mut().find(|slot| slot.is_none()) {
                *free = Some(usage);
            }
        }
        None => {
            extensions.insert(Usages([Some(usage), None]));
        }
    }
}

/// Middleware: counts a request that brings no token by the client's
/// address (429 when over), and puts what the request's checks saw on its
/// response, as `RateLimit-Policy: "caller";q=60;w=6` (the bucket: `q`
/// requests back to back, earned back over `w` seconds) and
/// `RateLimit: "caller";r=59;t=1` (`r` left, full again in `t` seconds),
/// one item per bucket checked.
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let request = req.request();
    // Routes that verify a token count it there (by caller, or by address
    // when it does not verify); every other request is counted here.
    let counted = if matches!(request.path(), "/healthz" | "/readyz") {
        limit_probe(request)
    } else if counts_itself(request.path())
        || (brings_a_token(request) && verifies_tokens(request.path()))
    {
        Ok(())
    } else {
        limit_client(request)
    };
    if let Err(limited) = counted {
        let response = actix_web::ResponseError::error_response(&limited);
        let mut response = req.into_response(response);
        add_headers(&mut response);
        return Ok(response);
    }
    let mut response = next.call(req).await?.map_into_boxed_body();
    add_headers(&mut response);
    Ok(response)
}

fn add_headers<B>(response: &mut ServiceResponse<B>) {
    let Some(Usages(slots)) = response.request().extensions_mut().remove::<Usages>() else {
        return;
    };
    let usages = slots.iter().flatten();
    let mut policy: Option<HeaderValue> = None;
    let mut state = String::with_capacity(48);
    for (n, usage) in usages.enumerate() {
        policy = Some(match policy {
            None => usage.policy_item.clone(),
            Some(first) => {
                let joined = [first.as_bytes(), b", ", usage.policy_item.as_bytes()].concat();
                HeaderValue::from_bytes(&joined).unwrap_or(first)
            }
        });
        if n > 0 {
            state.push_str(", ");
        }
        let _ = write!(
            state,
            "\"{}\";r={};t={}",
            usage.bucket.name(),
            usage.remaining,
            usage.reset_secs
        );
    }
    let headers = response.headers_mut();
    if let Some(policy) = policy {
        headers.insert(HeaderName::from_static("ratelimit-policy"), policy);
    }
    if let Ok(state) = HeaderValue::from_str(&state) {
        headers.insert(HeaderName::from_static("ratelimit"), state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tight(quota: u32, burst: u32) -> Option<Policy> {
        Some(Policy {
            quota,
            window: Duration::from_secs(60),
            burst,
        })
    }

    #[test]
    fn the_setting_parses_changes_to_the_defaults() {
        assert_eq!("off".parse(), Ok(RateLimits::OFF));
        assert_eq!("".parse(), Ok(RateLimits::default()));
        let limits: RateLimits = "caller=100/1s:10, create=off, sockets=3".parse().unwrap();
        assert_eq!(
            limits.caller,
            Some(Policy {
                quota: 100,
                window: Duration::from_secs(1),
                burst: 10
            })
        );
        assert_eq!(limits.create, None);
        assert_eq!(limits.sockets, Some(3));
        assert_eq!(limits.comment, RateLimits::default().comment);
        let comments: RateLimits = "comment=5/1m".parse().unwrap();
        assert_eq!(
            comments.comment,
            Some(Policy {
                quota: 5,
                window: Duration::from_secs(60),
                burst: 5
            })
        );
        assert_eq!("comment=off".parse::<RateLimits>().unwrap().comment, None);
        assert_eq!(limits.ip, RateLimits::default().ip);
        let daily: RateLimits = "ip=5/2d".parse().unwrap();
        assert_eq!(daily.ip.unwrap().window, Duration::from_secs(2 * 86_400));
        assert_eq!(daily.ip.unwrap().burst, 5);
        for bad in [
            "caller",
            "caller=10",
            "caller=0/1m",
            "caller=10/1x",
            "sockets=0",
            "who=1/1s",
        ] {
            assert!(bad.parse::<RateLimits>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_caller_gets_its_burst_then_waits_and_others_are_not_affected() {
        let limiter = RateLimiter::new(RateLimits {
            caller: tight(60, 3),
            ..RateLimits::OFF
        });
        let alice = CallerKey {
            role: "customer".into(),
            user_id: 1,
        };
        let bob = CallerKey {
            role: "customer".into(),
            user_id: 2,
        };
        let remaining: Vec<u32> = (0..3)
            .map(|_| limiter.check_caller(&alice).unwrap().unwrap().remaining)
            .collect();
        assert_eq!(remaining, [2, 1, 0]);
        let limited = limiter.check_caller(&alice).unwrap().unwrap_err();
        assert_eq!(limited.retry_after_secs, 1, "one request back per second");
        assert!(limiter.check_caller(&bob).unwrap().is_ok());
        assert!(
            limiter.check_ip(IpAddr::from([127, 0, 0, 1])).is_none(),
            "off"
        );
    }

    #[test]
    fn comments_have_a_bucket_per_customer_apart_from_creates() {
        let limiter = RateLimiter::new(RateLimits {
            create: tight(60, 1),
            comment: tight(60, 2),
            ..RateLimits::OFF
        });
        assert_eq!(limiter.check_comment(5).unwrap().unwrap().remaining, 1);
        assert_eq!(limiter.check_comment(5).unwrap().unwrap().remaining, 0);
        assert!(limiter.check_comment(5).unwrap().is_err());
        assert!(
            limiter.check_comment(6).unwrap().is_ok(),
            "another customer"
        );
        assert!(limiter.check_create(5).unwrap().is_ok(), "creates apart");
        assert!(RateLimiter::new(RateLimits::OFF).check_comment(5).is_none());
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_bit_prefix() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let same_host: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(one), client_key(same_host));
        assert_ne!(client_key(one), client_key(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_key(mapped), IpAddr::from([192, 0, 2, 7]));
        let limiter = RateLimiter::new(RateLimits {
            ip: tight(60, 1),
            ..RateLimits::OFF
        });
        assert!(limiter.check_ip(one).unwrap().is_ok());
        assert!(limiter.check_ip(same_host).unwrap().is_err());
        assert!(limiter.check_ip(other).unwrap().is_ok());
        // Probes have a bucket of their own under the same policy.
        assert!(limiter.check_probe(one).unwrap().is_ok());
    }

    #[test]
    fn sockets_are_capped_per_caller_and_given_back() {
        let limiter = RateLimiter::new(RateLimits {
            sockets: Some(2),
            ..RateLimits::OFF
        });
        let caller = CallerKey {
            role: "staff".into(),
            user_id: 9,
        };
        let first = limiter.open_socket(caller.clone()).unwrap();
        let _second = limiter.open_socket(caller.clone()).unwrap();
        assert_eq!(limiter.open_socket(caller.clone()).unwrap_err(), 2);
        drop(first);
        assert!(limiter.open_socket(caller).is_ok());
    }
}
