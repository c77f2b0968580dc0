//! The ticket queries both backends send, written once with Diesel's DSL
//! (so Diesel checks each against both backends at compile time): one
//! function per shape, so that every query stays static. Diesel caches the
//! prepared statement of a static query per connection, never that of a
//! boxed one (a Parse round trip each time).
//!
//! PostgreSQL sends the most frequent reads in batches instead
//! ([`crate::postgres::batched_reads`]), with the same ownership rules.

use diesel::backend::Backend;
use diesel::dsl;
use diesel::prelude::*;

use crate::rows::{EventRow, TicketRow};
use crate::schema::{support_tickets, ticket_events};

/// One ticket by id.
#[dsl::auto_type]
pub(crate) fn ticket<DB: Backend>(id: i64) -> _ {
    let row: dsl::AsSelect<TicketRow, DB> = TicketRow::as_select();
    support_tickets::table
        .filter(support_tickets::id.eq(id))
        .select(row)
}

/// [`ticket()`], if `owner` owns it (ownership is part of the query, never
/// checked afterwards).
#[dsl::auto_type]
pub(crate) fn own_ticket<DB: Backend>(id: i64, owner: i64) -> _ {
    let ticket: ticket<DB> = ticket::<DB>(id);
    ticket.filter(support_tickets::customer_id.eq(owner))
}

/// A keyset page of everyone's tickets, newest first: at most `limit` with
/// ids below `before` ("no cursor" is `i64::MAX`, so that filter is always
/// there).
#[dsl::auto_type]
pub(crate) fn page<DB: Backend>(before: i64, limit: i64) -> _ {
    let row: dsl::AsSelect<TicketRow, DB> = TicketRow::as_select();
    support_tickets::table
        .filter(support_tickets::id.lt(before))
        .select(row)
        .order(support_tickets::id.desc())
        .limit(limit)
}

/// [`page()`] of `owner`'s tickets.
#[dsl::auto_type]
pub(crate) fn own_page<DB: Backend>(owner: i64, before: i64, limit: i64) -> _ {
    let page: page<DB> = page::<DB>(before, limit);
    page.filter(support_tickets::customer_id.eq(owner))
}

/// One ticket by id with its history: the ticket once per event (or once
/// with no event), in log order. An event is part of the history once it
/// has its position (its writer answers only after that).
#[dsl::auto_type]
pub(crate) fn history<DB: Backend>(id: i64) -> _ {
    let rows: (
        dsl::AsSelect<TicketRow, DB>,
        dsl::AsSelect<Option<EventRow>, DB>,
    ) = (TicketRow::as_select(), Option::<EventRow>::as_select());
    support_tickets::table
        .left_join(
            ticket_events::table.on(ticket_events::ticket_id
                .eq(support_tickets::id)
                .and(ticket_events::position.is_not_null())),
        )
        .filter(support_tickets::id.eq(id))
        .order(ticket_events::position.asc())
        .select(rows)
}

/// [`history()`] as its owner sees it, if `owner` owns the ticket: without
/// the internal events (staff comments the customer never sees).
#[dsl::auto_type]
pub(crate) fn own_history<DB: Backend>(id: i64, owner: i64) -> _ {
    let rows: (
        dsl::AsSelect<TicketRow, DB>,
        dsl::AsSelect<Option<EventRow>, DB>,
    ) = (TicketRow::as_select(), Option::<EventRow>::as_select());
    let public: bool = false;
    support_tickets::table
        .left_join(
            ticket_events::table.on(ticket_events::ticket_id
                .eq(support_tickets::id)
                .and(ticket_events::position.is_not_null())
                .and(ticket_events::internal.eq(public))),
        )
        .filter(support_tickets::id.eq(id))
        .filter(support_tickets::customer_id.eq(owner))
        .order(ticket_events::position.asc())
        .select(rows)
}

/// [`own_page()`] of tickets in `status`.
#[dsl::auto_type]
pub(crate) fn own_page_in_status<DB: Backend>(
    owner: i64,
    status: &'static str,
    before: i64,
    limit: i64,
) -> _ {
    let page: own_page<DB> = own_page::<DB>(owner, before, limit);
    page.filter(support_tickets::status.eq(status))
}
