//! Timing and size limits of the WebSocket endpoint.

use std::time::Duration;

/// How the endpoint keeps connections healthy. Every value is configurable so
/// tests (and slow networks) can choose their own; [`WsSettings::default`]
/// holds the production values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsSettings {
    /// How often the server pings each client. Browsers answer pings on their
    /// own, which is how a half-open connection is noticed. Default 30 s.
    pub ping_interval: Duration,
    /// A client that has sent nothing (not even a pong) for this long is
    /// closed: it is gone or unreachable. Default 75 s, i.e. two missed pings.
    pub client_timeout: Duration,
    /// The longest one frame may wait for room in the connection's outgoing
    /// buffer. A client that cannot take a frame in this time is too slow and
    /// is closed, so it never holds resources for long. Default 5 s.
    pub send_timeout: Duration,
    /// Largest frame accepted from a client. Clients have nothing meaningful
    /// to send, so this is kept small. Default 4 KiB.
    pub max_frame_size: usize,
}

impl WsSettings {
    /// Production ping interval.
    pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(30);
    /// Production client timeout.
    pub const DEFAULT_CLIENT_TIMEOUT: Duration = Duration::from_secs(75);
    /// Production send timeout.
    pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(5);
    /// Production limit on incoming frames.
    pub const DEFAULT_MAX_FRAME_SIZE: usize = 4 * 1024;
}

impl Default for WsSettings {
    fn default() -> Self {
        Self {
            ping_interval: Self::DEFAULT_PING_INTERVAL,
            client_timeout: Self::DEFAULT_CLIENT_TIMEOUT,
            send_timeout: Self::DEFAULT_SEND_TIMEOUT,
            max_frame_size: Self::DEFAULT_MAX_FRAME_SIZE,
        }
    }
}
