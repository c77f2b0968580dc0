//! The event log: appended with every change, read in position order,
//! purged by prefix; handles on other threads and abandoned writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use support_domain::{
    Actor, EventAudience, IssueType, LogPosition, RepositoryError, Role, Status, TicketEvent,
    TicketEventKind, TicketId, Transition, UserId,
};

use crate::support::*;

contract_tests!(
    insert_appends_exactly_one_created_event,
    update_appends_one_event_with_the_status,
    an_update_by_someone_else_logs_its_own_actor_and_time,
    conflicts_duplicates_and_live_only_events_append_nothing,
    read_after_is_ordered_exclusive_limited_and_filtered,
    ticket_history_is_one_tickets_events_in_order,
    a_ticket_and_its_history_are_read_together_and_owner_scoped,
    purge_deletes_a_prefix_and_never_lowers_purged_through,
    event_ids_become_visible_in_id_order_under_concurrency,
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

    let everyone = shared.list_all(None, None, 1000).await.unwrap();
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
            let _ = futures_util::FutureExt::now_or_never(repo.update(&ticket, 1, event));
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

async fn insert_appends_exactly_one_created_event(ctx: &Ctx) {
    let repo = ctx.repo();
    let log = ctx.log();
    let mut raw = Raw::open(ctx).await;
    // Not necessarily the owner, and a role the service does not know.
    let actor = Actor {
        user_id: UserId::new(501).unwrap(),
        role: Role::Other("night_manager".to_owned()),
    };
    let with_nanos = Utc
        .timestamp_opt(1_780_000_000, 987_654_321)
        .single()
        .unwrap();
    let (ticket, stored) = repo
        .insert(new_ticket(500, IssueType::Other, with_nanos), actor.clone())
        .await
        .unwrap();

    assert!(stored.id.get() > 0);
    assert_eq!(
        stored.event,
        TicketEvent {
            kind: TicketEventKind::Created,
            actor,
            customer_id: customer(500),
            ticket_id: ticket.id(),
            ticket_number: Some(ticket.number().clone()),
            status: Status::Open,
            occurred_at: at(0, 987_654),
        }
    );
    assert_eq!(raw.event_count().await, 1, "exactly one event");
    assert_eq!(all_events(&*log).await, vec![stored.clone()], "round trip");
    assert_eq!(
        logged_payload(&*log, stored.id.get()).await,
        serde_json::json!({
            "userId": 501,
            "role": "night_manager",
            "ticketId": ticket.id().get(),
            "ticketNumber": ticket.number().as_str(),
        })
    );

    // The customer use case's payload, as documented.
    let new = new_ticket(502, IssueType::Other, at(1, 0));
    let (ticket, stored) = repo.insert(new.clone(), owner_of(&new)).await.unwrap();
    assert_eq!(
        logged_payload(&*log, stored.id.get()).await,
        serde_json::json!({
            "userId": 502,
            "role": "customer",
            "ticketId": ticket.id().get(),
            "ticketNumber": ticket.number().as_str(),
        })
    );
    assert_eq!(raw.event_count().await, 2);
}

async fn update_appends_one_event_with_the_status(ctx: &Ctx) {
    let repo = ctx.repo();
    let log = ctx.log();
    let mut raw = Raw::open(ctx).await;
    let (created, escalated) = create_and_escalate(&*repo, 510, at(0, 5)).await;
    assert!(escalated.id > created.id);
    let ticket = repo
        .find_for_customer(created.event.ticket_id, customer(510))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ticket.status(), Status::Escalated);
    assert_eq!(
        escalated.event,
        TicketEvent {
            kind: TicketEventKind::Escalated,
            actor: Actor::customer(UserId::new(510).unwrap()),
            customer_id: customer(510),
            ticket_id: ticket.id(),
            ticket_number: None,
            status: Status::Escalated,
            occurred_at: at(1, 5),
        }
    );
    assert_eq!(raw.event_count().await, 2, "one event per write");
    assert_eq!(all_events(&*log).await, vec![created, escalated.clone()]);
    assert_eq!(
        logged_payload(&*log, escalated.id.get()).await,
        serde_json::json!({
            "userId": 510,
            "role": "customer",
            "ticketId": ticket.id().get(),
            "status": "escalated",
        })
    );
}

/// An update's event keeps its own actor and time: staff acting on a
/// customer's ticket, at a moment other than the ticket's `updated_at`. (The
/// other tests' events are by the owner, at `updated_at`, where swapped
/// columns would go unnoticed.)
async fn an_update_by_someone_else_logs_its_own_actor_and_time(ctx: &Ctx) {
    let repo = ctx.repo();
    let log = ctx.log();
    let mut ticket = insert(&*repo, 515, 0).await;
    ticket.escalate(None, at(10, 0)).unwrap();
    let staff = Actor {
        user_id: UserId::new(9_001).unwrap(),
        role: Role::Other("night_manager".to_owned()),
    };
    let event = TicketEvent::about(
        TicketEventKind::StatusChanged,
        staff.clone(),
        &ticket,
        at(12, 7),
    );
    let stored = repo.update(&ticket, 1, event).await.unwrap();
    assert_eq!(stored.event.actor, staff);
    assert_eq!(stored.event.customer_id, customer(515));
    assert_eq!(stored.event.occurred_at, at(12, 7));
    let events = all_events(&*log).await;
    assert_eq!(
        events.last(),
        Some(&stored),
        "read back as it was handed back"
    );
    assert_eq!(
        logged_payload(&*log, stored.id.get()).await,
        serde_json::json!({
            "userId": 9_001,
            "role": "night_manager",
            "ticketId": ticket.id().get(),
            "status": "escalated",
        })
    );
    let saved = repo
        .find_for_customer(ticket.id(), customer(515))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        saved.updated_at(),
        at(10, 0),
        "the ticket keeps its own time"
    );
}

async fn conflicts_duplicates_and_live_only_events_append_nothing(ctx: &Ctx) {
    let repo = ctx.repo();
    let log = ctx.log();
    let mut raw = Raw::open(ctx).await;
    let original = insert(&*repo, 520, 0).await;
    let before = all_events(&*log).await;
    assert_eq!(before.len(), 1);

    // A stale version: conflict, no event, no change.
    let mut stale = original.clone();
    stale.apply(Transition::StartProgress, at(1, 0)).unwrap();
    assert_eq!(
        repo.update(&stale, 2, change_event(&stale)).await,
        Err(RepositoryError::Conflict)
    );
    // A taken number: duplicate, no event, no ticket.
    let mut clash = new_ticket(521, IssueType::Other, at(2, 0));
    clash.number = original.number().clone();
    let actor = owner_of(&clash);
    assert_eq!(
        repo.insert(clash, actor).await,
        Err(RepositoryError::DuplicateTicketNumber)
    );
    // A live-only event is refused before anything is written.
    let looked_at = TicketEvent::about(
        TicketEventKind::StatusTracked,
        Actor::customer(UserId::new(520).unwrap()),
        &stale,
        at(3, 0),
    );
    assert!(matches!(
        repo.update(&stale, 1, looked_at).await,
        Err(RepositoryError::Corrupt(_))
    ));

    assert_eq!(all_events(&*log).await, before);
    assert_eq!(raw.event_count().await, 1);
    assert_eq!(
        repo.find_for_customer(original.id(), customer(520))
            .await
            .unwrap(),
        Some(original)
    );
}

async fn read_after_is_ordered_exclusive_limited_and_filtered(ctx: &Ctx) {
    let repo = ctx.repo();
    let log = ctx.log();
    let mut expected = Vec::new();
    for i in 0..3 {
        for owner in [530, 531] {
            let (created, escalated) = create_and_escalate(&*repo, owner, at(i, 0)).await;
            expected.push(created);
            expected.push(escalated);
        }
    }
    let everything = all_events(&*log).await;
    assert_eq!(everything, expected, "in id (= write) order");
    assert!(event_ids(&everything).windows(2).all(|w| w[0] < w[1]));

    // `after` is exclusive.
    let third = LogPosition::after(expected[2].id);
    let rest = log
        .read_after(third, EventAudience::Everyone, 100)
        .await
        .unwrap();
    assert_eq!(rest, expected[3..]);
    // `limit` takes the oldest.
    let two = log
        .read_after(third, EventAudience::Everyone, 2)
        .await
        .unwrap();
    assert_eq!(two, expected[3..5]);
    assert!(
        log.read_after(LogPosition::START, EventAudience::Everyone, 0)
            .await
            .unwrap()
            .is_empty()
    );
    // After the last event: nothing yet.
    let last = LogPosition::after(expected[expected.len() - 1].id);
    assert!(
        log.read_after(last, EventAudience::Everyone, 100)
            .await
            .unwrap()
            .is_empty()
    );

    // A customer sees only events about their own tickets.
    let mine = log
        .read_after(
            LogPosition::START,
            EventAudience::Customer(customer(530)),
            100,
        )
        .await
        .unwrap();
    let expected_mine: Vec<_> = expected
        .iter()
        .filter(|e| e.event.customer_id == customer(530))
        .cloned()
        .collect();
    assert_eq!(mine.len(), 6);
    assert_eq!(mine, expected_mine);
    let mine_after = log
        .read_after(
            LogPosition::after(mine[1].id),
            EventAudience::Customer(customer(530)),
            3,
        )
        .await
        .unwrap();
    assert_eq!(mine_after, expected_mine[2..5]);
    assert!(
        log.read_after(
            LogPosition::START,
            EventAudience::Customer(customer(532)),
            100
        )
        .await
        .unwrap()
        .is_empty()
    );
}

async fn ticket_history_is_one_tickets_events_in_order(ctx: &Ctx) {
    let repo = ctx.repo();
    let (a_created, a_escalated) = create_and_escalate(&*repo, 540, at(0, 0)).await;
    let (b_created, _) = create_and_escalate(&*repo, 540, at(1, 0)).await;
    // A third event on ticket A, after B's.
    let mut a = repo
        .find_for_customer(a_created.event.ticket_id, customer(540))
        .await
        .unwrap()
        .unwrap();
    a.apply(Transition::Resolve, at(5, 0)).unwrap();
    let a_resolved = repo.update_owned(&a, 2).await.unwrap();
    assert_eq!(a_resolved.event.status, Status::Resolved);

    let history = |id| {
        let repo = repo.clone();
        async move {
            repo.find_with_history(id, None)
                .await
                .unwrap()
                .map(|(_, h)| h)
        }
    };
    assert_eq!(
        history(a.id()).await,
        Some(vec![a_created, a_escalated, a_resolved])
    );
    assert_eq!(
        history(b_created.event.ticket_id).await.map(|h| h.len()),
        Some(2)
    );
    let missing = TicketId::new(a.id().get() + 1000).unwrap();
    assert_eq!(history(missing).await, None);
}

async fn a_ticket_and_its_history_are_read_together_and_owner_scoped(ctx: &Ctx) {
    let repo = ctx.repo();
    let (a_created, a_escalated) = create_and_escalate(&*repo, 560, at(0, 0)).await;
    let (b_created, _) = create_and_escalate(&*repo, 561, at(1, 0)).await;
    let a_id = a_created.event.ticket_id;
    let a = repo
        .find_for_customer(a_id, customer(560))
        .await
        .unwrap()
        .unwrap();

    let (ticket, history) = repo
        .find_with_history(a_id, Some(customer(560)))
        .await
        .unwrap()
        .expect("own ticket");
    assert_eq!(ticket, a);
    assert_eq!(history, vec![a_created.clone(), a_escalated.clone()]);
    // Staff read (no owner): the same.
    assert_eq!(
        repo.find_with_history(a_id, None).await.unwrap(),
        Some((a.clone(), vec![a_created, a_escalated]))
    );
    // Someone else's ticket is indistinguishable from a missing one.
    assert_eq!(
        repo.find_with_history(a_id, Some(customer(561))).await,
        Ok(None)
    );
    let missing = TicketId::new(b_created.event.ticket_id.get() + 1000).unwrap();
    assert_eq!(repo.find_with_history(missing, None).await, Ok(None));
}

async fn purge_deletes_a_prefix_and_never_lowers_purged_through(ctx: &Ctx) {
    let repo = ctx.repo();
    let log = ctx.log();
    let mut raw = Raw::open(ctx).await;
    assert_eq!(log.purged_through().await, Ok(LogPosition::START));
    assert_eq!(log.purge_before(at(100, 0)).await, Ok(0), "empty log");
    assert_eq!(log.purged_through().await, Ok(LogPosition::START));

    // Creation events at 0 s, 10 s, 5 s (a skewed clock), 20 s.
    let mut events = Vec::new();
    for secs in [0, 10, 5, 20] {
        let new = new_ticket(550, IssueType::Other, at(secs, 0));
        let actor = owner_of(&new);
        events.push(repo.insert(new, actor).await.unwrap().1);
    }
    // Older than 7 s: the 1st and 3rd. The prefix through the 3rd goes,
    // including the 2nd (10 s), so everything at or before it is gone.
    assert_eq!(log.purge_before(at(7, 0)).await, Ok(3));
    assert_eq!(
        log.purged_through().await,
        Ok(LogPosition::after(events[2].id))
    );
    assert_eq!(all_events(&*log).await, events[3..]);
    // Tickets stay; only their events go.
    assert!(
        repo.find_for_customer(events[0].event.ticket_id, customer(550))
            .await
            .unwrap()
            .is_some()
    );

    // Nothing older than 1 s is left: nothing deleted, nothing lowered.
    assert_eq!(log.purge_before(at(1, 0)).await, Ok(0));
    assert_eq!(
        log.purged_through().await,
        Ok(LogPosition::after(events[2].id))
    );

    // A position already beyond what is deleted (another purge went
    // further) is never lowered.
    let far = events[3].id.get() + 1000;
    raw.run_sql(&format!(
        "UPDATE event_log_state SET purged_through = {far}"
    ))
    .await;
    assert_eq!(log.purge_before(at(30, 0)).await, Ok(1));
    assert_eq!(
        log.purged_through().await,
        Ok(LogPosition::new(far).unwrap())
    );
    assert!(all_events(&*log).await.is_empty());
    raw.run_sql(&format!(
        "UPDATE event_log_state SET purged_through = {}",
        events[3].id.get()
    ))
    .await;

    // The log is empty now; new events still continue above every purged
    // id (no reuse, also on SQLite).
    let (_, next) = repo
        .insert(
            new_ticket(550, IssueType::Other, at(40, 0)),
            Actor::customer(UserId::new(550).unwrap()),
        )
        .await
        .unwrap();
    assert!(next.id > events[3].id, "{:?} reused", next.id);
    assert_eq!(all_events(&*log).await, vec![next]);
}

/// The resume guarantee: a reader polling `read_after(last seen)` while many
/// writers commit concurrently must end up with exactly the final log, in
/// order. If a position could become visible after a higher one was already
/// seen, the reader would skip it for good. Each writer has a handle of its
/// own, as separate instances would: on PostgreSQL each handle numbers
/// events with its own sequencer.
async fn event_ids_become_visible_in_id_order_under_concurrency(ctx: &Ctx) {
    const WRITERS: i64 = 8;
    const TICKETS_PER_WRITER: i64 = 13; // two events each: 208 events
    let log = ctx.log();
    let done = Arc::new(AtomicBool::new(false));

    let reader = {
        let log = Arc::clone(&log);
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let mut seen: Vec<i64> = Vec::new();
            let mut last = LogPosition::START;
            let mut polls = 0u32;
            loop {
                // Read the flag first: a read after the writers finished
                // sees everything they wrote.
                let finished = AtomicBool::load(&done, Ordering::Acquire);
                let page = log
                    .read_after(last, EventAudience::Everyone, 1000)
                    .await
                    .unwrap();
                polls += 1;
                for event in page {
                    assert!(LogPosition::after(event.id) > last, "out of order");
                    last = LogPosition::after(event.id);
                    seen.push(event.id.get());
                }
                if finished {
                    return (seen, polls);
                }
            }
        })
    };

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let repo = ctx.db.for_worker(8).unwrap().tickets();
            tokio::spawn(async move {
                for i in 0..TICKETS_PER_WRITER {
                    create_and_escalate(&*repo, 560 + w, at(i, 0)).await;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    AtomicBool::store(&done, true, Ordering::Release);
    let (seen, polls) = reader.await.unwrap();

    let all = event_ids(&all_events(&*log).await);
    assert_eq!(all.len() as i64, WRITERS * TICKETS_PER_WRITER * 2);
    assert!(
        polls > 10,
        "the reader polled while writers wrote ({polls})"
    );
    let missed: Vec<_> = all.iter().filter(|id| !seen.contains(id)).collect();
    assert!(
        missed.is_empty(),
        "the reader skipped {} ids that committed after a higher one: {missed:?}",
        missed.len()
    );
    assert_eq!(seen, all);
}
