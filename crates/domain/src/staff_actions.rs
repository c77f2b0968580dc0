//! The staff use cases that move a ticket: assign, start, resolve, close,
//! reopen, escalate. Each reads the ticket, checks the client's `If-Match`
//! version, lets the ticket decide, and saves the change with its event
//! only if nobody changed the ticket meanwhile.

use crate::actor::Actor;
use crate::errors::SupportError;
use crate::events::{Notification, TicketEvent, TicketEventKind};
use crate::idempotency::AnswerRecord;
use crate::ids::{StaffId, TicketId};
use crate::points::{PointsAward, TICKET_RESOLVED_ACTION, TICKET_RESOLVED_POINTS};
use crate::precondition::check_if_match;
use crate::resolution::{Resolution, StaffNote};
use crate::retry::retry_lost_races;
use crate::service::SupportService;
use crate::state_machine::Transition;
use crate::ticket::Ticket;

/// What a staff member does to a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaffAction {
    /// Hands it to a staff member (`None`: nobody).
    Assign(Option<StaffId>),
    /// Starts working on it (and takes it if nobody has it).
    Start,
    /// Marks it solved.
    Resolve(Resolution),
    /// Archives it for good.
    Close,
    /// Opens a resolved ticket again.
    Reopen,
    /// Asks for senior attention.
    Escalate,
}

/// A staff action with what comes with every one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActOnTicket {
    /// The action.
    pub action: StaffAction,
    /// The staff member's remark, kept in the event for staff.
    pub note: Option<StaffNote>,
    /// `If-Match`: the version the client decided on; the action is refused
    /// if the ticket changed since.
    pub if_match: Option<i64>,
}

/// What an action left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionOutcome {
    /// The ticket as it is now.
    pub ticket: Ticket,
    /// False when the action changed nothing (assigning the assignee
    /// again): nothing was saved and no event sent.
    pub changed: bool,
    /// Set when a resolve's points award failed (the resolve stands).
    pub gamification_error: Option<String>,
}

impl SupportService {
    /// Applies a staff action to any ticket (a change is stored with
    /// `record`'s answer; an action that changes nothing stores nothing).
    /// Concurrent actions race on the stored version: one wins and emits
    /// its event; the others re-read and decide again (an `If-Match` caller
    /// is refused instead).
    pub async fn act_on_ticket(
        &self,
        actor: Actor,
        id: TicketId,
        request: ActOnTicket,
        record: Option<AnswerRecord>,
    ) -> Result<ActionOutcome, SupportError> {
        // A lost race re-reads: an If-Match caller is then told the ticket
        // changed, any other decides again.
        retry_lost_races(async || {
            let mut ticket = self.any_ticket(id).await?;
            check_if_match(request.if_match, &ticket)?;
            let expected_version = ticket.version();
            let now = self.clock.now();
            let Some(event) = decide(&mut ticket, &actor, &request.action, now)? else {
                return Ok(ActionOutcome {
                    ticket,
                    changed: false,
                    gamification_error: None,
                });
            };
            let event = event.with_note(request.note.clone());
            ticket.schedule(&self.sla);
            let stored = self
                .tickets
                .update(&ticket, expected_version, event, record.clone())
                .await?;
            self.notifier.notify(Notification::Committed(stored)).await;
            let gamification_error = match request.action {
                StaffAction::Resolve(_) => self.award_resolution(&actor, id).await,
                _ => None,
            };
            Ok(ActionOutcome {
                ticket,
                changed: true,
                gamification_error,
            })
        })
        .await
    }

    /// Any ticket, whoever owns it (staff).
    pub(crate) async fn any_ticket(&self, id: TicketId) -> Result<Ticket, SupportError> {
        self.tickets
            .find(id)
            .await?
            .ok_or(SupportError::TicketNotFound)
    }

    /// The resolver's points; a failure is reported, not fatal.
    async fn award_resolution(&self, actor: &Actor, ticket: TicketId) -> Option<String> {
        let award = PointsAward {
            user_id: actor.user_id,
            action: TICKET_RESOLVED_ACTION,
            points: TICKET_RESOLVED_POINTS,
            ticket_id: ticket,
            awarded_at: self.clock.now(),
        };
        self.points.award(award).await.err().map(|e| e.to_string())
    }
}

/// Applies `action` to `ticket`; the event to log, or `None` when nothing
/// changed.
fn decide(
    ticket: &mut Ticket,
    actor: &Actor,
    action: &StaffAction,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<TicketEvent>, SupportError> {
    let previous_status = ticket.status();
    let previous_assignee = ticket.assigned_staff_id();
    match action {
        StaffAction::Assign(assignee) => {
            if !ticket.assign(*assignee, now)? {
                return Ok(None);
            }
            return Ok(Some(TicketEvent::assigned(
                actor.clone(),
                ticket,
                previous_assignee,
                now,
            )));
        }
        StaffAction::Start => ticket.start(StaffId::from(actor.user_id), now)?,
        StaffAction::Resolve(resolution) => ticket.resolve(resolution.clone(), now)?,
        StaffAction::Close => ticket.apply(Transition::Close, now)?,
        StaffAction::Reopen => ticket.apply(Transition::Reopen, now)?,
        StaffAction::Escalate => {
            let reason = ticket.escalation_reason().cloned();
            ticket.escalate(reason, now)?;
            return Ok(Some(TicketEvent::about(
                TicketEventKind::Escalated,
                actor.clone(),
                ticket,
                now,
            )));
        }
    }
    Ok(Some(TicketEvent::status_changed(
        Some(actor.clone()),
        ticket,
        previous_status,
        now,
    )))
}
