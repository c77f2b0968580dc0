//! The staff list: a keyset page of every customer's tickets, newest first,
//! filtered by any combination of status, priority and assignee (a staff
//! member or nobody).
//!
//! Each combination is its own static query (Diesel keeps a static query
//! prepared per connection, never a boxed one), so [`staff_page!`] expands
//! to one arm per combination, each running the caller's code on its query.
//! Each combination is served by an index of the staff workflow migration
//! (`2026-12-07-000000_staff_workflow`, which says why those); the plans are
//! checked by `query_plans_tests` and summed up in docs/architecture.md.

/// `staff_page!(filter, before, limit, |query| code)`: runs `code` with
/// `query` bound to [`crate::ticket_queries::page()`] (`before`, `limit`)
/// narrowed by `filter` (a [`support_domain::TicketFilter`]); its value is
/// `code`'s, which every arm must agree on.
macro_rules! staff_page {
    ($filter:expr, $before:expr, $limit:expr, |$query:ident| $run:expr) => {{
        let filter: support_domain::TicketFilter = $filter;
        let page = $crate::ticket_queries::page($before, $limit);
        $crate::staff_pages::staff_page!(@status page, filter, |$query| $run)
    }};
    (@status $page:expr, $filter:ident, |$query:ident| $run:expr) => {
        match $filter.status {
            Some(status) => $crate::staff_pages::staff_page!(@priority
                diesel::QueryDsl::filter($page, diesel::ExpressionMethods::eq(
                    $crate::schema::support_tickets::status, status.as_str())),
                $filter, |$query| $run),
            None => $crate::staff_pages::staff_page!(@priority $page, $filter, |$query| $run),
        }
    };
    (@priority $page:expr, $filter:ident, |$query:ident| $run:expr) => {
        match $filter.priority {
            Some(priority) => $crate::staff_pages::staff_page!(@assignee
                diesel::QueryDsl::filter($page, diesel::ExpressionMethods::eq(
                    $crate::schema::support_tickets::priority, priority.as_str())),
                $filter, |$query| $run),
            None => $crate::staff_pages::staff_page!(@assignee $page, $filter, |$query| $run),
        }
    };
    (@assignee $page:expr, $filter:ident, |$query:ident| $run:expr) => {
        match $filter.assignee {
            Some(support_domain::AssigneeFilter::Staff(staff)) => {
                let $query = diesel::QueryDsl::filter($page, diesel::ExpressionMethods::eq(
                    $crate::schema::support_tickets::assigned_staff_id, staff.get()));
                $run
            }
            Some(support_domain::AssigneeFilter::Nobody) => {
                let $query = diesel::QueryDsl::filter($page, diesel::ExpressionMethods::is_null(
                    $crate::schema::support_tickets::assigned_staff_id));
                $run
            }
            None => {
                let $query = $page;
                $run
            }
        }
    };
}

pub(crate) use staff_page;
