//! `If-Match`: a client's change applies only to the version of the ticket
//! it was decided on, so it never overrides a change it has not seen.

use crate::errors::SupportError;
use crate::ticket::Ticket;

/// Refuses a change decided on another version than the current one.
pub(crate) fn check_if_match(if_match: Option<i64>, ticket: &Ticket) -> Result<(), SupportError> {
    match if_match {
        Some(expected) if expected != ticket.version() => Err(SupportError::PreconditionFailed {
            expected,
            current: ticket.version(),
        }),
        _ => Ok(()),
    }
}
