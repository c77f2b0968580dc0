//! Optimistic concurrency over HTTP: an answer carrying one ticket tells
//! its version (`ETag: "<version>"`), and a staff change may name the
//! version it was decided on (`If-Match`), so two staff members acting on
//! the same ticket cannot silently undo each other.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use support_domain::FieldError;

/// `response` with the strong entity tag of a ticket at `version`.
pub fn with_etag(mut response: HttpResponse, version: i64) -> HttpResponse {
    if let Ok(tag) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response
}

/// The version `If-Match` names: `None` when absent or `*` (the change
/// applies to whatever is current), `Some(n)` for `"n"`. Anything else (a
/// weak tag, a list, a bare number, several headers) is a field error: an
/// unreadable precondition must not be taken as none.
pub fn if_match(req: &HttpRequest) -> Result<Option<i64>, Vec<FieldError>> {
    let mut values = req.headers().get_all(header::IF_MATCH);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let refused = || {
        vec![FieldError::new(
            "If-Match",
            "must be a quoted ticket version such as \"3\", or *",
        )]
    };
    if values.next().is_some() {
        return Err(refused());
    }
    let text = value.to_str().map_err(|_| refused())?.trim();
    if text == "*" {
        return Ok(None);
    }
    text.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse::<i64>().ok())
        .map(Some)
        .ok_or_else(refused)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn parsed(values: &[&str]) -> Result<Option<i64>, Vec<FieldError>> {
        let mut req = TestRequest::default();
        for v in values {
            req = req.append_header((header::IF_MATCH, *v));
        }
        if_match(&req.to_http_request())
    }

    #[test]
    fn if_match_takes_one_quoted_version_or_a_star() {
        assert_eq!(parsed(&[]), Ok(None));
        assert_eq!(parsed(&["*"]), Ok(None));
        assert_eq!(parsed(&["\"7\""]), Ok(Some(7)));
        assert_eq!(parsed(&[" \"12\" "]), Ok(Some(12)));
        for bad in [
            "7",
            "W/\"7\"",
            "\"7\", \"8\"",
            "\"\"",
            "\"-1\"",
            "\"x\"",
            "\"99999999999999999999\"",
        ] {
            let err = parsed(&[bad]).unwrap_err();
            assert_eq!(err[0].field, "If-Match", "{bad}");
        }
        assert!(parsed(&["\"1\"", "\"2\""]).is_err());
    }

    #[test]
    fn the_etag_is_the_quoted_version() {
        let response = with_etag(HttpResponse::Ok().finish(), 4);
        assert_eq!(
            response
                .headers()
                .get(header::ETAG)
                .and_then(|v| v.to_str().ok()),
            Some("\"4\"")
        );
    }
}
