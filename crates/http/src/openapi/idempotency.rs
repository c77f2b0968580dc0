//! What the document says of idempotency keys: the `Idempotency-Key`
//! parameter of every write (a POST with a body), the `Idempotent-Replayed`
//! header of an answer sent again, and the 409 and 422 a key can get.

use super::*;
use crate::idempotency::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED};

/// Whether `op` is a write that takes an `Idempotency-Key`.
pub(super) fn takes_a_key(op: &Op) -> bool {
    matches!(op.method, HttpMethod::Post) && op.body.is_some()
}

/// The optional request header.
pub(super) fn key_parameter() -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(IDEMPOTENCY_KEY)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "1 to 255 printable ASCII characters, unique per intended write (a UUID). A retry \
             with the same key, method, path and body gets the first answer again (with \
             `Idempotent-Replayed: true`) and changes nothing; answers are kept per caller for \
             `IDEMPOTENCY_TTL` (default 24h). Invalid, or sent twice: 400 `VALIDATION` naming \
             the header.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255))
                // Printable ASCII; HTTP drops spaces at either end.
                .pattern(Some("^[!-~]([ -~]{0,253}[!-~])?$"))
                .examples([json!("0b6f3c1e-8d2a-4f7e-9c51-3a7d2e9b4f10")]),
        ))
        .build()
}

/// `response` marked as possibly sent again.
pub(super) fn replayable(response: ResponseBuilder) -> ResponseBuilder {
    response.header(
        IDEMPOTENT_REPLAYED,
        header("`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`."),
    )
}

/// The 409 and 422 of a key, as `#/components/responses/...`.
pub(super) fn key_responses() -> Vec<(&'static str, Response)> {
    vec![
        (
            "IdempotencyKeyInUse",
            error_response(
                "A request with the same `Idempotency-Key` is still being processed; retry after \
                 `Retry-After` seconds to get its answer.",
                error_schema(&["IDEMPOTENCY_KEY_IN_USE"], None),
                error_example(
                    "fail",
                    "IDEMPOTENCY_KEY_IN_USE",
                    "A request with this Idempotency-Key is still being processed, please retry",
                    json!({"header": "Idempotency-Key", "retryAfterSecs": 1}),
                ),
            )
            .header("Retry-After", header("Seconds to wait (1)."))
            .build(),
        ),
        (
            "IdempotencyKeyReused",
            error_response(
                "The `Idempotency-Key` already answered a different request (method, path or \
                 body); nothing was done.",
                error_schema(&["IDEMPOTENCY_KEY_REUSED"], None),
                error_example(
                    "fail",
                    "IDEMPOTENCY_KEY_REUSED",
                    "Idempotency-Key was already used for a different request",
                    json!({"header": "Idempotency-Key"}),
                ),
            )
            .build(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_post_takes_an_idempotency_key_and_documents_its_answers() {
        let document = serde_json::to_value(document()).unwrap();
        let mut posts = 0;
        for (path, item) in document["paths"].as_object().unwrap() {
            let Some(post) = item.get("post") else {
                continue;
            };
            if path.starts_with("/socket.io") {
                continue;
            }
            posts += 1;
            let names: Vec<&str> = post["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            assert!(names.contains(&"Idempotency-Key"), "{path}");
            let responses = &post["responses"];
            assert_eq!(
                responses["409"]["$ref"], "#/components/responses/IdempotencyKeyInUse",
                "{path}"
            );
            assert_eq!(
                responses["422"]["$ref"], "#/components/responses/IdempotencyKeyReused",
                "{path}"
            );
            assert!(
                responses["200"]["headers"]["Idempotent-Replayed"].is_object(),
                "{path}"
            );
        }
        assert_eq!(posts, 10, "every POST route of the API");
    }
}
