//! The event-log queries both backends send, written once with Diesel's
//! DSL; each function is one static query, so it stays prepared.
//!
//! Appends happen in the ticket writes ([`crate::event_append`]); positions
//! become visible in position order, so "`position > after` ordered by
//! position" is a complete resume point and retention can delete a prefix
//! of positions. Unpositioned rows (`NULL`) are never read.

use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::dsl;
use diesel::dsl::max;
use diesel::prelude::*;

use crate::rows::EventRow;
use crate::schema::{event_log_state, ticket_events};

/// The largest position (of the rows a query selects).
type Newest = diesel::helper_types::max<ticket_events::position>;

/// The id of the single `event_log_state` row.
const STATE_ROW: i64 = 1;

/// At most `limit` events after position `after`, in log order.
#[dsl::auto_type]
pub(crate) fn events_after<DB: Backend>(after: i64, limit: i64) -> _ {
    let row: dsl::AsSelect<EventRow, DB> = EventRow::as_select();
    ticket_events::table
        .filter(ticket_events::position.gt(after))
        .select(row)
        .order(ticket_events::position.asc())
        .limit(limit)
}

/// [`events_after()`] that `customer` may see: about their tickets, and
/// not internal. The `(customer_id, position)` index serves it; `internal`
/// is checked on the rows it finds.
#[dsl::auto_type]
pub(crate) fn customer_events_after<DB: Backend>(customer: i64, after: i64, limit: i64) -> _ {
    let events: events_after<DB> = events_after::<DB>(after, limit);
    let public: bool = false;
    events
        .filter(ticket_events::customer_id.eq(customer))
        .filter(ticket_events::internal.eq(public))
}

/// `purged_through` of the log's state row: every position at or below it is gone.
#[dsl::auto_type]
pub(crate) fn purge_mark() -> _ {
    let id: i64 = STATE_ROW;
    event_log_state::table
        .find(id)
        .select(event_log_state::purged_through)
}

/// The newest position in the log (`NULL` when it is empty).
#[dsl::auto_type]
pub(crate) fn last_position() -> _ {
    let newest: Newest = max(ticket_events::position);
    ticket_events::table.select(newest)
}

/// The newest position of an event older than `cutoff`: a purge deletes
/// the prefix up to it, not "every old event", since with clock skew a
/// newer position may carry an older time, and "everything at or before
/// `purged_through` is gone" must stay true. Unpositioned events (`NULL`)
/// are never part of it.
#[dsl::auto_type]
pub(crate) fn purge_through(cutoff: NaiveDateTime) -> _ {
    let newest: Newest = max(ticket_events::position);
    ticket_events::table
        .filter(ticket_events::occurred_at.lt(cutoff))
        .select(newest)
}

/// Deletes every event at or before position `through`.
#[dsl::auto_type]
pub(crate) fn delete_through(through: i64) -> _ {
    dsl::delete(ticket_events::table.filter(ticket_events::position.le(through)))
}

/// Moves the purge mark up to `through`; never lowers it, since a
/// concurrent purge may have gone further already.
#[dsl::auto_type]
pub(crate) fn raise_purge_mark(through: i64) -> _ {
    let state: i64 = STATE_ROW;
    dsl::update(
        event_log_state::table
            .filter(event_log_state::id.eq(state))
            .filter(event_log_state::purged_through.lt(through)),
    )
    .set(event_log_state::purged_through.eq(through))
}
