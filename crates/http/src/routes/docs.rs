//! `GET /docs/`: the interactive API reference, Swagger UI over the served
//! OpenAPI document (`/openapi.json`). Its assets ship inside the
//! `utoipa-swagger-ui-vendored` crate and are embedded in the binary, so
//! nothing is fetched from the internet at build or run time; the page's
//! Content Security Policy allows this origin only, so a browser could not
//! either.

use std::sync::{Arc, LazyLock};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use utoipa_swagger_ui::Config;

use crate::error::ApiError;
use crate::openapi::OPENAPI_PATH;

/// Where the page lives; its assets are relative to it.
pub const DOCS_PATH: &str = "/docs/";

/// Swagger UI's inline styles and its `data:` icons need the two
/// relaxations; scripts and connections stay on this origin.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'none'";

/// The page reads the served document. No validator: it would send the
/// document to a third party.
static CONFIG: LazyLock<Arc<Config<'static>>> = LazyLock::new(|| {
    Arc::new(
        Config::new([OPENAPI_PATH])
            .validator_url("none")
            .try_it_out_enabled(true)
            .display_operation_id(true),
    )
});

/// `GET /docs`: the page is at `/docs/` (its assets' paths are relative).
pub async fn redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, DOCS_PATH))
        .finish()
}

/// `GET /docs/`: the page.
pub async fn page(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    serve(req, "index.html").await
}

/// `GET /docs/{file}`: one of its assets; any other name is answered as a
/// path no route serves.
pub async fn asset(req: HttpRequest, file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    serve(req, &file).await
}

async fn serve(req: HttpRequest, file: &str) -> Result<HttpResponse, ApiError> {
    let found = utoipa_swagger_ui::serve(file, Arc::clone(&CONFIG)).map_err(|e| {
        tracing::error!(error = %e, file, "the API reference page could not be built");
        ApiError::unavailable()
    })?;
    let Some(found) = found else {
        return crate::app::route_not_found(req).await;
    };
    let mut response = HttpResponse::Ok();
    response
        .content_type(found.content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    if found.gzpipped {
        response.insert_header((header::CONTENT_ENCODING, "gzip"));
    }
    Ok(response.body(found.bytes.into_owned()))
}
