//! The SLA deadlines: the scheduler's queries (due tickets earliest first,
//! the next timer), the staff lists by deadline and by breach, and saving
//! fired timers with the service's own events, including two savers racing
//! for one ticket.

use support_domain::ports::TicketRepository;
use support_domain::{
    DueCursor, EventAudience, FiredTimers, IssueType, LogPosition, Priority, RepositoryError,
    SlaMetric, SlaMetrics, SlaPolicy, Status, Ticket, TicketEvent, TicketEventKind, TicketFilter,
    TicketState,
};

use crate::support::*;

contract_tests!(
    the_due_timers_are_read_earliest_first_up_to_the_limit,
    the_list_by_deadline_is_nearest_first_in_pages_and_filtered,
    the_newest_first_list_filters_by_breach,
    fired_timers_are_saved_with_the_services_own_events,
    a_batch_of_fired_timers_is_saved_at_once,
    two_savers_of_the_same_fired_ticket_one_wins,
    a_saver_waiting_on_a_concurrent_change_loses,
);

/// A ticket of `owner` created at `secs`, in its initial state under the
/// default policy but for what `arrange` changes.
async fn ticket_with(
    repo: &dyn TicketRepository,
    owner: i64,
    secs: i64,
    arrange: impl FnOnce(&mut TicketState),
) -> Ticket {
    let new = new_ticket(owner, IssueType::Other, at(secs, 1));
    let mut state = new.initial_state(&SlaPolicy::default());
    arrange(&mut state);
    let actor = owner_of(&new);
    repo.insert(new, state, actor, None).await.unwrap().0
}

/// A ticket whose next timer is due at `timer` and nearest deadline is `due`.
async fn timed(repo: &dyn TicketRepository, timer: Option<i64>, due: Option<i64>) -> Ticket {
    ticket_with(repo, 900, 0, |s| {
        s.sla.next_timer_at = timer.map(|t| at(t, 0));
        s.sla.next_due_at = due.map(|d| at(d, 0));
    })
    .await
}

/// `ticket` with its state changed by `change` and its version bumped, as
/// a round of the scheduler leaves it.
fn fired(ticket: &Ticket, change: impl FnOnce(&mut TicketState)) -> Ticket {
    let mut state = ticket.state().clone();
    change(&mut state);
    Ticket::restore(ticket.id(), ticket.created().clone(), state)
}

async fn the_due_timers_are_read_earliest_first_up_to_the_limit(ctx: &Ctx) {
    let repo = ctx.repo();
    assert_eq!(repo.next_timer_at().await, Ok(None), "nothing pending");
    let a = timed(&*repo, Some(100), None).await;
    let b = timed(&*repo, Some(50), None).await;
    let _c = timed(&*repo, Some(200), None).await;
    let _none = timed(&*repo, None, Some(10)).await;
    let e = timed(&*repo, Some(150), None).await;

    let due = repo.due_for_timers(at(160, 0), 10).await.unwrap();
    assert_eq!(ids(&due), ids(&[b.clone(), a.clone(), e.clone()]));
    assert_eq!(due[0], b, "read back whole");
    let due = repo.due_for_timers(at(160, 0), 2).await.unwrap();
    assert_eq!(ids(&due), ids(&[b.clone(), a.clone()]));
    let due = repo.due_for_timers(at(100, 0), 10).await.unwrap();
    assert_eq!(ids(&due), ids(&[b, a]), "due at its very time");
    assert!(repo.due_for_timers(at(49, 0), 10).await.unwrap().is_empty());
    assert_eq!(repo.next_timer_at().await, Ok(Some(at(50, 0))));
}

async fn the_list_by_deadline_is_nearest_first_in_pages_and_filtered(ctx: &Ctx) {
    let repo = ctx.repo();
    let t1 = timed(&*repo, None, Some(10)).await;
    let t2 = timed(&*repo, None, Some(5)).await;
    let _fulfilled = timed(&*repo, None, None).await;
    let t4 = timed(&*repo, None, Some(10)).await;
    let t5 = ticket_with(&*repo, 901, 0, |s| {
        s.sla.next_due_at = Some(at(20, 0));
        s.sla.breached = SlaMetrics::NONE.with(SlaMetric::FirstResponse);
    })
    .await;
    let t6 = ticket_with(&*repo, 902, 0, |s| {
        s.sla.next_due_at = Some(at(5, 0));
        s.status = Status::Escalated;
        s.priority = Priority::High;
    })
    .await;
    let all = TicketFilter::default();
    let list = |filter, after, limit| {
        let repo = repo.clone();
        async move { repo.list_by_due(filter, after, limit).await.unwrap() }
    };
    let order = ids(&[t2.clone(), t6.clone(), t1.clone(), t4.clone(), t5.clone()]);
    assert_eq!(ids(&list(all, None, 100).await), order);

    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = list(all, after, 2).await;
        let Some(last) = page.last() else { break };
        after = Some(DueCursor {
            due_at: last.sla().next_due_at.unwrap(),
            id: last.id(),
        });
        paged.extend(ids(&page));
    }
    assert_eq!(paged, order, "pages in order, ties broken by id");

    let breached = TicketFilter {
        breached: Some(true),
        ..all
    };
    assert_eq!(ids(&list(breached, None, 100).await), ids(&[t5]));
    let unbreached = TicketFilter {
        breached: Some(false),
        ..all
    };
    assert_eq!(
        ids(&list(unbreached, None, 100).await),
        ids(&[t2, t6.clone(), t1, t4])
    );
    let escalated_high = TicketFilter {
        status: Some(Status::Escalated),
        priority: Some(Priority::High),
        ..all
    };
    assert_eq!(ids(&list(escalated_high, None, 100).await), ids(&[t6]));
}

async fn the_newest_first_list_filters_by_breach(ctx: &Ctx) {
    let repo = ctx.repo();
    let plain = timed(&*repo, None, None).await;
    let breached_open = ticket_with(&*repo, 903, 0, |s| {
        s.sla.breached = SlaMetrics::from_bits(3).unwrap();
    })
    .await;
    let breached_escalated = ticket_with(&*repo, 903, 0, |s| {
        s.sla.breached = SlaMetrics::NONE.with(SlaMetric::Resolution);
        s.status = Status::Escalated;
    })
    .await;
    let filter = |breached, status| TicketFilter {
        breached: Some(breached),
        status,
        ..TicketFilter::default()
    };
    let list = |filter, before| {
        let repo = repo.clone();
        async move { repo.list_all(filter, before, 100).await.unwrap() }
    };
    assert_eq!(
        ids(&list(filter(true, None), None).await),
        ids(&[breached_escalated.clone(), breached_open.clone()])
    );
    assert_eq!(
        ids(&list(filter(true, None), Some(breached_escalated.id())).await),
        ids(std::slice::from_ref(&breached_open))
    );
    assert_eq!(
        ids(&list(filter(true, Some(Status::Open)), None).await),
        ids(&[breached_open])
    );
    assert_eq!(ids(&list(filter(false, None), None).await), ids(&[plain]));
}

async fn fired_timers_are_saved_with_the_services_own_events(ctx: &Ctx) {
    let (repo, log) = (ctx.repo(), ctx.log());
    let now = at(4_000, 123_456);
    let breached = timed(&*repo, Some(3_600), Some(3_600)).await;
    let stale = timed(&*repo, Some(3_600), Some(3_600)).await;
    let replanned = timed(&*repo, Some(3_000), Some(3_600)).await;

    let mut escalated = fired(&breached, |s| {
        s.sla.breached = SlaMetrics::NONE.with(SlaMetric::FirstResponse);
        s.sla.next_timer_at = Some(at(7_200, 0));
        s.version += 1;
    });
    escalated.escalate(None, now).unwrap();
    let events = vec![
        TicketEvent::deadline(
            TicketEventKind::SlaBreached,
            &escalated,
            SlaMetric::FirstResponse,
            now,
        ),
        TicketEvent::deadline(
            TicketEventKind::Escalated,
            &escalated,
            SlaMetric::FirstResponse,
            now,
        ),
    ];
    let moved = fired(&replanned, |s| s.sla.next_timer_at = Some(at(3_500, 0)));
    let lost = fired(&stale, |s| s.version += 1);
    let batch = vec![
        FiredTimers {
            ticket: moved.clone(),
            expected_version: 1,
            events: Vec::new(),
        },
        FiredTimers {
            ticket: lost,
            expected_version: 7,
            events: vec![TicketEvent::by_service(
                TicketEventKind::SlaWarning,
                &stale,
                now,
            )],
        },
        FiredTimers {
            ticket: escalated.clone(),
            expected_version: 1,
            events: events.clone(),
        },
    ];
    let answers = repo.save_fired(batch).await.unwrap();
    assert_eq!(answers.len(), 3);
    assert_eq!(answers[0], Ok(Vec::new()), "only the plan moved");
    assert_eq!(answers[1], Err(RepositoryError::Conflict));
    let stored = answers[2].clone().unwrap();
    assert_eq!(
        stored.iter().map(|e| e.event.clone()).collect::<Vec<_>>(),
        events
    );
    assert!(stored[0].id < stored[1].id, "in the order they fired");

    assert_eq!(repo.find(escalated.id()).await.unwrap(), Some(escalated));
    assert_eq!(repo.find(moved.id()).await.unwrap(), Some(moved));
    assert_eq!(repo.find(stale.id()).await.unwrap(), Some(stale.clone()));
    let logged = all_events(&*log).await;
    assert_eq!(&logged[logged.len() - 2..], &stored[..], "read back equal");
    assert!(
        logged
            .iter()
            .all(|e| e.event.ticket_id != stale.id() || e.event.kind == TicketEventKind::Created)
    );
    let payload = logged_payload(&*log, stored[1].id.get()).await;
    assert_eq!(payload["userId"], serde_json::Value::Null);
    assert_eq!(payload["role"], "system");
    assert_eq!(payload["reason"], "sla_breach");
    assert_eq!(payload["metric"], "first_response");

    // The breach is for staff only; the escalation reaches the customer.
    let customer_view = log
        .read_after(
            LogPosition::START,
            EventAudience::Customer(breached.customer_id()),
            100,
        )
        .await
        .unwrap();
    let kinds: Vec<_> = customer_view
        .iter()
        .filter(|e| e.event.ticket_id == breached.id())
        .map(|e| e.event.kind)
        .collect();
    assert_eq!(
        kinds,
        [TicketEventKind::Created, TicketEventKind::Escalated]
    );
    let (_, history) = repo
        .find_with_history(breached.id(), Some(breached.customer_id()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
}

async fn a_batch_of_fired_timers_is_saved_at_once(ctx: &Ctx) {
    let repo = ctx.repo();
    let now = at(5_000, 1);
    let mut batch = Vec::new();
    for _ in 0..60 {
        let ticket = timed(&*repo, Some(4_000), Some(4_000)).await;
        let warned = fired(&ticket, |s| {
            s.sla.warned = SlaMetrics::NONE.with(SlaMetric::Resolution);
            s.sla.next_timer_at = Some(at(9_000, 0));
            s.version += 1;
        });
        let event = TicketEvent::deadline(
            TicketEventKind::SlaWarning,
            &warned,
            SlaMetric::Resolution,
            now,
        );
        batch.push(FiredTimers {
            ticket: warned,
            expected_version: 1,
            events: vec![event],
        });
    }
    batch.reverse();
    let answers = repo.save_fired(batch.clone()).await.unwrap();
    for (fired, answer) in batch.iter().zip(&answers) {
        let stored = answer.as_ref().unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].event.ticket_id, fired.ticket.id());
    }
    assert!(
        repo.due_for_timers(at(8_000, 0), 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(repo.next_timer_at().await, Ok(Some(at(9_000, 0))));
}

async fn two_savers_of_the_same_fired_ticket_one_wins(ctx: &Ctx) {
    let log = ctx.log();
    for round in 0..5 {
        // Two handles: on PostgreSQL, two connections racing.
        let (first, second) = (ctx.repo(), ctx.repo());
        let ticket = timed(&*first, Some(100), Some(100)).await;
        let now = at(200, round);
        let save = |repo: std::sync::Arc<dyn TicketRepository>| {
            let breached = fired(&ticket, |s| {
                s.sla.breached = SlaMetrics::NONE.with(SlaMetric::FirstResponse);
                s.sla.next_timer_at = None;
                s.version += 1;
            });
            let event = TicketEvent::deadline(
                TicketEventKind::SlaBreached,
                &breached,
                SlaMetric::FirstResponse,
                now,
            );
            async move {
                repo.save_fired(vec![FiredTimers {
                    ticket: breached,
                    expected_version: 1,
                    events: vec![event],
                }])
                .await
                .unwrap()
                .remove(0)
            }
        };
        let (a, b) = tokio::join!(save(first), save(second));
        let wins = [&a, &b].iter().filter(|r| r.is_ok()).count();
        assert_eq!(wins, 1, "{a:?} {b:?}");
        assert!(
            [&a, &b].contains(&&Err(RepositoryError::Conflict)),
            "{a:?} {b:?}"
        );
        let breaches = all_events(&*log)
            .await
            .into_iter()
            .filter(|e| {
                e.event.ticket_id == ticket.id() && e.event.kind == TicketEventKind::SlaBreached
            })
            .count();
        assert_eq!(breaches, 1, "stored once");
    }
}

async fn a_saver_waiting_on_a_concurrent_change_loses(ctx: &Ctx) {
    if !matches!(ctx.db.backend(), support_persistence::Backend::Postgres) {
        return;
    }
    let repo = ctx.repo();
    let log = ctx.log();
    let ticket = timed(&*repo, Some(100), Some(100)).await;
    let mut raw = Raw::open(ctx).await;
    // Another writer changes the ticket and holds its row lock.
    raw.run_sql(&format!(
        "BEGIN; UPDATE support_tickets SET version = version + 1 WHERE id = {}",
        ticket.id().get()
    ))
    .await;
    let breached = fired(&ticket, |s| {
        s.sla.breached = SlaMetrics::NONE.with(SlaMetric::FirstResponse);
        s.sla.next_timer_at = None;
        s.version += 1;
    });
    let event = TicketEvent::deadline(
        TicketEventKind::SlaBreached,
        &breached,
        SlaMetric::FirstResponse,
        at(200, 0),
    );
    let saver = tokio::spawn({
        let repo = repo.clone();
        async move {
            repo.save_fired(vec![FiredTimers {
                ticket: breached,
                expected_version: 1,
                events: vec![event],
            }])
            .await
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!saver.is_finished(), "the saver waits for the row lock");
    raw.run_sql("COMMIT").await;
    let answer = saver.await.unwrap().unwrap().remove(0);
    assert_eq!(answer, Err(RepositoryError::Conflict));
    let breaches = all_events(&*log)
        .await
        .into_iter()
        .filter(|e| e.event.kind == TicketEventKind::SlaBreached)
        .count();
    assert_eq!(breaches, 0);
}
