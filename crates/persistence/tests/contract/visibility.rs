//! What a customer may read: never an internal event, neither from the log
//! nor in a ticket's history; staff read everything. And every kind of
//! event details, with a staff note, comes back as written.

use support_domain::{
    EventAudience, EventDetails, LogPosition, Resolution, ResolutionDetails, ResolutionType,
    StaffId, StaffNote, Status, StoredEvent, TicketEvent, TicketEventKind,
};

use crate::support::*;

contract_tests!(
    customers_never_read_internal_events,
    every_kind_of_event_details_and_its_note_round_trip,
);

async fn customers_never_read_internal_events(ctx: &Ctx) {
    let repo = ctx.repo();
    let log = ctx.log();
    let mut ticket = insert(&*repo, 700, 0).await;
    let mut staff_only = Vec::new();
    let mut public = Vec::new();
    for (n, internal) in [true, false, true, false].into_iter().enumerate() {
        let (_, events) = comment_on(
            &*repo,
            &mut ticket,
            staff(70),
            "about the refund",
            internal,
            at(n as i64 + 1, 0),
        )
        .await
        .unwrap();
        if internal {
            staff_only.extend(events);
        } else {
            public.extend(events);
        }
    }
    let everything = all_events(&*log).await;
    assert_eq!(everything.len(), 5, "the creation and four comments");
    let created = everything[0].clone();

    let customer_view = |events: &[StoredEvent]| -> Vec<StoredEvent> {
        events
            .iter()
            .filter(|e| !e.event.is_internal())
            .cloned()
            .collect()
    };
    let mine = log
        .read_after(
            LogPosition::START,
            EventAudience::Customer(customer(700)),
            100,
        )
        .await
        .unwrap();
    assert_eq!(mine, customer_view(&everything));
    assert_eq!(mine[1..], public[..]);
    assert!(mine.iter().all(|e| !staff_only.contains(e)));
    // A limit counts only what the customer may see.
    let after_created = LogPosition::after(created.id);
    let one = log
        .read_after(after_created, EventAudience::Customer(customer(700)), 1)
        .await
        .unwrap();
    assert_eq!(one, public[..1]);

    let (_, history) = repo
        .find_with_history(ticket.id(), Some(customer(700)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        history, mine,
        "the customer's history has no internal event"
    );
    let (_, history) = repo
        .find_with_history(ticket.id(), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(history, everything, "staff see the whole history");
}

async fn every_kind_of_event_details_and_its_note_round_trip(ctx: &Ctx) {
    let repo = ctx.repo();
    let log = ctx.log();
    let mut ticket = insert(&*repo, 710, 0).await;
    let actor = staff(71);
    let note = |text: &str| StaffNote::parse(text).unwrap();
    let mut written = vec![all_events(&*log).await[0].clone()];

    // Assigned, with a note.
    let version = ticket.version();
    ticket
        .assign(Some(StaffId::new(71).unwrap()), at(1, 1))
        .unwrap();
    let event = TicketEvent::assigned(actor.clone(), &ticket, None, at(1, 1))
        .with_note(note("taking this one — \"VIP\" 🎩"));
    written.push(repo.update(&ticket, version, event, None).await.unwrap());

    // A status change without and one with a resolution.
    let version = ticket.version();
    ticket.start(StaffId::new(71).unwrap(), at(2, 2)).unwrap();
    let event = TicketEvent::status_changed(Some(actor.clone()), &ticket, Status::Open, at(2, 2));
    written.push(repo.update(&ticket, version, event, None).await.unwrap());
    let version = ticket.version();
    let resolution = Resolution {
        kind: ResolutionType::Replacement,
        details: ResolutionDetails::parse("a new dish\nwas served").unwrap(),
    };
    ticket.resolve(resolution, at(3, 3)).unwrap();
    let event =
        TicketEvent::status_changed(Some(actor.clone()), &ticket, Status::InProgress, at(3, 3))
            .with_note(note("kitchen confirmed"));
    written.push(repo.update(&ticket, version, event, None).await.unwrap());

    // Escalated, with a note, and nobody assigned any more.
    let version = ticket.version();
    ticket.assign(None, at(4, 4)).unwrap();
    let event = TicketEvent::assigned(
        actor.clone(),
        &ticket,
        Some(StaffId::new(71).unwrap()),
        at(4, 4),
    );
    written.push(repo.update(&ticket, version, event, None).await.unwrap());
    let mut other = insert(&*repo, 710, 5).await;
    let version = other.version();
    other.escalate(None, at(5, 5)).unwrap();
    let event = TicketEvent::about(TicketEventKind::Escalated, actor.clone(), &other, at(5, 5))
        .with_note(note("customer called twice"));
    let escalated = repo.update(&other, version, event, None).await.unwrap();

    // Comments, public and internal.
    for internal in [false, true] {
        let (_, events) = comment_on(
            &*repo,
            &mut ticket,
            actor.clone(),
            "noted",
            internal,
            at(6, 6),
        )
        .await
        .unwrap();
        written.extend(events);
    }

    let kinds: Vec<_> = written
        .iter()
        .map(|e| std::mem::discriminant(&e.event.details))
        .collect();
    for details in [
        EventDetails::None,
        EventDetails::Assigned {
            previous: None,
            assignee: None,
        },
        EventDetails::StatusChanged {
            previous: Status::Open,
            assignee: None,
            resolution: None,
        },
    ] {
        assert!(kinds.contains(&std::mem::discriminant(&details)));
    }
    assert!(written.iter().any(|e| e.event.is_internal()));

    let (_, history) = repo
        .find_with_history(ticket.id(), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(history, written, "read back as written, notes included");
    let logged = all_events(&*log).await;
    assert!(logged.contains(&escalated));
    assert_eq!(
        escalated.event.note.as_ref().map(StaffNote::as_str),
        Some("customer called twice")
    );
    assert!(written.iter().all(|e| logged.contains(e)));
}
