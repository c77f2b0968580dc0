//! Writes sent as one atomic statement for many callers, and what is sent
//! again when that statement fails ([`Failure`]): a row breaking a
//! constraint fails alone, anything else fails the batch whole.

use async_trait::async_trait;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use support_domain::RepositoryError;

use crate::errors::classify;

/// Why a PostgreSQL statement sent for a batch failed, which decides what
/// is sent again ([`AtomicWrites::alone_if_refused`]).
pub(crate) enum Failure {
    /// A row breaks a constraint (an SQLSTATE of class 23: a taken unique
    /// value, a failed check, a missing reference). The statement did
    /// nothing, so a batch can be sent again row by row: the bad row then
    /// fails alone.
    Refused(RepositoryError),
    /// Anything else: no connection, a lost one, a statement past its time
    /// limit, or a server error that is about no row in particular (a
    /// shutdown, a failover, a cancel). Whether a write happened may be
    /// unknown (a server can report an error after its commit), so a batch
    /// fails whole and is never split into rows that could be stored twice.
    Failed(RepositoryError),
}

impl Failure {
    /// Classifies a statement's error.
    pub(crate) fn from_diesel(err: DieselError) -> Self {
        match err {
            DieselError::DatabaseError(
                DatabaseErrorKind::UniqueViolation
                | DatabaseErrorKind::ForeignKeyViolation
                | DatabaseErrorKind::NotNullViolation
                | DatabaseErrorKind::CheckViolation
                | DatabaseErrorKind::RestrictViolation
                | DatabaseErrorKind::ExclusionViolation,
                _,
            ) => Self::Refused(classify(err)),
            other => Self::Failed(classify(other)),
        }
    }

    /// The error to report.
    pub(crate) fn into_error(self) -> RepositoryError {
        match self {
            Self::Refused(e) | Self::Failed(e) => e,
        }
    }
}

/// Writes sent as one atomic statement for any number of rows.
#[async_trait]
pub(crate) trait AtomicWrites: Sync {
    /// One caller's write.
    type Row: Sync;
    /// What a stored write answers.
    type Stored: Send;
    /// What is written, for error messages ("a create").
    const WHAT: &'static str;
    /// How many times a batch that failed whole ([`Failure::Failed`]) is
    /// sent again: only for writes that are safe to repeat, since the
    /// failed one may have been stored.
    const RESENDS_IF_FAILED: usize = 0;

    /// Sends `rows` in one statement: stored all, or none.
    async fn send_together(
        &self,
        rows: &[Self::Row],
    ) -> Result<Vec<Result<Self::Stored, RepositoryError>>, Failure>;

    /// Answers a batch of writes. If a row broke a constraint
    /// ([`Failure::Refused`]: the statement stored nothing), each row is
    /// sent again on its own, so that only the bad one fails. A batch that
    /// failed otherwise ([`Failure::Failed`]) is sent again whole only
    /// [`Self::RESENDS_IF_FAILED`] times: it may have been stored, and then
    /// every caller is told the store is unavailable, as a single write
    /// would be.
    async fn alone_if_refused(
        &self,
        batch: &[Self::Row],
    ) -> Vec<Result<Self::Stored, RepositoryError>> {
        let mut outcome = self.send_together(batch).await;
        for _ in 0..Self::RESENDS_IF_FAILED {
            if !matches!(outcome, Err(Failure::Failed(_))) {
                break;
            }
            outcome = self.send_together(batch).await;
        }
        match outcome {
            Ok(answers) => answers,
            Err(Failure::Refused(e)) if batch.len() == 1 => vec![Err(e)],
            Err(Failure::Refused(_)) => {
                let mut answers = Vec::with_capacity(batch.len());
                for row in batch {
                    answers.push(match self.send_together(std::slice::from_ref(row)).await {
                        Ok(mut one) => one.pop().unwrap_or_else(|| {
                            Err(RepositoryError::Corrupt(format!(
                                "{} got no answer",
                                Self::WHAT
                            )))
                        }),
                        Err(failure) => Err(failure.into_error()),
                    });
                }
                answers
            }
            Err(Failure::Failed(e)) => batch.iter().map(|_| Err(e.clone())).collect(),
        }
    }
}

#[cfg(test)]
mod failure_tests {
    use super::*;
    use crate::errors::reported::Reported;

    fn failure(kind: DatabaseErrorKind) -> Failure {
        let info = Reported {
            constraint: None,
            message: "message",
        };
        Failure::from_diesel(DieselError::DatabaseError(kind, Box::new(info)))
    }

    #[test]
    fn only_a_row_breaking_a_constraint_splits_a_batch() {
        for kind in [
            DatabaseErrorKind::UniqueViolation,
            DatabaseErrorKind::ForeignKeyViolation,
            DatabaseErrorKind::NotNullViolation,
            DatabaseErrorKind::CheckViolation,
        ] {
            assert!(matches!(failure(kind), Failure::Refused(_)), "{kind:?}");
        }
        // A shutdown or a failover (SQLSTATE 57P01, 25006: `Unknown` to
        // diesel) may come after a commit; a lost connection tells nothing.
        for kind in [
            DatabaseErrorKind::Unknown,
            DatabaseErrorKind::ReadOnlyTransaction,
            DatabaseErrorKind::SerializationFailure,
            DatabaseErrorKind::ClosedConnection,
            DatabaseErrorKind::UnableToSendCommand,
        ] {
            assert!(matches!(failure(kind), Failure::Failed(_)), "{kind:?}");
        }
        assert!(matches!(
            Failure::from_diesel(DieselError::NotFound),
            Failure::Failed(_)
        ));
    }
}
