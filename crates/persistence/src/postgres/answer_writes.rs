//! Recording the answers of keyed writes on PostgreSQL, in the writes' own
//! transaction.
//!
//! A batch of creates or changes without any [`AnswerRecord`] is one
//! statement, committed on its own, as always. A batch with at least one
//! is one explicit transaction: its statement, then the answers rendered
//! from what it stored (the real ids), then [`KEEP_ANSWERS`], which records
//! them all in one statement. When a key already holds an answer that has
//! not expired, the transaction is rolled back and the batch is refused
//! ([`Failure::Refused`]): nothing of it is stored, so
//! [`super::atomic_writes::AtomicWrites::alone_if_refused`] sends its
//! writes again one by one and only the write with the taken key fails,
//! with [`RepositoryError::IdempotencyKeyTaken`]. A comment (a transaction
//! of its own) records its answer the same way.
//!
//! Concurrent writers of one key (two instances) meet on the table's
//! primary key: the second waits for the first's commit, then finds the key
//! taken. Every transaction locks its tickets before its keys, and its keys
//! in one order (sorted), so writers of overlapping keys cannot deadlock.
//!
//! [`AnswerRecord`]: support_domain::AnswerRecord

use diesel::sql_types::{Array, BigInt, Binary, Integer, Text, Timestamp};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use support_domain::RepositoryError;

use super::atomic_writes::Failure;
use crate::errors::WriteError;
use crate::prepared::Prepared;
use crate::rows::NewAnswerRow;

/// Records a batch's answers: one element per answer in each array, `$1`
/// to `$9` the columns in the order the INSERT lists them. An answer whose
/// key holds an expired one replaces it; one whose key holds an unexpired
/// one affects no row (the caller counts them). The text does not depend on
/// the batch size, so it stays prepared.
pub(crate) const KEEP_ANSWERS: &str = "\
INSERT INTO idempotency_keys AS k (caller_role, caller_id, idempotency_key, fingerprint, status, \
    headers, body, recorded_at, expires_at) \
SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::integer[], \
    $6::text[], $7::bytea[], $8::timestamp[], $9::timestamp[]) \
ON CONFLICT (caller_role, caller_id, idempotency_key) DO UPDATE SET \
    fingerprint = excluded.fingerprint, status = excluded.status, headers = excluded.headers, \
    body = excluded.body, recorded_at = excluded.recorded_at, expires_at = excluded.expires_at \
WHERE k.expires_at <= excluded.recorded_at";

/// Records `answers` in the current transaction, all or none: if a key
/// holds an unexpired answer (or two answers share a key),
/// [`RepositoryError::IdempotencyKeyTaken`], and the caller rolls back.
pub(crate) async fn keep_answers(
    conn: &mut AsyncPgConnection,
    mut answers: Vec<NewAnswerRow>,
) -> Result<(), WriteError> {
    if answers.is_empty() {
        return Ok(());
    }
    // One lock order for every writer (see the module docs); and one
    // statement cannot record a key twice (PostgreSQL refuses an
    // `ON CONFLICT DO UPDATE` that meets its own row).
    answers.sort_by(|a, b| a.scope().cmp(&b.scope()));
    if answers
        .windows(2)
        .any(|pair| pair[0].scope() == pair[1].scope())
    {
        return Err(taken());
    }
    let count = answers.len();
    let mut roles = Vec::with_capacity(count);
    let mut callers = Vec::with_capacity(count);
    let mut keys = Vec::with_capacity(count);
    let mut fingerprints = Vec::with_capacity(count);
    let mut statuses = Vec::with_capacity(count);
    let mut headers = Vec::with_capacity(count);
    let mut bodies = Vec::with_capacity(count);
    let mut recorded = Vec::with_capacity(count);
    let mut expires = Vec::with_capacity(count);
    for answer in &answers {
        // Taken apart without `..`: a column added to the row fails to
        // compile here until the statement writes it too.
        let NewAnswerRow {
            caller_role,
            caller_id,
            idempotency_key,
            fingerprint,
            status,
            headers: header_text,
            body,
            recorded_at,
            expires_at,
        } = answer;
        roles.push(caller_role.as_str());
        callers.push(*caller_id);
        keys.push(idempotency_key.as_str());
        fingerprints.push(fingerprint.as_str());
        statuses.push(*status);
        headers.push(header_text.as_str());
        bodies.push(body.as_slice());
        recorded.push(*recorded_at);
        expires.push(*expires_at);
    }
    let kept = Prepared::sql(KEEP_ANSWERS, |q| {
        q.bind::<Array<Text>, _>(roles)
            .bind::<Array<BigInt>, _>(callers)
            .bind::<Array<Text>, _>(keys)
            .bind::<Array<Text>, _>(fingerprints)
            .bind::<Array<Integer>, _>(statuses)
            .bind::<Array<Text>, _>(headers)
            .bind::<Array<Binary>, _>(bodies)
            .bind::<Array<Timestamp>, _>(recorded)
            .bind::<Array<Timestamp>, _>(expires)
    })
    .execute(conn)
    .await?;
    if kept < count {
        return Err(taken());
    }
    Ok(())
}

fn taken() -> WriteError {
    WriteError::Rejected(RepositoryError::IdempotencyKeyTaken)
}

/// What a batch's recorded transaction failing means for its writes. It
/// was rolled back: a write the store refused (a taken key, a row breaking
/// a constraint) left nothing stored, so the batch is sent again write by
/// write ([`Failure::Refused`]); a failed query is classified as a batch
/// statement's ([`Failure::from_diesel`]).
pub(crate) fn failure(error: WriteError) -> Failure {
    match error {
        WriteError::Query(e) => Failure::from_diesel(e),
        WriteError::Rejected(e) => Failure::Refused(e),
        WriteError::Conflict => Failure::Refused(RepositoryError::Conflict),
    }
}

#[cfg(test)]
mod tests {
    use diesel::pg::Pg;
    use diesel::prelude::*;

    use super::KEEP_ANSWERS;
    use crate::schema::idempotency_keys;

    /// [`KEEP_ANSWERS`] is text: it must write every column of the table,
    /// each from its own array.
    #[test]
    fn the_batch_insert_writes_every_column() {
        let all = diesel::debug_query::<Pg, _>(
            &idempotency_keys::table.select(idempotency_keys::all_columns),
        )
        .to_string();
        let columns: Vec<&str> = all
            .split("\"idempotency_keys\".\"")
            .skip(1)
            .filter_map(|rest| rest.split_once('"').map(|(name, _)| name))
            .collect();
        let (_, listed) = KEEP_ANSWERS.split_once("AS k (").unwrap();
        let (listed, _) = listed.split_once(')').unwrap();
        let listed: Vec<&str> = listed.split(',').map(str::trim).collect();
        assert_eq!(listed, columns);
        let (_, arrays) = KEEP_ANSWERS.split_once("unnest(").unwrap();
        let (arrays, _) = arrays.split_once(")").unwrap();
        assert_eq!(arrays.split(',').count(), columns.len());
    }
}
