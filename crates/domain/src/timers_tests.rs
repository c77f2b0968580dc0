//! The deadline rules with a controlled clock: when a deadline is met or
//! breached, what a breach does, warnings, auto-close, and the use case
//! that fires due tickets against a mocked store.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use mockall::predicate::eq;

use super::*;
use crate::description::Description;
use crate::errors::RepositoryError;
use crate::events::{EventAudience, EventDetails, StoredEvent};
use crate::ids::{CustomerId, EventId, StaffId, TicketId};
use crate::issue_type::IssueType;
use crate::ports::{
    MockAnswerStore, MockClock, MockEventLog, MockEventNotifier, MockPointsAwarder,
    MockTicketNumberGenerator, MockTicketRepository,
};
use crate::priority::Priority;
use crate::resolution::{Resolution, ResolutionDetails, ResolutionType};
use crate::service::SupportPorts;
use crate::sla_policy::SlaMetric;
use crate::ticket::NewTicket;
use crate::ticket_number::TicketNumber;

/// Seconds after creation.
fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + secs, 0).single().unwrap()
}

/// Medium: first response in 100 s, resolution in 300 s; high: 50 s / 150
/// s; urgent 20 s / 60 s; warnings 10 s ahead; auto-close 1000 s after
/// the resolve.
fn policy() -> SlaPolicy {
    SlaPolicy::default()
        .with_targets("low=200s/600s,medium=100s/300s,high=50s/150s,urgent=20s/60s")
        .unwrap()
        .with_warning_lead(TimeDelta::seconds(10))
        .unwrap()
        .with_auto_close_after(Some(TimeDelta::seconds(1000)))
        .unwrap()
}

fn ticket() -> Ticket {
    NewTicket::open(
        TicketNumber::parse("TKT-123456-ABCDEF").unwrap(),
        CustomerId::new(9).unwrap(),
        None,
        None,
        IssueType::OrderIssue,
        Description::parse("the soup was cold").unwrap(),
        at(0),
    )
    .with_id(TicketId::new(1).unwrap(), &policy())
}

fn kinds(events: &[TicketEvent]) -> Vec<(TicketEventKind, Option<SlaMetric>)> {
    events
        .iter()
        .map(|e| {
            let metric = match e.details {
                EventDetails::Deadline { metric, .. } => Some(metric),
                _ => None,
            };
            (e.kind, metric)
        })
        .collect()
}

/// A staff member answers publicly at `secs`, as the conversation does.
fn respond(t: &mut Ticket, secs: i64) {
    t.record_first_response(at(secs));
    t.schedule(&policy());
}

#[test]
fn a_new_ticket_has_its_priority_deadlines_and_its_first_warning_armed() {
    let t = ticket();
    assert_eq!(t.priority(), Priority::Medium);
    assert_eq!(t.sla().first_response_due_at, at(100));
    assert_eq!(t.sla().resolution_due_at, at(300));
    assert_eq!(t.sla().next_timer_at, Some(at(90)));
    assert_eq!(t.sla().next_due_at, Some(at(100)));
}

#[test]
fn nothing_fires_before_its_time() {
    let mut t = ticket();
    assert!(fire(&mut t, &policy(), at(89)).is_empty());
    assert_eq!(t.version(), 1);
}

#[test]
fn a_warning_goes_out_once_at_due_minus_the_lead() {
    let mut t = ticket();
    let events = fire(&mut t, &policy(), at(90));
    assert_eq!(
        kinds(&events),
        [(TicketEventKind::SlaWarning, Some(SlaMetric::FirstResponse))]
    );
    assert!(events[0].actor.is_none());
    assert!(events[0].is_internal());
    assert!(t.sla().warned.contains(SlaMetric::FirstResponse));
    assert_eq!(t.sla().next_timer_at, Some(at(100)));
    assert!(fire(&mut t, &policy(), at(95)).is_empty());
}

#[test]
fn a_response_before_the_deadline_meets_it() {
    let mut t = ticket();
    respond(&mut t, 99);
    // Only the resolution's timers are left.
    assert_eq!(t.sla().next_timer_at, Some(at(290)));
    assert_eq!(t.sla().next_due_at, Some(at(300)));
    assert!(fire(&mut t, &policy(), at(100)).is_empty());
}

#[test]
fn a_response_at_the_deadline_meets_it() {
    let mut t = ticket();
    respond(&mut t, 100);
    assert!(fire(&mut t, &policy(), at(100)).is_empty());
    assert!(t.sla_breached().is_empty());
}

#[test]
fn a_response_after_the_deadline_does_not_meet_it_even_if_saved_before_the_timer_ran() {
    let mut t = ticket();
    respond(&mut t, 101);
    assert_eq!(
        t.sla().next_timer_at,
        Some(at(100)),
        "the breach is still due"
    );
    let events = fire(&mut t, &policy(), at(101));
    assert_eq!(
        kinds(&events),
        [
            (TicketEventKind::SlaBreached, Some(SlaMetric::FirstResponse)),
            (TicketEventKind::Escalated, Some(SlaMetric::FirstResponse)),
        ]
    );
}

#[test]
fn a_breach_escalates_an_open_ticket_by_the_system_and_moves_its_deadlines() {
    let mut t = ticket();
    let events = fire(&mut t, &policy(), at(100));
    assert_eq!(
        kinds(&events),
        [
            (TicketEventKind::SlaBreached, Some(SlaMetric::FirstResponse)),
            (TicketEventKind::Escalated, Some(SlaMetric::FirstResponse)),
        ]
    );
    assert_eq!(t.status(), Status::Escalated);
    assert_eq!(t.priority(), Priority::High);
    assert!(t.sla_breached().contains(SlaMetric::FirstResponse));
    // High: resolution due 150 s after creation, warned at 140 s.
    assert_eq!(t.sla().resolution_due_at, at(150));
    assert_eq!(t.sla().next_timer_at, Some(at(140)));
    // The breach event says the status before the escalation.
    assert_eq!(events[0].status, Status::Open);
    assert_eq!(events[1].status, Status::Escalated);
    let data =
        serde_json::to_value(events[1].payload(EventAudience::Customer(t.customer_id()))).unwrap();
    assert_eq!(data["role"], "system");
    assert_eq!(data["userId"], serde_json::Value::Null);
    assert_eq!(data["reason"], "sla_breach");
    assert!(EventAudience::Customer(t.customer_id()).sees(&events[1]));
    assert!(!EventAudience::Customer(t.customer_id()).sees(&events[0]));
    let breach = serde_json::to_value(events[0].payload(EventAudience::Everyone)).unwrap();
    assert_eq!(breach["metric"], "first_response");
    assert_eq!(breach["dueAt"], "2023-11-14T22:15:00.000000Z");
    assert_eq!(breach["customerId"], 9);
}

#[test]
fn an_escalated_ticket_gets_the_breach_event_only() {
    let mut t = ticket();
    t.escalate(None, at(5)).unwrap();
    t.schedule(&policy());
    assert_eq!(t.sla().first_response_due_at, at(50), "high now");
    let events = fire(&mut t, &policy(), at(50));
    assert_eq!(
        kinds(&events),
        [(TicketEventKind::SlaBreached, Some(SlaMetric::FirstResponse))]
    );
    assert_eq!(t.priority(), Priority::High, "not raised again");
}

#[test]
fn a_deadline_that_passed_while_nothing_ran_breaches_once_without_a_warning() {
    let mut t = ticket();
    let events = fire(&mut t, &policy(), at(10_000));
    // Both deadlines (first response, then the resolution, moved by the
    // escalation), no warnings, one escalation.
    assert_eq!(
        kinds(&events),
        [
            (TicketEventKind::SlaBreached, Some(SlaMetric::FirstResponse)),
            (TicketEventKind::Escalated, Some(SlaMetric::FirstResponse)),
            (TicketEventKind::SlaBreached, Some(SlaMetric::Resolution)),
        ]
    );
    assert_eq!(t.sla().next_timer_at, None);
    assert!(fire(&mut t, &policy(), at(20_000)).is_empty());
}

#[test]
fn an_escalation_moves_the_deadlines_earlier_and_a_passed_one_fires_at_once() {
    let mut t = ticket();
    t.escalate(None, at(60)).unwrap();
    t.schedule(&policy());
    // High: first response due at 50 s, already past (its warning too).
    assert_eq!(t.sla().first_response_due_at, at(50));
    assert_eq!(t.sla().next_timer_at, Some(at(40)));
    let events = fire(&mut t, &policy(), at(60));
    assert_eq!(
        kinds(&events),
        [(TicketEventKind::SlaBreached, Some(SlaMetric::FirstResponse))]
    );
}

fn resolve(t: &mut Ticket, secs: i64) {
    let resolution = Resolution {
        kind: ResolutionType::Refund,
        details: ResolutionDetails::parse("refunded").unwrap(),
    };
    t.resolve(resolution, at(secs)).unwrap();
    t.schedule(&policy());
}

#[test]
fn resolving_meets_both_targets_and_arms_the_auto_close() {
    let mut t = ticket();
    resolve(&mut t, 50);
    assert_eq!(t.sla().next_due_at, None);
    assert_eq!(t.sla().next_timer_at, Some(at(1050)));
    let events = fire(&mut t, &policy(), at(1050));
    assert_eq!(kinds(&events), [(TicketEventKind::StatusChanged, None)]);
    assert_eq!(t.status(), Status::Closed);
    assert!(events[0].actor.is_none());
    let data = serde_json::to_value(events[0].payload(EventAudience::Everyone)).unwrap();
    assert_eq!(data["reason"], "auto_close");
    assert_eq!(data["previousStatus"], "resolved");
    assert_eq!(t.sla().next_timer_at, None);
}

#[test]
fn a_reply_that_reopens_cancels_the_auto_close_and_reactivates_the_resolution_target() {
    let mut t = ticket();
    resolve(&mut t, 50);
    t.apply(crate::state_machine::Transition::Reopen, at(400))
        .unwrap();
    t.schedule(&policy());
    // The resolve was the first response (met, at 50 s); reopened, the
    // resolution is open again and its deadline (300 s) passed meanwhile:
    // it breaches now, and the system escalates.
    assert_eq!(t.first_responded_at(), Some(at(50)));
    assert_eq!(t.sla().next_due_at, Some(at(300)));
    let events = fire(&mut t, &policy(), at(400));
    assert_eq!(
        kinds(&events),
        [
            (TicketEventKind::SlaBreached, Some(SlaMetric::Resolution)),
            (TicketEventKind::Escalated, Some(SlaMetric::Resolution)),
        ]
    );
    assert_eq!(t.sla().first_response_due_at, at(100), "met: it stays");
    assert!(
        fire(&mut t, &policy(), at(1050)).is_empty(),
        "no auto-close"
    );
}

#[test]
fn auto_close_off_leaves_resolved_tickets_alone() {
    let policy = policy().with_auto_close_after(None).unwrap();
    let mut t = ticket();
    t.resolve(
        Resolution {
            kind: ResolutionType::Apology,
            details: ResolutionDetails::parse("sorry").unwrap(),
        },
        at(50),
    )
    .unwrap();
    t.schedule(&policy);
    assert_eq!(t.sla().next_timer_at, None);
}

#[test]
fn a_closed_ticket_has_no_timers() {
    let mut t = ticket();
    t.apply(crate::state_machine::Transition::Close, at(20))
        .unwrap();
    t.schedule(&policy());
    assert_eq!(t.sla().next_timer_at, None);
    assert_eq!(t.sla().next_due_at, None);
}

#[test]
fn the_timers_of_an_assigned_in_progress_ticket_still_run() {
    let mut t = ticket();
    t.start(StaffId::new(70).unwrap(), at(1)).unwrap();
    t.schedule(&policy());
    let events = fire(&mut t, &policy(), at(100));
    assert_eq!(events.len(), 2, "warning skipped, breach and escalation");
    assert_eq!(t.status(), Status::Escalated);
}

// ------------------------------------------------------------- use case

struct Fixture {
    repo: MockTicketRepository,
    notifier: MockEventNotifier,
}

fn service(f: Fixture, now: DateTime<Utc>) -> SupportService {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(now);
    SupportService::new(SupportPorts {
        tickets: Arc::new(f.repo),
        events: Arc::new(MockEventLog::new()),
        notifier: Arc::new(f.notifier),
        points: Arc::new(MockPointsAwarder::new()),
        clock: Arc::new(clock),
        numbers: Arc::new(MockTicketNumberGenerator::new()),
        answers: Arc::new(MockAnswerStore::new()),
    })
    .with_sla_policy(policy())
}

fn stored(id: i64, event: TicketEvent) -> StoredEvent {
    StoredEvent {
        id: EventId::new(id).unwrap(),
        event,
    }
}

#[tokio::test]
async fn due_tickets_are_fired_saved_at_their_version_and_announced() {
    let mut repo = MockTicketRepository::new();
    repo.expect_due_for_timers()
        .with(eq(at(100)), eq(50))
        .times(1)
        .returning(|_, _| Ok(vec![ticket()]));
    repo.expect_save_fired()
        .withf(|fired| {
            fired.len() == 1
                && fired[0].expected_version == 1
                && fired[0].ticket.status() == Status::Escalated
                && fired[0].events.len() == 2
        })
        .times(1)
        .returning(|fired| {
            Ok(fired
                .into_iter()
                .map(|f| {
                    Ok(f.events
                        .into_iter()
                        .enumerate()
                        .map(|(i, e)| stored(10 + i as i64, e))
                        .collect())
                })
                .collect())
        });
    let mut notifier = MockEventNotifier::new();
    notifier.expect_notify().times(2).return_const(());
    let round = service(Fixture { repo, notifier }, at(100))
        .fire_due_timers(50)
        .await
        .unwrap();
    assert_eq!(
        round,
        TimerRound {
            due: 1,
            events: 2,
            lost: 0,
            more: false
        }
    );
}

#[tokio::test]
async fn a_ticket_someone_changed_first_is_lost_and_announces_nothing() {
    let mut repo = MockTicketRepository::new();
    repo.expect_due_for_timers()
        .returning(|_, _| Ok(vec![ticket(), ticket()]));
    repo.expect_save_fired().times(1).returning(|fired| {
        Ok(vec![
            Err(RepositoryError::Conflict),
            Ok(fired[1]
                .events
                .iter()
                .cloned()
                .map(|e| stored(3, e))
                .collect()),
        ])
    });
    let mut notifier = MockEventNotifier::new();
    notifier.expect_notify().times(1).return_const(());
    let round = service(Fixture { repo, notifier }, at(95))
        .fire_due_timers(2)
        .await
        .unwrap();
    assert_eq!(round.lost, 1);
    assert_eq!(round.events, 1);
    assert!(round.more, "a full round may leave more due");
}

#[tokio::test]
async fn a_failed_ticket_does_not_keep_the_others_events_from_being_announced() {
    let mut repo = MockTicketRepository::new();
    repo.expect_due_for_timers()
        .returning(|_, _| Ok(vec![ticket(), ticket()]));
    repo.expect_save_fired().times(1).returning(|fired| {
        Ok(vec![
            Err(RepositoryError::Unavailable("numbering failed".into())),
            Ok(fired[1]
                .events
                .iter()
                .cloned()
                .map(|e| stored(3, e))
                .collect()),
        ])
    });
    let mut notifier = MockEventNotifier::new();
    notifier.expect_notify().times(1).return_const(());
    let result = service(Fixture { repo, notifier }, at(95))
        .fire_due_timers(2)
        .await;
    assert!(result.is_err());
}

#[tokio::test]
async fn nothing_due_saves_nothing() {
    let mut repo = MockTicketRepository::new();
    repo.expect_due_for_timers().returning(|_, _| Ok(vec![]));
    let round = service(
        Fixture {
            repo,
            notifier: MockEventNotifier::new(),
        },
        at(1),
    )
    .fire_due_timers(10)
    .await
    .unwrap();
    assert_eq!(round, TimerRound::default());
}

#[tokio::test]
async fn a_store_failure_is_reported() {
    let mut repo = MockTicketRepository::new();
    repo.expect_due_for_timers()
        .returning(|_, _| Err(RepositoryError::Unavailable("down".into())));
    let result = service(
        Fixture {
            repo,
            notifier: MockEventNotifier::new(),
        },
        at(1),
    )
    .fire_due_timers(10)
    .await;
    assert!(result.is_err());
}

#[test]
fn a_first_response_met_in_time_is_not_breached_by_a_later_escalation() {
    let mut t = ticket();
    // Medium: first response due at 100 s; answered at 60 s: met.
    respond(&mut t, 60);
    assert!(fire(&mut t, &policy(), at(100)).is_empty());
    // The customer escalates later (high: first response would be due at 50 s).
    t.escalate(None, at(70)).unwrap();
    t.schedule(&policy());
    let events = fire(&mut t, &policy(), at(71));
    assert_eq!(
        kinds(&events),
        [],
        "a target met at the time must not breach after the fact"
    );
    assert!(t.sla_breached().is_empty());
}

#[test]
fn a_resolution_breach_does_not_breach_a_met_first_response() {
    let mut t = ticket();
    respond(&mut t, 60);
    // Resolution due at 300 s passes: breach, system escalation to high,
    // whose first-response target (50 s) the response at 60 s misses.
    let events = fire(&mut t, &policy(), at(300));
    assert_eq!(
        kinds(&events),
        [
            (TicketEventKind::SlaBreached, Some(SlaMetric::Resolution)),
            (TicketEventKind::Escalated, Some(SlaMetric::Resolution)),
        ]
    );
}

#[test]
fn a_reopen_keeps_the_first_response_as_it_was() {
    // Resolved at 50 s, before the first response was due (100 s): the
    // resolve was the first response, and a reopen does not take it back.
    let mut t = ticket();
    resolve(&mut t, 50);
    t.apply(crate::state_machine::Transition::Reopen, at(120))
        .unwrap();
    t.schedule(&policy());
    let events = fire(&mut t, &policy(), at(120));
    assert!(
        !kinds(&events).contains(&(TicketEventKind::SlaBreached, Some(SlaMetric::FirstResponse))),
        "{:?}",
        kinds(&events)
    );
}

#[test]
fn a_system_escalation_keeps_the_customers_reason() {
    let mut t = ticket();
    let reason = crate::description::EscalationReason::parse("still cold").unwrap();
    t.escalate(reason.clone(), at(5)).unwrap();
    t.start(StaffId::new(70).unwrap(), at(6)).unwrap();
    t.schedule(&policy());
    let events = fire(&mut t, &policy(), at(50));
    assert_eq!(t.status(), Status::Escalated, "{:?}", kinds(&events));
    assert_eq!(t.escalation_reason(), reason.as_ref());
}
