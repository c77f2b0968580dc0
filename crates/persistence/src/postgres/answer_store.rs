//! [`AnswerStore`] on PostgreSQL: one statement each, on a pooled
//! connection (lookups come once per keyed request, the rest is rarer: no
//! batching). The answers of writes are recorded by the writes' own
//! transactions ([`super::answer_writes`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::OptionalExtension;
use diesel_async::RunQueryDsl;
use support_domain::ports::AnswerStore;
use support_domain::{
    Actor, IdempotencyKey, KeyedRequest, PastAnswer, RecordedAnswer, RepositoryError,
};

use crate::answer_queries::{answer_of, purge_expired, record_answer, replace_answer};
use crate::connections::PgPool;
use crate::errors::{classify, unavailable};
use crate::executor::Executor;
use crate::rows::{AnswerChanges, NewAnswerRow, PastAnswerRow, to_column};

/// The recorded answers on one PostgreSQL pool.
pub(crate) struct PgAnswerStore {
    pool: PgPool,
    executor: Executor,
}

impl PgAnswerStore {
    /// A store whose statements run where `executor` says.
    pub(crate) fn new(pool: PgPool, executor: Executor) -> Self {
        Self { pool, executor }
    }
}

#[async_trait]
impl AnswerStore for PgAnswerStore {
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
        let row = self
            .executor
            .run(async move {
                let mut conn = pool.get().await.map_err(unavailable)?;
                query
                    .first::<PastAnswerRow>(&mut *conn)
                    .await
                    .optional()
                    .map_err(classify)
            })
            .await
            .map_err(unavailable)??;
        row.map(PastAnswer::try_from).transpose()
    }

    /// Waits for a concurrent writer of the same key to commit or roll
    /// back (the primary key), then records, or finds the key taken.
    async fn insert(
        &self,
        request: KeyedRequest,
        answer: RecordedAnswer,
        recorded_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let row = NewAnswerRow::new(&request, &answer, recorded_at, expires_at)?;
        let pool = self.pool.clone();
        self.executor
            .run(async move {
                let mut conn = pool.get().await.map_err(unavailable)?;
                record_answer(&row)
                    .execute(&mut *conn)
                    .await
                    .map(|recorded| recorded == 1)
                    .map_err(classify)
            })
            .await
            .map_err(unavailable)?
    }

    async fn replace(
        &self,
        request: KeyedRequest,
        answer: RecordedAnswer,
    ) -> Result<(), RepositoryError> {
        let changes = AnswerChanges::new(&answer)?;
        let pool = self.pool.clone();
        self.executor
            .run(async move {
                let mut conn = pool.get().await.map_err(unavailable)?;
                replace_answer(
                    request.caller.role.as_str(),
                    request.caller.user_id.get(),
                    request.key.as_str(),
                    request.fingerprint.as_str(),
                    &changes,
                )
                .execute(&mut *conn)
                .await
                .map(drop)
                .map_err(classify)
            })
            .await
            .map_err(unavailable)?
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, RepositoryError> {
        let now = to_column(now);
        let pool = self.pool.clone();
        let deleted = self
            .executor
            .run(async move {
                let mut conn = pool.get().await.map_err(unavailable)?;
                purge_expired(now)
                    .execute(&mut *conn)
                    .await
                    .map_err(classify)
            })
            .await
            .map_err(unavailable)??;
        Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
    }
}
