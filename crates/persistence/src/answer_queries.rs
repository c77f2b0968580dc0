//! The queries on recorded answers (idempotency keys) both backends send,
//! written once with Diesel's DSL: the lookup of a caller's key (its
//! primary key), recording an answer unless the key holds one that has not
//! expired, replacing an answer, and the purge (on `expires_at`'s index).
//! A PostgreSQL batch of writes records its answers in one statement of
//! its own ([`crate::postgres::answer_writes`]).

use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::dsl;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{QueryFragment, QueryId};
use diesel::sqlite::Sqlite;
use diesel::upsert::excluded;

use crate::prepared::Prepared;
use crate::rows::{AnswerChanges, NewAnswerRow, PastAnswerRow};
use crate::schema::idempotency_keys;

/// The answer `caller_id` (in `caller_role`) got for `key`, unless it
/// expired at `now` (`expires_at <= now`): one primary key lookup.
#[dsl::auto_type]
pub(crate) fn answer_of<DB: Backend>(
    caller_role: String,
    caller_id: i64,
    key: String,
    now: NaiveDateTime,
) -> _ {
    let row: dsl::AsSelect<PastAnswerRow, DB> = PastAnswerRow::as_select();
    idempotency_keys::table
        .filter(idempotency_keys::caller_role.eq(caller_role))
        .filter(idempotency_keys::caller_id.eq(caller_id))
        .filter(idempotency_keys::idempotency_key.eq(key))
        .filter(idempotency_keys::expires_at.gt(now))
        .select(row)
}

/// Records `row` unless its key holds an answer that has not expired at
/// `row.recorded_at`; an expired one is overwritten, as if it were not
/// there. Affects one row when recorded, none when the key is taken. A
/// concurrent writer of the same key on PostgreSQL waits for this one's
/// commit, then finds the key taken. Diesel would not keep an `ON
/// CONFLICT` statement prepared; this one's text is fixed (one row, every
/// column), so it is [`Prepared`].
pub(crate) fn record_answer(
    row: &NewAnswerRow,
) -> impl QueryFragment<Sqlite> + QueryFragment<Pg> + QueryId + Send + '_ {
    // `filter` of the conflict action: its WHERE.
    use diesel::query_dsl::methods::FilterDsl;
    Prepared::fixed(
        diesel::insert_into(idempotency_keys::table)
            .values(row)
            .on_conflict((
                idempotency_keys::caller_role,
                idempotency_keys::caller_id,
                idempotency_keys::idempotency_key,
            ))
            .do_update()
            .set((
                idempotency_keys::fingerprint.eq(excluded(idempotency_keys::fingerprint)),
                idempotency_keys::status.eq(excluded(idempotency_keys::status)),
                idempotency_keys::headers.eq(excluded(idempotency_keys::headers)),
                idempotency_keys::body.eq(excluded(idempotency_keys::body)),
                idempotency_keys::recorded_at.eq(excluded(idempotency_keys::recorded_at)),
                idempotency_keys::expires_at.eq(excluded(idempotency_keys::expires_at)),
            ))
            .filter(idempotency_keys::expires_at.le(excluded(idempotency_keys::recorded_at))),
    )
}

/// Overwrites the answer of the caller's key when it answered the request
/// with `fingerprint`; matches nothing otherwise.
pub(crate) fn replace_answer<'a>(
    caller_role: &'a str,
    caller_id: i64,
    key: &'a str,
    fingerprint: &'a str,
    changes: &'a AnswerChanges,
) -> impl QueryFragment<Sqlite> + QueryFragment<Pg> + QueryId + Send + 'a {
    diesel::update(
        idempotency_keys::table
            .filter(idempotency_keys::caller_role.eq(caller_role))
            .filter(idempotency_keys::caller_id.eq(caller_id))
            .filter(idempotency_keys::idempotency_key.eq(key))
            .filter(idempotency_keys::fingerprint.eq(fingerprint)),
    )
    .set((
        idempotency_keys::status.eq(changes.status),
        idempotency_keys::headers.eq(&changes.headers),
        idempotency_keys::body.eq(&changes.body),
    ))
}

/// Deletes the answers expired at `now`, found through
/// `idempotency_keys_expires_at_idx`.
#[dsl::auto_type]
pub(crate) fn purge_expired(now: NaiveDateTime) -> _ {
    dsl::delete(idempotency_keys::table.filter(idempotency_keys::expires_at.le(now)))
}
