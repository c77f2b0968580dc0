//! The extractor of `/api/support/events` and the staff views: a reader of
//! the event stream and what they may see ([`event_audience`]).

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use support_auth::event_audience;
use support_domain::EventAudience;

use super::extractor::authenticate;
use crate::error::ApiError;

/// An authenticated reader of the event log (bearer token in the header).
#[derive(Debug)]
pub struct EventReader {
    /// What the caller may see.
    pub audience: EventAudience,
}

impl FromRequest for EventReader {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = authenticate(req)
            .and_then(|principal| event_audience(&principal))
            .map(|audience| Self { audience });
        ready(result)
    }
}
