//! Idempotency keys over HTTP, as draft-ietf-httpapi-idempotency-key-header
//! describes them: a POST sent again with the same `Idempotency-Key` gets
//! the first attempt's answer, and the write is made once (docs/api.md).
//!
//! * `key`: the header;
//! * `fingerprint`: what a request asked for (method, path, canonical body);
//! * `in_flight`: the keys running on this instance (409 for a second);
//! * `answer`: an answer as stored and as sent again;
//! * `flow`: the steps a keyed write goes through, for every POST handler.
//!
//! The domain stores the answers (in the write's own transaction);
//! everything HTTP about them is here.

mod answer;
mod fingerprint;
mod flow;
mod in_flight;
mod key;

pub(crate) use flow::{AWARD_UNCONFIRMED, Begun, Requested, Sent, begin, requested, ticket_of};
pub use in_flight::{InFlightGuard, InFlightRequests};
pub use key::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED};
