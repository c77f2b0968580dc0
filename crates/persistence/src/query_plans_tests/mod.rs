//! The plans of the reads that filter, on both databases. Every
//! combination of the staff list's filters reads one of the combination's
//! indexes in id order (no sort), every filter an index condition; a
//! customer's log read stays on `(customer_id, position)` with the internal
//! events filtered out; a conversation page reads `(ticket_id, id)`; the
//! deadline queries read their partial indexes (`deadlines`); a recorded
//! answer is looked up by its primary key and purged through its expiry's
//! index (`answers`). Run
//! with `--nocapture` to see the plans (docs/architecture.md quotes them).

mod answers;
mod customer_reads;
mod deadlines;
mod staff_list;

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Integer, Text, Untyped};
use diesel::{QueryResult, QueryableByName};

/// `EXPLAIN` (or another prefix) in front of a query, with its binds.
pub(super) struct Explain<Q> {
    pub(super) prefix: &'static str,
    pub(super) query: Q,
}

impl<Q: QueryFragment<DB>, DB: Backend> QueryFragment<DB> for Explain<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(self.prefix);
        self.query.walk_ast(out.reborrow())
    }
}

impl<Q> QueryId for Explain<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q> Query for Explain<Q> {
    type SqlType = Untyped;
}

impl<Q, C> diesel::RunQueryDsl<C> for Explain<Q> {}

#[derive(QueryableByName)]
pub(super) struct SqlitePlanRow {
    #[diesel(sql_type = Integer)]
    pub(super) id: i32,
    #[diesel(sql_type = Text)]
    pub(super) detail: String,
}

#[derive(QueryableByName)]
pub(super) struct PgPlanRow {
    #[diesel(sql_type = Text)]
    #[diesel(column_name = "QUERY PLAN")]
    pub(super) line: String,
}
