//! The answer store's own operations (idempotency keys): lookups ignore
//! expired answers and other callers' keys, recording happens only when
//! the key is free or its answer expired, replacing touches only the same
//! request's answer, the purge removes only expired answers, and what this
//! store did not write reads as corrupt.

use support_domain::{Actor, RepositoryError, Role, UserId};

use crate::answers::{answer, answered, keyed, past, rows};
use crate::support::*;

contract_tests!(
    find_ignores_expired_answers_and_other_callers,
    insert_records_only_when_the_key_is_free_or_expired,
    replace_overwrites_only_the_same_requests_answer,
    purge_removes_only_expired_answers,
    an_answer_this_store_did_not_write_reads_as_corrupt,
);

async fn find_ignores_expired_answers_and_other_callers(ctx: &Ctx) {
    let answers = ctx.db.answers();
    let owner = Actor::customer(customer(50).into());
    let request = keyed(owner.clone(), "k", "f");
    let stored = answer(201, "created");
    assert!(
        answers
            .insert(request.clone(), stored.clone(), at(0, 0), at(10, 0))
            .await
            .unwrap()
    );
    assert_eq!(
        past(&*answers, &request, 0).await,
        answered(&request, stored.clone())
    );
    assert_eq!(
        past(&*answers, &request, 9).await,
        answered(&request, stored)
    );
    assert_eq!(
        past(&*answers, &request, 10).await,
        None,
        "expires_at <= now"
    );
    // The same key of another user, or of the same user id in another role.
    let other_user = keyed(Actor::customer(customer(51).into()), "k", "f");
    let other_role = keyed(
        Actor {
            user_id: UserId::new(50).unwrap(),
            role: Role::Staff,
        },
        "k",
        "f",
    );
    assert_eq!(past(&*answers, &other_user, 0).await, None);
    assert_eq!(past(&*answers, &other_role, 0).await, None);
    assert_eq!(past(&*answers, &keyed(owner, "K", "f"), 0).await, None);
}

async fn insert_records_only_when_the_key_is_free_or_expired(ctx: &Ctx) {
    let answers = ctx.db.answers();
    let owner = Actor::customer(customer(52).into());
    let first = keyed(owner.clone(), "k", "f-1");
    let second = keyed(owner.clone(), "k", "f-2");
    assert!(
        answers
            .insert(first.clone(), answer(422, "first"), at(0, 0), at(10, 0))
            .await
            .unwrap()
    );
    assert!(
        !answers
            .insert(second.clone(), answer(201, "second"), at(5, 0), at(20, 0))
            .await
            .unwrap(),
        "unexpired: nothing changed"
    );
    assert_eq!(
        past(&*answers, &first, 6).await,
        answered(&first, answer(422, "first"))
    );
    assert!(
        answers
            .insert(second.clone(), answer(201, "second"), at(10, 0), at(20, 0))
            .await
            .unwrap(),
        "expired at the second's recording: replaced"
    );
    assert_eq!(
        past(&*answers, &first, 11).await,
        answered(&second, answer(201, "second"))
    );
    // Other callers' keys are their own.
    let staff_key = keyed(staff(52), "k", "f-1");
    assert!(
        answers
            .insert(staff_key, answer(200, "staff"), at(11, 0), at(20, 0))
            .await
            .unwrap()
    );
}

async fn replace_overwrites_only_the_same_requests_answer(ctx: &Ctx) {
    let answers = ctx.db.answers();
    let owner = Actor::customer(customer(53).into());
    let request = keyed(owner.clone(), "k", "f");
    assert!(
        answers
            .insert(
                request.clone(),
                answer(201, "recorded"),
                at(0, 0),
                at(10, 0)
            )
            .await
            .unwrap()
    );
    // Another request with the key, and a key that holds nothing: no-ops.
    let other = keyed(owner.clone(), "k", "f-other");
    answers.replace(other, answer(500, "other")).await.unwrap();
    answers
        .replace(keyed(owner.clone(), "absent", "f"), answer(500, "absent"))
        .await
        .unwrap();
    assert_eq!(
        past(&*answers, &request, 1).await,
        answered(&request, answer(201, "recorded"))
    );
    assert_eq!(past(&*answers, &keyed(owner, "absent", "f"), 1).await, None);

    let sent = support_domain::RecordedAnswer {
        status: 201,
        headers: vec![
            ("etag".to_owned(), "\"2\"".to_owned()),
            ("content-type".to_owned(), "application/json".to_owned()),
        ],
        body: vec![b'{', 0, 255, b'}'],
    };
    answers
        .replace(request.clone(), sent.clone())
        .await
        .unwrap();
    assert_eq!(past(&*answers, &request, 1).await, answered(&request, sent));
    assert_eq!(
        past(&*answers, &request, 10).await,
        None,
        "its lifetime is kept"
    );
}

async fn purge_removes_only_expired_answers(ctx: &Ctx) {
    let answers = ctx.db.answers();
    let mut raw = Raw::open(ctx).await;
    let owner = Actor::customer(customer(54).into());
    for (n, expires) in [5, 10, 10, 11, 30].into_iter().enumerate() {
        let request = keyed(owner.clone(), &format!("k{n}"), "f");
        assert!(
            answers
                .insert(request, answer(201, "x"), at(0, 0), at(expires, 0))
                .await
                .unwrap()
        );
    }
    assert_eq!(answers.purge_expired(at(10, 0)).await, Ok(3));
    assert_eq!(rows(&mut raw, "idempotency_keys").await, 2);
    assert_eq!(answers.purge_expired(at(10, 0)).await, Ok(0));
    let kept = keyed(owner, "k3", "f");
    assert_eq!(
        past(&*answers, &kept, 10).await,
        answered(&kept, answer(201, "x"))
    );
}

async fn an_answer_this_store_did_not_write_reads_as_corrupt(ctx: &Ctx) {
    let answers = ctx.db.answers();
    let mut raw = Raw::open(ctx).await;
    let request = keyed(Actor::customer(customer(55).into()), "k", "f");
    assert!(
        answers
            .insert(request.clone(), answer(201, "x"), at(0, 0), at(10, 0))
            .await
            .unwrap()
    );
    for corruption in [
        r#"UPDATE idempotency_keys SET headers = '{"content-type":"text/plain"}'"#,
        r#"UPDATE idempotency_keys SET headers = '[["a"]]'"#,
        "UPDATE idempotency_keys SET headers = 'not json'",
    ] {
        raw.run_sql(corruption).await;
        let found = answers
            .find(request.caller.clone(), request.key.clone(), at(1, 0))
            .await;
        assert!(
            matches!(found, Err(RepositoryError::Corrupt(_))),
            "{corruption}: {found:?}"
        );
    }
}
