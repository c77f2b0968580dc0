//! Server-wide Engine.IO / Socket.IO settings.

use std::time::Duration;

/// How the Socket.IO endpoint keeps its sessions healthy and small. The
/// defaults are Socket.IO's own where it has one, so existing clients need
/// no option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketIoSettings {
    /// How often the server pings (Engine.IO `pingInterval`). Default 25 s.
    pub ping_interval: Duration,
    /// How long a pong may take before the session is closed (Engine.IO
    /// `pingTimeout`). Default 20 s.
    pub ping_timeout: Duration,
    /// Largest packet, or polling request body, accepted from a client
    /// (Engine.IO `maxPayload`). Clients only send a CONNECT with a token,
    /// pongs and the upgrade dance, so this is small. Default 8 KiB.
    pub max_payload: usize,
    /// How long a new session may take to send its CONNECT (Socket.IO's
    /// `connectTimeout`). Shorter than Socket.IO's default: a client sends its
    /// CONNECT at once, and a session waiting for one costs a task while it
    /// proves nothing about its caller. Default 10 s.
    pub connect_timeout: Duration,
    /// Sessions without a CONNECT yet, per client address: more are refused
    /// (429). Default 16.
    pub max_pending_per_client: usize,
    /// Sessions without a CONNECT yet, on the instance: more are refused
    /// (503). Default 1024.
    pub max_pending: usize,
    /// How long a probed WebSocket may take to complete the upgrade. Default 10 s.
    pub upgrade_timeout: Duration,
    /// The longest one packet may wait for room: in the socket's outgoing
    /// buffer (WebSocket) or in the session's queue for the next poll
    /// (long-polling). A client that cannot take a packet in this time is
    /// dropped, like a slow `/ws` client. Default 5 s.
    pub send_timeout: Duration,
    /// Packets a polling session holds for its next poll. Default 256.
    pub poll_queue: usize,
}

impl SocketIoSettings {
    /// Socket.IO's default ping interval.
    pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(25);
    /// Socket.IO's default ping timeout.
    pub const DEFAULT_PING_TIMEOUT: Duration = Duration::from_secs(20);
    /// The default payload limit.
    pub const DEFAULT_MAX_PAYLOAD: usize = 8 * 1024;
}

impl Default for SocketIoSettings {
    fn default() -> Self {
        Self {
            ping_interval: Self::DEFAULT_PING_INTERVAL,
            ping_timeout: Self::DEFAULT_PING_TIMEOUT,
            max_payload: Self::DEFAULT_MAX_PAYLOAD,
            connect_timeout: Duration::from_secs(10),
            max_pending_per_client: 16,
            max_pending: 1024,
            upgrade_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(5),
            poll_queue: 256,
        }
    }
}
