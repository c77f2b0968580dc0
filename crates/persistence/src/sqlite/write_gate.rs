//! One writer at a time: SQLite has a single writer per database file, so
//! writers of this process take turns here before they begin, instead of
//! waiting for the file lock in `busy_timeout`.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::Mutex;

use crate::executor::{Executor, TaskFailed};

/// The turn to write, shared by every handle on one SQLite database: held
/// from before `BEGIN` to after `COMMIT` of every write.
#[derive(Debug, Clone, Default)]
pub(crate) struct WriteGate(Arc<Mutex<()>>);

impl WriteGate {
    /// Runs the writing `task` on `executor` once it is this caller's turn,
    /// holding the turn until the task finishes (even if the caller stops
    /// waiting for it).
    pub(crate) async fn run<F>(&self, executor: &Executor, task: F) -> Result<F::Output, TaskFailed>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let turn = Arc::clone(&self.0).lock_owned().await;
        executor
            .run(async move {
                let output = task.await;
                drop(turn);
                output
            })
            .await
    }
}
