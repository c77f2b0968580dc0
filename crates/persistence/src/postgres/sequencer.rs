//! Numbering committed PostgreSQL events: the log order.
//!
//! Writers insert their event unpositioned and commit on their own (see
//! [`crate::event_append`]), then ask the [`Sequencer`] for its position.
//! The sequencer calls `support_position_events()` (defined by the
//! migrations), which numbers *every* committed unpositioned event, under a
//! transaction-level advisory lock so that calls from every instance take
//! turns: each call's positions are above every position a previous call
//! made visible, which is what lets readers resume after any position they
//! have seen.
//!
//! Requests that arrive while a call is running wait for the next one, and
//! that one call serves them all ([`super::batch`]): under load, one round
//! trip and one commit number many events, instead of every writer's commit
//! waiting for the one before (which capped writes at one WAL flush each). A writer answers only
//! once its event has a position, so what it hands back is where readers
//! will see it.
//!
//! An event whose writer stopped between commit and numbering (a crash) is
//! numbered by the next call from any instance, when an instance starts
//! ([`Sequencer::position_pending`]), and by every instance's periodic sweep
//! ([`Sequencer::spawn_sweep`]), so also while nobody writes.
//!
//! A writer whose numbering fails (the database gone between its commit and
//! the call, for longer than the attempts last) is told the store is
//! unavailable although its change committed, like a client whose `COMMIT`
//! acknowledgement was lost; its event is numbered by the next call or sweep.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Nullable};
use diesel_async::RunQueryDsl;
use support_domain::RepositoryError;
use tokio::task::JoinHandle;

use super::batch::{self, Batched, Batcher};
use crate::connections::PgPool;
use crate::errors::{classify, unavailable};
use crate::executor::Executor;
use crate::prepared::Prepared;

/// How many times one batch is tried: a pooled connection that died since
/// its last use fails the first attempt. Every attempt is safe to repeat: a
/// call only numbers events that have no position yet, and returns the
/// positions of the wanted ones whoever numbered them.
const ATTEMPTS: usize = 2;

/// How often [`Sequencer::spawn_sweep`] numbers what nobody asked for.
pub(crate) const SWEEP_PERIOD: Duration = Duration::from_secs(5);

/// Sends position requests as calls of `support_position_events()`.
pub(crate) struct Numbering {
    pool: PgPool,
}

/// Batches position requests ([`super::batch`]). One per
/// [`crate::Database`] handle; cheap to share.
pub(crate) type Sequencer = Batcher<Numbering>;

/// One row of `support_position_events()`.
#[derive(QueryableByName)]
struct Numbered {
    #[diesel(sql_type = BigInt)]
    event_id: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    event_position: Option<i64>,
}

/// A sequencer whose calls run where `executor` says.
pub(crate) fn sequencer(pool: PgPool, executor: Executor) -> Arc<Sequencer> {
    Batcher::new(Numbering { pool }, executor)
}

impl Sequencer {
    /// The position of the committed event with row id `row_id`, once
    /// readers can see it there.
    pub(crate) async fn position(self: &Arc<Self>, row_id: i64) -> Result<i64, RepositoryError> {
        self.submit(row_id).await
    }

    /// Numbers whatever committed events are still unpositioned (left by a
    /// writer that stopped between its commit and its numbering).
    pub(crate) async fn position_pending(self: &Arc<Self>) -> Result<(), RepositoryError> {
        let this = Arc::clone(self);
        self.executor()
            .run(async move { this.sender().call(Vec::new()).await.map(drop) })
            .await
            .map_err(unavailable)?
    }

    /// Every `period`, numbers whatever committed events are still
    /// unpositioned, so an event whose writer stopped before asking (a
    /// crash) becomes readable even while nobody writes. Runs until the
    /// handle is aborted.
    pub(crate) fn spawn_sweep(self: &Arc<Self>, period: Duration) -> JoinHandle<()> {
        let this = Arc::clone(self);
        self.executor().spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(error) = this.sender().call(Vec::new()).await {
                    tracing::warn!(%error, "numbering pending events failed; retrying later");
                }
            }
        })
    }
}

impl Numbering {
    /// One call of `support_position_events(wanted)`: the positions of the
    /// wanted row ids, by row id.
    async fn call(&self, wanted: Vec<i64>) -> Result<HashMap<i64, i64>, RepositoryError> {
        let mut last_error = None;
        for _ in 0..ATTEMPTS {
            match self.call_once(wanted.clone()).await {
                Ok(rows) => {
                    return Ok(rows
                        .into_iter()
                        .filter_map(|row| Some((row.event_id, row.event_position?)))
                        .collect());
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| unavailable("the event sequencer made no attempt")))
    }

    /// One attempt. The function gives up on its lock after `lock_timeout`
    /// (5 s, see the migration); [`batch::on_connection`] bounds the rest,
    /// such as a connection that stopped answering.
    async fn call_once(&self, wanted: Vec<i64>) -> Result<Vec<Numbered>, RepositoryError> {
        batch::on_connection(&self.pool, "event numbering", async |conn| {
            Prepared::sql(
                "SELECT event_id, event_position FROM support_position_events($1)",
                |q| q.bind::<Array<BigInt>, _>(wanted),
            )
            .load::<Numbered>(conn)
            .await
            .map_err(classify)
        })
        .await?
    }
}

#[async_trait]
impl Batched for Numbering {
    type Request = i64;
    type Reply = i64;
    const NAME: &'static str = "event numbering";

    /// One call for the whole batch; each writer gets its own event's position.
    async fn send(&self, batch: Vec<i64>) -> Vec<Result<i64, RepositoryError>> {
        let mut result = self.call(batch.clone()).await;
        batch
            .into_iter()
            .map(|id| match &mut result {
                Ok(positions) => positions
                    .remove(&id)
                    .ok_or_else(|| RepositoryError::Corrupt(format!("event {id} has no position"))),
                Err(e) => Err(e.clone()),
            })
            .collect()
    }
}
