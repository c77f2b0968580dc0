//! Idempotency keys under concurrency, on both backends: twenty requests
//! with one key at once make one ticket (on one instance, and on two
//! sharing a database); what happens after the commit is part of the answer
//! kept; a replay uses up none of the caller's allowance.

use actix_web::test;
use actix_web::web;
use support_web::{RateLimiter, RateLimits};

use crate::idempotency::{keyed, replayed};
use crate::support::*;

/// The answers of twenty creates with one key: each the one ticket's
/// answer, or 409 while the first was running.
fn assert_one_ticket(answers: &[Raw]) -> i64 {
    let mut ids = Vec::new();
    for r in answers {
        match r.status {
            200 => ids.push(r.json()["data"]["ticketId"].as_i64().unwrap()),
            409 => {
                assert_eq!(r.json()["errorCode"], "IDEMPOTENCY_KEY_IN_USE");
                assert_eq!(r.headers.get("retry-after").unwrap(), "1");
            }
            _ => panic!("{}", r.text()),
        }
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one ticket answered: {ids:?}");
    assert_eq!(
        answers
            .iter()
            .filter(|r| r.status == 200 && !replayed(r))
            .count(),
        1,
        "one fresh answer, the others replays"
    );
    ids[0]
}

async fn created_events(ctx: &Ctx) -> i64 {
    ctx.count(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM ticket_events \
         WHERE event = 'support:ticket_created'",
    )
    .await
}

async fn twenty_at_once_make_one_ticket(backend: Backend) {
    let ctx = ctx(backend).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let token = customer(41);
    let requests = (0..20).map(|_| {
        send_raw(
            &app,
            keyed(create(&token, &ticket_body()), "burst").to_request(),
        )
    });
    let answers = futures_util::future::join_all(requests).await;
    let id = assert_one_ticket(&answers);
    assert!(
        answers.iter().any(|r| r.status == 409),
        "the others found the key running"
    );
    assert_eq!(ctx.rows("support_tickets").await, 1);
    assert_eq!(created_events(&ctx).await, 1);
    assert_eq!(ctx.rows("points_ledger").await, 1);
    // Once it is done, a retry gets its answer.
    let again = send_raw(
        &app,
        keyed(create(&token, &ticket_body()), "burst").to_request(),
    )
    .await;
    assert!(replayed(&again));
    assert_eq!(again.json()["data"]["ticketId"], id);
    // Replays of an answered key do not take it: twenty at once are twenty
    // replays, none told the key is running.
    let replays = (0..20).map(|_| {
        send_raw(
            &app,
            keyed(create(&token, &ticket_body()), "burst").to_request(),
        )
    });
    for answer in futures_util::future::join_all(replays).await {
        assert_eq!(answer.status, 200, "{}", answer.text());
        assert!(replayed(&answer));
        assert_eq!(answer.bytes, again.bytes);
    }
    assert!(ctx.state.in_flight.is_empty(), "every key released");
}

async fn two_instances_on_one_database_make_one_ticket(backend: Backend) {
    let ctx = ctx(backend).await;
    let one = test::init_service(app(ctx.state.clone())).await;
    // Another instance: the same database through a handle of its own,
    // a registry of its own.
    let other = test::init_service(app(another_instance(&ctx).await)).await;
    let token = customer(42);
    let request = || keyed(create(&token, &ticket_body()), "split").to_request();
    let (one, other) = (&one, &other);
    let requests = (0..20).map(|n| async move {
        if n % 2 == 0 {
            send_raw(&one, request()).await
        } else {
            send_raw(&other, request()).await
        }
    });
    let answers = futures_util::future::join_all(requests).await;
    assert_one_ticket(&answers);
    // The other instance's first request ran too, and its write lost to
    // the key's unique row: it answers with the winner's answer.
    assert!(answers.iter().any(replayed), "a write refused for the key");
    assert_eq!(ctx.rows("support_tickets").await, 1);
    assert_eq!(created_events(&ctx).await, 1);
    assert_eq!(ctx.rows("points_ledger").await, 1);
}

async fn a_failed_award_is_part_of_the_answer_kept(backend: Backend) {
    let options = Options {
        failing_points: true,
        ..Options::default()
    };
    let ctx = ctx_with(backend, options).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let request = || keyed(create(&customer(43), &ticket_body()), "award").to_request();
    let first = send_raw(&app, request()).await;
    assert_eq!(first.status, 200);
    assert!(first.json()["data"]["gamificationError"]["message"].is_string());
    // The answer recorded with the ticket said no error; it was amended to
    // what was sent.
    let again = send_raw(&app, request()).await;
    assert!(replayed(&again));
    assert_eq!(again.bytes, first.bytes);
}

on_both_backends!(
    twenty_at_once_make_one_ticket,
    two_instances_on_one_database_make_one_ticket,
    a_failed_award_is_part_of_the_answer_kept,
);

#[actix_web::test]
async fn a_replay_uses_up_no_allowance() {
    let ctx = ctx(Backend::Sqlite).await;
    let limits: RateLimits = "create=1/1h,comment=1/1h".parse().unwrap();
    let app = test::init_service(
        app(ctx.state.clone()).app_data(web::Data::from(RateLimiter::new(limits))),
    )
    .await;
    let token = customer(44);
    let request = |key| keyed(create(&token, &ticket_body()), key).to_request();
    let first = send_raw(&app, request("one")).await;
    assert_eq!(first.status, 200);
    let again = send_raw(&app, request("one")).await;
    assert!(replayed(&again), "{}", again.text());
    assert_eq!(send_raw(&app, request("two")).await.status, 429);
    let id = first.json()["data"]["ticketId"].as_i64().unwrap();
    let comment = |key| keyed(reply(&token, id, "Any news?"), key).to_request();
    assert_eq!(send_raw(&app, comment("c")).await.status, 200);
    assert!(replayed(&send_raw(&app, comment("c")).await));
    assert_eq!(send_raw(&app, comment("d")).await.status, 429);
}
