//! `GET /api/support/events?since=&limit=`: the durable event log for
//! clients that poll instead of holding a WebSocket open.

use actix_web::{HttpRequest, HttpResponse, web};
use support_domain::{FieldError, InvalidValue, LogPosition, PageLimit, SupportService};

use crate::auth::EventReader;
use crate::dto::{EventsPage, known_params};
use crate::envelope::Success;
use crate::error::{ApiError, Endpoint};

/// The query: `since` (event id, default 0) and `limit` (1..100, default 20).
fn parse_query(query: &str) -> Result<(LogPosition, PageLimit), Vec<FieldError>> {
    let mut since = LogPosition::START;
    let mut limit = PageLimit::DEFAULT;
    let mut errors = Vec::new();
    for (key, value) in known_params(query, &["since", "limit"])? {
        let number = value
            .parse::<i64>()
            .map_err(|_| InvalidValue::new("must be an integer"));
        let parsed = match key {
            "since" => number.and_then(LogPosition::new).map(|p| since = p),
            _ => number.and_then(PageLimit::new).map(|l| limit = l),
        };
        if let Err(e) = parsed {
            errors.push(FieldError::new(key, e.message()));
        }
    }
    if errors.is_empty() {
        Ok((since, limit))
    } else {
        Err(errors)
    }
}

/// Events after `since` the caller may see, oldest first.
pub async fn list_events(
    reader: EventReader,
    service: web::Data<SupportService>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    const EP: Endpoint = Endpoint::ListEvents;
    let (since, limit) =
        parse_query(req.query_string()).map_err(|f| ApiError::validation(EP, &f))?;
    let page = service
        .read_events(reader.audience, since, limit)
        .await
        .map_err(|e| ApiError::from_domain(EP, e))?;
    Ok(Success::ok(
        "Events listed",
        EventsPage::new(&page, reader.audience),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_defaults_and_bounds() {
        assert_eq!(
            parse_query("").unwrap(),
            (LogPosition::START, PageLimit::DEFAULT)
        );
        let (since, limit) = parse_query("since=42&limit=5").unwrap();
        assert_eq!((since.get(), limit.get()), (42, 5));
        assert!(parse_query("since=-1").is_err());
        assert!(parse_query("since=abc").is_err());
        assert!(parse_query("limit=0").is_err());
        assert!(parse_query("since=1&since=2").is_err());
    }
}
