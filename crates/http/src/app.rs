//! Mounting: the routes, their state, and the JSON fallbacks that replace
//! actix's plain-text default errors.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpRequest, HttpResponse, Resource, ResponseError, Route, web};
use support_domain::SupportService;

use crate::auth::JwtKeys;
use crate::auth::extractor::count_unrouted;
use crate::error::ApiError;
use crate::metrics::{Metrics, metrics_endpoint};
use crate::routes::{comments, dashboard, events, health, staff, staff_actions, tickets};

/// Everything the handlers need, built once by the server.
#[derive(Clone)]
pub struct ApiState {
    /// The use cases.
    pub service: web::Data<SupportService>,
    /// Token verification.
    pub keys: JwtKeys,
    /// Exported metrics (also fed by the WebSocket adapter).
    pub metrics: web::Data<Metrics>,
}

/// Path prefix of the customer ticket API.
pub const SUPPORT_PREFIX: &str = "/api/customer/mtables/support";
/// Path of the event log for polling clients.
pub const EVENTS_PATH: &str = "/api/support/events";
/// Path prefix of the staff views and actions.
pub const STAFF_PREFIX: &str = "/api/support";

async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    count_unrouted(&req)?;
    Err(ApiError::method_not_allowed())
}

/// Fallback for paths no route serves.
pub async fn route_not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    count_unrouted(&req)?;
    Err(ApiError::route_not_found())
}

/// Registers the API routes and their state on an `App` (or a scope).
pub fn configure(state: ApiState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(state.service.clone())
            .app_data(state.keys.clone())
            .app_data(state.metrics.clone())
            .service(
                web::resource("/metrics")
                    .route(web::get().to(metrics_endpoint))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/healthz")
                    .route(web::get().to(health::healthz))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/readyz")
                    .route(web::get().to(health::readyz))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(web::resource("/dashboard").route(web::get().to(dashboard::page)))
            .service(web::resource("/dashboard/app.js").route(web::get().to(dashboard::script)))
            .service(web::resource("/dashboard/app.css").route(web::get().to(dashboard::style)))
            .service(web::resource("/dashboard/{file}").route(web::get().to(dashboard::module)))
            .service(
                web::resource(EVENTS_PATH)
                    .route(web::get().to(events::list_events))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::scope(STAFF_PREFIX)
                    .service(only("/tickets", web::get().to(staff::list_all_tickets)))
                    .service(only("/sla-policy", web::get().to(staff::sla_policy)))
                    .service(only(
                        "/tickets/{ticketId}",
                        web::get().to(staff::view_ticket),
                    ))
                    .service(only(
                        "/tickets/{ticketId}/assign",
                        web::post().to(staff_actions::assign_ticket),
                    ))
                    .service(only(
                        "/tickets/{ticketId}/start",
                        web::post().to(staff_actions::noted::<staff_actions::Start>),
                    ))
                    .service(only(
                        "/tickets/{ticketId}/resolve",
                        web::post().to(staff_actions::resolve_ticket),
                    ))
                    .service(only(
                        "/tickets/{ticketId}/close",
                        web::post().to(staff_actions::noted::<staff_actions::Close>),
                    ))
                    .service(only(
                        "/tickets/{ticketId}/reopen",
                        web::post().to(staff_actions::noted::<staff_actions::Reopen>),
                    ))
                    .service(only(
                        "/tickets/{ticketId}/escalate",
                        web::post().to(staff_actions::noted::<staff_actions::Escalate>),
                    ))
                    .service(
                        web::resource("/tickets/{ticketId}/comments")
                            .route(web::post().to(comments::add_staff_comment))
                            .route(web::get().to(comments::list_staff_comments))
                            .default_service(web::to(method_not_allowed)),
                    ),
            )
            .service(
                web::scope(SUPPORT_PREFIX)
                    .service(
                        web::resource("/tickets")
                            .route(web::post().to(tickets::create_ticket))
                            .route(web::get().to(tickets::list_tickets))
                            .default_service(web::to(method_not_allowed)),
                    )
                    .service(only(
                        "/tickets/{ticketId}",
                        web::get().to(tickets::track_ticket),
                    ))
                    .service(only(
                        "/tickets/{ticketId}/escalate",
                        web::post().to(tickets::escalate_ticket),
                    ))
                    .service(
                        web::resource("/tickets/{ticketId}/comments")
                            .route(web::post().to(comments::add_comment))
                            .route(web::get().to(comments::list_comments))
                            .default_service(web::to(method_not_allowed)),
                    ),
            );
    }
}

/// A path served by one route; any other method gets the 405 envelope.
fn only(path: &str, route: Route) -> Resource {
    web::resource(path)
        .route(route)
        .default_service(web::to(method_not_allowed))
}

/// Rewrites any error response that is not already JSON (actix's own
/// plain-text errors) into the platform's envelope, keeping its status.
pub fn json_error_handlers<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(|res: ServiceResponse<B>| {
        let is_json = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if is_json {
            return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
        }
        let status = res.status();
        let error = match status.as_u16() {
            404 => ApiError::route_not_found(),
            405 => ApiError::method_not_allowed(),
            413 => ApiError::payload_too_large(crate::dto::MAX_BODY_LIMIT),
            s if s >= 500 => ApiError::unavailable(),
            _ => ApiError::new(
                status,
                "BAD_REQUEST",
                status.canonical_reason().unwrap_or("Bad request"),
                serde_json::Value::Null,
            ),
        };
        let (req, _) = res.into_parts();
        let response: HttpResponse<BoxBody> = error.error_response();
        Ok(ErrorHandlerResponse::Response(
            ServiceResponse::new(req, response).map_into_right_body(),
        ))
    })
}
