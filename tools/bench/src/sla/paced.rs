//! Requests at a fixed rate (open loop) or as fast as the server answers
//! (closed loop), over keep-alive connections spread across the servers.
//!
//! Request `k` is due at `start + k × interval`; a connection takes the next
//! request when it is free and sends it no earlier than its due time. Its
//! latency counts from the due time, not from when it was sent, so a stalled
//! server is not hidden by requests that were sent late (coordinated
//! omission).

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use support_bench::loader::Connection;

/// Longest a single request may take before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// One answered request.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Its number `k` in the run.
    pub index: usize,
    /// When it was due.
    pub due: Instant,
    /// From its due time to its answer.
    pub latency: Duration,
    /// The HTTP status.
    pub status: u16,
    /// The body of a 2xx answer, if asked for.
    pub body: Vec<u8>,
}

/// What a run saw.
#[derive(Debug, Default)]
pub struct Paced {
    /// Every answered request, in the order answered.
    pub samples: Vec<Sample>,
    /// Requests without an answer (connection errors, timeouts).
    pub errors: u64,
    /// The first non-2xx answer: status and body.
    pub first_failure: Option<(u16, String)>,
    /// When the first request was due.
    pub started: Option<Instant>,
    /// When the last answer arrived.
    pub ended: Option<Instant>,
}

impl Paced {
    /// Answers with a 2xx status.
    pub fn ok(&self) -> usize {
        self.samples
            .iter()
            .filter(|s| (200..300).contains(&s.status))
            .count()
    }

    /// Answers with another status.
    pub fn non_2xx(&self) -> usize {
        self.samples.len() - self.ok()
    }
}

/// How a run sends its requests.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The servers; connection `c` goes to `addrs[c % addrs.len()]`.
    pub addrs: Vec<SocketAddr>,
    /// Connections in all.
    pub connections: usize,
    /// Requests in all.
    pub count: usize,
    /// Between two due times; zero: closed loop, as fast as answered.
    pub interval: Duration,
    /// Keep the bodies of 2xx answers.
    pub keep_bodies: bool,
}

/// Runs `plan`; `request(k, addr)` gives the bytes of request `k` sent to
/// `addr`.
pub async fn run<F>(plan: Plan, request: F) -> Paced
where
    F: Fn(usize, SocketAddr) -> Vec<u8> + 'static,
{
    let shared = Rc::new(Shared {
        next: Cell::new(0),
        start: Instant::now(),
        plan: plan.clone(),
        request,
        result: RefCell::new(Paced::default()),
    });
    shared.result.borrow_mut().started = Some(shared.start);
    let tasks: Vec<_> = (0..plan.connections.max(1))
        .filter_map(|c| {
            let addr = *plan.addrs.get(c % plan.addrs.len().max(1))?;
            Some(actix_web::rt::spawn(worker(addr, shared.clone())))
        })
        .collect();
    for task in tasks {
        // A worker only ends by returning.
        let _ = task.await;
    }
    shared.result.take()
}

struct Shared<F> {
    next: Cell<usize>,
    start: Instant,
    plan: Plan,
    request: F,
    result: RefCell<Paced>,
}

async fn worker<F>(addr: SocketAddr, shared: Rc<Shared<F>>)
where
    F: Fn(usize, SocketAddr) -> Vec<u8>,
{
    let mut connection: Option<Connection> = None;
    loop {
        let k = shared.next.get();
        if k >= shared.plan.count {
            return;
        }
        shared.next.set(k + 1);
        let due = if shared.plan.interval.is_zero() {
            // Closed loop: due when sent.
            Instant::now()
        } else {
            let due = shared.start + shared.plan.interval * u32::try_from(k).unwrap_or(u32::MAX);
            actix_web::rt::time::sleep_until(due.into()).await;
            due
        };
        let bytes = (shared.request)(k, addr);
        let answer = tokio::time::timeout(REQUEST_TIMEOUT, async {
            if connection.is_none() {
                connection = Some(Connection::open(addr).await?);
            }
            match connection.as_mut() {
                Some(open) => open.exchange(&bytes).await,
                None => Err("no connection".into()),
            }
        })
        .await;
        let answered = Instant::now();
        let mut result = shared.result.borrow_mut();
        result.ended = Some(answered);
        match answer {
            Ok(Ok(response)) => {
                let ok = (200..300).contains(&response.status);
                if !ok && result.first_failure.is_none() {
                    let body = String::from_utf8_lossy(&response.body).into_owned();
                    result.first_failure = Some((response.status, body));
                }
                if response.close {
                    connection = None;
                }
                result.samples.push(Sample {
                    index: k,
                    due,
                    latency: answered.saturating_duration_since(due),
                    status: response.status,
                    body: if ok && shared.plan.keep_bodies {
                        response.body
                    } else {
                        Vec::new()
                    },
                });
            }
            Ok(Err(_)) | Err(_) => {
                result.errors += 1;
                connection = None;
            }
        }
    }
}
