//! Idempotency keys in the use cases: every write carries the request's
//! answer record to the store (so the store keeps the answer in the
//! change's transaction), a key taken by a concurrent request is not
//! retried, and the recorded-answer use cases (look up, record, amend,
//! purge) ask the answer store at the clock's time.

use std::sync::Arc;

use chrono::Duration;
use mockall::predicate::eq;

use crate::comment::CommentBody;
use crate::errors::{RepositoryError, SupportError};
use crate::idempotency::{
    AnswerRecord, Committed, IdempotencyKey, KeyedRequest, PastAnswer, RecordedAnswer, Replay,
    RequestFingerprint,
};
use crate::issue_type::IssueType;
use crate::priority::Priority;
use crate::staff_actions::{ActOnTicket, StaffAction};
use crate::status::Status;

use super::support::*;

fn keyed(fingerprint: &str) -> KeyedRequest {
    KeyedRequest {
        caller: customer_actor(),
        key: IdempotencyKey::parse("retry-me-1").unwrap(),
        fingerprint: RequestFingerprint::new(fingerprint).unwrap(),
    }
}

fn answer(status: u16, body: &str) -> RecordedAnswer {
    RecordedAnswer {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
    }
}

/// A record whose renderer writes the committed ticket's id and version
/// (or the comment's id) into the body, so a test can tell what it saw.
fn record() -> AnswerRecord {
    AnswerRecord {
        request: keyed("f1"),
        recorded_at: now(),
        expires_at: now() + Duration::hours(24),
        render: Arc::new(|committed| match committed {
            Committed::Ticket(t) => answer(200, &format!("ticket {} v{}", t.id(), t.version())),
            Committed::Comment { comment, .. } => answer(201, &format!("comment {}", comment.id())),
        }),
    }
}

fn is_ours(record: &Option<AnswerRecord>) -> bool {
    record.as_ref().is_some_and(|r| r.request == keyed("f1"))
}

#[tokio::test]
async fn a_create_hands_its_record_to_the_insert() {
    let mut m = fixture();
    m.one_number();
    let rec = record();
    m.repo
        .expect_insert()
        .withf(|_, _, _, record| is_ours(record))
        .times(1)
        .returning(|new, state, _, record| {
            let (ticket, event) = inserted(new, state);
            // What the store would keep: rendered from the stored ticket.
            let kept = record.unwrap().answer(Committed::Ticket(&ticket));
            assert_eq!(kept.body, format!("ticket {TICKET} v1").into_bytes());
            Ok((ticket, event))
        });
    m.any_events();
    m.award_succeeds();

    m.service()
        .create_ticket(customer(), request(IssueType::BookingIssue), Some(rec))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_create_retried_after_a_number_collision_hands_the_record_again() {
    let mut m = fixture();
    m.numbers.expect_generate().times(2).returning(first_number);
    let mut seq = mockall::Sequence::new();
    m.repo
        .expect_insert()
        .withf(|_, _, _, record| is_ours(record))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _, _| Err(RepositoryError::DuplicateTicketNumber));
    m.repo
        .expect_insert()
        .withf(|_, _, _, record| is_ours(record))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|new, state, _, _| Ok(inserted(new, state)));
    m.any_events();
    m.award_succeeds();
    let rec = record();

    m.service()
        .create_ticket(customer(), request(IssueType::BookingIssue), Some(rec))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_key_taken_by_a_concurrent_request_is_reported_not_retried() {
    let mut m = fixture();
    m.one_number();
    m.repo
        .expect_insert()
        .times(1)
        .returning(|_, _, _, _| Err(RepositoryError::IdempotencyKeyTaken));
    m.no_event();
    m.no_points();
    let rec = record();

    let err = m
        .service()
        .create_ticket(customer(), request(IssueType::BookingIssue), Some(rec))
        .await
        .unwrap_err();
    assert_eq!(err, SupportError::IdempotencyKeyTaken);
}

#[tokio::test]
async fn an_escalation_hands_its_record_to_the_update_and_again_after_a_lost_race() {
    let mut m = fixture();
    m.repo
        .expect_find_for_customer()
        .times(2)
        .returning(|_, _| Ok(Some(ticket_with(Status::Open, Priority::Medium))));
    let mut seq = mockall::Sequence::new();
    m.repo
        .expect_update()
        .withf(|_, _, _, record| is_ours(record))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _, _| Err(RepositoryError::Conflict));
    m.repo
        .expect_update()
        .withf(|t, _, _, record| {
            is_ours(record)
                && record.as_ref().unwrap().answer(Committed::Ticket(t)).body
                    == format!("ticket {TICKET} v2").into_bytes()
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _, _| Ok(escalated_event()));
    m.any_events();
    let rec = record();

    m.service()
        .escalate_ticket(customer(), tid(TICKET), reason("late"), Some(rec))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_staff_action_that_changes_nothing_stores_nothing() {
    let mut m = fixture();
    m.finds_any(ticket_with(Status::Open, Priority::Medium));
    m.no_writes();
    m.no_event();
    let rec = record();

    let outcome = m
        .service()
        .act_on_ticket(
            customer_actor(),
            tid(TICKET),
            ActOnTicket {
                action: StaffAction::Assign(None),
                note: None,
                if_match: None,
            },
            Some(rec),
        )
        .await
        .unwrap();
    assert!(
        !outcome.changed,
        "the caller records this answer on its own"
    );
}

#[tokio::test]
async fn a_comment_hands_its_record_to_the_store() {
    let mut m = fixture();
    m.finds(ticket_with(Status::InProgress, Priority::Medium));
    m.repo
        .expect_add_comment()
        .withf(|_, _, _, _, record| is_ours(record))
        .times(1)
        .returning(|c, t, _, _, _| {
            let comment = c.with_id(crate::ids::CommentId::new(5).unwrap());
            let event = crate::events::TicketEvent::comment_added(t, &comment);
            Ok((comment, vec![stored(951, event)]))
        });
    m.any_events();
    let rec = record();

    m.service()
        .add_customer_comment(
            customer(),
            tid(TICKET),
            CommentBody::parse("any news?").unwrap(),
            Some(rec),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn the_record_of_a_write_lives_for_the_configured_time_from_the_clock() {
    let m = fixture();
    let service = m
        .service()
        .with_answer_ttl(std::time::Duration::from_secs(7_200));
    let rec = service.answer_record(keyed("f1"), Arc::new(|_| answer(200, "")));
    assert_eq!(rec.recorded_at, now());
    assert_eq!(rec.expires_at, now() + Duration::hours(2));

    let default = fixture()
        .service()
        .answer_record(keyed("f1"), Arc::new(|_| answer(200, "")));
    assert_eq!(
        default.expires_at,
        now() + Duration::hours(24),
        "a day by default"
    );

    let zero = fixture()
        .service()
        .with_answer_ttl(std::time::Duration::ZERO)
        .answer_record(keyed("f1"), Arc::new(|_| answer(200, "")));
    assert_eq!(
        zero.expires_at,
        now() + Duration::seconds(1),
        "never born expired"
    );
}

#[tokio::test]
async fn a_past_answer_is_replayed_for_the_same_request_only() {
    let mut m = fixture();
    m.answers
        .expect_find()
        .with(
            eq(customer_actor()),
            eq(IdempotencyKey::parse("retry-me-1").unwrap()),
            eq(now()),
        )
        .times(3)
        .returning(|_, _, _| {
            Ok(Some(PastAnswer {
                fingerprint: RequestFingerprint::new("f1").unwrap(),
                answer: answer(201, "first"),
            }))
        });
    let service = m.service();

    assert_eq!(
        service.past_answer(&keyed("f1")).await.unwrap(),
        Some(Replay::Answer(answer(201, "first")))
    );
    assert_eq!(
        service.past_answer(&keyed("f2")).await.unwrap(),
        Some(Replay::OtherRequest)
    );
    assert_eq!(
        service.past_answer(&keyed("f1")).await.unwrap(),
        Some(Replay::Answer(answer(201, "first")))
    );
}

#[tokio::test]
async fn a_key_never_used_has_no_past_answer() {
    let mut m = fixture();
    m.answers
        .expect_find()
        .times(1)
        .returning(|_, _, _| Ok(None));
    assert_eq!(m.service().past_answer(&keyed("f1")).await.unwrap(), None);
}

#[tokio::test]
async fn a_refusal_is_recorded_with_its_lifetime() {
    let mut m = fixture();
    m.answers
        .expect_insert()
        .with(
            eq(keyed("f1")),
            eq(answer(400, "refused")),
            eq(now()),
            eq(now() + Duration::hours(24)),
        )
        .times(1)
        .returning(|_, _, _, _| Ok(true));
    let recorded = m
        .service()
        .record_answer(keyed("f1"), answer(400, "refused"))
        .await
        .unwrap();
    assert_eq!(recorded, None);
}

#[tokio::test]
async fn a_refusal_that_lost_to_a_concurrent_request_gets_that_ones_answer() {
    let mut m = fixture();
    m.answers
        .expect_insert()
        .times(1)
        .returning(|_, _, _, _| Ok(false));
    m.answers.expect_find().times(1).returning(|_, _, _| {
        Ok(Some(PastAnswer {
            fingerprint: RequestFingerprint::new("f1").unwrap(),
            answer: answer(200, "the winner's"),
        }))
    });
    let recorded = m
        .service()
        .record_answer(keyed("f1"), answer(400, "refused"))
        .await
        .unwrap();
    assert_eq!(recorded, Some(Replay::Answer(answer(200, "the winner's"))));
}

#[tokio::test]
async fn a_refusal_whose_rival_answer_expired_meanwhile_asks_for_a_retry() {
    let mut m = fixture();
    m.answers
        .expect_insert()
        .times(1)
        .returning(|_, _, _, _| Ok(false));
    m.answers
        .expect_find()
        .times(1)
        .returning(|_, _, _| Ok(None));
    let err = m
        .service()
        .record_answer(keyed("f1"), answer(400, "refused"))
        .await
        .unwrap_err();
    assert_eq!(err, SupportError::IdempotencyKeyTaken);
}

#[tokio::test]
async fn amending_replaces_and_purging_asks_at_the_clock_time() {
    let mut m = fixture();
    m.answers
        .expect_replace()
        .with(eq(keyed("f1")), eq(answer(201, "with the award's failure")))
        .times(1)
        .returning(|_, _| Ok(()));
    m.answers
        .expect_purge_expired()
        .with(eq(now()))
        .times(1)
        .returning(|_| Ok(3));
    let service = m.service();
    service
        .amend_answer(keyed("f1"), answer(201, "with the award's failure"))
        .await
        .unwrap();
    assert_eq!(service.purge_expired_answers().await.unwrap(), 3);
}

#[tokio::test]
async fn a_store_failure_is_a_storage_error() {
    let mut m = fixture();
    m.answers
        .expect_find()
        .times(1)
        .returning(|_, _, _| Err(RepositoryError::Unavailable("down".into())));
    let err = m.service().past_answer(&keyed("f1")).await.unwrap_err();
    assert!(matches!(err, SupportError::Storage(_)), "{err:?}");
}
