//! The interactive API reference (`/docs`) in a real browser: headless
//! Chromium opens it on the real server and Swagger UI renders every
//! operation of the served document, with nothing loaded from elsewhere
//! (the page's CSP would refuse it, and the browser would say so).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod browser;
mod support;

use browser::open_page;
use serde_json::{Value, json};
use support::{Backend, Service};

/// What a test looks at when a wait fails.
const PAGE_STATE: &str = "JSON.stringify({url: location.href, \
     title: document.title, blocks: document.querySelectorAll('.opblock').length, \
     text: document.body?.innerText?.slice(0, 500)})";

#[actix_web::test]
async fn the_reference_renders_every_operation_of_the_served_document() {
    let svc = Service::start(Backend::Sqlite).await;
    let addr = svc.server.addr();
    let document: Value = svc
        .client
        .get(format!("http://{addr}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .limit(4 << 20)
        .await
        .unwrap();
    let operations: usize = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                .count()
        })
        .sum();
    assert!(operations > 30, "{operations}");

    let (_browser, mut cdp) = open_page(&format!("http://{addr}/docs"), None).await;
    cdp.wait_until(
        "Swagger UI to render every operation",
        &format!("document.querySelectorAll('.opblock').length === {operations}"),
        PAGE_STATE,
    )
    .await;
    assert_eq!(
        cdp.eval("location.pathname").await,
        "/docs/",
        "/docs redirects to the page"
    );
    // The document's title and the bearer scheme's Authorize button.
    assert_eq!(
        cdp.eval("document.querySelector('.info .title')?.textContent?.includes(\"Support\")")
            .await,
        true,
        "{}",
        cdp.eval(PAGE_STATE).await
    );
    assert_eq!(
        cdp.eval("!!document.querySelector('.btn.authorize')").await,
        true
    );
    // Every resource the page loaded came from the server.
    let foreign = cdp
        .eval(&format!(
            "performance.getEntriesByType('resource').map(e => e.name)\
             .filter(n => !n.startsWith('http://{addr}/'))"
        ))
        .await;
    assert_eq!(foreign, json!([]), "loaded from elsewhere");
    let refused: Vec<&Value> = cdp
        .notices
        .iter()
        .filter(|n| n.to_string().contains("Content Security Policy"))
        .collect();
    assert!(
        refused.is_empty(),
        "the CSP refused something: {refused:#?}"
    );
    // For a person to look at (cargo's directory for integration-test output).
    cdp.screenshot(&format!("{}/docs-page.png", env!("CARGO_TARGET_TMPDIR")))
        .await;
}
