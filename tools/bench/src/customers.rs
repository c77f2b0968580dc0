//! The customer mode of `ws-bench`: N customers' apps, each with a socket of
//! its own and its own user id, and S staff dashboards, while random
//! connected customers create tickets at a fixed rate. Measures how long an
//! event takes to reach its owner and the staff, whether any socket got an
//! event it may not see, and what the server spends per event and per
//! socket. See docs/benchmarks.md.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::Deserialize;
use serde_json::json;
use support_bench::procfs::CpuTime;
use support_bench::server::Server;
use support_bench::{BoxError, procfs};
use support_domain::UserId;
use support_http::TokenSigner;

use crate::dashboards::{Dashboards, Delivery};
use crate::post::KeepAlive;

/// Where customers create tickets.
const TICKETS_PATH: &str = "/api/customer/mtables/support/tickets";
/// Threads sending the creates, each on its own keep-alive connection.
const SENDERS: usize = 8;
/// How long the last events get to arrive after the last create.
const GRACE: Duration = Duration::from_secs(2);
/// Staff user ids start here, well clear of the customers'.
const FIRST_STAFF_ID: i64 = 10_000_000;

/// One round's shape.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Customer sockets, one per customer.
    pub customers: usize,
    /// Staff dashboards.
    pub staff: usize,
    /// Creates per second.
    pub rate: u32,
    /// How long the creates go on.
    pub duration: Duration,
    /// WebSocket handshakes in flight at once while connecting.
    pub concurrency: usize,
}

/// What one round measured.
#[derive(Debug)]
pub struct CustomerRound {
    /// The round's shape.
    pub shape: Shape,
    /// Time to open every socket.
    pub open_time: Duration,
    /// Creates answered with 200.
    pub created: usize,
    /// Creates that failed (another status, or no answer).
    pub failed: usize,
    /// From the first create sent to the last answered.
    pub load_time: Duration,
    /// Per event, from its create's answer to the owner reading its frame.
    pub owner: Vec<Duration>,
    /// Per event and staff socket, the same.
    pub staff: Vec<Duration>,
    /// Events whose owner never got the frame.
    pub owner_missed: usize,
    /// Staff deliveries that never came.
    pub staff_missed: usize,
    /// Frames a customer socket got about another customer's ticket.
    pub foreign: usize,
    /// Frames a socket got twice.
    pub duplicates: usize,
    /// Server RSS before any socket, idle with all of them, after the load (KiB).
    pub rss_kib: (u64, u64, u64),
    /// Server CPU during the load.
    pub server_cpu: CpuTime,
    /// Sockets the server closed.
    pub dropped: usize,
}

impl CustomerRound {
    /// Sockets open in the round.
    pub fn sockets(&self) -> usize {
        self.shape.customers + self.shape.staff
    }

    /// Idle server memory per socket, in KiB.
    pub fn rss_per_socket_kib(&self) -> f64 {
        let (before, idle, _) = self.rss_kib;
        idle.saturating_sub(before) as f64 / self.sockets().max(1) as f64
    }

    /// Server CPU per event (user + system).
    pub fn cpu_per_event(&self) -> Duration {
        let events = u32::try_from(self.created.max(1)).unwrap_or(u32::MAX);
        (self.server_cpu.user + self.server_cpu.system) / events
    }

    /// Events per second the server took.
    pub fn achieved_rate(&self) -> f64 {
        self.created as f64 / self.load_time.as_secs_f64().max(f64::EPSILON)
    }
}

/// A ticket created by the load, with when its create was answered.
#[derive(Debug)]
struct Created {
    ticket: i64,
    owner: usize,
    answered: Instant,
}

#[derive(Deserialize)]
struct CreatedBody {
    data: CreatedData,
}

#[derive(Deserialize)]
struct CreatedData {
    #[serde(rename = "ticketId")]
    ticket_id: i64,
}

/// Runs one round on `server`.
pub async fn measure(
    server: &Server,
    signer: &TokenSigner,
    shape: Shape,
    token_ttl_secs: i64,
) -> Result<CustomerRound, BoxError> {
    let sign = |id: i64, role: &str| -> Result<String, BoxError> {
        Ok(signer.sign(UserId::new(id)?, role, None, token_ttl_secs)?)
    };
    let customer_tokens = (1..=shape.customers as i64)
        .map(|id| sign(id, "customer"))
        .collect::<Result<Vec<_>, _>>()?;
    let staff_tokens = (0..shape.staff as i64)
        .map(|n| sign(FIRST_STAFF_ID + n, "staff"))
        .collect::<Result<Vec<_>, _>>()?;

    let rss_before = server.rss_kib()?;
    eprintln!("customers={}: opening sockets ...", shape.customers);
    let started = Instant::now();
    let url = server.ws_url("/ws");
    let mut customers = Dashboards::open_each(&url, &customer_tokens, shape.concurrency).await?;
    let mut staff = Dashboards::open_each(&url, &staff_tokens, shape.concurrency).await?;
    let open_time = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle = server.rss_kib()?;
    eprintln!(
        "customers={}: {} sockets open in {open_time:.2?}; creating {}/s for {:?}",
        shape.customers,
        shape.customers + shape.staff,
        shape.rate,
        shape.duration
    );

    let cpu_before = server.cpu_time()?;
    let tokens = Arc::new(customer_tokens);
    let addr = server.addr();
    let load = actix_web::rt::task::spawn_blocking(move || create_load(addr, &tokens, shape))
        .await?
        .map_err(BoxError::from)?;
    let server_cpu = server.cpu_time()?.since(cpu_before);
    tokio::time::sleep(GRACE).await;
    let rss_after = server.rss_kib()?;

    let customer_deliveries = customers.drain();
    let staff_deliveries = staff.drain();
    let mut round = CustomerRound {
        shape,
        open_time,
        created: load.created.len(),
        failed: load.failed,
        load_time: load.elapsed,
        owner: Vec::new(),
        staff: Vec::new(),
        owner_missed: 0,
        staff_missed: 0,
        foreign: 0,
        duplicates: 0,
        rss_kib: (rss_before, rss_idle, rss_after),
        server_cpu,
        dropped: customers.ended() + staff.ended(),
    };
    score(
        &mut round,
        &load.created,
        &customer_deliveries,
        &staff_deliveries,
    );
    Ok(round)
}

/// What the load threads did.
struct Load {
    created: Vec<Created>,
    failed: usize,
    elapsed: Duration,
}

/// Creates tickets at `shape.rate` for `shape.duration`, each by a random
/// customer, from [`SENDERS`] threads on keep-alive connections. A thread
/// that falls behind its schedule sends at once (the achieved rate says so).
fn create_load(addr: SocketAddr, tokens: &Arc<Vec<String>>, shape: Shape) -> Result<Load, String> {
    let total = (f64::from(shape.rate) * shape.duration.as_secs_f64()) as usize;
    let interval = Duration::from_secs_f64(1.0 / f64::from(shape.rate.max(1)));
    let start = Instant::now() + Duration::from_millis(100);
    let (sender, results) = mpsc::channel();
    let threads: Vec<_> = (0..SENDERS)
        .map(|first| {
            let tokens = tokens.clone();
            let sender = sender.clone();
            std::thread::spawn(move || -> Result<usize, String> {
                let mut connection = KeepAlive::connect(addr).map_err(|e| e.to_string())?;
                let mut rng = rand::rng();
                let mut failed = 0;
                for number in (first..total).step_by(SENDERS) {
                    let due = start + interval * u32::try_from(number).unwrap_or(u32::MAX);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let owner = rng.random_range(0..tokens.len());
                    let body = json!({
                        "issueType": "other",
                        "description": format!("customer bench ticket {number}"),
                    })
                    .to_string();
                    match connection.post_json(TICKETS_PATH, &tokens[owner], body.as_bytes()) {
                        Ok(posted) if posted.status == 200 => {
                            let created: CreatedBody =
                                serde_json::from_slice(&posted.body).map_err(|e| e.to_string())?;
                            let _ = sender.send(Created {
                                ticket: created.data.ticket_id,
                                owner,
                                answered: posted.answered,
                            });
                        }
                        Ok(_) => failed += 1,
                        Err(_) => {
                            failed += 1;
                            connection = KeepAlive::connect(addr).map_err(|e| e.to_string())?;
                        }
                    }
                }
                Ok(failed)
            })
        })
        .collect();
    drop(sender);
    let mut failed = 0;
    for thread in threads {
        failed += thread
            .join()
            .map_err(|_| "a load thread panicked".to_owned())?
            .map_err(|e| format!("load thread: {e}"))?;
    }
    let created: Vec<Created> = results.into_iter().collect();
    let last = created.iter().map(|c| c.answered).max().unwrap_or(start);
    Ok(Load {
        created,
        failed,
        elapsed: last.saturating_duration_since(start),
    })
}

/// Matches the deliveries to the creates.
fn score(
    round: &mut CustomerRound,
    created: &[Created],
    customer_deliveries: &[Delivery],
    staff_deliveries: &[Delivery],
) {
    let by_ticket: HashMap<i64, &Created> = created.iter().map(|c| (c.ticket, c)).collect();
    let mut owner_seen: HashSet<i64> = HashSet::new();
    for delivery in customer_deliveries {
        let Some(event) = by_ticket.get(&delivery.ticket) else {
            continue;
        };
        if delivery.client != event.owner {
            round.foreign += 1;
        } else if !owner_seen.insert(delivery.ticket) {
            round.duplicates += 1;
        } else {
            round
                .owner
                .push(delivery.at.saturating_duration_since(event.answered));
        }
    }
    round.owner_missed = created.len() - owner_seen.len();
    let mut staff_seen: HashSet<(i64, usize)> = HashSet::new();
    for delivery in staff_deliveries {
        let Some(event) = by_ticket.get(&delivery.ticket) else {
            continue;
        };
        if !staff_seen.insert((delivery.ticket, delivery.client)) {
            round.duplicates += 1;
        } else {
            round
                .staff
                .push(delivery.at.saturating_duration_since(event.answered));
        }
    }
    round.staff_missed = created.len() * round.shape.staff - staff_seen.len();
}

/// Fails early when this process may not open `sockets` sockets.
pub fn check_limits(sockets: usize, spare: u64) -> Result<(), BoxError> {
    if let Some(limit) = procfs::open_files_limit()
        && limit < sockets as u64 + spare
    {
        return Err(format!(
            "the open-file limit is {limit}, too low for {sockets} sockets: raise it \
             (`ulimit -n`), or measure fewer customers"
        )
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(staff: usize) -> CustomerRound {
        CustomerRound {
            shape: Shape {
                customers: 3,
                staff,
                rate: 1,
                duration: Duration::from_secs(1),
                concurrency: 1,
            },
            open_time: Duration::ZERO,
            created: 2,
            failed: 0,
            load_time: Duration::from_secs(1),
            owner: Vec::new(),
            staff: Vec::new(),
            owner_missed: 0,
            staff_missed: 0,
            foreign: 0,
            duplicates: 0,
            rss_kib: (1000, 1100, 1100),
            server_cpu: CpuTime::default(),
            dropped: 0,
        }
    }

    #[test]
    fn deliveries_are_matched_to_their_owner_and_the_staff() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let created = [
            Created {
                ticket: 10,
                owner: 0,
                answered: t0,
            },
            Created {
                ticket: 11,
                owner: 2,
                answered: t0,
            },
        ];
        let to = |client, ticket, after| Delivery {
            client,
            ticket,
            at: t0 + ms(after),
        };
        let customers = [
            to(0, 10, 3),
            to(0, 10, 4), // again
            to(1, 11, 5), // not its ticket
            to(0, 99, 1), // not created by this round
        ];
        let staff = [to(0, 10, 2), to(0, 11, 6), to(0, 11, 7)];
        let mut r = round(1);
        score(&mut r, &created, &customers, &staff);
        assert_eq!(r.owner, [ms(3)]);
        assert_eq!(r.owner_missed, 1, "ticket 11's owner got nothing");
        assert_eq!(r.foreign, 1);
        assert_eq!(r.duplicates, 2);
        assert_eq!(r.staff, [ms(2), ms(6)]);
        assert_eq!(r.staff_missed, 0);
        assert!((r.rss_per_socket_kib() - 25.0).abs() < f64::EPSILON);
    }
}
