//! Where database work runs, and one-writer-at-a-time for SQLite.
//!
//! Every hand-off between threads costs more than a small query (a profile
//! of the service under load put half of its CPU time in the scheduler), so
//! database work runs on as few threads as possible:
//!
//! * SQLite is embedded: its connections run a statement on the thread that
//!   asks for it ([`RunInPlace`]) instead of diesel-async's default of
//!   tokio's blocking pool. A statement on a WAL database takes
//!   microseconds and never waits for a lock, since writers take turns
//!   through the executor's write gate before they begin, so only another
//!   process (a `migrate` run, say) can make one wait (`busy_timeout`).
//! * PostgreSQL connections are driven by a task of the runtime that opened
//!   them. [`Executor::local`] is for handles whose pool belongs to the
//!   calling thread (one per actix worker, see
//!   [`crate::Database::for_worker`]): the query, its connection's driver and
//!   the request all stay on one thread.
//! * [`Executor::spawn_on`] runs operations on a given (multi-thread)
//!   runtime: for shared handles used from anywhere, such as the tailer and
//!   the tests.
//!
//! Either way every operation is a task of its own, and a spawned task is
//! not cancelled when its `JoinHandle` is dropped: a caller that gives up (a
//! client that disconnects, a timeout) never stops a transaction half-way.
//! A write abandoned mid-transaction would otherwise stay open on its pooled
//! connection (holding its row locks) until that connection was next taken
//! out of the pool, and on PostgreSQL a committed event would wait for its
//! numbering ([`crate::sequencer`]) until some later write.

use std::error::Error;
use std::future::Future;
use std::sync::Arc;

use diesel_async::sync_connection_wrapper::SpawnBlocking;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::runtime::Handle;
use tokio::sync::{Mutex, OwnedMutexGuard};
use tokio::task::JoinHandle;

/// Where an [`Executor`] runs database operations.
#[derive(Debug, Clone)]
enum Placement {
    /// As tasks of this runtime.
    Spawn(Handle),
    /// As tasks of the caller's own runtime, on its thread.
    Local,
}

/// Runs database operations (see the module docs) and lets SQLite writers
/// take turns.
#[derive(Debug, Clone)]
pub(crate) struct Executor {
    placement: Placement,
    /// SQLite only: held from before `BEGIN` to after `COMMIT` of every write.
    write_gate: Option<Arc<Mutex<()>>>,
}

/// A database task that panicked or was dropped by a runtime shutdown.
#[derive(Debug, thiserror::Error)]
#[error("database task did not finish: {0}")]
pub(crate) struct TaskFailed(String);

impl Executor {
    /// Operations run as tasks of `runtime`.
    pub(crate) fn spawn_on(runtime: Handle) -> Self {
        Self {
            placement: Placement::Spawn(runtime),
            write_gate: None,
        }
    }

    /// Writers take turns (SQLite: one writer per database file).
    pub(crate) fn with_write_gate(mut self) -> Self {
        self.write_gate = Some(Arc::new(Mutex::new(())));
        self
    }

    /// The same executor (and write gate), running operations as tasks of
    /// the runtime of whoever calls [`Executor::run`].
    pub(crate) fn local(&self) -> Self {
        Self {
            placement: Placement::Local,
            write_gate: self.write_gate.clone(),
        }
    }

    /// Runs a read `task` and returns its output. Dropping the returned
    /// future leaves the task running to completion.
    pub(crate) async fn run<F>(&self, task: F) -> Result<F::Output, TaskFailed>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let task = match &self.placement {
            Placement::Local => tokio::spawn(task),
            Placement::Spawn(runtime) => runtime.spawn(task),
        };
        task.await.map_err(|e| TaskFailed(e.to_string()))
    }

    /// Like [`Executor::run`], for a `task` that writes: it starts once it
    /// is this caller's turn and holds the turn until it finishes.
    pub(crate) async fn run_write<F>(&self, task: F) -> Result<F::Output, TaskFailed>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let turn = self.write_turn().await;
        self.run(async move {
            let output = task.await;
            drop(turn);
            output
        })
        .await
    }

    /// Waits for the caller's turn to write (always there without a gate).
    async fn write_turn(&self) -> Option<OwnedMutexGuard<()>> {
        match &self.write_gate {
            Some(gate) => Some(gate.clone().lock_owned().await),
            None => None,
        }
    }

    /// Spawns a long-running `task` (such as a listener) on the executor's
    /// runtime (the current one for a local executor); it stops when the
    /// returned handle is aborted.
    pub(crate) fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.placement {
            Placement::Spawn(runtime) => runtime.spawn(task),
            Placement::Local => tokio::spawn(task),
        }
    }
}

/// Runs a SQLite connection's work on the calling thread (see the module
/// docs): the "blocking" call is over by the time the future is returned.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RunInPlace;

impl SpawnBlocking for RunInPlace {
    fn spawn_blocking<'a, R>(
        &mut self,
        task: impl FnOnce() -> R + Send + 'static,
    ) -> BoxFuture<'a, Result<R, Box<dyn Error + Send + Sync + 'static>>>
    where
        R: Send + 'static,
    {
        let output = task();
        futures_util::future::ready(Ok(output)).boxed()
    }

    fn get_runtime() -> Self {
        Self
    }
}
