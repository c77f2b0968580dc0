//! Calls abandoned half-way (notes A6.1).

use std::time::{Duration, Instant};

use support_domain::{IssueType, Status, Transition};
use support_persistence::Backend;

use crate::support::*;

// ------------------------------------------------ cancellation (notes A6.1)

/// Callers on a current-thread runtime (actix workers) abandon queries half
/// way; the query must finish on the database's runtime instead of panicking
/// the caller's thread, and the store must stay usable.
fn abandoned_calls_neither_panic_nor_break_the_store(backend: Backend) {
    let db_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ctx = db_runtime.block_on(async {
        match backend {
            Backend::Sqlite => Ctx::sqlite().await,
            Backend::Postgres => Ctx::postgres().await,
        }
    });
    assert_eq!(ctx.db.backend(), backend);
    let repo = ctx.repo();
    let caller = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    caller.block_on(async {
        let t = repo
            .insert_owned(new_ticket(130, IssueType::Other, at(0, 0)))
            .await
            .unwrap();
        for i in 0..100u32 {
            let _abandoned = tokio::time::timeout(
                Duration::ZERO,
                repo.list_for_customer(customer(130), None, None, 50),
            )
            .await;
            let mut next = t.clone();
            next.apply(Transition::StartProgress, at(1, i)).unwrap();
            let _abandoned =
                tokio::time::timeout(Duration::ZERO, repo.update_owned(&next, 1)).await;
        }
        // The abandoned updates still run to completion; exactly one lands.
        let deadline = Instant::now() + Duration::from_secs(20);
        let stored = loop {
            let stored = repo
                .find_for_customer(t.id(), customer(130))
                .await
                .unwrap()
                .unwrap();
            if stored.version() == 2 || Instant::now() > deadline {
                break stored;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(stored.version(), 2);
        assert_eq!(stored.status(), Status::InProgress);
        assert_eq!(repo.ping().await, Ok(()));
    });
    drop(repo);
    drop(ctx);
    drop(db_runtime);
}

#[test]
fn sqlite_abandoned_calls_neither_panic_nor_break_the_store() {
    abandoned_calls_neither_panic_nor_break_the_store(Backend::Sqlite);
}

#[test]
fn postgres_abandoned_calls_neither_panic_nor_break_the_store() {
    abandoned_calls_neither_panic_nor_break_the_store(Backend::Postgres);
}
