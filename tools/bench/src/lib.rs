//! Pieces shared by the benchmarks in this crate (`ws-bench`, `api-bench`,
//! `sla-bench`): the server under test as a child process, what `/proc` says
//! about it, a small HTTP load generator, scratch PostgreSQL databases, and
//! the generated sections of docs/benchmarks.md.

pub mod loader;
pub mod markdown;
pub mod postgres;
pub mod procfs;
pub mod server;
pub mod stats;

/// Every error ends a benchmark with a message; nothing is retried.
pub type BoxError = Box<dyn std::error::Error>;

/// Resolves on SIGINT or SIGTERM, with what happened. A benchmark races its
/// work against it: dropping the work drops its server guards, which kill
/// the servers.
pub async fn interrupted() -> String {
    use tokio::signal::unix::{SignalKind, signal};
    let terminate = async {
        match signal(SignalKind::terminate()) {
            Ok(mut stream) => stream.recv().await,
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "interrupted".to_owned(),
        _ = terminate => "terminated".to_owned(),
    }
}
