//! `GET /dashboard`: the support dashboard (the staff workspace), a static
//! page embedded in the binary. Its scripts connect to `/ws` and the staff
//! ticket API.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::ApiError;

/// Content Security Policy of the dashboard: only its own script and style,
/// connections back to this origin, no inline code. Ticket text is rendered
/// as text by the script; the policy is the second line of defence.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

/// The modules `app.js` imports, served at `/dashboard/<name>`. Only these
/// names are served: the path is never joined to a directory.
const MODULES: [(&str, &str); 5] = [
    ("api.js", include_str!("../../assets/dashboard/api.js")),
    (
        "deadlines.js",
        include_str!("../../assets/dashboard/deadlines.js"),
    ),
    (
        "detail.js",
        include_str!("../../assets/dashboard/detail.js"),
    ),
    (
        "tickets.js",
        include_str!("../../assets/dashboard/tickets.js"),
    ),
    ("util.js", include_str!("../../assets/dashboard/util.js")),
];

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

/// Its entry script.
pub async fn script() -> HttpResponse {
    asset(JAVASCRIPT, include_str!("../../assets/dashboard/app.js"))
}

/// `GET /dashboard/{file}`: one of the modules the entry script imports;
/// any other name is answered as a path no route serves.
pub async fn module(req: HttpRequest, file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    match MODULES.iter().find(|(name, _)| *name == file.as_str()) {
        Some((_, body)) => Ok(asset(JAVASCRIPT, body)),
        None => crate::app::route_not_found(req).await,
    }
}

/// Its stylesheet.
pub async fn style() -> HttpResponse {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../assets/dashboard/app.css"),
    )
}
