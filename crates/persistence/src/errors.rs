//! Errors of this crate and the translation of database failures into the
//! domain's [`RepositoryError`].

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use support_domain::{InvalidValue, RepositoryError};

use crate::connections::Backend;

/// Why a [`crate::Database`] could not be opened or migrated. Messages never
/// repeat the URL, which may hold a password.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// The URL names no backend this crate supports, or no database.
    #[error("invalid database URL: {0}")]
    BadUrl(String),
    /// `connect` was called outside a tokio runtime, so there is no runtime
    /// to run database tasks on.
    #[error("no tokio runtime: open the database from inside a tokio runtime")]
    NoRuntime,
    /// The connection pool could not be built.
    #[error("could not build the {backend} connection pool: {message}")]
    Pool {
        /// Which backend.
        backend: Backend,
        /// What went wrong.
        message: String,
    },
    /// The database did not accept a connection within the timeouts.
    #[error("could not connect to the {backend} database: {message}")]
    Connect {
        /// Which backend.
        backend: Backend,
        /// What went wrong.
        message: String,
    },
    /// A migration failed; the database keeps the migrations before it.
    #[error("migrating the {backend} database failed: {message}")]
    Migration {
        /// Which backend.
        backend: Backend,
        /// What went wrong.
        message: String,
    },
}

/// Name of the unique index on `support_tickets.ticket_number` (both backends).
const TICKET_NUMBER_INDEX: &str = "support_tickets_ticket_number_key";
/// How SQLite names the same column in its unique-violation message.
const TICKET_NUMBER_COLUMN: &str = "support_tickets.ticket_number";

/// Name of the primary key of `idempotency_keys` (PostgreSQL).
const ANSWER_KEY: &str = "idempotency_keys_pkey";
/// How SQLite names the table's key columns in its unique-violation message.
const ANSWER_KEY_COLUMNS: &str = "idempotency_keys.";

/// Classifies a diesel error: a taken ticket number, a taken idempotency
/// key and undecodable rows are told apart; everything else means the store
/// is not usable right now.
pub(crate) fn classify(err: DieselError) -> RepositoryError {
    match &err {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
            if info.constraint_name() == Some(TICKET_NUMBER_INDEX)
                || info.message().contains(TICKET_NUMBER_COLUMN) =>
        {
            RepositoryError::DuplicateTicketNumber
        }
        // Answers are recorded with `ON CONFLICT` (a taken key affects no
        // row); a plain insert racing another would end here.
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
            if info.constraint_name() == Some(ANSWER_KEY)
                || info.message().contains(ANSWER_KEY_COLUMNS) =>
        {
            RepositoryError::IdempotencyKeyTaken
        }
        DieselError::DeserializationError(e) => {
            tracing::error!(error = %e, "undecodable row in the ticket store");
            RepositoryError::Corrupt(e.to_string())
        }
        _ => unavailable(err),
    }
}

/// Any failure that means "the store cannot serve this now": pool timeouts,
/// refused or closed connections, failed tasks, unexpected database errors.
pub(crate) fn unavailable(err: impl std::fmt::Display) -> RepositoryError {
    let message = err.to_string();
    tracing::warn!(error = %message, "ticket store unavailable");
    RepositoryError::Unavailable(message)
}

/// Why a write transaction was rolled back. diesel-async needs the
/// transaction's error type to come from diesel's error; the domain's
/// [`RepositoryError`] cannot (foreign trait on a foreign type), so the
/// transactions use this and translate it afterwards.
#[derive(Debug)]
pub(crate) enum WriteError {
    /// A query failed.
    Query(DieselError),
    /// The optimistic version check matched no row.
    Conflict,
    /// Something the domain rejects (an id out of range, a live-only event);
    /// the transaction is rolled back and this is reported as is.
    Rejected(RepositoryError),
}

impl From<DieselError> for WriteError {
    fn from(err: DieselError) -> Self {
        Self::Query(err)
    }
}

impl From<WriteError> for RepositoryError {
    fn from(err: WriteError) -> Self {
        match err {
            WriteError::Query(e) => classify(e),
            WriteError::Conflict => Self::Conflict,
            WriteError::Rejected(e) => e,
        }
    }
}

/// A stored value that breaks a domain rule.
pub(crate) fn corrupt(column: &str, err: &InvalidValue) -> RepositoryError {
    tracing::error!(column, error = %err, "invalid value in the ticket store");
    RepositoryError::Corrupt(format!("{column}: {err}"))
}

/// A database error as a backend reports it, for tests of what the crate
/// makes of one.
#[cfg(test)]
pub(crate) mod reported {
    use diesel::result::DatabaseErrorInformation;

    /// The message and the constraint of a reported error.
    pub(crate) struct Reported {
        pub(crate) constraint: Option<&'static str>,
        pub(crate) message: &'static str,
    }

    impl DatabaseErrorInformation for Reported {
        fn message(&self) -> &str {
            self.message
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            self.constraint
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::reported::Reported;
    use super::*;

    fn unique(constraint: Option<&'static str>, message: &'static str) -> RepositoryError {
        let info = Reported {
            constraint,
            message,
        };
        classify(DieselError::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            Box::new(info),
        ))
    }

    #[test]
    fn a_taken_idempotency_key_is_told_from_a_taken_ticket_number() {
        let pg = unique(Some("idempotency_keys_pkey"), "duplicate key value");
        assert_eq!(pg, RepositoryError::IdempotencyKeyTaken);
        let sqlite = unique(
            None,
            "UNIQUE constraint failed: idempotency_keys.caller_role, \
             idempotency_keys.caller_id, idempotency_keys.idempotency_key",
        );
        assert_eq!(sqlite, RepositoryError::IdempotencyKeyTaken);
        let number = unique(Some("support_tickets_ticket_number_key"), "duplicate");
        assert_eq!(number, RepositoryError::DuplicateTicketNumber);
        assert!(matches!(
            unique(Some("points_ledger_ticket_id_action_key"), "duplicate"),
            RepositoryError::Unavailable(_)
        ));
    }
}
