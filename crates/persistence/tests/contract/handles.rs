//! Handles on worker threads share one database, and a write its caller
//! gave up on still finishes.
use std::sync::Arc;
use std::time::Duration;

use support_domain::{Status, TicketFilter};

use crate::support::*;

contract_tests!(
    worker_handles_on_their_own_threads_share_one_database,
    a_write_its_caller_gives_up_on_still_finishes_and_blocks_nobody,
);

/// Like actix workers: threads with a current-thread runtime each, each with
/// its own `for_worker` handle, writing and reading at the same time as the
/// shared handle. Every write lands once, with its event, and every handle
/// sees every other's.
async fn worker_handles_on_their_own_threads_share_one_database(ctx: &Ctx) {
    const WORKERS: usize = 2;
    const TICKETS: i64 = 20;
    let mut threads = Vec::new();
    for worker in 0..WORKERS {
        let db = ctx.db.clone();
        threads.push(std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let local = db.for_worker(WORKERS).unwrap();
                let repo = local.tickets();
                let owner = 300 + i64::try_from(worker).unwrap();
                let writes = (0..TICKETS).map(|secs| {
                    let repo = Arc::clone(&repo);
                    async move { create_and_escalate(&*repo, owner, at(secs, 0)).await }
                });
                futures_util::future::join_all(writes).await;
                let mine = repo
                    .list_for_customer(customer(owner), None, None, 100)
                    .await
                    .unwrap();
                assert_eq!(
                    mine.len(),
                    usize::try_from(TICKETS).unwrap(),
                    "worker {worker} reads its own writes"
                );
                for ticket in &mine {
                    let (_, history) = repo
                        .find_with_history(ticket.id(), Some(customer(owner)))
                        .await
                        .unwrap()
                        .unwrap();
                    assert_eq!(history.len(), 2, "created and escalated");
                }
                mine.len()
            })
        }));
    }
    // The shared handle writes meanwhile.
    let shared = ctx.repo();
    for secs in 0..TICKETS {
        create_and_escalate(&*shared, 399, at(secs, 0)).await;
    }
    let written: usize =
        tokio::task::spawn_blocking(move || threads.into_iter().map(|t| t.join().unwrap()).sum())
            .await
            .unwrap();
    let per_worker = usize::try_from(TICKETS).unwrap();
    assert_eq!(written, WORKERS * per_worker);

    let everyone = shared
        .list_all(TicketFilter::default(), None, 1000)
        .await
        .unwrap();
    assert_eq!(everyone.len(), (WORKERS + 1) * per_worker);
    assert!(everyone.iter().all(|t| t.status() == Status::Escalated));
    let events = all_events(&*ctx.log()).await;
    assert_eq!(events.len(), 2 * everyone.len(), "one event per write");
    assert!(
        events.windows(2).all(|w| w[0].id < w[1].id),
        "the log stays in position order"
    );
}

/// A request dropped mid-write (client gone, timeout) on a worker handle:
/// the write still runs to its end, all or nothing, rather than leaving a
/// transaction open on a connection back in the pool, or (on PostgreSQL) a
/// committed event unnumbered until some later write.
async fn a_write_its_caller_gives_up_on_still_finishes_and_blocks_nobody(ctx: &Ctx) {
    let db = ctx.db.clone();
    let ticket_id = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let local = db.for_worker(1).unwrap();
            let repo = local.tickets();
            let mut ticket = insert(&*repo, 330, 0).await;
            ticket.escalate(None, at(1, 0)).unwrap();
            let event = change_event(&ticket);
            // Polled once, then dropped (unless it was done by then).
            let _ = futures_util::FutureExt::now_or_never(repo.update(&ticket, 1, event, None));
            // Let the worker's runtime run what was left behind: the change
            // and the numbering of its event, which makes it readable.
            for _ in 0..200 {
                tokio::time::sleep(Duration::from_millis(10)).await;
                let (stored, history) = repo
                    .find_with_history(ticket.id(), Some(customer(330)))
                    .await
                    .unwrap()
                    .unwrap();
                if stored.version() == 2 && history.len() == 2 {
                    return ticket.id();
                }
            }
            panic!("the abandoned write never finished");
        })
    });
    let ticket_id = tokio::task::spawn_blocking(move || ticket_id.join().unwrap())
        .await
        .unwrap();
    // Nobody waits on what the abandoned write held (SQLite's write turn,
    // a transaction's row locks).
    within(Duration::from_secs(5), insert(&*ctx.repo(), 331, 0)).await;
    let (stored, history) = ctx
        .repo()
        .find_with_history(ticket_id, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status(), Status::Escalated);
    assert_eq!(history.len(), 2, "the change and its event, once");
}
