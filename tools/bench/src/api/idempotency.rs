//! What `Idempotency-Key`s cost (docs/api.md, "Idempotency keys"): right
//! after the create phase, with its connections, warm-up and duration,
//!
//! 1. `POST /tickets` with a fresh key each, as customer 4: every request
//!    creates a ticket and stores its answer in the same transaction.
//!    Afterwards every 2xx answer's ticket must be listed, none twice.
//! 2. One keyed `POST /tickets` replayed, as customer 5: the first request
//!    creates the ticket, every later one must get the stored answer (2xx,
//!    `Idempotent-Replayed: true`) and create nothing.
//!
//! Both use the benchmark's loader: oha sends the same headers every time
//! and cannot check a response header.

use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::rc::Rc;
use std::time::Instant;

use support_bench::BoxError;
use support_bench::loader::{self, Connection, LoadResult};
use support_bench::server::Server;
use support_domain::UserId;
use support_http::{JwtSettings, TokenSigner};

use crate::cpu::CpuProbe;
use crate::report::{Phase, Row};
use crate::{
    API, Backend, Bench, CREATE_BODY, CreatedData, Envelope, Measured, TOKEN_TTL_SECS,
    report_failure,
};

/// Customer 4: creates tickets with a fresh key each.
const KEYED_CREATOR_ID: i64 = 4;

/// Customer 5: sends one keyed create over and over.
const REPLAYER_ID: i64 = 5;

/// The header the keys go in.
const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// The one key of the replayed phase.
const REPLAYED_KEY: &str = "api-bench-replayed";

/// The rows and notes of both phases.
pub struct Keyed {
    /// Keyed create, then replayed.
    pub rows: Vec<Row>,
    /// What the checks found.
    pub notes: Vec<String>,
}

impl Bench<'_> {
    /// Both phases on `server`, which runs on `backend`.
    pub(crate) async fn idempotency_phases(
        &self,
        server: &Server,
        backend: Backend,
    ) -> Result<Keyed, BoxError> {
        let signer = TokenSigner::hs256(self.secret.as_bytes(), JwtSettings::default())?;
        let sign = |id| -> Result<String, BoxError> {
            Ok(signer.sign(UserId::new(id)?, "customer", None, TOKEN_TTL_SECS)?)
        };
        let (creator, replayer) = (sign(KEYED_CREATOR_ID)?, sign(REPLAYER_ID)?);
        let load = format!("closed, {} conns, api-bench loader", self.args.connections);
        let label = backend.label();

        let (warm, keyed, note) = self.keyed_create(server, &creator).await?;
        let mut rows = vec![Row::new(
            Phase::KeyedCreate,
            backend,
            load.clone(),
            keyed,
            warm,
            server.peak_rss_kib()?,
        )];
        let mut notes = vec![format!("{label}: {note}")];

        let (warm, replayed, note) = self.replayed(server, &replayer).await?;
        rows.push(Row::new(
            Phase::Replayed,
            backend,
            load,
            replayed,
            warm,
            server.peak_rss_kib()?,
        ));
        notes.push(format!("{label}: {note}"));
        Ok(Keyed { rows, notes })
    }

    /// `POST /tickets` as `token` with `Idempotency-Key: api-bench-<n>`, n
    /// counting up over the warm-up and the measured run; then customer 4's
    /// open tickets are listed and compared with the answers. Returns the
    /// warm-up, the measured run and a note.
    async fn keyed_create(
        &self,
        server: &Server,
        token: &str,
    ) -> Result<(Measured, Measured, String), BoxError> {
        let next_key = Rc::new(Cell::new(0_u64));
        let requests = || {
            let (next_key, addr, token) = (next_key.clone(), server.addr(), token.to_owned());
            let path = format!("{API}/tickets");
            std::iter::from_fn(move || {
                let n = next_key.replace(next_key.get() + 1);
                let key = format!("api-bench-{n}");
                Some(loader::request_with_headers(
                    addr,
                    "POST",
                    &path,
                    &token,
                    &[(IDEMPOTENCY_KEY, &key)],
                    Some(CREATE_BODY),
                ))
            })
        };
        let (warm, run, measured) = self
            .warm_then_measure(server, "keyed create", requests, true)
            .await?;

        // Every 2xx answer names a ticket of its own, and it is stored.
        let mut answered = ticket_ids(&warm)?;
        answered.extend(ticket_ids(&run)?);
        let distinct: HashSet<i64> = answered.iter().copied().collect();
        let listed: HashSet<i64> = self
            .open_tickets(server, token)
            .await?
            .into_iter()
            .collect();
        let missing = distinct.difference(&listed).count();
        let unanswered = listed.difference(&distinct).count();
        let replayed = warm.replayed + run.replayed;
        let failed = warm.non_2xx + warm.errors + run.non_2xx + run.errors;
        let mut note = format!(
            "keyed create: {} 2xx answers (warm-up included) naming {} distinct tickets, {} \
             marked replayed; customer {KEYED_CREATOR_ID} then listed {} open tickets",
            answered.len(),
            distinct.len(),
            replayed,
            listed.len()
        );
        if distinct.len() < answered.len() {
            let _ = write!(
                note,
                "; {} answers named a ticket ANOTHER KEY ALREADY GOT",
                answered.len() - distinct.len()
            );
        }
        if replayed > 0 {
            note.push_str("; fresh keys must never be REPLAYED");
        }
        if missing > 0 {
            let _ = write!(
                note,
                "; {missing} acknowledged tickets are MISSING, a durability bug"
            );
        } else {
            note.push_str(", every acknowledged one among them");
        }
        if unanswered > 0 {
            let _ = write!(
                note,
                "; {unanswered} stored tickets got no 2xx answer{}",
                if failed == 0 {
                    " although every request got one: a create MADE TWICE"
                } else {
                    " (requests without a 2xx answer may have been stored)"
                }
            );
        } else {
            note.push_str(", none more");
        }
        note.push('.');
        Ok((Measured::from_load(&warm), measured, note))
    }

    /// One keyed `POST /tickets` as `token`, sent alone (it creates the
    /// ticket), then alone again (the stored answer, byte for byte), then
    /// over and over with the loader: a warm-up and the measured run. The
    /// customer's open tickets are counted before and after the load.
    /// Returns the warm-up, the measured run and a note.
    async fn replayed(
        &self,
        server: &Server,
        token: &str,
    ) -> Result<(Measured, Measured, String), BoxError> {
        let request = loader::request_with_headers(
            server.addr(),
            "POST",
            &format!("{API}/tickets"),
            token,
            &[(IDEMPOTENCY_KEY, REPLAYED_KEY)],
            Some(CREATE_BODY),
        );
        let mut connection = Connection::open(server.addr()).await?;
        let first = connection.exchange(&request).await?;
        if !(200..300).contains(&first.status) || first.replayed {
            return Err(format!(
                "the first keyed create got HTTP {}{}: {}",
                first.status,
                if first.replayed { " (replayed)" } else { "" },
                String::from_utf8_lossy(&first.body)
            )
            .into());
        }
        let ticket = serde_json::from_slice::<Envelope<CreatedData>>(&first.body)?
            .data
            .ticket_id;
        let again = connection.exchange(&request).await?;
        drop(connection);
        let before = self.open_tickets(server, token).await?.len();

        let requests = || std::iter::repeat(request.clone());
        let (warm, run, measured) = self
            .warm_then_measure(server, "replayed", requests, false)
            .await?;
        eprintln!(
            "replayed: {} of {} 2xx marked replayed",
            run.replayed, run.ok
        );
        let after = self.open_tickets(server, token).await?.len();

        let ok = warm.ok + run.ok;
        let marked = warm.replayed + run.replayed;
        let mut note = format!(
            "replayed: the first request created ticket {ticket} (HTTP {}, not marked replayed); \
             the second, sent alone, got HTTP {}{}{}",
            first.status,
            again.status,
            if again.replayed {
                " marked replayed"
            } else {
                " NOT MARKED replayed"
            },
            if again.body == first.body {
                " with the first answer's body byte for byte"
            } else {
                " with ANOTHER BODY than the first answer"
            }
        );
        let _ = write!(
            note,
            "; the load's {ok} 2xx answers (warm-up included): {marked} marked \
             `Idempotent-Replayed: true`{}",
            if marked == ok {
                ", all of them"
            } else {
                ", the others NOT"
            }
        );
        let (non_2xx, errors) = (warm.non_2xx + run.non_2xx, warm.errors + run.errors);
        if non_2xx + errors > 0 {
            let _ = write!(
                note,
                "; {non_2xx} answers NOT 2xx{} and {errors} requests without an answer",
                first_failure(&warm, &run)
            );
        }
        let verdict = match after.cmp(&before) {
            Ordering::Equal => ": the replays created nothing".to_owned(),
            Ordering::Greater => format!(": the replays CREATED {} TICKETS", after - before),
            Ordering::Less => ": tickets DISAPPEARED".to_owned(),
        };
        let _ = write!(
            note,
            "; customer {REPLAYER_ID}'s open tickets: {before} before the load, {after} \
             after{verdict}."
        );
        Ok((Measured::from_load(&warm), measured, note))
    }
}

impl Bench<'_> {
    /// `requests()` with the loader over the phase's connections: a
    /// warm-up, then the measured run with the server's CPU, each reported
    /// (as `what`) if an answer failed. Returns both loads and what was
    /// measured.
    async fn warm_then_measure<I>(
        &self,
        server: &Server,
        what: &str,
        requests: impl Fn() -> I,
        keep_bodies: bool,
    ) -> Result<(LoadResult, LoadResult, Measured), BoxError>
    where
        I: Iterator<Item = Vec<u8>> + 'static,
    {
        let connections = self.args.connections;
        let warm = loader::run(
            server.addr(),
            connections,
            requests(),
            Some(Instant::now() + self.warmup()),
            keep_bodies,
        )
        .await;
        report_failure(&format!("{what} (warm-up)"), &warm);
        let probe = CpuProbe::start(server)?;
        let run = loader::run(
            server.addr(),
            connections,
            requests(),
            Some(Instant::now() + self.duration()),
            keep_bodies,
        )
        .await;
        let cpu = probe.stop(server)?;
        report_failure(what, &run);
        let measured = Measured {
            cpu: Some(cpu),
            ..Measured::from_load(&run)
        };
        eprintln!(
            "{what}: {:.0}/s, p50 {:?}, p99 {:?}, non-2xx {}, errors {}",
            measured.rps(),
            measured.p50,
            measured.p99,
            measured.non_2xx,
            measured.errors
        );
        Ok((warm, run, measured))
    }
}

/// " (the first: HTTP 409 `IDEMPOTENCY_KEY_IN_USE`)": the first non-2xx
/// answer of `warm`, else of `run`, if any.
fn first_failure(warm: &LoadResult, run: &LoadResult) -> String {
    let Some((status, body)) = warm.first_failure.as_ref().or(run.first_failure.as_ref()) else {
        return String::new();
    };
    let code = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|body| body["errorCode"].as_str().map(|code| format!(" `{code}`")))
        .unwrap_or_default();
    format!(" (the first: HTTP {status}{code})")
}

/// The ticket ids of a create load's 2xx answers, in their order.
fn ticket_ids(load: &LoadResult) -> Result<Vec<i64>, BoxError> {
    load.bodies
        .iter()
        .map(|body| {
            serde_json::from_slice::<Envelope<CreatedData>>(body)
                .map(|created| created.data.ticket_id)
                .map_err(Into::into)
        })
        .collect()
}
