//! Statements prepared once per connection although Diesel would not cache
//! them.
//!
//! Diesel keeps a prepared statement per connection only for queries whose
//! SQL text cannot vary. It never caches `sql_query` (the text could be built
//! at run time, and every distinct text would stay in the cache), nor an
//! `INSERT ... ON CONFLICT` (some conflict actions render differently with
//! their values). On PostgreSQL an uncached statement is expensive:
//! diesel-async prepares it (a round trip of its own), executes it, then
//! closes it, and the server parses and plans it every time. Measured on the
//! create, whose two writes were both uncached: twice the round trips, and a
//! plan per execution (`pg_stat_statements`: `plans` = `calls`).
//!
//! [`Prepared`] marks a statement whose text is fixed by the code: built
//! from a `&'static str`, or by a query builder whose output never depends on
//! the values bound to it. Diesel then prepares it on first use and keys it
//! by its SQL text and bind types, so it stays correct even if two
//! statements ever share a text. A statement stays prepared for its
//! connection's life: a migration that changed what one returns would fail
//! it on connections opened before ("cached plan must not change result
//! type"): a migration like that needs every instance restarted.

use diesel::QueryResult;
use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId, SqlQuery};

/// A statement with a fixed SQL text, which Diesel may therefore keep
/// prepared on each connection.
#[derive(Debug, Clone)]
pub(crate) struct Prepared<Q>(Q);

impl<Q> Prepared<Q> {
    /// Raw SQL, given its values by `bind` (`|q| q.bind::<Text, _>(..)`).
    /// Only a constant text, so the cache holds one statement per text in
    /// the source.
    pub(crate) fn sql(text: &'static str, bind: impl FnOnce(SqlQuery) -> Q) -> Self {
        Self(bind(diesel::sql_query(text)))
    }

    /// A query built by Diesel whose SQL text does not depend on its values
    /// (a single-row insert of a fixed set of columns, say). Not for `IN`
    /// lists, batch inserts or optional changesets, whose text varies.
    pub(crate) fn fixed(query: Q) -> Self {
        Self(query)
    }
}

impl<Q, DB> QueryFragment<DB> for Prepared<Q>
where
    Q: QueryFragment<DB>,
    DB: Backend,
{
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    /// What Diesel asks before caching: yes, the text is fixed (see the
    /// constructors).
    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

/// No static id: Diesel keys the cached statement by its SQL text and bind
/// types, not by a type that several texts could share.
impl<Q> QueryId for Prepared<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Prepared<Q> {
    type SqlType = Q::SqlType;
}

#[cfg(test)]
mod tests {
    use diesel::pg::Pg;
    use diesel::sql_types::{BigInt, Text};
    use diesel::sqlite::Sqlite;

    use super::*;

    fn cacheable<DB: Backend>(query: &impl QueryFragment<DB>, backend: &DB) -> bool {
        query.is_safe_to_cache_prepared(backend).unwrap()
    }

    #[test]
    fn raw_sql_is_cacheable_only_when_marked() {
        let text = "SELECT $1 || $2";
        let raw = diesel::sql_query(text)
            .bind::<Text, _>("a")
            .bind::<BigInt, _>(1_i64);
        assert!(
            !cacheable(&raw, &Pg),
            "diesel changed: sql_query is cached now"
        );
        let marked = Prepared::sql(text, |q| q.bind::<Text, _>("a").bind::<BigInt, _>(1_i64));
        assert!(cacheable(&marked, &Pg));
        assert!(cacheable(&marked, &Sqlite));
        assert_eq!(
            diesel::debug_query::<Pg, _>(&marked).to_string(),
            diesel::debug_query::<Pg, _>(&raw).to_string(),
            "marking must not change the statement or its binds"
        );
    }
}

/// On a real PostgreSQL: every write the service sends per request is
/// prepared once on its connection, not re-parsed and re-planned per call.
#[cfg(all(test, feature = "test-support"))]
mod postgres_tests {
    use chrono::{TimeZone, Utc};
    use diesel::QueryableByName;
    use diesel::sql_types::{BigInt, Text};
    use diesel_async::RunQueryDsl;
    use support_domain::{
        Actor, CustomerId, Description, IssueType, NewTicket, PointsAward, TICKET_CREATED_ACTION,
        TicketEvent, TicketEventKind, TicketNumber,
    };

    use crate::test_support::{InsertNew, PostgresTestDb};
    use crate::{Database, PoolSettings};

    #[derive(QueryableByName, Debug, PartialEq)]
    struct PreparedRow {
        #[diesel(sql_type = Text)]
        statement: String,
        #[diesel(sql_type = BigInt)]
        uses: i64,
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_write_statements_are_prepared_once_per_connection() {
        let pg = PostgresTestDb::new();
        let settings = PoolSettings {
            max_size: Some(1),
            ..PoolSettings::default()
        };
        let db = Database::connect(pg.url(), settings).await.unwrap();
        db.run_migrations().await.unwrap();
        let (tickets, points) = (db.tickets(), db.points());
        let customer = CustomerId::new(7).unwrap();
        let at = Utc.timestamp_opt(1_780_000_000, 0).single().unwrap();
        for n in 1..=2 {
            let new = NewTicket::open(
                TicketNumber::parse(&format!("TKT-00000{n}-PREP0{n}")).unwrap(),
                customer,
                None,
                None,
                IssueType::Other,
                Description::parse("prepared once per connection").unwrap(),
                at,
            );
            let (mut ticket, _) = tickets
                .insert_new(new, Actor::customer(customer.into()))
                .await
                .unwrap();
            let version = ticket.version();
            ticket.escalate(None, at).unwrap();
            let event = TicketEvent::about(
                TicketEventKind::Escalated,
                Actor::customer(customer.into()),
                &ticket,
                at,
            );
            tickets.update(&ticket, version, event, None).await.unwrap();
            points
                .award(PointsAward {
                    user_id: customer.into(),
                    action: TICKET_CREATED_ACTION,
                    points: 5,
                    ticket_id: ticket.id(),
                    awarded_at: at,
                })
                .await
                .unwrap();
        }

        // The pool's only connection is the one every write above used.
        let pool = db.pg_pool().expect("a PostgreSQL database");
        let mut conn = pool.get().await.unwrap();
        let rows = diesel::sql_query(
            "SELECT CASE \
                 WHEN statement LIKE '%UPDATE support_tickets%' THEN 'update' \
                 WHEN statement LIKE '%INSERT INTO support_tickets%' THEN 'create' \
                 WHEN statement LIKE 'INSERT INTO points_ledger%' THEN 'award' \
                 WHEN statement LIKE 'INSERT INTO \"points_ledger\"%' THEN 'award' \
                 WHEN statement LIKE 'SELECT event_id%' THEN 'numbering' END AS statement, \
             count(*) AS uses FROM pg_prepared_statements \
             WHERE statement ~ '^(WITH|INSERT INTO \"?points_ledger|SELECT event_id)' \
             GROUP BY 1 ORDER BY 1",
        )
        .load::<PreparedRow>(&mut *conn)
        .await
        .unwrap();
        let found: Vec<(&str, i64)> = rows
            .iter()
            .map(|r| (r.statement.as_str(), r.uses))
            .collect();
        assert_eq!(
            found,
            [("award", 1), ("create", 1), ("numbering", 1), ("update", 1)],
            "each write prepared exactly once on the connection"
        );
    }
}
