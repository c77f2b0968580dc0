//! Group commit: requests that arrive while a round trip is running are sent
//! together by the next one.
//!
//! Under load, one statement (and for writes one commit) then serves many
//! callers instead of one each; when idle, a request is sent at once. Used
//! on PostgreSQL, where a round trip and a commit cost more than the rows
//! they carry, for creates ([`super::ticket_insert`]), ticket changes
//! ([`super::ticket_update`]), event numbering ([`super::sequencer`]),
//! points awards ([`super::points_ledger`]) and the most frequent reads
//! ([`super::batched_reads`]).
//!
//! One batch of a batcher is out at a time: a handle's batches of one kind
//! use one of its connections at a time, which keeps a small PostgreSQL
//! busy without queueing on its side (a handle per worker, a few kinds).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use deadpool::managed::Object;
use diesel_async::AsyncPgConnection;
use support_domain::RepositoryError;
use tokio::sync::oneshot;

use crate::connections::PgPool;
use crate::errors::unavailable;
use crate::executor::Executor;

/// Longest a batch's statement may run: a connection that stopped answering
/// must not hold up the requests queued behind its batch for longer.
pub(crate) const STATEMENT_LIMIT: Duration = Duration::from_secs(8);

/// Runs `statement` on a connection of `pool` (the checkout is bounded by
/// the pool's wait timeout), for at most [`STATEMENT_LIMIT`]. A connection
/// whose statement overran is closed instead of going back to the pool,
/// where the next batch would queue behind what it is still doing. An
/// overrun write may still commit: its callers are told the store is
/// unavailable, as for any write whose answer is lost.
pub(crate) async fn on_connection<T>(
    pool: &PgPool,
    what: &str,
    statement: impl AsyncFnOnce(&mut AsyncPgConnection) -> T,
) -> Result<T, RepositoryError> {
    within(STATEMENT_LIMIT, pool, what, statement).await
}

/// [`on_connection`] with a given `limit`.
async fn within<T>(
    limit: Duration,
    pool: &PgPool,
    what: &str,
    statement: impl AsyncFnOnce(&mut AsyncPgConnection) -> T,
) -> Result<T, RepositoryError> {
    let mut conn = pool.get().await.map_err(unavailable)?;
    match tokio::time::timeout(limit, statement(&mut conn)).await {
        Ok(output) => Ok(output),
        Err(_) => {
            drop(Object::take(conn));
            Err(unavailable(format!("{what} took over {limit:?}")))
        }
    }
}

/// What is sent in batches, and how.
#[async_trait]
pub(crate) trait Batched: Send + Sync + 'static {
    /// One caller's request.
    type Request: Send + 'static;
    /// One caller's answer.
    type Reply: Send + 'static;
    /// What is batched, for error messages.
    const NAME: &'static str;

    /// Sends `batch` in as few round trips as it can: one answer per
    /// request, in the same order.
    async fn send(&self, batch: Vec<Self::Request>) -> Vec<Result<Self::Reply, RepositoryError>>;
}

/// A request waiting for its batch, and where its answer goes.
type Waiter<B> = (
    <B as Batched>::Request,
    oneshot::Sender<Result<<B as Batched>::Reply, RepositoryError>>,
);

/// Requests not yet sent, and whether a drain task is sending them.
struct Queue<B: Batched> {
    waiting: Vec<Waiter<B>>,
    draining: bool,
}

/// Batches the requests of concurrent callers into [`Batched::send`] calls,
/// one at a time, on `executor`. Cheap to share.
pub(crate) struct Batcher<B: Batched> {
    sender: B,
    executor: Executor,
    queue: Mutex<Queue<B>>,
}

impl<B: Batched> Batcher<B> {
    /// A batcher whose sends run on `executor`.
    pub(crate) fn new(sender: B, executor: Executor) -> Arc<Self> {
        Arc::new(Self {
            sender,
            executor,
            queue: Mutex::new(Queue {
                waiting: Vec::new(),
                draining: false,
            }),
        })
    }

    /// What sends the batches, for calls outside a batch.
    pub(crate) fn sender(&self) -> &B {
        &self.sender
    }

    /// The executor the sends run on.
    pub(crate) fn executor(&self) -> &Executor {
        &self.executor
    }

    /// The queue, even if a panic elsewhere poisoned its lock (it holds no
    /// invariant a panic could break half-way).
    fn lock_queue(&self) -> MutexGuard<'_, Queue<B>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `request` with the next batch and waits for its answer. A
    /// caller that stops waiting does not stop the batch: its request is
    /// sent anyway.
    pub(crate) async fn submit(
        self: &Arc<Self>,
        request: B::Request,
    ) -> Result<B::Reply, RepositoryError> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut queue = self.lock_queue();
            queue.waiting.push((request, reply));
            !std::mem::replace(&mut queue.draining, true)
        };
        if start {
            let drain = Drain {
                batcher: Arc::clone(self),
                finished: false,
            };
            drop(self.executor.spawn(drain.run()));
        }
        answer
            .await
            .map_err(|_| unavailable(format!("the {} stopped before it answered", B::NAME)))?
    }
}

/// The task that sends waiting requests. If it is dropped before it ran
/// dry (a runtime shutting down), its waiters are told so and the next
/// request starts a new one: nobody waits for an answer that never comes.
struct Drain<B: Batched> {
    batcher: Arc<Batcher<B>>,
    finished: bool,
}

impl<B: Batched> Drain<B> {
    /// Sends every waiting request, batch after batch, until none is left.
    async fn run(mut self) {
        loop {
            let batch = {
                let mut queue = self.batcher.lock_queue();
                if queue.waiting.is_empty() {
                    queue.draining = false;
                    self.finished = true;
                    return;
                }
                std::mem::take(&mut queue.waiting)
            };
            let (requests, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            let count = requests.len();
            let answers = self.batcher.sender.send(requests).await;
            if answers.len() == count {
                for (reply, answer) in replies.into_iter().zip(answers) {
                    // The caller may have given up waiting; nothing to undo.
                    let _ = reply.send(answer);
                }
            } else {
                // Which answer is whose is unknown: nobody gets a wrong one.
                let error = RepositoryError::Corrupt(format!(
                    "the {} sent {count} requests and got {} answers",
                    B::NAME,
                    answers.len()
                ));
                for reply in replies {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }
}

impl<B: Batched> Drop for Drain<B> {
    fn drop(&mut self) {
        if !self.finished {
            let mut queue = self.batcher.lock_queue();
            queue.draining = false;
            // Dropping the senders answers the waiters with an error.
            queue.waiting.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::runtime::Handle;

    use super::*;

    /// Doubles numbers, slowly, and records each batch's size; 13 fails.
    #[derive(Default)]
    struct Doubler {
        batches: Mutex<Vec<usize>>,
    }

    #[async_trait]
    impl Batched for Doubler {
        type Request = u32;
        type Reply = u32;
        const NAME: &'static str = "doubler";

        async fn send(&self, batch: Vec<u32>) -> Vec<Result<u32, RepositoryError>> {
            self.batches.lock().unwrap().push(batch.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
            batch
                .into_iter()
                .map(|n| match n {
                    13 => Err(RepositoryError::Conflict),
                    n => Ok(n * 2),
                })
                .collect()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_share_batches_and_each_gets_its_own_answer() {
        let batcher = Batcher::new(Doubler::default(), Executor::spawn_on(Handle::current()));
        let calls: Vec<_> = (0..50_u32)
            .map(|n| {
                let batcher = Arc::clone(&batcher);
                tokio::spawn(async move { (n, batcher.submit(n).await) })
            })
            .collect();
        for call in calls {
            let (n, answer) = call.await.unwrap();
            match n {
                13 => assert_eq!(answer, Err(RepositoryError::Conflict)),
                n => assert_eq!(answer, Ok(n * 2)),
            }
        }
        let batches = batcher.sender().batches.lock().unwrap().clone();
        assert_eq!(batches.iter().sum::<usize>(), 50, "every request sent once");
        assert!(
            batches.len() < 50,
            "requests that arrive during a send wait for the next: {batches:?}"
        );
        // Idle again: a lone request is still sent.
        assert_eq!(batcher.submit(4).await, Ok(8));
    }

    /// Answers one request too few.
    struct ShortChanging;

    #[async_trait]
    impl Batched for ShortChanging {
        type Request = u32;
        type Reply = u32;
        const NAME: &'static str = "short-changer";

        async fn send(&self, batch: Vec<u32>) -> Vec<Result<u32, RepositoryError>> {
            tokio::time::sleep(Duration::from_millis(20)).await;
            batch.into_iter().skip(1).map(Ok).collect()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_with_the_wrong_number_of_answers_answers_nobody_wrongly() {
        let batcher = Batcher::new(ShortChanging, Executor::spawn_on(Handle::current()));
        let calls: Vec<_> = (0..10_u32)
            .map(|n| {
                let batcher = Arc::clone(&batcher);
                tokio::spawn(async move { batcher.submit(n).await })
            })
            .collect();
        for call in calls {
            assert!(
                matches!(call.await.unwrap(), Err(RepositoryError::Corrupt(_))),
                "no caller may get another caller's answer"
            );
        }
    }

    #[test]
    fn waiters_of_a_batch_whose_runtime_stops_are_told_and_later_ones_do_not_hang() {
        let sends_on = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let batcher = Batcher::new(
            Doubler::default(),
            Executor::spawn_on(sends_on.handle().clone()),
        );
        let callers = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        callers.block_on(async {
            let waiting = {
                let batcher = Arc::clone(&batcher);
                tokio::spawn(async move { batcher.submit(1).await })
            };
            // The send is under way (it takes 20 ms) when its runtime stops.
            tokio::time::sleep(Duration::from_millis(5)).await;
            sends_on.shutdown_background();
            let answer = tokio::time::timeout(Duration::from_secs(5), waiting)
                .await
                .expect("the waiter is answered")
                .unwrap();
            assert!(
                matches!(answer, Err(RepositoryError::Unavailable(_))),
                "{answer:?}"
            );
            let later = tokio::time::timeout(Duration::from_secs(5), batcher.submit(2))
                .await
                .expect("a later request is answered too");
            assert!(later.is_err(), "nothing can send it: {later:?}");
        });
    }
}

/// On a real PostgreSQL: a statement past its limit.
#[cfg(test)]
#[cfg(feature = "test-support")]
#[path = "batch_tests.rs"]
mod postgres_tests;
