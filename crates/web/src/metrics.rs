//! Prometheus metrics: one registry for the HTTP and WebSocket adapters,
//! rendered at `GET /metrics` in the OpenMetrics text format.

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, web};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::error::ApiError;

/// Labels of a request: the route pattern (never the raw path, which would
/// explode the series count with ids), the method and the status.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

/// Labels of a latency observation.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

/// Every metric the service exports. Cheap to clone (shared handles).
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// Open WebSocket connections.
    pub ws_clients: Gauge,
    /// Events appended to the log by this instance.
    pub events_appended: Counter,
    /// Event frames written to WebSocket clients.
    pub events_delivered: Counter,
    /// `stream:resync_required` frames sent (slow clients, expired positions).
    pub resyncs_forced: Counter,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("support");
        let ws_clients = Gauge::default();
        let events_appended = Counter::default();
        let events_delivered = Counter::default();
        let resyncs_forced = Counter::default();
        let requests = Family::<RequestLabels, Counter>::default();
        // 0.25 ms to ~4 s.
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
        });
        registry.register(
            "ws_clients",
            "Open WebSocket connections",
            ws_clients.clone(),
        );
        registry.register(
            "events_appended",
            "Events appended to the durable log",
            events_appended.clone(),
        );
        registry.register(
            "events_delivered",
            "Event frames written to WebSocket clients",
            events_delivered.clone(),
        );
        registry.register(
            "resyncs_forced",
            "Clients told to resynchronise",
            resyncs_forced.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        Self {
            registry: Arc::new(registry),
            ws_clients,
            events_appended,
            events_delivered,
            resyncs_forced,
            requests,
            latency,
        }
    }

    /// Records one finished request.
    pub fn observe_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Middleware (with `from_fn`): counts and times every request by route.
pub async fn metrics_middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().to_string();
    let started = Instant::now();
    let res = next.call(req).await?;
    if let Some(metrics) = metrics {
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        metrics.observe_request(
            &route,
            &method,
            res.status().as_u16(),
            started.elapsed().as_secs_f64(),
        );
    }
    Ok(res)
}

/// `GET /metrics`.
pub async fn metrics_endpoint(metrics: web::Data<Metrics>) -> Result<HttpResponse, ApiError> {
    let text = metrics.render().map_err(|_| ApiError::unavailable())?;
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_metric_with_route_labels() {
        let m = Metrics::new();
        m.ws_clients.inc();
        m.events_appended.inc();
        m.observe_request(
            "/api/customer/mtables/support/tickets/{ticketId}",
            "GET",
            200,
            0.002,
        );
        let text = m.render().unwrap();
        for needle in [
            "support_ws_clients 1",
            "support_events_appended_total 1",
            "support_events_delivered_total 0",
            "support_resyncs_forced_total 0",
            r#"support_http_requests_total{route="/api/customer/mtables/support/tickets/{ticketId}",method="GET",status="200"} 1"#,
            "support_http_request_duration_seconds_bucket",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }
}
