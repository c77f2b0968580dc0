//! The staff lists that the SLA deadlines added: by nearest unfulfilled
//! deadline (`sort=due`, keyset on `(next_due_at, id)`), and the newest-first
//! list narrowed to breached or unbreached tickets (`breached=`).
//!
//! Both are boxed queries (every filter is optional, and these pages are
//! rare staff reads, so the statement is not worth a static shape per
//! combination as [`crate::staff_pages`] has). Their indexes are the
//! partial ones of the `2026-12-08-000000_sla_deadlines` migration:
//! `(next_due_at, id) WHERE next_due_at IS NOT NULL` reads a page by
//! deadline in order, from the cursor, without a sort; `(id) WHERE
//! sla_breached <> 0` reads the breached tickets newest first. The
//! breached test is written as that literal text, not with a bound `0`,
//! so both planners see that the query implies the index's condition.

/// `due_page!(Backend, filter, after, limit)`: the boxed query of up to
/// `limit` tickets that pass `filter` (a [`support_domain::TicketFilter`])
/// and have an open deadline, after `after` (an optional
/// `(NaiveDateTime, i64)`: the last page's deadline and id) in the order
/// (`next_due_at`, id).
macro_rules! due_page {
    ($db:ty, $filter:expr, $after:expr, $limit:expr) => {{
        use diesel::prelude::*;
        use $crate::schema::support_tickets as t;
        let after: Option<(chrono::NaiveDateTime, i64)> = $after;
        let mut query =
            $crate::due_pages::filtered!($db, $filter).filter(t::next_due_at.is_not_null());
        if let Some((due, id)) = after {
            // `>=` is the index's range; the rest skips what the last page
            // showed of the tickets due at that same time.
            query = query.filter(
                t::next_due_at
                    .ge(due)
                    .and(t::next_due_at.gt(due).or(t::id.gt(id))),
            );
        }
        query
            .order((t::next_due_at.asc(), t::id.asc()))
            .limit($limit)
    }};
}

/// `breached_page!(Backend, filter, before, limit)`: the boxed query of
/// [`crate::ticket_queries::page()`] (ids below `before`, newest first)
/// narrowed by `filter`, including its `breached` choice.
macro_rules! breached_page {
    ($db:ty, $filter:expr, $before:expr, $limit:expr) => {{
        use diesel::prelude::*;
        use $crate::schema::support_tickets as t;
        $crate::due_pages::filtered!($db, $filter)
            .filter(t::id.lt($before))
            .order(t::id.desc())
            .limit($limit)
    }};
}

/// Every ticket (as a [`crate::rows::TicketRow`]) that passes `filter`,
/// as a boxed query for `Backend`.
macro_rules! filtered {
    ($db:ty, $filter:expr) => {{
        use diesel::prelude::*;
        use $crate::schema::support_tickets as t;
        let filter: support_domain::TicketFilter = $filter;
        let mut query = t::table
            .select(<$crate::rows::TicketRow as diesel::SelectableHelper<$db>>::as_select())
            .into_boxed::<$db>();
        if let Some(status) = filter.status {
            query = query.filter(t::status.eq(status.as_str()));
        }
        if let Some(priority) = filter.priority {
            query = query.filter(t::priority.eq(priority.as_str()));
        }
        match filter.assignee {
            Some(support_domain::AssigneeFilter::Staff(staff)) => {
                query = query.filter(t::assigned_staff_id.eq(staff.get()));
            }
            Some(support_domain::AssigneeFilter::Nobody) => {
                query = query.filter(t::assigned_staff_id.is_null());
            }
            None => {}
        }
        match filter.breached {
            Some(true) => {
                query = query.filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "sla_breached <> 0",
                ));
            }
            Some(false) => query = query.filter(t::sla_breached.eq(0)),
            None => {}
        }
        query
    }};
}

pub(crate) use {breached_page, due_page, filtered};
