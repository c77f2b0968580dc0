//! The `idempotency_keys` row and its mapping to and from the domain's
//! answers ([`RecordedAnswer`], [`PastAnswer`]). The headers are stored as
//! a JSON array of `[name, value]` pairs, in order; the format is this
//! crate's own, so a stored text it does not describe exactly, a status
//! outside 100 to 599 or an invalid fingerprint reads as
//! [`RepositoryError::Corrupt`].

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use support_domain::{
    AnswerRecord, Committed, InvalidValue, KeyedRequest, PastAnswer, RecordedAnswer,
    RepositoryError, RequestFingerprint,
};

use super::{parse, to_column};
use crate::errors::corrupt;
use crate::schema::idempotency_keys;

/// Every column of an answer, as written.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = idempotency_keys)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct NewAnswerRow {
    pub caller_role: String,
    pub caller_id: i64,
    pub idempotency_key: String,
    pub fingerprint: String,
    pub status: i32,
    pub headers: String,
    pub body: Vec<u8>,
    pub recorded_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// What a lookup reads: the answered request's fingerprint and the answer.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = idempotency_keys)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub(crate) struct PastAnswerRow {
    pub fingerprint: String,
    pub status: i32,
    pub headers: String,
    pub body: Vec<u8>,
}

/// The latest time stored: SQLite compares times as text, and chrono
/// writes a year past 9999 with a sign (`+10000-...`), which would sort
/// before every other time (an answer kept "forever" would read as expired).
fn latest() -> Option<NaiveDateTime> {
    NaiveDate::from_ymd_opt(9999, 12, 31)?.and_hms_micro_opt(23, 59, 59, 999_999)
}

/// `at` as stored, no later than [`latest`].
fn bounded(at: DateTime<Utc>) -> NaiveDateTime {
    match latest() {
        Some(latest) if at.year() > 9999 => latest,
        _ => to_column(at),
    }
}

/// The JSON text of `headers`.
fn encode_headers(headers: &[(String, String)]) -> Result<String, RepositoryError> {
    serde_json::to_string(headers)
        .map_err(|e| RepositoryError::Corrupt(format!("idempotency_keys.headers: {e}")))
}

impl NewAnswerRow {
    /// The row of `answer` to `request`, kept from `recorded_at` until
    /// `expires_at`.
    pub(crate) fn new(
        request: &KeyedRequest,
        answer: &RecordedAnswer,
        recorded_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<Self, RepositoryError> {
        Ok(Self {
            caller_role: request.caller.role.as_str().to_owned(),
            caller_id: request.caller.user_id.get(),
            idempotency_key: request.key.as_str().to_owned(),
            fingerprint: request.fingerprint.as_str().to_owned(),
            status: i32::from(answer.status),
            headers: encode_headers(&answer.headers)?,
            body: answer.body.clone(),
            recorded_at: bounded(recorded_at),
            expires_at: bounded(expires_at),
        })
    }

    /// The row of the answer `record` renders from what its write
    /// `committed`: called inside the write's transaction.
    pub(crate) fn recorded(
        record: &AnswerRecord,
        committed: Committed<'_>,
    ) -> Result<Self, RepositoryError> {
        let answer = record.answer(committed);
        Self::new(
            &record.request,
            &answer,
            record.recorded_at,
            record.expires_at,
        )
    }

    /// Who asked, and with which key: the row's primary key.
    pub(crate) fn scope(&self) -> (&str, i64, &str) {
        (&self.caller_role, self.caller_id, &self.idempotency_key)
    }
}

/// The changes [`crate::answer_queries::replace_answer`] writes.
pub(crate) struct AnswerChanges {
    pub status: i32,
    pub headers: String,
    pub body: Vec<u8>,
}

impl AnswerChanges {
    /// The columns of `answer`.
    pub(crate) fn new(answer: &RecordedAnswer) -> Result<Self, RepositoryError> {
        Ok(Self {
            status: i32::from(answer.status),
            headers: encode_headers(&answer.headers)?,
            body: answer.body.clone(),
        })
    }
}

impl TryFrom<PastAnswerRow> for PastAnswer {
    type Error = RepositoryError;

    fn try_from(row: PastAnswerRow) -> Result<Self, Self::Error> {
        let status = u16::try_from(row.status)
            .ok()
            .filter(|status| (100..=599).contains(status))
            .ok_or_else(|| {
                corrupt(
                    "idempotency_keys.status",
                    &InvalidValue::new(format!("{} is no HTTP status", row.status)),
                )
            })?;
        // Exactly an array of two-string arrays: anything else (an object,
        // a pair of three) is not what this crate wrote.
        let headers = serde_json::from_str::<Vec<(String, String)>>(&row.headers).map_err(|e| {
            corrupt(
                "idempotency_keys.headers",
                &InvalidValue::new(e.to_string()),
            )
        })?;
        Ok(Self {
            fingerprint: parse(
                "idempotency_keys.fingerprint",
                RequestFingerprint::new(row.fingerprint),
            )?,
            answer: RecordedAnswer {
                status,
                headers,
                body: row.body,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: i32, headers: &str) -> PastAnswerRow {
        PastAnswerRow {
            fingerprint: "f1".to_owned(),
            status,
            headers: headers.to_owned(),
            body: vec![0, 255, b'{'],
        }
    }

    #[test]
    fn headers_are_read_back_in_order_and_the_body_byte_for_byte() {
        let past = PastAnswer::try_from(row(201, r#"[["b","2"],["a","1"]]"#)).unwrap();
        assert_eq!(past.fingerprint.as_str(), "f1");
        assert_eq!(
            past.answer,
            RecordedAnswer {
                status: 201,
                headers: vec![("b".into(), "2".into()), ("a".into(), "1".into())],
                body: vec![0, 255, b'{'],
            }
        );
        let text = encode_headers(&past.answer.headers).unwrap();
        assert_eq!(text, r#"[["b","2"],["a","1"]]"#);
    }

    #[test]
    fn anything_this_crate_did_not_write_is_corrupt() {
        for (status, headers) in [
            (99, "[]"),
            (600, "[]"),
            (-1, "[]"),
            (200, r#"{"a":"1"}"#),
            (200, r#"[["a","1","2"]]"#),
            (200, r#"[["a",1]]"#),
            (200, "not json"),
        ] {
            let read = PastAnswer::try_from(row(status, headers));
            assert!(
                matches!(read, Err(RepositoryError::Corrupt(_))),
                "{status} {headers}: {read:?}"
            );
        }
        let mut blank = row(200, "[]");
        blank.fingerprint = String::new();
        assert!(matches!(
            PastAnswer::try_from(blank),
            Err(RepositoryError::Corrupt(_))
        ));
    }

    #[test]
    fn an_answer_kept_beyond_year_9999_is_stored_at_its_end() {
        let far = DateTime::<Utc>::MAX_UTC;
        assert_eq!(Some(bounded(far)), latest());
        let near = DateTime::from_timestamp(1_780_000_000, 123_456_789).unwrap();
        assert_eq!(bounded(near), to_column(near));
    }
}
