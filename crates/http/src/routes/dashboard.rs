//! `GET /dashboard`: the live support dashboard, a static page embedded in
//! the binary. Its script connects to `/ws` and the staff ticket API.

use actix_web::HttpResponse;
use actix_web::http::header;

/// Content Security Policy of the dashboard: only its own script and style,
/// connections back to this origin, no inline code. Ticket text is rendered
/// as text by the script; the policy is the second line of defence.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

/// The page.
pub async fn page() -> HttpResponse {
    asset(
        "text/html; charset=utf-8",
        include_str!("../../assets/dashboard/index.html"),
    )
}

/// Its script.
pub async fn script() -> HttpResponse {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/dashboard/app.js"),
    )
}

/// Its stylesheet.
pub async fn style() -> HttpResponse {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../assets/dashboard/app.css"),
    )
}
