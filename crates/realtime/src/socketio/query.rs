//! What an Engine.IO request's query string says, and Engine.IO's own
//! refusals: HTTP 400 with `{"code": N, "message": ...}`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

/// An Engine.IO refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    UnknownTransport = 0,
    UnknownSession = 1,
    BadHandshakeMethod = 2,
    BadRequest = 3,
    UnsupportedVersion = 5,
}

impl Refusal {
    fn message(self) -> &'static str {
        match self {
            Self::UnknownTransport => "Transport unknown",
            Self::UnknownSession => "Session ID unknown",
            Self::BadHandshakeMethod => "Bad handshake method",
            Self::BadRequest => "Bad request",
            Self::UnsupportedVersion => "Unsupported protocol version",
        }
    }

    pub(crate) fn response(self) -> HttpResponse {
        HttpResponse::BadRequest().json(json!({ "code": self as u8, "message": self.message() }))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Polling,
    WebSocket,
}

/// What the query string says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Query {
    pub(crate) transport: Transport,
    pub(crate) sid: Option<String>,
}

impl Query {
    pub(crate) fn parse(req: &HttpRequest) -> Result<Self, Refusal> {
        let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
            .map_err(|_| Refusal::BadRequest)?
            .into_inner();
        let value = |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        if value("EIO") != Some("4") {
            return Err(Refusal::UnsupportedVersion);
        }
        let transport = match value("transport") {
            Some("polling") => Transport::Polling,
            Some("websocket") => Transport::WebSocket,
            _ => return Err(Refusal::UnknownTransport),
        };
        Ok(Self {
            transport,
            sid: value("sid").map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::StatusCode;
    use actix_web::test::TestRequest;

    use super::*;

    fn parse(uri: &str) -> Result<Query, Refusal> {
        Query::parse(&TestRequest::default().uri(uri).to_http_request())
    }

    #[test]
    fn the_query_names_version_transport_and_session() {
        assert_eq!(
            parse("/socket.io/?EIO=4&transport=polling&t=N8hyd6w"),
            Ok(Query {
                transport: Transport::Polling,
                sid: None
            })
        );
        assert_eq!(
            parse("/socket.io/?EIO=4&transport=websocket&sid=abc"),
            Ok(Query {
                transport: Transport::WebSocket,
                sid: Some("abc".into())
            })
        );
        assert_eq!(
            parse("/socket.io/?EIO=3&transport=polling"),
            Err(Refusal::UnsupportedVersion)
        );
        assert_eq!(
            parse("/socket.io/?transport=polling"),
            Err(Refusal::UnsupportedVersion)
        );
        assert_eq!(
            parse("/socket.io/?EIO=4&transport=flash"),
            Err(Refusal::UnknownTransport)
        );
        assert_eq!(parse("/socket.io/?EIO=4"), Err(Refusal::UnknownTransport));
    }

    #[test]
    fn refusals_are_engine_io_errors() {
        let response = Refusal::UnknownSession.response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
}
