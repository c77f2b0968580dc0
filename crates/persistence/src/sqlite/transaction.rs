//! `BEGIN IMMEDIATE` transactions on our SQLite connections.
//!
//! diesel-async offers `immediate_transaction` only on connections that run
//! their statements on tokio's blocking pool; ours run them in place (see
//! [`crate::connections::RunInPlace`]), so this is the same method for them. Writers take
//! the write lock up front: a deferred transaction that reads and then
//! writes can fail with `SQLITE_BUSY` when another process wrote in
//! between, which `busy_timeout` cannot fix.

use std::future::Future;

use diesel::connection::AnsiTransactionManager;
use diesel_async::TransactionManager;
use diesel_async::sync_connection_wrapper::SyncTransactionManagerWrapper;

use crate::connections::SqliteConn;

/// An async closure whose future type can be named, so that it can be
/// required to be `Send` (the bound diesel-async's own transactions use).
pub(crate) trait TransactionBody<T, R>:
    AsyncFnOnce(T) -> R + FnOnce(T) -> <Self as TransactionBody<T, R>>::Fut
{
    /// The future the closure returns.
    type Fut: Future<Output = R>;
}

impl<F, T, Fut, R> TransactionBody<T, R> for F
where
    F: AsyncFnOnce(T) -> R + FnOnce(T) -> Fut,
    Fut: Future<Output = R>,
{
    type Fut = Fut;
}

/// `immediate_transaction` for [`SqliteConn`].
pub(crate) trait ImmediateTransaction {
    /// Runs `body` in a `BEGIN IMMEDIATE` transaction: committed when it
    /// returns `Ok`, rolled back when it returns `Err`.
    fn immediate_transaction<R, E, F>(
        &mut self,
        body: F,
    ) -> impl Future<Output = Result<R, E>> + Send
    where
        for<'r> F: AsyncFnOnce(&'r mut Self) -> Result<R, E>
            + TransactionBody<&'r mut Self, Result<R, E>, Fut: Send>
            + Send,
        E: From<diesel::result::Error> + Send,
        R: Send;
}

impl ImmediateTransaction for SqliteConn {
    async fn immediate_transaction<R, E, F>(&mut self, body: F) -> Result<R, E>
    where
        for<'r> F: AsyncFnOnce(&'r mut Self) -> Result<R, E>
            + TransactionBody<&'r mut Self, Result<R, E>, Fut: Send>
            + Send,
        E: From<diesel::result::Error> + Send,
        R: Send,
    {
        self.spawn_blocking(|conn| {
            AnsiTransactionManager::begin_transaction_sql(conn, "BEGIN IMMEDIATE")
        })
        .await?;
        match body(&mut *self).await {
            Ok(value) => {
                SyncTransactionManagerWrapper::<AnsiTransactionManager>::commit_transaction(
                    &mut *self,
                )
                .await?;
                Ok(value)
            }
            Err(error) => {
                SyncTransactionManagerWrapper::<AnsiTransactionManager>::rollback_transaction(
                    &mut *self,
                )
                .await?;
                Err(error)
            }
        }
    }
}
