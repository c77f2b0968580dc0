//! The real server on a test database, and the HTTP API calls the tests
//! make through it.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use support_domain::UserId;
use support_http::{JwtSettings, TokenSigner};
use support_server::{Config, JwtSource, RateLimits, RunningServer};

use crate::support::{SECRET, TestDb, json, token};

/// A server on `db`, at `addr` (port 0: any), with the black-box test settings.
pub(crate) async fn serve(db: &TestDb, addr: SocketAddr) -> RunningServer {
    let config = Config {
        bind_addr: addr,
        database_url: db.url().to_owned(),
        jwt: JwtSource::Secret(SECRET.to_owned()),
        workers: Some(2),
        rate_limits: RateLimits::OFF,
        ..Config::default()
    };
    // The port of a server just stopped may take a moment to be free again.
    for _ in 0..50 {
        match support_server::start(&config).await {
            Ok(server) => return server,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    support_server::start(&config).await.expect("server starts")
}

/// A token that expires `ttl_secs` from now.
pub(crate) fn short_token(user: i64, role: &str, ttl_secs: i64) -> String {
    TokenSigner::hs256(SECRET.as_bytes(), JwtSettings::default())
        .unwrap()
        .sign(UserId::new(user).unwrap(), role, None, ttl_secs)
        .unwrap()
}

pub(crate) fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[derive(Clone)]
pub(crate) struct Api {
    base: String,
    client: awc::Client,
}

impl Api {
    pub(crate) fn of(server: &RunningServer) -> Self {
        Self {
            base: format!("http://{}", server.addr()),
            client: awc::Client::builder()
                .timeout(Duration::from_secs(10))
                .finish(),
        }
    }

    pub(crate) fn socket_url(&self) -> String {
        self.base.clone()
    }

    pub(crate) async fn create(&self, customer: i64) -> (i64, String) {
        let (status, body) = json(
            self.client
                .post(format!(
                    "{}/api/customer/mtables/support/tickets",
                    self.base
                ))
                .insert_header((
                    "Authorization",
                    format!("Bearer {}", token(customer, "customer")),
                )),
            Some(json!({"issueType": "other", "description": "The order never reached table 9"})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        (
            body["data"]["ticketId"].as_i64().unwrap(),
            body["data"]["ticketNumber"].as_str().unwrap().to_owned(),
        )
    }

    pub(crate) async fn track(&self, customer: i64, id: i64) {
        let (status, body) = json(
            self.client
                .get(format!(
                    "{}/api/customer/mtables/support/tickets/{id}",
                    self.base
                ))
                .insert_header((
                    "Authorization",
                    format!("Bearer {}", token(customer, "customer")),
                )),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }

    pub(crate) async fn escalate(&self, customer: i64, id: i64) {
        let (status, body) = json(
            self.client
                .post(format!(
                    "{}/api/customer/mtables/support/tickets/{id}/escalate",
                    self.base
                ))
                .insert_header((
                    "Authorization",
                    format!("Bearer {}", token(customer, "customer")),
                )),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }

    /// A staff comment on ticket `id`.
    pub(crate) async fn staff_comment(&self, id: i64, body: &str, internal: bool) {
        let (status, answer) = json(
            self.client
                .post(format!("{}/api/support/tickets/{id}/comments", self.base))
                .insert_header(("Authorization", format!("Bearer {}", token(900, "staff")))),
            Some(json!({"body": body, "internal": internal})),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
    }

    /// Staff resolve ticket `id` with a staff note.
    pub(crate) async fn resolve(&self, id: i64, note: &str) {
        let (status, answer) = json(
            self.client
                .post(format!("{}/api/support/tickets/{id}/resolve", self.base))
                .insert_header(("Authorization", format!("Bearer {}", token(900, "staff")))),
            Some(json!({"resolution": {"type": "refund", "details": "Deposit refunded"}, "note": note})),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
    }

    /// Every logged event as (id, owner), through the polling API.
    pub(crate) async fn log(&self) -> Vec<(i64, i64)> {
        let auth = format!("Bearer {}", token(900, "staff"));
        let (mut since, mut all) = (0, Vec::new());
        loop {
            let (status, body) = json(
                self.client
                    .get(format!(
                        "{}/api/support/events?since={since}&limit=100",
                        self.base
                    ))
                    .insert_header(("Authorization", auth.as_str())),
                None,
            )
            .await;
            assert_eq!(status, 200, "{body}");
            let page = body["data"]["events"].as_array().unwrap();
            if page.is_empty() {
                return all;
            }
            all.extend(page.iter().map(|e| {
                (
                    e["id"].as_i64().unwrap(),
                    e["data"]["userId"].as_i64().unwrap(),
                )
            }));
            since = body["data"]["nextSince"].as_i64().unwrap();
        }
    }
}

/// Customers 60..64 open tickets and escalate every other one.
pub(crate) async fn write_burst(api: &Api, tickets: i64) {
    for n in 0..tickets {
        let customer = 60 + n % 5;
        let (id, _) = api.create(customer).await;
        if n % 2 == 0 {
            api.escalate(customer, id).await;
        }
    }
}
