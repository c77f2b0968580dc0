//! [`AnswerStore`] on SQLite: lookups read through the pool, and every
//! write (recording an answer on its own, replacing one, the purge) is a job
//! of the writer ([`super::writer`]), like every write. The answers of
//! writes are recorded by the writes' own jobs ([`super::ticket_writes`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::OptionalExtension;
use diesel::query_dsl::methods::ExecuteDsl;
use support_domain::ports::AnswerStore;
use support_domain::{
    Actor, IdempotencyKey, KeyedRequest, PastAnswer, RecordedAnswer, RepositoryError,
};

use super::read;
use super::writer::Writer;
use crate::answer_queries::{answer_of, purge_expired, record_answer, replace_answer};
use crate::connections::SqlitePool;
use crate::errors::{classify, unavailable};
use crate::executor::Executor;
use crate::rows::{AnswerChanges, NewAnswerRow, PastAnswerRow, to_column};

/// The recorded answers on one SQLite database.
pub(crate) struct SqliteAnswerStore {
    pool: SqlitePool,
    executor: Executor,
    writer: Writer,
}

impl SqliteAnswerStore {
    /// A store whose lookups run where `executor` says and whose writes go
    /// through `writer`.
    pub(crate) fn new(pool: SqlitePool, executor: Executor, writer: Writer) -> Self {
        Self {
            pool,
            executor,
            writer,
        }
    }
}

#[async_trait]
impl AnswerStore for SqliteAnswerStore {
    async fn find(
        &self,
        caller: Actor,
        key: IdempotencyKey,
        now: DateTime<Utc>,
    ) -> Result<Option<PastAnswer>, RepositoryError> {
        let pool = self.pool.clone();
        let query = answer_of(
            caller.role.as_str().to_owned(),
            caller.user_id.get(),
            key.as_str().to_owned(),
            to_column(now),
        );
        let row: Option<PastAnswerRow> = self
            .executor
            .run(async move {
                let mut conn = pool.get().await.map_err(unavailable)?;
                read::first(&mut conn, query)
                    .await
                    .optional()
                    .map_err(classify)
            })
            .await
            .map_err(unavailable)??;
        row.map(PastAnswer::try_from).transpose()
    }

    async fn insert(
        &self,
        request: KeyedRequest,
        answer: RecordedAnswer,
        recorded_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let row = NewAnswerRow::new(&request, &answer, recorded_at, expires_at)?;
        self.writer
            .write(move |conn| Ok(ExecuteDsl::execute(record_answer(&row), conn)? == 1))
            .await
    }

    async fn replace(
        &self,
        request: KeyedRequest,
        answer: RecordedAnswer,
    ) -> Result<(), RepositoryError> {
        let changes = AnswerChanges::new(&answer)?;
        self.writer
            .write(move |conn| {
                let query = replace_answer(
                    request.caller.role.as_str(),
                    request.caller.user_id.get(),
                    request.key.as_str(),
                    request.fingerprint.as_str(),
                    &changes,
                );
                ExecuteDsl::execute(query, conn)?;
                Ok(())
            })
            .await
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, RepositoryError> {
        let now = to_column(now);
        let deleted = self
            .writer
            .write(move |conn| Ok(diesel::RunQueryDsl::execute(purge_expired(now), conn)?))
            .await?;
        Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
    }
}
