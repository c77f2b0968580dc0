//! The use cases of idempotency keys ([`crate::idempotency`]): look up what
//! a key already answered, record the answer of a request that stored
//! nothing, correct a recorded answer, purge expired ones. The answers of
//! writes are recorded by the writes themselves, with an [`AnswerRecord`]
//! made here ([`SupportService::answer_record`]).

use chrono::{DateTime, Utc};

use crate::errors::SupportError;
use crate::idempotency::{AnswerRecord, AnswerRenderer, KeyedRequest, RecordedAnswer, Replay};
use crate::service::SupportService;

impl SupportService {
    /// The same use cases keeping recorded answers for `ttl` (at least a
    /// second; beyond the calendar, a century).
    pub fn with_answer_ttl(self, ttl: std::time::Duration) -> Self {
        let ttl = chrono::Duration::from_std(ttl)
            .unwrap_or(chrono::Duration::days(36_500))
            .max(chrono::Duration::seconds(1));
        Self {
            answer_ttl: ttl,
            ..self
        }
    }

    /// What `request`'s key already answered, if anything that has not
    /// expired: the answer to send again, or that the key answered another
    /// request.
    pub async fn past_answer(
        &self,
        request: &KeyedRequest,
    ) -> Result<Option<Replay>, SupportError> {
        let past = self
            .answers
            .find(
                request.caller.clone(),
                request.key.clone(),
                self.clock.now(),
            )
            .await?;
        Ok(past.map(|past| Replay::of(past, request)))
    }

    /// The record that makes a write keep `request`'s answer, rendered by
    /// `render`, in its own transaction, for the configured time.
    pub fn answer_record(&self, request: KeyedRequest, render: AnswerRenderer) -> AnswerRecord {
        let (recorded_at, expires_at) = self.answer_lifetime();
        AnswerRecord {
            request,
            recorded_at,
            expires_at,
            render,
        }
    }

    /// Now, and when an answer recorded now expires.
    fn answer_lifetime(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let now = self.clock.now();
        let expires_at = now
            .checked_add_signed(self.answer_ttl)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        (now, expires_at)
    }

    /// Records the answer of a keyed request that stored nothing (a
    /// refusal, an action that changed nothing). `None` when it is
    /// recorded; when the key already holds an answer (a concurrent request
    /// with the key got there first), what that means for this request.
    pub async fn record_answer(
        &self,
        request: KeyedRequest,
        answer: RecordedAnswer,
    ) -> Result<Option<Replay>, SupportError> {
        let (recorded_at, expires_at) = self.answer_lifetime();
        let stored = self
            .answers
            .insert(request.clone(), answer, recorded_at, expires_at)
            .await?;
        if stored {
            return Ok(None);
        }
        // The key holds another answer; it may have expired since (then
        // the caller is told to retry, which records afresh).
        Ok(Some(
            self.past_answer(&request)
                .await?
                .ok_or(SupportError::IdempotencyKeyTaken)?,
        ))
    }

    /// Replaces the answer a write recorded for `request` with the one that
    /// was sent, when they differ (a points award that failed after the
    /// commit is part of the answer sent, not of the one recorded).
    pub async fn amend_answer(
        &self,
        request: KeyedRequest,
        answer: RecordedAnswer,
    ) -> Result<(), SupportError> {
        Ok(self.answers.replace(request, answer).await?)
    }

    /// Removes the recorded answers that expired; returns how many.
    pub async fn purge_expired_answers(&self) -> Result<u64, SupportError> {
        Ok(self.answers.purge_expired(self.clock.now()).await?)
    }
}
