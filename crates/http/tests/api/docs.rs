//! `/docs`: the interactive API reference, served from the binary.

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header::HeaderMap;
use actix_web::test::{self, TestRequest};

use crate::support::*;

async fn fetch<S, B>(app: &S, path: &str) -> (u16, HeaderMap, String)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let res = test::call_service(app, TestRequest::get().uri(path).to_request()).await;
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = String::from_utf8_lossy(&test::read_body(res).await).into_owned();
    (status, headers, body)
}

#[actix_web::test]
async fn the_reference_page_is_swagger_ui_over_the_served_document_from_this_origin_only() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;

    let (status, headers, _) = fetch(&app, "/docs").await;
    assert_eq!(status, 308);
    assert_eq!(headers.get("location").unwrap(), "/docs/");

    let (status, headers, page) = fetch(&app, "/docs/").await;
    assert_eq!(status, 200);
    assert!(
        headers
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{headers:?}"
    );
    let csp = headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"));
    assert!(page.contains("swagger-ui"), "{page}");
    // Every script and style the page loads is one of its own assets.
    for attribute in ["src=\"", "href=\""] {
        for reference in page.split(attribute).skip(1) {
            let target = reference.split('"').next().unwrap();
            assert!(
                !target.contains(':') && !target.starts_with('/'),
                "{target}: the page must load nothing from elsewhere"
            );
            let file = target.trim_start_matches("./");
            let (status, _, _) = fetch(&app, &format!("/docs/{file}")).await;
            assert_eq!(status, 200, "{target}");
        }
    }

    let (status, _, initializer) = fetch(&app, "/docs/swagger-initializer.js").await;
    assert_eq!(status, 200);
    assert!(initializer.contains("\"/openapi.json\""), "{initializer}");
    assert!(
        initializer.contains("\"validatorUrl\": \"none\""),
        "no third-party validator: {initializer}"
    );
}

#[actix_web::test]
async fn an_unknown_asset_is_a_route_not_found() {
    let ctx = ctx(Backend::Sqlite).await;
    let app = test::init_service(app(ctx.state.clone())).await;
    let res = send(&app, TestRequest::get().uri("/docs/nope.js").to_request()).await;
    assert_eq!(res.status, 404);
    assert_eq!(res.body["errorCode"], "ROUTE_NOT_FOUND");
}
