//! The life of one Engine.IO session: heartbeats, the upgrade from polling
//! to WebSocket, and the Socket.IO socket on top, in one task.
//!
//! The task owns everything the session sends, in order, through its
//! [`Output`]; requests and sockets only hand it what the client sent
//! ([`Inbound`]). The server pings every `ping_interval` and closes a session
//! whose pong has not come within `ping_timeout`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_ws::{CloseCode, MessageStream};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use super::auth::Handshake;
use super::engine::{self, NOOP, PING, PONG_PROBE, Packet};
use super::output::{End, Output};
use super::services::Services;
use super::sessions::{Inbound, Listed, PendingSlot, WsEnd};
use super::socket::Socket;
use super::websocket;

/// Where the session hears from its client.
pub(crate) enum Incoming {
    /// Polling requests and upgrading sockets, through the session's handle.
    Channel(mpsc::Receiver<Inbound>),
    /// A session that began on this WebSocket (and its writer, for pongs).
    Socket(MessageStream, actix_ws::Session),
}

impl Incoming {
    async fn next(&mut self) -> Inbound {
        match self {
            Self::Channel(inbound) => inbound
                .recv()
                .await
                .unwrap_or(Inbound::WsEnded(WsEnd::Gone)),
            Self::Socket(stream, writer) => websocket::next_packet(stream, writer).await,
        }
    }
}

/// A WebSocket probing an upgrade of a polling session.
struct Probe {
    socket: actix_ws::Session,
    deadline: Instant,
}

/// The engine state of one session.
struct Engine {
    out: Output,
    probe: Option<Probe>,
    /// Set once the session moved to its WebSocket (for the handle's polls).
    upgraded: Option<Arc<AtomicBool>>,
    next_ping: Instant,
    pong_by: Option<Instant>,
}

/// Serves one session until it ends. A session that begins on a WebSocket
/// first gets its open packet here (a polling one got it in the handshake
/// response).
pub(crate) async fn run(
    services: Arc<Services>,
    sid: Arc<str>,
    handshake: Handshake,
    mut incoming: Incoming,
    out: Output,
    upgraded: Option<Arc<AtomicBool>>,
    pending: PendingSlot,
) {
    // Listed or not, the session leaves the map when this task ends, even
    // by a panic: a stale entry would answer polls for a dead session.
    let _listed = Listed {
        sessions: services.sessions.clone(),
        sid: sid.clone(),
    };
    let settings = &services.settings;
    let now = Instant::now();
    let mut engine = Engine {
        out,
        probe: None,
        upgraded,
        next_ping: now + settings.ping_interval,
        pong_by: None,
    };
    let connect_by = now + settings.connect_timeout;
    let mut socket = Socket::new(handshake, connect_by, pending);
    let mut shutdown = services.broadcaster.shutdown_signal();
    tracing::debug!("socket.io session opened");

    if matches!(engine.out, Output::WebSocket(_)) {
        let open = engine::open_packet(
            &sid,
            &[],
            settings.ping_interval.as_millis(),
            settings.ping_timeout.as_millis(),
            settings.max_payload,
        );
        if engine
            .out
            .send(open.into(), settings.send_timeout)
            .await
            .is_err()
        {
            return finish(engine, End::Gone, &services).await;
        }
    }

    let end = loop {
        let probe_deadline = engine.probe.as_ref().map(|p| p.deadline);
        let step = tokio::select! {
            _ = shutdown.wait_for(|going| *going) => Err(End::Close(CloseCode::Away)),
            inbound = incoming.next() => engine.on_inbound(inbound, &mut socket, &services).await,
            () = sleep_until(engine.next_ping) => engine.ping(&services).await,
            () = sleep_until_some(engine.pong_by) => {
                tracing::debug!("socket.io client missed a pong; closing");
                Err(End::Close(CloseCode::Policy))
            }
            () = sleep_until_some(probe_deadline) => {
                engine.abandon_probe(&services).await;
                Ok(())
            }
            wake = socket.wake() => socket.on_wake(wake, &mut engine.out, &services).await,
        };
        if let Err(end) = step {
            break end;
        }
    };
    // The socket's subscription and pending place go now, not after the
    // last poll took the close packet.
    drop(socket);
    finish(engine, end, &services).await;
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

async fn finish(engine: Engine, end: End, services: &Services) {
    let limit = services.settings.send_timeout;
    match (end, engine.out) {
        (End::Close(code), out) => out.close(code, limit).await,
        (End::Gone, Output::Polling(queue)) => queue.close(),
        (End::Gone, Output::WebSocket(_)) => {}
    }
    tracing::debug!("socket.io session closed");
}

impl Engine {
    /// Gives up an upgrade that did not complete: its socket is closed, the
    /// session goes on polling.
    async fn abandon_probe(&mut self, services: &Services) {
        if let Some(probe) = self.probe.take() {
            let close = probe.socket.close(None);
            let _ = tokio::time::timeout(services.settings.send_timeout, close).await;
        }
    }

    async fn ping(&mut self, services: &Services) -> Result<(), End> {
        let settings = &services.settings;
        let now = Instant::now();
        self.next_ping = now + settings.ping_interval;
        if self.pong_by.is_none() {
            self.pong_by = Some(now + settings.ping_timeout);
        }
        self.out
            .send(PING.into(), settings.send_timeout)
            .await
            .map_err(|_| End::Gone)
    }

    async fn on_inbound(
        &mut self,
        inbound: Inbound,
        socket: &mut Socket,
        services: &Services,
    ) -> Result<(), End> {
        match inbound {
            Inbound::Polled(packets) => {
                for packet in packets {
                    self.on_packet(packet, socket, services).await?;
                }
                Ok(())
            }
            Inbound::Probe(ws) => {
                if matches!(self.out, Output::Polling(_)) && self.probe.is_none() {
                    self.probe = Some(Probe {
                        socket: ws,
                        deadline: Instant::now() + services.settings.upgrade_timeout,
                    });
                }
                Ok(())
            }
            Inbound::Ws(packet) if self.probe.is_some() => {
                self.on_probe_packet(packet, services).await
            }
            Inbound::WsEnded(end) if self.probe.is_some() => {
                // The probe failed: the session goes on polling.
                tracing::debug!(?end, "socket.io upgrade abandoned");
                self.abandon_probe(services).await;
                Ok(())
            }
            // A probe given up earlier: the session is still polling.
            Inbound::Ws(_) | Inbound::WsEnded(_) if matches!(self.out, Output::Polling(_)) => {
                Ok(())
            }
            Inbound::Ws(packet) => self.on_packet(packet, socket, services).await,
            Inbound::WsEnded(WsEnd::Gone) => Err(End::Gone),
            Inbound::WsEnded(WsEnd::Oversized) => Err(End::Close(CloseCode::Size)),
            Inbound::WsEnded(WsEnd::Malformed) | Inbound::Broken => {
                Err(End::Close(CloseCode::Protocol))
            }
        }
    }

    async fn on_packet(
        &mut self,
        packet: Packet,
        socket: &mut Socket,
        services: &Services,
    ) -> Result<(), End> {
        match packet {
            Packet::Pong(_) => {
                self.pong_by = None;
                Ok(())
            }
            Packet::Message(text) => socket.on_message(&text, &mut self.out, services).await,
            Packet::Close => Err(End::Gone),
            Packet::Open => Err(End::Close(CloseCode::Protocol)),
            Packet::Ping(_) | Packet::Upgrade | Packet::Noop | Packet::Binary => Ok(()),
        }
    }

    /// The upgrade: `2probe` is answered with `3probe` (and a no-op ends the
    /// pending poll, so the client can pause polling); `5` moves the session
    /// to the WebSocket, after what the polls had not yet taken.
    async fn on_probe_packet(&mut self, packet: Packet, services: &Services) -> Result<(), End> {
        let limit = services.settings.send_timeout;
        let (Some(probe), Output::Polling(queue)) = (&mut self.probe, &self.out) else {
            return Ok(());
        };
        match packet {
            Packet::Ping(data) if data == "probe" => {
                if tokio::time::timeout(limit, probe.socket.text(PONG_PROBE))
                    .await
                    .is_err()
                {
                    self.probe = None;
                    return Ok(());
                }
                queue.push_now(NOOP);
                Ok(())
            }
            Packet::Upgrade => {
                let Some(probe) = self.probe.take() else {
                    return Ok(());
                };
                // Polls are refused from now on; what they had not taken
                // goes over the WebSocket first, in order.
                if let Some(flag) = &self.upgraded {
                    flag.store(true, Ordering::Release);
                }
                let left = queue.take_all();
                queue.close();
                self.out = Output::WebSocket(probe.socket);
                for packet in left {
                    self.out.send(packet, limit).await.map_err(|_| End::Gone)?;
                }
                tracing::debug!("socket.io session upgraded to websocket");
                Ok(())
            }
            _ => Ok(()),
        }
    }
}
