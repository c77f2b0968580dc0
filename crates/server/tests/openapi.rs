//! The OpenAPI document names exactly the routes the server serves.
//!
//! The served routes are read from the app itself: the server's own
//! [`support_server::mount`] in an in-process app whose fallback answers
//! with actix's resource map (every registered path pattern), and each
//! pattern's methods from the `Allow` header its resource answers an
//! unsupported method with. The document's are its `paths` and their
//! operations. A route added without documenting it, or a documented route
//! that is gone, fails this test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;

use actix_web::http::Method;
use actix_web::{App, HttpRequest, HttpResponse, test, web};
use support_domain::{SupportPorts, SupportService};
use support_http::idempotency::InFlightRequests;
use support_http::{ApiState, JwtKeys, JwtSettings, Metrics};
use support_persistence::test_support::SqliteTestDb;
use support_persistence::{Database, PoolSettings};
use support_realtime::{Broadcaster, SocketIo, SocketIoSettings, WsSettings};
use support_server::{RandomTicketNumbers, RealtimeParts, SystemClock, mount};

/// Where the fallback answers with the resource map (no route serves it).
const PROBE: &str = "/__resource-map__";

async fn resource_map(req: HttpRequest) -> HttpResponse {
    HttpResponse::Ok().body(format!("{:#?}", req.resource_map()))
}

/// Every full path pattern of the resource map's leaves. `{:#?}` prints
/// each node's pattern (`patterns: Single("/x")` or `List([...])`) and its
/// children (`nodes: Some([...])`, or `nodes: None` for a resource), one
/// level of indentation deeper per level of the tree.
fn leaf_patterns(dump: &str) -> Vec<String> {
    // (indentation of the node's `pattern:` line, its patterns)
    let mut stack: Vec<(usize, Vec<String>)> = Vec::new();
    let mut leaves = Vec::new();
    let mut lines = dump.lines().peekable();
    let mut current: Option<(usize, Vec<String>)> = None;
    while let Some(line) = lines.next() {
        let indent = line.len() - line.trim_start().len();
        let text = line.trim();
        if text == "pattern: ResourceDef {" {
            current = Some((indent, Vec::new()));
            continue;
        }
        if let Some((_, patterns)) = current.as_mut() {
            if text == "patterns: Single(" {
                if let Some(single) = lines.next() {
                    patterns.push(unquote(single.trim().trim_end_matches(',')));
                }
            } else if text == "patterns: List(" {
                for inner in lines.by_ref() {
                    let inner = inner.trim();
                    if inner.starts_with(']') || inner.starts_with(')') {
                        break;
                    }
                    if inner.starts_with('"') {
                        patterns.push(unquote(inner.trim_end_matches(',')));
                    }
                }
            }
        }
        if text == "nodes: None," || text.starts_with("nodes: Some(") {
            let Some((indent, patterns)) = current.take() else {
                continue;
            };
            while stack.last().is_some_and(|(i, _)| *i >= indent) {
                stack.pop();
            }
            let prefix: String = stack
                .iter()
                .map(|(_, p)| p.first().cloned().unwrap_or_default())
                .collect();
            if text == "nodes: None," {
                leaves.extend(patterns.iter().map(|p| format!("{prefix}{p}")));
            } else {
                stack.push((indent, patterns));
            }
        }
    }
    leaves
}

fn unquote(s: &str) -> String {
    s.trim().trim_matches('"').replace("\\\"", "\"")
}

async fn served_routes() -> BTreeSet<(String, String)> {
    let db_file = SqliteTestDb::new();
    let db = Database::connect(db_file.url(), PoolSettings::default())
        .await
        .unwrap();
    db.run_migrations().await.unwrap();
    let broadcaster = Broadcaster::new(16);
    let service = SupportService::new(SupportPorts {
        tickets: db.tickets(),
        events: db.events(),
        notifier: Arc::new(broadcaster.clone()),
        points: db.points(),
        clock: Arc::new(SystemClock),
        numbers: Arc::new(RandomTicketNumbers),
        answers: db.answers(),
    });
    let keys = JwtKeys::hs256(
        b"openapi-test-secret-0123456789abcdef",
        &JwtSettings::default(),
    )
    .unwrap();
    let api = ApiState {
        service: web::Data::new(service),
        keys: keys.clone(),
        metrics: web::Data::new(Metrics::new()),
        in_flight: InFlightRequests::new(),
    };
    let realtime = RealtimeParts {
        broadcaster,
        events: db.events(),
        keys,
        ws: WsSettings::default(),
        socket_io: SocketIo::new(SocketIoSettings::default()),
    };
    let app = test::init_service(
        App::new()
            .configure(mount(api, realtime))
            .default_service(web::to(resource_map)),
    )
    .await;
    let dump =
        test::call_and_read_body(&app, test::TestRequest::get().uri(PROBE).to_request()).await;
    let dump = String::from_utf8(dump.to_vec()).unwrap();
    let patterns = leaf_patterns(&dump);
    assert!(
        patterns.len() >= 20,
        "the resource map's format changed? found {patterns:?} in\n{dump}"
    );

    let mut routes = BTreeSet::new();
    for pattern in patterns {
        let path = pattern
            .replace("{ticketId}", "1")
            .replace("{file}", "api.js");
        let req = test::TestRequest::default()
            .method(Method::from_bytes(b"PROPFIND").unwrap())
            .uri(&path)
            .to_request();
        let response = test::call_service(&app, req).await;
        let allow = response
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| {
                panic!(
                    "{pattern}: an unsupported method got {} without an Allow header",
                    response.status()
                )
            })
            .to_owned();
        for method in allow.split(',').map(str::trim).filter(|m| !m.is_empty()) {
            routes.insert((method.to_ascii_uppercase(), pattern.clone()));
        }
    }
    routes
}

fn documented_routes() -> BTreeSet<(String, String)> {
    let document = serde_json::to_value(support_http::openapi::document()).unwrap();
    let mut routes = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if [
                "get", "put", "post", "delete", "options", "head", "patch", "trace",
            ]
            .contains(&method.as_str())
            {
                routes.insert((method.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    routes
}

#[actix_web::test]
async fn the_document_names_exactly_the_served_routes() {
    let served = served_routes().await;
    let documented = documented_routes();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "served but not in the document: {undocumented:?}\n\
         in the document but not served: {unserved:?}"
    );
}

#[actix_web::test]
async fn the_document_is_openapi_3_1_with_its_components() {
    let document = serde_json::to_value(support_http::openapi::document()).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let schemes = &document["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(schemes["scheme"], "bearer");
    for schema in ["ErrorEnvelope", "Ticket", "CreateTicketRequest", "Event"] {
        assert!(
            document["components"]["schemas"][schema].is_object(),
            "{schema} missing"
        );
    }
    // Every operation names its errorCode where it has one.
    let create = &document["paths"]["/api/customer/mtables/support/tickets"]["post"];
    let text = create["responses"]["400"].to_string();
    assert!(text.contains("SUPPORT_TICKET_CREATION_FAILED"), "{text}");
    assert!(create["responses"]["200"]["links"]["GetTicket"].is_object());
}
