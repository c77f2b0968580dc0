//! An answer as stored for a key and as sent: the status, the headers the
//! handler set (content type, `ETag`) in order, and the body's bytes.

use actix_web::HttpResponse;
use actix_web::body::MessageBody;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use support_domain::RecordedAnswer;

/// What `response` sends, to be stored. The handlers' answers have their
/// whole body in memory; a streamed one (none is) would be stored empty.
pub fn recorded(response: HttpResponse) -> RecordedAnswer {
    let status = response.status().as_u16();
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    // A header map's iteration order differs from map to map: sorted by
    // name (a stable sort keeps a repeated header's values in order), two
    // renderings of one answer are equal.
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    let body = match response.into_body().try_into_bytes() {
        Ok(bytes) => bytes.to_vec(),
        Err(_) => {
            tracing::error!("an answer to record has a streamed body; recorded without it");
            Vec::new()
        }
    };
    RecordedAnswer {
        status,
        headers,
        body,
    }
}

/// The response that sends `answer`, byte for byte.
pub fn response(answer: &RecordedAnswer) -> HttpResponse {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(status);
    for (name, value) in &answer.headers {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                builder.append_header((name, value));
            }
            _ => tracing::warn!(header = %name, "a recorded header is not valid; left out"),
        }
    }
    builder.body(answer.body.clone())
}

/// `answer` sent again for a repeated key, marked `Idempotent-Replayed: true`.
pub fn replayed(answer: &RecordedAnswer) -> HttpResponse {
    let mut sent = response(answer);
    sent.headers_mut().insert(
        // `IDEMPOTENT_REPLAYED`, lower-cased as a static name must be.
        HeaderName::from_static("idempotent-replayed"),
        HeaderValue::from_static("true"),
    );
    sent
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idempotency::key::IDEMPOTENT_REPLAYED;
    use actix_web::http::header;

    #[test]
    fn an_answer_is_sent_again_byte_for_byte() {
        let original = HttpResponse::Created()
            .insert_header((header::ETAG, "\"3\""))
            .content_type("application/json")
            .body(r#"{"a": 1}"#);
        let answer = recorded(original);
        assert_eq!(answer.status, 201);
        assert_eq!(answer.body, br#"{"a": 1}"#);
        assert!(answer.headers.contains(&("etag".into(), "\"3\"".into())));
        let again = recorded(response(&answer));
        assert_eq!(again, answer);
        assert_eq!(
            answer.headers,
            [
                ("content-type".to_owned(), "application/json".to_owned()),
                ("etag".to_owned(), "\"3\"".to_owned())
            ],
            "in name order"
        );
        let replay = replayed(&answer);
        assert_eq!(replay.headers().get(IDEMPOTENT_REPLAYED).unwrap(), "true");
        assert_eq!(replay.status(), StatusCode::CREATED);
    }
}
