//! The use case of the service's own clock: fire what the deadlines of due
//! tickets set off (warnings, breaches and the escalation a breach causes,
//! auto-closes) and save each ticket with its events only if nobody
//! changed it meanwhile, so every timer fires once whatever the number of
//! instances racing for it.

use chrono::{DateTime, Utc};

use crate::errors::{RepositoryError, SupportError};
use crate::events::{Notification, TicketEvent, TicketEventKind};
use crate::fired_timers::FiredTimers;
use crate::service::SupportService;
use crate::sla::{Timer, pending};
use crate::sla_policy::SlaPolicy;
use crate::state_machine::Transition;
use crate::status::Status;
use crate::ticket::Ticket;

/// What one round of [`SupportService::fire_due_timers`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimerRound {
    /// Tickets that were due.
    pub due: usize,
    /// Events stored and announced.
    pub events: usize,
    /// Tickets another change (or instance) got to first: their timers
    /// are planned anew by that change.
    pub lost: usize,
    /// Whether the round was full, so more tickets may be due already.
    pub more: bool,
}

impl SupportService {
    /// Fires the timers of up to `limit` due tickets, earliest first, and
    /// announces what fired.
    pub async fn fire_due_timers(&self, limit: u32) -> Result<TimerRound, SupportError> {
        let now = self.clock.now();
        let due = self.tickets.due_for_timers(now, limit).await?;
        let mut round = TimerRound {
            due: due.len(),
            more: due.len() >= limit as usize,
            ..TimerRound::default()
        };
        let fired: Vec<FiredTimers> = due
            .into_iter()
            .map(|mut ticket| {
                let expected_version = ticket.version();
                let events = fire(&mut ticket, &self.sla, now);
                FiredTimers {
                    ticket,
                    expected_version,
                    events,
                }
            })
            .collect();
        if fired.is_empty() {
            return Ok(round);
        }
        // Every committed ticket's events are announced, even when another
        // ticket of the batch failed: the failure is reported afterwards.
        let mut failure = None;
        for saved in self.tickets.save_fired(fired).await? {
            match saved {
                Ok(events) => {
                    round.events += events.len();
                    for event in events {
                        self.notifier.notify(Notification::Committed(event)).await;
                    }
                }
                Err(RepositoryError::Conflict) => round.lost += 1,
                Err(other) => {
                    failure.get_or_insert(other);
                }
            }
        }
        match failure {
            Some(error) => Err(error.into()),
            None => Ok(round),
        }
    }

    /// When the earliest timer of any ticket is due (`None`: none pending).
    pub async fn next_timer_at(&self) -> Result<Option<DateTime<Utc>>, SupportError> {
        Ok(self.tickets.next_timer_at().await?)
    }

    /// The policy in force.
    pub fn sla_policy(&self) -> &SlaPolicy {
        &self.sla
    }
}

/// Fires every timer of `ticket` due at `now`, in time order, under
/// `policy`, and plans the next ones. A breach escalates an open or
/// in-progress ticket, which moves its deadlines (a higher priority), so
/// the timers are reconsidered after each one fires. A warning whose
/// deadline already passed is not sent: the breach says more.
pub(crate) fn fire(
    ticket: &mut Ticket,
    policy: &SlaPolicy,
    now: DateTime<Utc>,
) -> Vec<TicketEvent> {
    let mut events = Vec::new();
    loop {
        ticket.schedule(policy);
        let next = pending(ticket.sla(), &ticket.progress(), policy)
            .into_iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, timer)| timer)
            .find(|timer| match timer {
                Timer::Warning(metric) => ticket.sla().due_at(*metric) > now,
                Timer::Breach(_) | Timer::AutoClose => true,
            });
        let Some(timer) = next else { break };
        match timer {
            Timer::Warning(metric) => {
                ticket.mark_warned(metric);
                events.push(TicketEvent::deadline(
                    TicketEventKind::SlaWarning,
                    ticket,
                    metric,
                    now,
                ));
            }
            Timer::Breach(metric) => {
                ticket.mark_breached(metric);
                events.push(TicketEvent::deadline(
                    TicketEventKind::SlaBreached,
                    ticket,
                    metric,
                    now,
                ));
                if matches!(ticket.status(), Status::Open | Status::InProgress)
                    // The customer's reason, if they gave one before, stays.
                    && ticket.escalate(ticket.escalation_reason().cloned(), now).is_ok()
                {
                    events.push(TicketEvent::deadline(
                        TicketEventKind::Escalated,
                        ticket,
                        metric,
                        now,
                    ));
                }
            }
            Timer::AutoClose => {
                let previous = ticket.status();
                if ticket.apply(Transition::Close, now).is_err() {
                    // Only a resolved ticket has this timer, and a resolved
                    // ticket may close; nothing else is pending then.
                    break;
                }
                events.push(TicketEvent::status_changed(None, ticket, previous, now));
            }
        }
    }
    events
}

#[cfg(test)]
#[path = "timers_tests.rs"]
mod tests;
