//! The `Idempotency-Key` request header (draft-ietf-httpapi-idempotency-key-header).

use actix_web::HttpRequest;
use support_domain::{FieldError, IdempotencyKey};

/// The request header naming a write's idempotency key.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// The response header of an answer sent again for a repeated key.
pub const IDEMPOTENT_REPLAYED: &str = "Idempotent-Replayed";

/// The key `req` carries: `None` without the header. Empty, longer than 255
/// characters, anything but printable ASCII, or sent twice is a field
/// error: a key that cannot be read must not be taken as none, or a retry
/// would run the write again.
pub fn idempotency_key(req: &HttpRequest) -> Result<Option<IdempotencyKey>, Vec<FieldError>> {
    let mut values = req.headers().get_all(IDEMPOTENCY_KEY);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let refused = |message: &str| vec![FieldError::new(IDEMPOTENCY_KEY, message)];
    if values.next().is_some() {
        return Err(refused("must be sent once"));
    }
    let text = value
        .to_str()
        .map_err(|_| refused("must be printable ASCII characters (space to ~)"))?;
    IdempotencyKey::parse(text)
        .map(Some)
        .map_err(|e| refused(e.message()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;
    use actix_web::test::TestRequest;

    fn parsed(values: &[&[u8]]) -> Result<Option<IdempotencyKey>, Vec<FieldError>> {
        let mut req = TestRequest::default();
        for v in values {
            let value = HeaderValue::from_bytes(v).unwrap();
            req = req.append_header((IDEMPOTENCY_KEY, value));
        }
        idempotency_key(&req.to_http_request())
    }

    #[test]
    fn a_key_is_one_header_of_1_to_255_printable_ascii_characters() {
        assert_eq!(parsed(&[]), Ok(None));
        assert_eq!(
            parsed(&[b"8e0f-4b2a x"]).unwrap().unwrap().as_str(),
            "8e0f-4b2a x"
        );
        assert!(parsed(&[&[b'k'; 255]]).unwrap().is_some());
        for bad in [&b""[..], &[b'k'; 256], "é".as_bytes(), b"tab\there"] {
            let errors = parsed(&[bad]).unwrap_err();
            assert_eq!(errors[0].field, IDEMPOTENCY_KEY, "{bad:?}");
        }
        assert!(parsed(&[b"a", b"a"]).is_err(), "sent twice");
    }
}
