//! Runs every database operation as its own task on the runtime the
//! [`crate::Database`] was opened on.
//!
//! Why: dropping an in-flight `SyncConnectionWrapper` query future calls
//! `block_in_place`, which panics on a current-thread runtime such as an actix
//! worker (diesel-async 0.9). A spawned task is not cancelled when its
//! `JoinHandle` is dropped, so a caller that gives up (timeout, disconnect)
//! never drops a query half-way. Both backends go through here, so they
//! behave the same under cancellation.

use std::future::Future;

use tokio::runtime::Handle;
use tokio::task::JoinHandle;

/// A handle on the runtime that owns the database tasks.
#[derive(Debug, Clone)]
pub(crate) struct Executor {
    runtime: Handle,
}

/// A database task that panicked or was dropped by a runtime shutdown.
#[derive(Debug, thiserror::Error)]
#[error("database task did not finish: {0}")]
pub(crate) struct TaskFailed(String);

impl Executor {
    /// Database tasks will run on `runtime`.
    pub(crate) fn new(runtime: Handle) -> Self {
        Self { runtime }
    }

    /// Spawns `task` and waits for its output. Dropping the returned future
    /// leaves the task running to completion.
    pub(crate) async fn run<F>(&self, task: F) -> Result<F::Output, TaskFailed>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.runtime
            .spawn(task)
            .await
            .map_err(|e| TaskFailed(e.to_string()))
    }

    /// Spawns a long-running `task` (such as a listener) on the same runtime;
    /// it stops when the returned handle is aborted.
    pub(crate) fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.runtime.spawn(task)
    }
}
