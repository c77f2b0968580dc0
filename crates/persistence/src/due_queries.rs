//! The deadline queries both backends send, written once with Diesel's DSL:
//! what the scheduler reads (the due tickets, the next time anything is
//! due), each on the partial index `(next_timer_at) WHERE next_timer_at IS
//! NOT NULL` of the `2026-12-08-000000_sla_deadlines` migration, which
//! holds only tickets with a pending timer; and the staff list by deadline
//!.

use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::dsl;
use diesel::prelude::*;

use crate::rows::TicketRow;
use crate::schema::support_tickets;

/// Up to `limit` tickets whose next timer is due at `now`, earliest first.
/// (`<=` implies `IS NOT NULL`, which both planners know; it is also
/// written out so the partial index is plainly usable.)
#[dsl::auto_type]
pub(crate) fn due_timers<DB: Backend>(now: NaiveDateTime, limit: i64) -> _ {
    let row: dsl::AsSelect<TicketRow, DB> = TicketRow::as_select();
    support_tickets::table
        .filter(support_tickets::next_timer_at.is_not_null())
        .filter(support_tickets::next_timer_at.le(now))
        .order(support_tickets::next_timer_at.asc())
        .select(row)
        .limit(limit)
}

/// The earliest pending timer: the first entry of the index (read with
/// `first`, so `LIMIT 1`), rather than `MIN()`, which SQLite would not
/// answer from a partial index.
#[dsl::auto_type]
pub(crate) fn next_timer() -> _ {
    support_tickets::table
        .filter(support_tickets::next_timer_at.is_not_null())
        .order(support_tickets::next_timer_at.asc())
        .select(support_tickets::next_timer_at)
}
