//! Reading the event log: in position order after a position, a ticket's
//! history, purges of a prefix, and positions visible in order under
//! concurrent writers.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use support_persistence::test_support::InsertNew;

use support_domain::{
    Actor, EventAudience, IssueType, LogPosition, Status, TicketId, Transition, UserId,
};

use crate::support::*;

contract_tests!(
    read_after_is_ordered_exclusive_limited_and_filtered,
    ticket_history_is_one_tickets_events_in_order,
    a_ticket_and_its_history_are_read_together_and_owner_scoped,
    purge_deletes_a_prefix_and_never_lowers_purged_through,
    event_ids_become_visible_in_id_order_under_concurrency,
);

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
        events.push(repo.insert_new(new, actor).await.unwrap().1);
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
        .insert_new(
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
