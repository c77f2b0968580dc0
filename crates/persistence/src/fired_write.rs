//! What saving fired timers writes, on either backend
//! ([`support_domain::ports::TicketRepository::save_fired`]): per ticket,
//! its new state under the version check and the events its timers fired,
//! all tickets of a call in one transaction, taken in ascending id order so
//! that concurrent savers (other instances' schedulers, other writes of the
//! same tickets) lock rows in one order and cannot deadlock.

use support_domain::{FiredTimers, RepositoryError, StoredEvent, TicketEvent};

use crate::event_append::prepare;
use crate::rows::{Expected, NewEventRow, TicketStateRow};

/// One ticket's share of a save of fired timers, ready to write.
pub(crate) struct FiredWrite {
    /// Its place in the caller's list (answers go back in that order).
    pub place: usize,
    /// The ticket as read, at the version the timers fired from.
    pub expected: Expected,
    /// Its new state.
    pub changes: TicketStateRow,
    /// What fired, in order, truncated as stored, with their rows.
    pub events: Vec<(TicketEvent, NewEventRow)>,
}

/// The writes of `fired`, in ascending ticket id order (then in the
/// caller's order, should a ticket be named twice).
pub(crate) fn fired_writes(fired: Vec<FiredTimers>) -> Result<Vec<FiredWrite>, RepositoryError> {
    let mut writes = fired
        .into_iter()
        .enumerate()
        .map(|(place, fired)| {
            let events = fired
                .events
                .into_iter()
                .map(prepare)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(FiredWrite {
                place,
                expected: Expected::of(&fired.ticket, fired.expected_version),
                changes: TicketStateRow::from_domain(fired.ticket.state()),
                events,
            })
        })
        .collect::<Result<Vec<_>, RepositoryError>>()?;
    writes.sort_by_key(|w| (w.expected.id, w.place));
    Ok(writes)
}

/// One answer per ticket of a save.
pub(crate) type FiredAnswers = Vec<Result<Vec<StoredEvent>, RepositoryError>>;

/// The answers of a save of `count` tickets, from each written one's place
/// and answer; a ticket with none was not written: a conflict.
pub(crate) fn in_callers_order(
    count: usize,
    answered: impl IntoIterator<Item = (usize, Result<Vec<StoredEvent>, RepositoryError>)>,
) -> FiredAnswers {
    let mut answers: FiredAnswers = (0..count).map(|_| Err(RepositoryError::Conflict)).collect();
    for (place, answer) in answered {
        if let Some(slot) = answers.get_mut(place) {
            *slot = answer;
        }
    }
    answers
}
