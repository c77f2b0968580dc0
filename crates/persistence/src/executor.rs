//! Where database work runs.
//!
//! Every hand-off between threads costs more than a small query (profiles
//! of the service under load: docs/benchmarks.md), so database work runs on
//! as few threads as possible:
//!
//! * SQLite is embedded: its connections run a statement on the thread that
//!   asks for it ([`crate::connections::RunInPlace`]) instead of
//!   diesel-async's default of tokio's blocking pool. A statement on a WAL
//!   database takes microseconds and never waits for a lock, since one
//!   thread does every write ([`crate::sqlite::Writer`]), so only another
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
//! numbering ([`crate::postgres::sequencer`]) until some later write.

use std::future::Future;

use tokio::runtime::Handle;
use tokio::task::JoinHandle;

/// Where an [`Executor`] runs database operations.
#[derive(Debug, Clone)]
enum Placement {
    /// As tasks of this runtime.
    Spawn(Handle),
    /// As tasks of the caller's own runtime, on its thread.
    Local,
}

/// Runs database operations (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct Executor {
    placement: Placement,
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
        }
    }

    /// An executor running operations as tasks of the runtime of whoever
    /// calls [`Executor::run`].
    pub(crate) fn local() -> Self {
        Self {
            placement: Placement::Local,
        }
    }

    /// Runs `task` and returns its output. Dropping the returned
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
