//! The tailer's order, its wake-ups and the stream start it records.

use chrono::Utc;
use support_domain::{Actor, CustomerId, Status, TicketEventKind, TicketId, TicketNumber, UserId};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::*;
use crate::testing::MemoryLog;

fn event(owner: i64, ticket: i64) -> TicketEvent {
    TicketEvent {
        kind: TicketEventKind::Created,
        actor: Some(Actor::customer(UserId::new(owner).unwrap())),
        customer_id: CustomerId::new(owner).unwrap(),
        ticket_id: TicketId::new(ticket).unwrap(),
        ticket_number: Some(TicketNumber::parse("TKT-123456-AB12CD").unwrap()),
        status: Status::Open,
        occurred_at: Utc::now(),
        details: support_domain::EventDetails::None,
        note: None,
    }
}

async fn recv_id(rx: &mut broadcast::Receiver<Arc<Frame>>) -> i64 {
    let frame = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a frame in time")
        .unwrap();
    frame.id().unwrap().get()
}

#[tokio::test]
async fn live_events_without_listeners_are_fine() {
    let broadcaster = Broadcaster::new(0);
    broadcaster.notify(Notification::Live(event(1, 1))).await;
    assert_eq!(broadcaster.subscriber_count(), 0);
}

#[tokio::test]
async fn every_subscriber_gets_the_same_serialised_live_frame() {
    let broadcaster = Broadcaster::default();
    let mut a = broadcaster.subscribe();
    let mut b = broadcaster.clone().subscribe();
    broadcaster.notify(Notification::Live(event(3, 10))).await;
    let (fa, fb) = (a.recv().await.unwrap(), b.recv().await.unwrap());
    assert!(Arc::ptr_eq(&fa, &fb), "serialised once, shared");
    assert_eq!(fa.owner(), CustomerId::new(3).unwrap());
    assert_eq!(fa.id(), None);
    assert_eq!(a.try_recv().unwrap_err(), TryRecvError::Empty);
}

#[tokio::test]
async fn the_tailer_publishes_committed_events_in_log_order_from_its_start() {
    let log = Arc::new(MemoryLog::default());
    log.append(event(1, 1)); // before the tailer's start: not re-published
    let broadcaster = Broadcaster::default();
    let mut rx = broadcaster.subscribe();
    let tailer = broadcaster.spawn_tailer(
        log.clone(),
        LogPosition::new(1).unwrap(),
        Duration::from_secs(60),
    );
    // Committed out of notification order: the log order wins.
    let second = log.append(event(1, 2));
    let third = log.append(event(2, 3));
    broadcaster.notify(Notification::Committed(third)).await;
    broadcaster.notify(Notification::Committed(second)).await;
    assert_eq!(recv_id(&mut rx).await, 2);
    assert_eq!(recv_id(&mut rx).await, 3);
    broadcaster.shutdown();
    tokio::time::timeout(Duration::from_secs(5), tailer)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rx.try_recv().unwrap_err(), TryRecvError::Empty);
}

#[tokio::test]
async fn a_commit_already_published_costs_no_read_but_a_wake_from_elsewhere_does() {
    let log = Arc::new(MemoryLog::default());
    let broadcaster = Broadcaster::default();
    let mut rx = broadcaster.subscribe();
    broadcaster.spawn_tailer(log.clone(), LogPosition::START, Duration::from_secs(60));
    let first = log.append(event(1, 1));
    let second = log.append(event(1, 2));
    broadcaster
        .notify(Notification::Committed(second.clone()))
        .await;
    assert_eq!(recv_id(&mut rx).await, 1);
    assert_eq!(recv_id(&mut rx).await, 2);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let reads = log.reads();
    // Both were published by the read that `second` woke.
    broadcaster.notify(Notification::Committed(first)).await;
    broadcaster.notify(Notification::Committed(second)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(log.reads(), reads);
    // Another instance committed: where, the tailer cannot know.
    log.append(event(2, 3));
    broadcaster.wake();
    assert_eq!(recv_id(&mut rx).await, 3);
    assert!(log.reads() > reads);
    broadcaster.shutdown();
}

#[tokio::test]
async fn without_a_wake_up_the_poll_still_finds_new_events() {
    let log = Arc::new(MemoryLog::default());
    let broadcaster = Broadcaster::default();
    let mut rx = broadcaster.subscribe();
    broadcaster.spawn_tailer(log.clone(), LogPosition::START, Duration::from_millis(20));
    log.append(event(1, 1)); // e.g. committed by another instance, NOTIFY lost
    assert_eq!(recv_id(&mut rx).await, 1);
    broadcaster.shutdown();
}

#[tokio::test]
async fn an_unreadable_log_is_retried_without_losing_events() {
    let log = Arc::new(MemoryLog::default());
    let broadcaster = Broadcaster::default();
    let mut rx = broadcaster.subscribe();
    log.set_unavailable(true);
    broadcaster.spawn_tailer(log.clone(), LogPosition::START, Duration::from_millis(20));
    let first = log.append(event(1, 1));
    broadcaster.notify(Notification::Committed(first)).await;
    tokio::time::sleep(Duration::from_millis(60)).await;
    log.set_unavailable(false);
    assert_eq!(recv_id(&mut rx).await, 1);
    broadcaster.shutdown();
}

/// The tailer publishes on another thread while sockets subscribe: no
/// subscription may receive an event at or before its stream's start
/// (a pid-only recovery from that start would never repeat it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_start_is_never_past_an_event_its_subscription_receives() {
    use futures_util::FutureExt;
    let log = Arc::new(MemoryLog::default());
    let broadcaster = Broadcaster::new(8192);
    broadcaster.spawn_tailer(log.clone(), LogPosition::START, Duration::from_secs(60));
    let mut appended = 0;
    for _round in 0..5 {
        for _ in 0..1000 {
            appended += 1;
            log.append(event(1, appended));
        }
        broadcaster.wake();
        while broadcaster.published().get() < appended {
            let (start, mut events) = broadcaster.subscribe_from(EventAudience::Everyone);
            tokio::task::yield_now().await;
            while let Some(Ok(frame)) = events.recv().now_or_never() {
                let id = frame.id().unwrap().get();
                assert!(
                    id > start.get(),
                    "event {id} reached a stream starting after {start:?}"
                );
            }
        }
    }
    broadcaster.shutdown();
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_is_told_so() {
    let broadcaster = Broadcaster::new(2);
    let mut rx = broadcaster.subscribe();
    for ticket in 1..=5 {
        broadcaster
            .notify(Notification::Live(event(1, ticket)))
            .await;
    }
    assert_eq!(rx.recv().await.unwrap_err(), RecvError::Lagged(3));
}
