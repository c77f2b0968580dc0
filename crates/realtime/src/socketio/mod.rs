//! Socket.IO (Engine.IO protocol 4, Socket.IO protocol 5) at `/socket.io/`,
//! for the platform's apps that listen with `socket.io-client`.
//!
//! The same events as `/ws`, to the same audiences, in the same order, from
//! the same fan-out ([`Recipients`](crate::recipients)): a Socket.IO socket
//! subscribes like a `/ws` socket and costs what it costs. Each logged event
//! is `42["<event>", <payload>, "<offset>"]`, the offset being its log
//! position; connection-state recovery replays from the durable log
//! ([`recovery`]). Only the default namespace; both transports (long-polling
//! with upgrade, and WebSocket).
//!
//! No maintained crate serves this protocol on actix-web (socketioxide is
//! built on tower and axum), so the documented subset lives here: the codecs
//! ([`engine`], [`packet`]), the transports ([`polling`], [`websocket`],
//! [`output`]), the session task ([`session`]) and the socket on top
//! ([`socket`], [`auth`]).

mod admission;
mod auth;
mod endpoint;
mod engine;
mod output;
mod packet;
mod polling;
mod query;
mod recovery;
mod services;
mod session;
mod sessions;
mod settings;
mod socket;
mod websocket;

use std::sync::Arc;

use actix_web::web;
use support_auth::JwtKeys;
use support_domain::ports::EventLog;

pub use self::settings::SocketIoSettings;
use crate::broadcaster::Broadcaster;

/// Where the endpoint is mounted (Socket.IO's default path).
pub const SOCKET_IO_PATH: &str = "/socket.io/";

/// The Socket.IO endpoint of one instance. Make it once, before the HTTP
/// server: its polling sessions must be found by every worker.
#[derive(Debug, Clone, Default)]
pub struct SocketIo {
    sessions: Arc<sessions::Sessions>,
    settings: SocketIoSettings,
}

impl SocketIo {
    /// An endpoint with `settings`.
    pub fn new(settings: SocketIoSettings) -> Self {
        Self {
            sessions: Arc::default(),
            settings,
        }
    }

    /// Mounts `GET|POST /socket.io/` on an app (call it in each worker's
    /// app factory, with that worker's log).
    pub fn configure(
        &self,
        broadcaster: Broadcaster,
        log: Arc<dyn EventLog>,
        keys: JwtKeys,
    ) -> impl FnOnce(&mut web::ServiceConfig) + use<> {
        let services = web::Data::new(services::Services {
            broadcaster,
            log,
            keys,
            settings: self.settings.clone(),
            sessions: self.sessions.clone(),
        });
        move |cfg| {
            cfg.service(
                web::resource([SOCKET_IO_PATH, "/socket.io"])
                    .app_data(services)
                    .route(web::get().to(endpoint::get))
                    .route(web::post().to(endpoint::post))
                    .default_service(web::to(endpoint::method_not_allowed)),
            );
        }
    }
}
