//! The loop against mockall mocks of the ports, in tokio's paused time:
//! sleeps are skipped, so the instants recorded are the loop's own plan.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use support_domain::ports::{
    MockAnswerStore, MockClock, MockEventLog, MockEventNotifier, MockPointsAwarder,
    MockTicketNumberGenerator, MockTicketRepository,
};
use support_domain::{
    Actor, CustomerId, Description, IssueType, NewTicket, Notification, RepositoryError, Role,
    SlaPolicy, StoredEvent, SupportPorts, SupportService, Ticket, TicketEvent, TicketEventKind,
    TicketId, TicketNumber, UserId,
};
use tokio::time::Instant;

use super::*;
use crate::alarm::AlarmingNotifier;

fn base() -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000, 0).single().unwrap()
}

/// A clock that moves with tokio's (paused) time from [`base`].
fn clock(start: Instant) -> Arc<MockClock> {
    let mut clock = MockClock::new();
    clock
        .expect_now()
        .returning(move || base() + TimeDelta::from_std(start.elapsed()).unwrap());
    Arc::new(clock)
}

fn ticket(id: i64) -> Ticket {
    NewTicket {
        number: TicketNumber::parse("TKT-111111-AAAAAA").unwrap(),
        customer_id: CustomerId::new(42).unwrap(),
        booking_id: None,
        order_id: None,
        issue_type: IssueType::Other,
        description: Description::parse("the soup was cold and nobody came").unwrap(),
        created_at: base(),
    }
    .with_id(TicketId::new(id).unwrap(), &SlaPolicy::default())
}

/// What the mock store is asked, when (since the test's start).
#[derive(Default)]
struct Calls {
    next_timer_at: Vec<Duration>,
    due_for_timers: Vec<Duration>,
}

/// A store whose earliest due time is `next` and which answers every due
/// query with `due_batches` in turn (then nothing); saving a batch clears
/// `next` once the batches are used up.
struct Store {
    next: Mutex<Option<DateTime<Utc>>>,
    due_batches: Mutex<Vec<Vec<Ticket>>>,
    calls: Mutex<Calls>,
    start: Instant,
}

fn service(store: &Arc<Store>, clock: Arc<MockClock>) -> SupportService {
    let mut repo = MockTicketRepository::new();
    let s = store.clone();
    repo.expect_next_timer_at().returning(move || {
        s.calls
            .lock()
            .unwrap()
            .next_timer_at
            .push(s.start.elapsed());
        Ok(*s.next.lock().unwrap())
    });
    let s = store.clone();
    repo.expect_due_for_timers().returning(move |_, _| {
        s.calls
            .lock()
            .unwrap()
            .due_for_timers
            .push(s.start.elapsed());
        let mut batches = s.due_batches.lock().unwrap();
        Ok(if batches.is_empty() {
            Vec::new()
        } else {
            batches.remove(0)
        })
    });
    let s = store.clone();
    repo.expect_save_fired().returning(move |fired| {
        if s.due_batches.lock().unwrap().is_empty() {
            *s.next.lock().unwrap() = None;
        }
        Ok(fired.iter().map(|_| Ok(Vec::new())).collect())
    });
    SupportService::new(SupportPorts {
        tickets: Arc::new(repo),
        events: Arc::new(MockEventLog::new()),
        notifier: Arc::new(MockEventNotifier::new()),
        points: Arc::new(MockPointsAwarder::new()),
        clock,
        numbers: Arc::new(MockTicketNumberGenerator::new()),
        answers: Arc::new(MockAnswerStore::new()),
    })
}

fn store(next: Option<DateTime<Utc>>, due_batches: Vec<Vec<Ticket>>) -> Arc<Store> {
    Arc::new(Store {
        next: Mutex::new(next),
        due_batches: Mutex::new(due_batches),
        calls: Mutex::default(),
        start: Instant::now(),
    })
}

/// Starts a scheduler over `store` with `settings`; returns its alarm.
fn start(store: &Arc<Store>, settings: SchedulerSettings) -> Alarm {
    let clock = clock(store.start);
    let alarm = Alarm::new();
    Scheduler::new(service(store, clock.clone()), clock, alarm.clone())
        .with_settings(settings)
        .spawn();
    alarm
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

#[tokio::test(start_paused = true)]
async fn it_sleeps_until_the_next_due_time_and_fires_then() {
    let store = store(Some(base() + TimeDelta::seconds(10)), vec![vec![ticket(1)]]);
    start(&store, SchedulerSettings::default());
    tokio::time::sleep(secs(300.0)).await;
    let calls = store.calls.lock().unwrap();
    assert_eq!(
        calls.due_for_timers,
        [secs(10.0)],
        "fired once, at the due time"
    );
    // A look at the start, at the due time, after the round; then only the
    // 60 s safety net: no polling in between.
    assert_eq!(
        calls.next_timer_at,
        [0.0, 10.0, 10.0, 70.0, 130.0, 190.0, 250.0].map(secs)
    );
}

#[tokio::test(start_paused = true)]
async fn a_due_time_in_between_rounds_up_to_the_millisecond() {
    let due = base() + TimeDelta::microseconds(2_000_300);
    let store = store(Some(due), vec![vec![ticket(1)]]);
    start(&store, SchedulerSettings::default());
    tokio::time::sleep(secs(5.0)).await;
    assert_eq!(store.calls.lock().unwrap().due_for_timers, [secs(2.001)]);
}

#[tokio::test(start_paused = true)]
async fn an_alarm_makes_it_look_again_early() {
    let store = store(None, vec![vec![ticket(1)]]);
    let alarm = start(&store, SchedulerSettings::default());
    tokio::time::sleep(secs(5.0)).await;
    *store.next.lock().unwrap() = Some(base() + TimeDelta::seconds(7));
    alarm.wake();
    tokio::time::sleep(secs(10.0)).await;
    let calls = store.calls.lock().unwrap();
    assert_eq!(calls.next_timer_at[..2], [secs(0.0), secs(5.02)]);
    assert_eq!(calls.due_for_timers, [secs(7.0)]);
}

#[tokio::test(start_paused = true)]
async fn wakes_during_a_burst_are_looked_at_once() {
    let store = store(None, Vec::new());
    let alarm = start(&store, SchedulerSettings::default());
    tokio::time::sleep(secs(1.0)).await;
    for _ in 0..1000 {
        alarm.wake();
    }
    tokio::time::sleep(secs(1.0)).await;
    assert_eq!(
        store.calls.lock().unwrap().next_timer_at,
        [secs(0.0), secs(1.02)]
    );
}

#[tokio::test(start_paused = true)]
async fn a_full_round_is_followed_by_another_at_once() {
    // Two full rounds, then one that finds nothing more.
    let batches = vec![vec![ticket(1)], vec![ticket(2)]];
    let store = store(Some(base()), batches);
    let settings = SchedulerSettings {
        batch: 1,
        ..SchedulerSettings::default()
    };
    start(&store, settings);
    tokio::time::sleep(secs(1.0)).await;
    assert_eq!(store.calls.lock().unwrap().due_for_timers, [secs(0.0); 3]);
}

#[tokio::test(start_paused = true)]
async fn storage_errors_back_off_instead_of_spinning() {
    let start_at = Instant::now();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let mut repo = MockTicketRepository::new();
    let seen = calls.clone();
    repo.expect_next_timer_at().returning(move || {
        seen.lock().unwrap().push(start_at.elapsed());
        Err(RepositoryError::Unavailable("connection refused".into()))
    });
    let clock = clock(start_at);
    let service = SupportService::new(SupportPorts {
        tickets: Arc::new(repo),
        events: Arc::new(MockEventLog::new()),
        notifier: Arc::new(MockEventNotifier::new()),
        points: Arc::new(MockPointsAwarder::new()),
        clock: clock.clone(),
        numbers: Arc::new(MockTicketNumberGenerator::new()),
        answers: Arc::new(MockAnswerStore::new()),
    });
    Scheduler::new(service, clock, Alarm::new()).spawn();
    tokio::time::sleep(secs(4.5)).await;
    assert_eq!(*calls.lock().unwrap(), [0.0, 1.0, 2.0, 3.0, 4.0].map(secs));
}

#[tokio::test(start_paused = true)]
async fn a_due_ticket_that_fires_nothing_does_not_make_it_spin() {
    // The index says something is due, but every round finds nothing.
    let store = store(Some(base()), Vec::new());
    start(&store, SchedulerSettings::default());
    tokio::time::sleep(secs(10.0)).await;
    let rounds = store.calls.lock().unwrap().due_for_timers.len();
    assert!((35..=45).contains(&rounds), "{rounds} rounds in 10 s");
}

#[tokio::test(start_paused = true)]
async fn it_stops_on_shutdown() {
    let store = store(None, Vec::new());
    let clock = clock(store.start);
    let scheduler = Scheduler::new(service(&store, clock.clone()), clock, Alarm::new());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(scheduler.run_until(async {
        let _ = stopped.await;
    }));
    tokio::time::sleep(secs(1.0)).await;
    stop.send(()).unwrap();
    tokio::time::timeout(secs(1.0), task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_notifier_rings_on_commits_only() {
    let mut inner = MockEventNotifier::new();
    inner.expect_notify().times(2).returning(|_| ());
    let alarm = Alarm::new();
    let notifier = AlarmingNotifier::new(Arc::new(inner), alarm.clone());
    let actor = Actor {
        user_id: UserId::new(42).unwrap(),
        role: Role::Customer,
    };
    let event = TicketEvent::about(TicketEventKind::StatusTracked, actor, &ticket(1), base());
    support_domain::ports::EventNotifier::notify(&notifier, Notification::Live(event.clone()))
        .await;
    assert!(
        tokio::time::timeout(secs(1.0), alarm.rung()).await.is_err(),
        "a read rang"
    );
    let stored = StoredEvent {
        id: support_domain::EventId::new(1).unwrap(),
        event,
    };
    support_domain::ports::EventNotifier::notify(&notifier, Notification::Committed(stored)).await;
    assert!(tokio::time::timeout(secs(1.0), alarm.rung()).await.is_ok());
}
