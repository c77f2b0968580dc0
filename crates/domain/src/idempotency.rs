//! Idempotency keys: a client that retries a request with the same key gets
//! the answer the first attempt got, and the change is made once.
//!
//! The answer is recorded **in the transaction of the change it reports**
//! ([`AnswerRecord`], passed to every write port): a crash between the
//! commit and the response leaves the answer stored, so the retry replays
//! it instead of making the change again. A request that changed nothing
//! (a refusal, a no-op) has its answer recorded on its own
//! ([`crate::ports::AnswerStore::insert`]). The domain does not read the
//! answers: their status, headers and body are the driving adapter's.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::actor::Actor;
use crate::comment::Comment;
use crate::invalid_value::InvalidValue;
use crate::ticket::Ticket;

/// How long an answer is kept unless configured otherwise: a day, long
/// enough for a client's retries after any outage it would sit out.
pub(crate) const DEFAULT_ANSWER_TTL: chrono::Duration = chrono::Duration::hours(24);

/// The client's `Idempotency-Key`: 1 to 255 printable ASCII characters
/// (space to `~`), kept exactly as sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Most characters accepted.
    pub const MAX_CHARS: usize = 255;

    /// Checks the key.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        if value.is_empty() || value.len() > Self::MAX_CHARS {
            return Err(InvalidValue::new(format!(
                "must be 1 to {} characters",
                Self::MAX_CHARS
            )));
        }
        if !value.bytes().all(|b| (b' '..=b'~').contains(&b)) {
            return Err(InvalidValue::new(
                "must be printable ASCII characters (space to ~)",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The key as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a request asked for, condensed by the adapter that received it
/// (its method, path and canonical body, hashed): one key sent with two
/// different fingerprints names two different requests.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestFingerprint(String);

impl RequestFingerprint {
    /// Most characters accepted (a hash in hex is far shorter).
    pub const MAX_CHARS: usize = 128;

    /// Wraps a non-empty fingerprint of at most [`Self::MAX_CHARS`] ASCII
    /// characters.
    pub fn new(value: impl Into<String>) -> Result<Self, InvalidValue> {
        let value = value.into();
        if value.is_empty() || value.len() > Self::MAX_CHARS || !value.is_ascii() {
            return Err(InvalidValue::new(format!(
                "a fingerprint is 1 to {} ASCII characters",
                Self::MAX_CHARS
            )));
        }
        Ok(Self(value))
    }

    /// The fingerprint.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A request sent with an idempotency key: its scope is the caller (role
/// and user id) and the key, so two callers never share an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedRequest {
    /// Who sent it.
    pub caller: Actor,
    /// The key.
    pub key: IdempotencyKey,
    /// What it asked for.
    pub fingerprint: RequestFingerprint,
}

/// The answer a request got, as its driving adapter sent it (an HTTP
/// status, the headers that belong to the answer, the body's bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedAnswer {
    /// The status code.
    pub status: u16,
    /// Headers that are part of the answer (content type, `ETag`), in order.
    pub headers: Vec<(String, String)>,
    /// The body, byte for byte.
    pub body: Vec<u8>,
}

/// What a write committed: what its answer is rendered from, inside the
/// write's transaction.
#[derive(Debug, Clone, Copy)]
pub enum Committed<'a> {
    /// A ticket created or changed, as stored.
    Ticket(&'a Ticket),
    /// A comment stored on a ticket, and the ticket as the comment left it.
    Comment {
        /// The stored comment, with its id.
        comment: &'a Comment,
        /// The ticket.
        ticket: &'a Ticket,
    },
}

/// Renders a request's answer from what its write committed. Called by the
/// store inside the write's transaction (so it must be quick and must not
/// block); it may be called more than once when a write is sent again.
pub type AnswerRenderer = Arc<dyn Fn(Committed<'_>) -> RecordedAnswer + Send + Sync>;

/// The answer to record with a write, in the write's own transaction: the
/// request, its lifetime, and how to render its answer from the write.
#[derive(Clone)]
pub struct AnswerRecord {
    /// The keyed request the write answers.
    pub request: KeyedRequest,
    /// When the answer is recorded.
    pub recorded_at: DateTime<Utc>,
    /// When it may be purged; until then the key replays it.
    pub expires_at: DateTime<Utc>,
    /// Renders the answer from what the write committed.
    pub render: AnswerRenderer,
}

impl AnswerRecord {
    /// The answer to record for `committed`.
    pub fn answer(&self, committed: Committed<'_>) -> RecordedAnswer {
        (self.render)(committed)
    }
}

impl fmt::Debug for AnswerRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnswerRecord")
            .field("request", &self.request)
            .field("recorded_at", &self.recorded_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// An answer a store holds for a caller's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastAnswer {
    /// The fingerprint of the request it answered.
    pub fingerprint: RequestFingerprint,
    /// The answer.
    pub answer: RecordedAnswer,
}

/// What a key already holds, seen from a new request with that key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replay {
    /// The same request was answered: send this again.
    Answer(RecordedAnswer),
    /// The key answered a different request.
    OtherRequest,
}

impl Replay {
    /// What `past` means for `request`.
    pub fn of(past: PastAnswer, request: &KeyedRequest) -> Self {
        if past.fingerprint == request.fingerprint {
            Self::Answer(past.answer)
        } else {
            Self::OtherRequest
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_1_to_255_printable_ascii_characters() {
        assert!(IdempotencyKey::parse("a").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        assert!(IdempotencyKey::parse(" ~!\"8e0f-{x} ").is_ok());
        assert_eq!(
            IdempotencyKey::parse(" spaced ").unwrap().as_str(),
            " spaced ",
            "kept exactly as sent"
        );
        for bad in ["", &"k".repeat(256), "tab\there", "é", "nul\0", "del\x7f"] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_fingerprint_is_short_ascii_and_never_empty() {
        assert!(RequestFingerprint::new("ab12").is_ok());
        assert!(RequestFingerprint::new("").is_err());
        assert!(RequestFingerprint::new("x".repeat(129)).is_err());
        assert!(RequestFingerprint::new("é").is_err());
    }

    #[test]
    fn a_past_answer_replays_only_for_the_same_request() {
        let request = KeyedRequest {
            caller: Actor::customer(crate::ids::UserId::new(5).unwrap()),
            key: IdempotencyKey::parse("k").unwrap(),
            fingerprint: RequestFingerprint::new("f1").unwrap(),
        };
        let answer = RecordedAnswer {
            status: 201,
            headers: vec![("content-type".into(), "application/json".into())],
            body: b"{}".to_vec(),
        };
        let same = PastAnswer {
            fingerprint: RequestFingerprint::new("f1").unwrap(),
            answer: answer.clone(),
        };
        assert_eq!(Replay::of(same, &request), Replay::Answer(answer.clone()));
        let other = PastAnswer {
            fingerprint: RequestFingerprint::new("f2").unwrap(),
            answer,
        };
        assert_eq!(Replay::of(other, &request), Replay::OtherRequest);
    }
}
