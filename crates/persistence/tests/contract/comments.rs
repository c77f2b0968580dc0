//! The conversation: comments stored with their ticket's change (or a check
//! that the ticket is as they were decided on) and their events, read
//! oldest first in pages, internal ones for staff only.

use std::sync::Arc;

use support_domain::{
    CommentGuard, CommentId, EventAudience, EventDetails, LogPosition, RepositoryError, Resolution,
    ResolutionDetails, ResolutionType, Status, TicketEvent, TicketEventKind, Transition,
};

use crate::support::*;

contract_tests!(
    comments_are_stored_with_their_events_and_read_oldest_first_in_pages,
    internal_comments_are_listed_for_staff_only,
    a_comment_on_a_ticket_that_moved_conflicts_and_stores_nothing,
    a_reply_that_reopens_logs_the_reopening_then_the_comment,
    of_concurrent_comments_from_one_version_exactly_one_is_stored,
    concurrent_comments_that_leave_the_ticket_are_all_stored,
    a_comment_decided_on_a_status_the_ticket_left_conflicts,
);

async fn comments_are_stored_with_their_events_and_read_oldest_first_in_pages(ctx: &Ctx) {
    let repo = ctx.repo();
    let log = ctx.log();
    let mut ticket = insert(&*repo, 600, 0).await;
    let other = insert(&*repo, 601, 0).await;
    let owner = owner_of(ticket.created());
    let mut stored = Vec::new();
    for (n, author) in [owner.clone(), staff(7), owner.clone(), staff(7), owner]
        .into_iter()
        .enumerate()
    {
        let when = at(10 + n as i64, 123_456);
        let (comment, events) = comment_on(
            &*repo,
            &mut ticket,
            author.clone(),
            &format!("message {n} 😀"),
            false,
            when,
        )
        .await
        .unwrap();
        assert_eq!(
            (comment.ticket_id(), comment.author(), comment.created_at()),
            (ticket.id(), &author, when)
        );
        assert_eq!(comment.body().as_str(), format!("message {n} 😀"));
        assert_eq!(events.len(), 1, "one event per comment");
        assert_eq!(
            events[0].event,
            TicketEvent::comment_added(&ticket, &comment),
            "built once the comment has its id"
        );
        stored.push((comment, events[0].clone()));
    }
    let ids: Vec<i64> = stored.iter().map(|(c, _)| c.id().get()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow: {ids:?}");
    // Every event is in the log where it was said to be, in comment order.
    let logged = log
        .read_after(LogPosition::START, EventAudience::Everyone, 100)
        .await
        .unwrap();
    let events: Vec<_> = stored.iter().map(|(_, e)| e.clone()).collect();
    assert_eq!(logged[2..], events[..], "after the two creations");

    // Only the first public staff comment changed the ticket: its first
    // response. The other comments left it as it was.
    let found = repo.find(ticket.id()).await.unwrap().unwrap();
    assert_eq!(found, ticket);
    assert_eq!(
        (found.version(), found.first_responded_at()),
        (2, Some(at(11, 123_456)))
    );

    // Oldest first, in pages after a cursor.
    let comments: Vec<_> = stored.iter().map(|(c, _)| c.clone()).collect();
    assert_eq!(
        repo.comments(ticket.id(), true, None, 100).await.unwrap(),
        comments
    );
    let first = repo.comments(ticket.id(), false, None, 2).await.unwrap();
    assert_eq!(first, comments[..2]);
    let second = repo
        .comments(ticket.id(), false, Some(first[1].id()), 2)
        .await
        .unwrap();
    assert_eq!(second, comments[2..4]);
    let last = repo
        .comments(ticket.id(), false, Some(second[1].id()), 2)
        .await
        .unwrap();
    assert_eq!(last, comments[4..]);
    let beyond = CommentId::new(ids[4]).unwrap();
    assert!(
        repo.comments(ticket.id(), true, Some(beyond), 2)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        repo.comments(other.id(), true, None, 100)
            .await
            .unwrap()
            .is_empty(),
        "another ticket's conversation is its own"
    );
}

async fn internal_comments_are_listed_for_staff_only(ctx: &Ctx) {
    let repo = ctx.repo();
    let mut ticket = insert(&*repo, 610, 0).await;
    let mut all = Vec::new();
    for (n, internal) in [false, true, true, false, true].into_iter().enumerate() {
        let (comment, events) = comment_on(
            &*repo,
            &mut ticket,
            staff(8),
            "staff talk",
            internal,
            at(n as i64 + 1, 0),
        )
        .await
        .unwrap();
        assert_eq!(comment.internal(), internal);
        assert_eq!(events[0].event.is_internal(), internal);
        all.push(comment);
    }
    let public: Vec<_> = all.iter().filter(|c| !c.internal()).cloned().collect();
    assert_eq!(
        repo.comments(ticket.id(), true, None, 100).await.unwrap(),
        all
    );
    assert_eq!(
        repo.comments(ticket.id(), false, None, 100).await.unwrap(),
        public
    );
    // A page of public comments skips the internal ones between them.
    let page = repo
        .comments(ticket.id(), false, Some(public[0].id()), 1)
        .await
        .unwrap();
    assert_eq!(page, public[1..2]);
    // Only public staff comments count as a response.
    let found = repo.find(ticket.id()).await.unwrap().unwrap();
    assert_eq!(found.first_responded_at(), Some(at(1, 0)));
}

async fn a_comment_on_a_ticket_that_moved_conflicts_and_stores_nothing(ctx: &Ctx) {
    let repo = ctx.repo();
    let mut raw = Raw::open(ctx).await;
    let mut ticket = insert(&*repo, 620, 0).await;
    let stale = ticket.clone();
    comment_on(&*repo, &mut ticket, staff(9), "first", false, at(1, 0))
        .await
        .unwrap();
    let events_before = raw.event_count().await;
    // Decided on the version before that comment.
    let mut late = stale;
    let refused = comment_on(&*repo, &mut late, staff(9), "too late", false, at(2, 0)).await;
    assert_eq!(refused.map(drop), Err(RepositoryError::Conflict));
    assert_eq!(
        raw.count("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM ticket_comments")
            .await,
        1,
        "the refused comment was not stored"
    );
    assert_eq!(raw.event_count().await, events_before, "nor its event");
    let found = repo.find(ticket.id()).await.unwrap().unwrap();
    assert_eq!(found, ticket, "the ticket is as the first comment left it");
}

async fn a_reply_that_reopens_logs_the_reopening_then_the_comment(ctx: &Ctx) {
    let repo = ctx.repo();
    let log = ctx.log();
    let mut ticket = insert(&*repo, 630, 0).await;
    let resolution = Resolution {
        kind: ResolutionType::Apology,
        details: ResolutionDetails::parse("we are sorry").unwrap(),
    };
    let version = ticket.version();
    ticket.resolve(resolution, at(1, 0)).unwrap();
    let resolved = TicketEvent::status_changed(Some(staff(5)), &ticket, Status::Open, at(1, 0));
    repo.update(&ticket, version, resolved, None).await.unwrap();

    // The customer replies: the ticket reopens, one change with the comment.
    let owner = owner_of(ticket.created());
    let expected = ticket.version();
    let mut reply = ticket.clone();
    reply.apply(Transition::Reopen, at(2, 0)).unwrap();
    let reopened =
        TicketEvent::status_changed(Some(owner.clone()), &reply, Status::Resolved, at(2, 0));
    let comment = support_domain::NewComment {
        ticket_id: ticket.id(),
        author: owner,
        body: support_domain::CommentBody::parse("it happened again").unwrap(),
        internal: false,
        created_at: at(2, 0),
    };
    let (comment, events) = repo
        .add_comment(
            comment,
            &reply,
            CommentGuard::Changes {
                expected_version: expected,
            },
            Some(reopened.clone()),
            None,
        )
        .await
        .unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.event.kind).collect();
    assert_eq!(
        kinds,
        [
            TicketEventKind::StatusChanged,
            TicketEventKind::CommentAdded
        ]
    );
    assert!(events[0].id < events[1].id, "in log order");
    assert_eq!(events[0].event, reopened);
    assert_eq!(events[1].event.status, Status::Open);
    assert_eq!(
        events[1].event.details,
        EventDetails::Comment {
            id: comment.id(),
            internal: false,
            body: comment.body().clone(),
        }
    );
    let before_reply = LogPosition::new(events[0].id.get() - 1).unwrap();
    let tail = log
        .read_after(before_reply, EventAudience::Everyone, 10)
        .await
        .unwrap();
    assert_eq!(
        tail, events,
        "nothing between them, and read back as returned"
    );
    let (found, history) = repo
        .find_with_history(ticket.id(), Some(ticket.customer_id()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, reply);
    assert_eq!((found.status(), found.resolution()), (Status::Open, None));
    assert_eq!(history[history.len() - 2..], events[..]);
}

async fn of_concurrent_comments_from_one_version_exactly_one_is_stored(ctx: &Ctx) {
    let repo = ctx.repo();
    let log = ctx.log();
    let mut raw = Raw::open(ctx).await;
    let ticket = insert(&*repo, 640, 0).await;
    let attempts: Vec<_> = (0..20)
        .map(|n| {
            let repo = Arc::clone(&repo);
            let mut ticket = ticket.clone();
            tokio::spawn(async move {
                comment_on(&*repo, &mut ticket, staff(64), "me first", false, at(n, 0)).await
            })
        })
        .collect();
    let mut won = Vec::new();
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(stored) => won.push(stored),
            Err(error) => assert_eq!(error, RepositoryError::Conflict),
        }
    }
    assert_eq!(won.len(), 1, "one version, one first response");
    let (comment, events) = won.remove(0);
    assert_eq!(
        repo.comments(ticket.id(), true, None, 100).await.unwrap(),
        [comment]
    );
    assert_eq!(raw.event_count().await, 2, "the creation and the winner's");
    assert_eq!(all_events(&*log).await[1..], events[..]);
    assert_eq!(repo.find(ticket.id()).await.unwrap().unwrap().version(), 2);
}

async fn concurrent_comments_that_leave_the_ticket_are_all_stored(ctx: &Ctx) {
    let repo = ctx.repo();
    let mut raw = Raw::open(ctx).await;
    let ticket = insert(&*repo, 650, 0).await;
    let attempts: Vec<_> = (0..20)
        .map(|n| {
            let repo = Arc::clone(&repo);
            let mut ticket = ticket.clone();
            tokio::spawn(async move {
                comment_on(&*repo, &mut ticket, staff(65), "note", true, at(n, 0)).await
            })
        })
        .collect();
    for attempt in attempts {
        attempt.await.unwrap().unwrap();
    }
    assert_eq!(
        repo.comments(ticket.id(), true, None, 100)
            .await
            .unwrap()
            .len(),
        20
    );
    assert_eq!(
        raw.event_count().await,
        21,
        "the creation and a comment each"
    );
    let found = repo.find(ticket.id()).await.unwrap().unwrap();
    assert_eq!(found, ticket, "internal notes leave the ticket as it was");
}

async fn a_comment_decided_on_a_status_the_ticket_left_conflicts(ctx: &Ctx) {
    let repo = ctx.repo();
    let mut raw = Raw::open(ctx).await;
    let mut ticket = insert(&*repo, 660, 0).await;
    let as_read = ticket.clone();
    let version = ticket.version();
    ticket.apply(Transition::Close, at(1, 0)).unwrap();
    let closed = TicketEvent::status_changed(Some(staff(5)), &ticket, Status::Open, at(1, 0));
    repo.update(&ticket, version, closed, None).await.unwrap();
    let events_before = raw.event_count().await;
    let mut late = as_read;
    let refused = comment_on(&*repo, &mut late, staff(9), "note", true, at(2, 0)).await;
    assert_eq!(refused.map(drop), Err(RepositoryError::Conflict));
    assert_eq!(
        repo.comments(ticket.id(), true, None, 100).await.unwrap(),
        []
    );
    assert_eq!(raw.event_count().await, events_before);

    // The client's If-Match is checked the same way.
    let open = insert(&*repo, 661, 0).await;
    let comment = support_domain::NewComment {
        ticket_id: open.id(),
        author: staff(9),
        body: support_domain::CommentBody::parse("checked").unwrap(),
        internal: true,
        created_at: at(3, 0),
    };
    let stale_version = CommentGuard::Leaves {
        status: Status::Open,
        version: Some(open.version() + 1),
    };
    assert_eq!(
        repo.add_comment(comment.clone(), &open, stale_version, None, None)
            .await
            .map(drop),
        Err(RepositoryError::Conflict)
    );
    let current_version = CommentGuard::Leaves {
        status: Status::Open,
        version: Some(open.version()),
    };
    assert!(
        repo.add_comment(comment, &open, current_version, None, None)
            .await
            .is_ok()
    );
}
