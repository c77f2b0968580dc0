//! The extractor of `/api/support/events` and the staff views: a reader of
//! the event stream and what they may see ([`event_audience`]).

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use support_auth::{JwtKeys, bearer_token, event_audience};
use support_domain::EventAudience;

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
        let result = req
            .app_data::<JwtKeys>()
            .ok_or_else(ApiError::unavailable)
            .and_then(|keys| {
                bearer_token(req)
                    .and_then(|token| keys.verify(token))
                    .map_err(|e| ApiError::unauthorized(e.reason()))
            })
            .and_then(|principal| event_audience(&principal))
            .map(|audience| Self { audience });
        ready(result)
    }
}
