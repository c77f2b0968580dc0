//! Resuming with `?since=N`: the log after it, then live.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use awc::ws::{CloseCode, Frame};
use chrono::{TimeZone, Utc};
use serde_json::json;
use support_domain::TicketEventKind;
use support_realtime::DEFAULT_CAPACITY;

use crate::support::*;

// ---------------------------------------------------------------- replay (`?since=N`)

#[actix_web::test]
async fn since_replays_the_log_after_it_then_continues_live() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let at = Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap();
    // Ids 1..=5, tickets 1..=5, owners 8, 7, 8, 7, 8.
    for ticket in 1..=5 {
        let mut creation = created(7 + ticket % 2, ticket);
        creation.occurred_at = at + chrono::Duration::minutes(ticket);
        assert_eq!(server.commit(creation).await, ticket);
    }
    let staff = token(1, "staff");

    let mut ws = server.resume(2, &staff).await;
    // A replayed frame is the same frame a live client got, `at` included.
    assert_eq!(
        next_json(&mut ws).await,
        json!({
            "id": 3,
            "event": "support:ticket_created",
            "data": { "userId": 8, "role": "customer", "ticketId": 3, "ticketNumber": "TKT-123456-AB12CD" },
            "at": wire_time(at + chrono::Duration::minutes(3)),
        })
    );
    assert_eq!(event_ids(&mut ws, 2).await, [4, 5]);
    server.wait_for_subscribers(1, PROMPTLY).await;
    assert_eq!(server.commit(created(7, 6)).await, 6);
    // Next is 6: nothing replayed twice, nothing skipped.
    assert_eq!(event_ids(&mut ws, 1).await, [6]);

    let mut all = server.resume(0, &staff).await;
    assert_eq!(event_ids(&mut all, 6).await, [1, 2, 3, 4, 5, 6]);

    let mut seven = server.resume(0, &token(7, "customer")).await;
    assert_eq!(event_ids(&mut seven, 3).await, [2, 4, 6]);

    // Caught up: from here on all three continue live, in step.
    server.wait_for_subscribers(3, PROMPTLY).await;
    server.commit(created(8, 7)).await;
    server.commit(created(7, 8)).await;
    assert_eq!(event_ids(&mut ws, 2).await, [7, 8]);
    assert_eq!(event_ids(&mut all, 2).await, [7, 8]);
    assert_eq!(event_ids(&mut seven, 1).await, [8]);
    server.stop().await;
}

#[actix_web::test]
async fn since_at_or_beyond_the_end_replays_nothing_and_continues_live() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    for ticket in 1..=3 {
        server.commit(created(7, ticket)).await;
    }
    let staff = token(1, "staff");
    let mut current = server.resume(3, &staff).await;
    let mut ahead = server.resume(4, &staff).await;
    server.wait_for_subscribers(2, PROMPTLY).await;
    server.commit(created(7, 4)).await;
    server.commit(created(7, 5)).await;
    assert_eq!(event_ids(&mut current, 2).await, [4, 5]);
    // Event 4 is at or before its position: only 5 is new to it.
    assert_eq!(event_ids(&mut ahead, 1).await, [5]);
    server.stop().await;
}

#[actix_web::test]
async fn the_seam_between_replay_and_live_has_no_gap_and_no_duplicate() {
    let seam = Rc::new(Cell::new(None::<Arc<SeamLog>>));
    let server = TestServer::start_with(settings(), DEFAULT_CAPACITY, |log, broadcaster| {
        let log = Arc::new(SeamLog {
            inner: log,
            broadcaster: broadcaster.clone(),
            missed_live: AtomicBool::new(false),
            seen_twice: AtomicBool::new(false),
        });
        seam.set(Some(log.clone()));
        log
    });
    let seam = seam.take().unwrap();
    for ticket in 1..=5 {
        server.commit(created(7, ticket)).await;
    }
    let mut ws = server.resume(2, &token(1, "staff")).await;
    // 6 was published before the socket subscribed, 7 after it did and
    // before the log was read again.
    assert_eq!(event_ids(&mut ws, 5).await, [3, 4, 5, 6, 7]);
    assert!(
        seam.missed_live.load(Ordering::SeqCst) && seam.seen_twice.load(Ordering::SeqCst),
        "the replay no longer reads the log both before and after subscribing: \
         this test no longer forces both races"
    );
    server.wait_for_subscribers(1, PROMPTLY).await;
    server.commit(created(7, 8)).await;
    // Next is 8, not 7 again.
    assert_eq!(event_ids(&mut ws, 1).await, [8]);
    server.stop().await;
}

#[actix_web::test]
async fn resuming_while_events_are_committed_has_no_gap_and_no_duplicate() {
    const TOTAL: i64 = 480;
    const CLIENTS: i64 = 16;
    const BATCH: i64 = 24;
    fn owner_of(n: i64) -> i64 {
        7 + n % 2
    }
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let writer = Writer::spawn(server.committer(), TOTAL, owner_of, BATCH);
    wait_until("a first batch is committed", || writer.committed() == BATCH).await;

    // Each client connects while the writer is committing its next batch,
    // from a different distance behind: up to date, a little, a lot, all.
    let mut clients = Vec::new();
    for k in 0..CLIENTS {
        writer.allow(BATCH * (k + 2));
        let committed = writer.committed();
        let since = match k % 4 {
            0 => committed,
            1 => committed.saturating_sub(3),
            2 => committed / 2,
            _ => 0,
        };
        let (user, role, owner) = match k % 3 {
            0 => (1, "staff", None),
            1 => (7, "customer", Some(7)),
            _ => (8, "customer", Some(8)),
        };
        let mut ws = server.resume(since, &token(user, role)).await;
        let expected: Vec<i64> = (since + 1..=TOTAL)
            .filter(|n| owner.is_none_or(|o| owner_of(*n) == o))
            .collect();
        let last = *expected.last().unwrap();
        let reader = actix_web::rt::spawn(async move {
            let ids = event_ids_through(&mut ws, last).await;
            (ids, ws)
        });
        clients.push((since, owner, expected, reader));
    }
    // Every client connects before the writer is done.
    const { assert!(BATCH * (CLIENTS + 1) < TOTAL) };
    writer.allow(TOTAL);
    writer.finish().await;

    let mut sockets = Vec::new();
    for (since, owner, expected, reader) in clients {
        let (ids, ws) = reader.await.unwrap();
        assert_eq!(ids, expected, "since={since}, owner {owner:?}");
        sockets.push((owner, ws));
    }
    // Nothing trails behind the catch-up: the next frame is the next event.
    server.commit(created(7, TOTAL + 1)).await;
    server.commit(created(8, TOTAL + 2)).await;
    for (owner, ws) in &mut sockets {
        let expected = match owner {
            None => vec![TOTAL + 1, TOTAL + 2],
            Some(7) => vec![TOTAL + 1],
            Some(_) => vec![TOTAL + 2],
        };
        assert_eq!(event_ids(ws, expected.len()).await, expected);
    }
    server.stop().await;
}

#[actix_web::test]
async fn a_client_killed_mid_stream_resumes_where_it_stopped() {
    const TOTAL: i64 = 200;
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    let staff = token(1, "staff");
    let writer = Writer::spawn(server.committer(), TOTAL, |_| 7, 100);
    let mut first = server.resume(0, &staff).await;
    let mut received = event_ids(&mut first, 40).await;
    let last = *received.last().unwrap();
    // Held at 100 at most: half the events are still to come.
    drop(first);

    // The writer goes on while nobody listens, and while the client is back.
    writer.allow(150);
    wait_until("the writer passed 130", || writer.committed() >= 130).await;
    writer.allow(TOTAL);
    let mut second = server.resume(last, &staff).await;
    received.extend(event_ids_through(&mut second, TOTAL).await);
    writer.finish().await;

    assert_eq!(received, (1..=TOTAL).collect::<Vec<_>>());
    // The killed socket was released; only the second one is left.
    server.wait_for_subscribers(1, PROMPTLY).await;
    server.stop().await;
}

#[actix_web::test]
async fn a_since_before_the_retained_log_is_told_to_resync_first() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    for ticket in 1..=5 {
        server.commit(created(7 + ticket % 2, ticket)).await;
    }
    server.log.purge_through(3);
    let staff = token(1, "staff");

    let mut ws = server.resume(1, &staff).await;
    let resync = next_json(&mut ws).await;
    assert_eq!(resync["event"], "stream:resync_required", "{resync}");
    assert_eq!(resync["data"], json!({ "oldest": 4 }));
    let keys: Vec<&String> = resync.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["at", "data", "event"], "a control frame has no id");
    let at = resync["at"].as_str().unwrap();
    assert!(at.len() == 24 && at.ends_with('Z'), "{at}");
    assert_eq!(event_ids(&mut ws, 2).await, [4, 5]);
    server.wait_for_subscribers(1, PROMPTLY).await;
    server.commit(created(7, 6)).await;
    assert_eq!(event_ids(&mut ws, 1).await, [6]);

    // A client that saw everything retention removed has missed nothing.
    let mut exact = server.resume(3, &staff).await;
    assert_eq!(event_ids(&mut exact, 3).await, [4, 5, 6]);
    let mut later = server.resume(4, &staff).await;
    assert_eq!(event_ids(&mut later, 2).await, [5, 6]);

    // From the very beginning: resync too; a customer then gets its own only.
    let mut seven = server.resume(0, &token(7, "customer")).await;
    assert_eq!(next_json(&mut seven).await["data"], json!({ "oldest": 4 }));
    assert_eq!(event_ids(&mut seven, 2).await, [4, 6]);
    server.wait_for_subscribers(4, PROMPTLY).await;
    server.commit(created(7, 7)).await;
    for ws in [&mut ws, &mut exact, &mut later, &mut seven] {
        assert_eq!(event_ids(ws, 1).await, [7]);
    }
    server.stop().await;
}

#[actix_web::test]
async fn an_unavailable_log_closes_a_replay_with_1013() {
    let server = TestServer::start(settings(), DEFAULT_CAPACITY);
    server.commit(created(7, 1)).await;
    server.log.set_unavailable(true);
    let staff = token(1, "staff");
    let mut ws = server.resume(0, &staff).await;
    let reason = expect_close(&mut ws).await.expect("a close reason");
    assert_eq!(reason.code, CloseCode::Again);
    assert_eq!(
        reason.description.as_deref(),
        Some("event log unavailable, retry")
    );
    // It never joined the live stream (it would have had a gap).
    assert_eq!(server.broadcaster.subscriber_count(), 0);

    // Live-only clients need no log.
    let mut live = server.connect(&staff).await;
    server
        .live(event(TicketEventKind::StatusTracked, 7, 1))
        .await;
    assert_eq!(ticket_ids(&mut live, 1).await, [1]);

    // Once the log is back, the same resume works.
    server.log.set_unavailable(false);
    let mut ws = server.resume(0, &staff).await;
    assert_eq!(event_ids(&mut ws, 1).await, [1]);
    server.stop().await;
}

#[actix_web::test]
async fn a_log_failing_in_the_middle_of_a_replay_closes_with_1013_after_what_was_sent() {
    const EVENTS: i64 = 1_000;
    let server = TestServer::start_with(settings(), DEFAULT_CAPACITY, |log, _| {
        Arc::new(FailingLog {
            inner: log,
            good_reads: AtomicU32::new(1),
        })
    });
    for ticket in 1..=EVENTS {
        server.commit(created(7, ticket)).await;
    }
    let mut ws = server.resume(0, &token(1, "staff")).await;
    let mut ids = Vec::new();
    let reason = loop {
        match next_frame(&mut ws).await {
            Frame::Text(text) => ids.push(logged_id(&serde_json::from_slice(&text).unwrap())),
            Frame::Close(reason) => break reason.expect("a close reason"),
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(reason.code, CloseCode::Again);
    // A first page, in order, then the close: never a silent jump to live.
    assert!(
        !ids.is_empty() && (ids.len() as i64) < EVENTS,
        "{} events",
        ids.len()
    );
    assert_eq!(ids, (1..=ids.len() as i64).collect::<Vec<_>>());
    assert_eq!(server.broadcaster.subscriber_count(), 0);
    server.stop().await;
}
