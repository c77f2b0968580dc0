//! Reading tickets: owner-scoped finds, pages and filters, concurrent reads;
//! the store's health and what it refuses to read.
use std::sync::Arc;

use support_domain::{
    Actor, RepositoryError, Status, Ticket, TicketEvent, TicketEventKind, TicketId, Transition,
    UserId,
};

use crate::support::*;

contract_tests!(
    find_is_scoped_to_the_owner,
    list_is_newest_first_and_scoped_to_the_owner,
    list_filters_by_status,
    list_pages_with_before_and_respects_limit,
    concurrent_reads_are_each_answered_as_if_alone,
    ping_answers,
    rows_the_domain_rejects_are_reported_as_corrupt,
    migrations_already_applied_are_not_rerun,
);

async fn find_is_scoped_to_the_owner(ctx: &Ctx) {
    let repo = ctx.repo();
    let mine = insert(&*repo, 20, 0).await;
    assert!(
        repo.find_for_customer(mine.id(), customer(20))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        repo.find_for_customer(mine.id(), customer(21)).await,
        Ok(None)
    );
    let missing = TicketId::new(mine.id().get() + 1000).unwrap();
    assert_eq!(
        repo.find_for_customer(missing, customer(20)).await,
        Ok(None)
    );
}

async fn list_is_newest_first_and_scoped_to_the_owner(ctx: &Ctx) {
    let repo = ctx.repo();
    let mut mine = Vec::new();
    for i in 0..4 {
        mine.push(insert(&*repo, 30, i).await);
        insert(&*repo, 31, i).await; // interleaved tickets of someone else
    }
    let listed = repo
        .list_for_customer(customer(30), None, None, 100)
        .await
        .unwrap();
    let mut expected = ids(&mine);
    expected.reverse();
    assert_eq!(ids(&listed), expected);
    assert!(listed.iter().all(|t| t.customer_id() == customer(30)));
    assert_eq!(listed[0], mine[3], "whole tickets come back");
    assert!(
        repo.list_for_customer(customer(32), None, None, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn list_filters_by_status(ctx: &Ctx) {
    let repo = ctx.repo();
    let mut tickets = Vec::new();
    for i in 0..5 {
        tickets.push(insert(&*repo, 40, i).await);
    }
    // Start progress on the 2nd and 4th, close the 5th.
    for (index, transition) in [
        (1, Transition::StartProgress),
        (3, Transition::StartProgress),
        (4, Transition::Close),
    ] {
        let t: &mut Ticket = &mut tickets[index];
        t.apply(transition, at(100, 0)).unwrap();
        repo.update_owned(t, 1).await.unwrap();
    }
    let in_progress = repo
        .list_for_customer(customer(40), Some(Status::InProgress), None, 100)
        .await
        .unwrap();
    assert_eq!(
        ids(&in_progress),
        vec![tickets[3].id().get(), tickets[1].id().get()]
    );
    assert!(in_progress.iter().all(|t| t.status() == Status::InProgress));
    let open = repo
        .list_for_customer(customer(40), Some(Status::Open), None, 100)
        .await
        .unwrap();
    assert_eq!(
        ids(&open),
        vec![tickets[2].id().get(), tickets[0].id().get()]
    );
    let resolved = repo
        .list_for_customer(customer(40), Some(Status::Resolved), None, 100)
        .await
        .unwrap();
    assert!(resolved.is_empty());
    // The status filter does not leak other customers' tickets.
    let other = insert(&*repo, 41, 9).await;
    let open = repo
        .list_for_customer(customer(40), Some(Status::Open), None, 100)
        .await
        .unwrap();
    assert!(!ids(&open).contains(&other.id().get()));
}

async fn list_pages_with_before_and_respects_limit(ctx: &Ctx) {
    let repo = ctx.repo();
    let mut all = Vec::new();
    for i in 0..7 {
        all.push(insert(&*repo, 50, i).await);
    }
    insert(&*repo, 51, 99).await;
    all.reverse(); // newest first

    let first_three = repo
        .list_for_customer(customer(50), None, None, 3)
        .await
        .unwrap();
    assert_eq!(ids(&first_three), ids(&all[..3]));
    assert!(
        repo.list_for_customer(customer(50), None, None, 0)
            .await
            .unwrap()
            .is_empty()
    );

    let mut paged = Vec::new();
    let mut before = None;
    loop {
        let page = repo
            .list_for_customer(customer(50), None, before, 3)
            .await
            .unwrap();
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        before = Some(last.id());
        paged.extend(page);
    }
    assert_eq!(ids(&paged), ids(&all), "pages neither repeat nor skip");

    // `before` is exclusive and combines with the status filter.
    let after_newest = repo
        .list_for_customer(customer(50), Some(Status::Open), Some(all[0].id()), 100)
        .await
        .unwrap();
    assert_eq!(ids(&after_newest), ids(&all[1..]));
}

async fn concurrent_reads_are_each_answered_as_if_alone(ctx: &Ctx) {
    // Reads that arrive together may be sent together (PostgreSQL batches
    // them); each must still get exactly its own answer, owner scope included.
    let repo = ctx.repo();
    let mut mine = Vec::new();
    for n in 0..6 {
        mine.push(insert(&*repo, 95, n).await);
        insert(&*repo, 96, n).await;
    }
    for ticket in mine.iter_mut().skip(1).step_by(2) {
        ticket.escalate(None, at(60, 0)).unwrap();
        let event = TicketEvent::about(
            TicketEventKind::Escalated,
            Actor::customer(UserId::new(95).unwrap()),
            ticket,
            at(60, 0),
        );
        repo.update(ticket, 1, event, None).await.unwrap();
    }
    let ticket_ids: Vec<TicketId> = mine.iter().map(Ticket::id).collect();
    let status = Some(Status::Escalated);
    let mut expected_histories = Vec::new();
    let mut expected_pages = Vec::new();
    for owner in [None, Some(customer(95)), Some(customer(96))] {
        for id in ticket_ids
            .iter()
            .copied()
            .chain([TicketId::new(999_999).unwrap()])
        {
            let alone = repo.find_with_history(id, owner).await.unwrap();
            expected_histories.push(((id, owner), alone));
        }
    }
    for owner in [95, 96, 97] {
        for (status, before, limit) in [
            (None, None, 3),
            (status, None, 10),
            (None, Some(ticket_ids[4]), 2),
        ] {
            let alone = repo
                .list_for_customer(customer(owner), status, before, limit)
                .await
                .unwrap();
            expected_pages.push(((owner, status, before, limit), alone));
        }
    }
    assert!(
        expected_histories.iter().any(|(_, h)| h.is_none())
            && expected_histories.iter().any(|(_, h)| h.is_some()),
        "some reads find a ticket and some do not"
    );
    for _ in 0..3 {
        let histories: Vec<_> = expected_histories
            .iter()
            .cloned()
            .map(|((id, owner), alone)| {
                let repo = Arc::clone(&repo);
                tokio::spawn(async move { (repo.find_with_history(id, owner).await, alone) })
            })
            .collect();
        let pages: Vec<_> = expected_pages
            .iter()
            .cloned()
            .map(|((owner, status, before, limit), alone)| {
                let repo = Arc::clone(&repo);
                tokio::spawn(async move {
                    let page = repo
                        .list_for_customer(customer(owner), status, before, limit)
                        .await;
                    (page, alone)
                })
            })
            .collect();
        for read in histories {
            let (together, alone) = read.await.unwrap();
            assert_eq!(together.unwrap(), alone);
        }
        for read in pages {
            let (together, alone) = read.await.unwrap();
            assert_eq!(together.unwrap(), alone);
        }
    }
}

async fn ping_answers(ctx: &Ctx) {
    assert_eq!(ctx.repo().ping().await, Ok(()));
}

async fn rows_the_domain_rejects_are_reported_as_corrupt(ctx: &Ctx) {
    let repo = ctx.repo();
    let good = insert(&*repo, 100, 0).await;
    let mut raw = Raw::open(ctx).await;
    // Passes every CHECK constraint, but the description is too short for the domain.
    raw.run_sql(
        "INSERT INTO support_tickets (ticket_number, customer_id, issue_type, description, \
         status, priority, created_at, updated_at, version, first_response_due_at, \
         resolution_due_at) VALUES ('TKT-000000-BAD001', 100, 'other', 'short', 'open', 'medium', \
         '2026-01-01 00:00:00', '2026-01-01 00:00:00', 1, '2026-01-01 08:00:00', \
         '2026-01-03 00:00:00')",
    )
    .await;
    let bad_id = raw.count("SELECT MAX(id) AS n FROM support_tickets").await;
    let bad_id = TicketId::new(bad_id).unwrap();
    assert!(matches!(
        repo.find_for_customer(bad_id, customer(100)).await,
        Err(RepositoryError::Corrupt(message)) if message.contains("description")
    ));
    assert!(matches!(
        repo.list_for_customer(customer(100), None, None, 10).await,
        Err(RepositoryError::Corrupt(_))
    ));
    // Other rows are still served.
    assert_eq!(
        repo.find_for_customer(good.id(), customer(100))
            .await
            .unwrap(),
        Some(good)
    );
}

async fn migrations_already_applied_are_not_rerun(ctx: &Ctx) {
    assert_eq!(ctx.db.run_migrations().await.unwrap(), Vec::<String>::new());
    assert_eq!(ctx.repo().ping().await, Ok(()));
}
