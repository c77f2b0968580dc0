//! Idempotency keys: a keyed write stores its change and its answer
//! (rendered from what it stored) atomically, a write whose key holds an
//! unexpired answer stores nothing. The answer store's own operations:
//! `answer_store.rs`; PostgreSQL's batches and races: `answer_races.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use support_domain::ports::AnswerStore;
use support_domain::{
    Actor, AnswerRecord, Comment, CommentBody, CommentGuard, Committed, IdempotencyKey,
    KeyedRequest, NewComment, PastAnswer, RecordedAnswer, RepositoryError, RequestFingerprint,
    Ticket,
};

use crate::support::*;

contract_tests!(
    a_keyed_create_stores_its_answer_rendered_from_the_stored_ticket,
    a_keyed_change_stores_its_answer_and_a_lost_version_check_renders_nothing,
    a_keyed_comment_stores_its_answer_rendered_from_the_stored_comment,
    a_write_whose_key_holds_an_unexpired_answer_stores_nothing,
    of_concurrent_writes_with_one_key_exactly_one_is_stored,
    a_write_replaces_an_expired_answer,
);

// ---------------------------------------------------------------- helpers

/// `caller`'s request with `key` whose fingerprint is `fingerprint`.
pub(crate) fn keyed(caller: Actor, key: &str, fingerprint: &str) -> KeyedRequest {
    KeyedRequest {
        caller,
        key: IdempotencyKey::parse(key).unwrap(),
        fingerprint: RequestFingerprint::new(fingerprint).unwrap(),
    }
}

/// The answer these tests render: the ids (and version) of what was
/// committed, so a stored answer shows it saw the real ones.
pub(crate) fn rendered(committed: Committed<'_>) -> RecordedAnswer {
    let body = match committed {
        Committed::Ticket(t) => format!(r#"{{"ticket":{},"version":{}}}"#, t.id(), t.version()),
        Committed::Comment { comment, ticket } => format!(
            r#"{{"comment":{},"ticket":{},"version":{}}}"#,
            comment.id(),
            ticket.id(),
            ticket.version()
        ),
    };
    let mut body = body.into_bytes();
    body.extend([0, 255]); // bytes, not text
    RecordedAnswer {
        status: 201,
        headers: vec![
            ("x-second".to_owned(), "2".to_owned()),
            ("content-type".to_owned(), "application/json".to_owned()),
        ],
        body,
    }
}

/// A record of `request`'s answer, recorded at `secs` and kept `ttl`
/// seconds, rendered by [`rendered`]; `renders` counts its calls.
pub(crate) fn record(
    request: KeyedRequest,
    secs: i64,
    ttl: i64,
    renders: &Arc<AtomicUsize>,
) -> AnswerRecord {
    let renders = Arc::clone(renders);
    AnswerRecord {
        request,
        recorded_at: at(secs, 0),
        expires_at: at(secs + ttl, 0),
        render: Arc::new(move |committed| {
            renders.fetch_add(1, Ordering::SeqCst);
            rendered(committed)
        }),
    }
}

/// A plain answer, for the store's own operations.
pub(crate) fn answer(status: u16, body: &str) -> RecordedAnswer {
    RecordedAnswer {
        status,
        headers: vec![("content-type".to_owned(), "text/plain".to_owned())],
        body: body.as_bytes().to_vec(),
    }
}

/// What `request`'s key holds at `secs`.
pub(crate) async fn past(
    store: &dyn AnswerStore,
    request: &KeyedRequest,
    secs: i64,
) -> Option<PastAnswer> {
    store
        .find(request.caller.clone(), request.key.clone(), at(secs, 0))
        .await
        .unwrap()
}

/// `past` is `request`'s, answered with `answer`.
pub(crate) fn answered(request: &KeyedRequest, answer: RecordedAnswer) -> Option<PastAnswer> {
    Some(PastAnswer {
        fingerprint: request.fingerprint.clone(),
        answer,
    })
}

/// Rows of `table`.
pub(crate) async fn rows(raw: &mut Raw, table: &str) -> i64 {
    raw.count(&format!(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM {table}"
    ))
    .await
}

/// A public comment by staff member 7 on `ticket` at `secs`, with
/// `record`: the first response, so it also changes the ticket.
async fn staff_reply(
    ctx: &Ctx,
    ticket: &Ticket,
    secs: i64,
    record: Option<AnswerRecord>,
) -> Result<(Comment, Ticket), RepositoryError> {
    let mut changed = ticket.clone();
    assert!(changed.record_first_response(at(secs, 0)));
    let comment = NewComment {
        ticket_id: ticket.id(),
        author: staff(7),
        body: CommentBody::parse("we are on it").unwrap(),
        internal: false,
        created_at: at(secs, 0),
    };
    let guard = CommentGuard::Changes {
        expected_version: ticket.version(),
    };
    let (comment, _) = ctx
        .repo()
        .add_comment(comment, &changed, guard, None, record)
        .await?;
    Ok((comment, changed))
}

// ------------------------------------------------------------ the writes

async fn a_keyed_create_stores_its_answer_rendered_from_the_stored_ticket(ctx: &Ctx) {
    let (repo, answers) = (ctx.repo(), ctx.db.answers());
    insert(&*repo, 40, 0).await; // the keyed ticket's id is not the first
    let new = new_ticket(41, support_domain::IssueType::Other, at(1, 5));
    let request = keyed(owner_of(&new), "create-1", "f-create");
    let renders = Arc::new(AtomicUsize::new(0));
    let state = new.initial_state(&support_domain::SlaPolicy::default());
    let (ticket, _) = repo
        .insert(
            new.clone(),
            state,
            owner_of(&new),
            Some(record(request.clone(), 1, 60, &renders)),
        )
        .await
        .unwrap();
    assert_eq!(renders.load(Ordering::SeqCst), 1, "rendered once");
    assert_eq!(
        past(&*answers, &request, 2).await,
        answered(&request, rendered(Committed::Ticket(&ticket))),
        "with the stored ticket's id and version, headers in order, bytes kept"
    );
    assert_eq!(repo.find(ticket.id()).await.unwrap(), Some(ticket));
}

async fn a_keyed_change_stores_its_answer_and_a_lost_version_check_renders_nothing(ctx: &Ctx) {
    let (repo, answers) = (ctx.repo(), ctx.db.answers());
    let mut ticket = insert(&*repo, 42, 0).await;
    let stale = ticket.clone();
    ticket.escalate(None, at(1, 0)).unwrap();
    let request = keyed(owner_of(ticket.created()), "change-1", "f-change");
    let renders = Arc::new(AtomicUsize::new(0));
    let keyed_change = record(request.clone(), 1, 60, &renders);
    repo.update(&ticket, 1, change_event(&ticket), Some(keyed_change))
        .await
        .unwrap();
    assert_eq!(
        past(&*answers, &request, 2).await,
        answered(&request, rendered(Committed::Ticket(&ticket)))
    );

    // From the old version: a conflict, nothing rendered nor recorded.
    let mut late = stale;
    late.escalate(None, at(2, 0)).unwrap();
    let other = keyed(owner_of(late.created()), "change-2", "f-change");
    let renders = Arc::new(AtomicUsize::new(0));
    let lost = record(other.clone(), 2, 60, &renders);
    assert_eq!(
        repo.update(&late, 1, change_event(&late), Some(lost))
            .await
            .map(drop),
        Err(RepositoryError::Conflict)
    );
    assert_eq!(renders.load(Ordering::SeqCst), 0);
    assert_eq!(past(&*answers, &other, 3).await, None);
}

async fn a_keyed_comment_stores_its_answer_rendered_from_the_stored_comment(ctx: &Ctx) {
    let (repo, answers) = (ctx.repo(), ctx.db.answers());
    let ticket = insert(&*repo, 43, 0).await;
    let request = keyed(staff(7), "comment-1", "f-comment");
    let renders = Arc::new(AtomicUsize::new(0));
    let keyed_reply = record(request.clone(), 1, 60, &renders);
    let (comment, changed) = staff_reply(ctx, &ticket, 1, Some(keyed_reply))
        .await
        .unwrap();
    let committed = Committed::Comment {
        comment: &comment,
        ticket: &changed,
    };
    assert_eq!(
        past(&*answers, &request, 2).await,
        answered(&request, rendered(committed))
    );
    assert_eq!(repo.find(ticket.id()).await.unwrap(), Some(changed));
}

async fn a_write_whose_key_holds_an_unexpired_answer_stores_nothing(ctx: &Ctx) {
    let (repo, answers) = (ctx.repo(), ctx.db.answers());
    let mut raw = Raw::open(ctx).await;
    let mut target = insert(&*repo, 44, 0).await;
    async fn counts(raw: &mut Raw) -> (i64, i64, i64) {
        (
            rows(raw, "support_tickets").await,
            rows(raw, "ticket_events").await,
            rows(raw, "ticket_comments").await,
        )
    }
    let customer = owner_of(target.created());
    let renders = Arc::new(AtomicUsize::new(0));
    // The key answered a create (kept 100 s).
    let request = keyed(customer.clone(), "taken", "f-first");
    let new = new_ticket(44, support_domain::IssueType::Other, at(1, 0));
    let state = new.initial_state(&support_domain::SlaPolicy::default());
    let first = record(request.clone(), 1, 100, &renders);
    repo.insert(new, state, customer.clone(), Some(first))
        .await
        .unwrap();
    let kept = past(&*answers, &request, 2).await;
    let before = counts(&mut raw).await;

    // A create, a change and a comment with the same key, 50 s later.
    let again = record(
        keyed(customer.clone(), "taken", "f-other"),
        50,
        100,
        &renders,
    );
    let new = new_ticket(44, support_domain::IssueType::Other, at(50, 0));
    let state = new.initial_state(&support_domain::SlaPolicy::default());
    assert_eq!(
        repo.insert(new, state, customer.clone(), Some(again.clone()))
            .await
            .map(drop),
        Err(RepositoryError::IdempotencyKeyTaken)
    );
    let mut escalated = target.clone();
    escalated.escalate(None, at(50, 0)).unwrap();
    let event = change_event(&escalated);
    assert_eq!(
        repo.update(&escalated, 1, event, Some(again.clone()))
            .await
            .map(drop),
        Err(RepositoryError::IdempotencyKeyTaken)
    );
    let staff_again = AnswerRecord {
        request: keyed(staff(7), "taken-by-staff", "f"),
        ..again
    };
    answers
        .insert(
            staff_again.request.clone(),
            answer(200, "first"),
            at(1, 0),
            at(101, 0),
        )
        .await
        .unwrap();
    assert_eq!(
        staff_reply(ctx, &target, 50, Some(staff_again))
            .await
            .map(drop),
        Err(RepositoryError::IdempotencyKeyTaken)
    );

    assert_eq!(
        counts(&mut raw).await,
        before,
        "no ticket, event or comment"
    );
    let found = repo.find(target.id()).await.unwrap().unwrap();
    assert_eq!(found, target, "neither the change nor the first response");
    assert_eq!(past(&*answers, &request, 60).await, kept, "kept as it was");
    target.escalate(None, at(51, 0)).unwrap();
    repo.update(&target, 1, change_event(&target), None)
        .await
        .expect("the ticket is still at its version");
}

async fn of_concurrent_writes_with_one_key_exactly_one_is_stored(ctx: &Ctx) {
    let (repo, answers) = (ctx.repo(), ctx.db.answers());
    let mut raw = Raw::open(ctx).await;
    let request = keyed(Actor::customer(customer(45).into()), "at-once", "f");
    let renders = Arc::new(AtomicUsize::new(0));
    let writes = (0..8).map(|n| {
        let repo = Arc::clone(&repo);
        let keyed_create = record(request.clone(), 1, 60, &renders);
        async move {
            let new = new_ticket(45, support_domain::IssueType::Other, at(n, 0));
            let state = new.initial_state(&support_domain::SlaPolicy::default());
            let actor = owner_of(&new);
            repo.insert(new, state, actor, Some(keyed_create)).await
        }
    });
    let results = futures_util::future::join_all(writes).await;
    let stored: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(stored.len(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .filter(|r| r.is_err())
            .all(|r| r == &Err(RepositoryError::IdempotencyKeyTaken)),
        "{results:?}"
    );
    assert_eq!(rows(&mut raw, "support_tickets").await, 1);
    assert_eq!(rows(&mut raw, "ticket_events").await, 1);
    let (winner, _) = stored[0];
    assert_eq!(
        past(&*answers, &request, 2).await,
        answered(&request, rendered(Committed::Ticket(winner)))
    );
}

async fn a_write_replaces_an_expired_answer(ctx: &Ctx) {
    let (repo, answers) = (ctx.repo(), ctx.db.answers());
    let owner = Actor::customer(customer(46).into());
    let old = keyed(owner.clone(), "reused", "f-old");
    let recorded = answers.insert(old.clone(), answer(400, "old"), at(0, 0), at(10, 0));
    assert!(recorded.await.unwrap());
    // Recorded exactly when the old one expires (`expires_at <= recorded_at`).
    let request = keyed(owner.clone(), "reused", "f-new");
    let renders = Arc::new(AtomicUsize::new(0));
    let new = new_ticket(46, support_domain::IssueType::Other, at(10, 0));
    let state = new.initial_state(&support_domain::SlaPolicy::default());
    let keyed_create = record(request.clone(), 10, 60, &renders);
    let (ticket, _) = repo
        .insert(new, state, owner, Some(keyed_create))
        .await
        .unwrap();
    assert_eq!(
        past(&*answers, &request, 11).await,
        answered(&request, rendered(Committed::Ticket(&ticket)))
    );
    assert_eq!(past(&*answers, &request, 70).await, None, "expired in turn");
}
