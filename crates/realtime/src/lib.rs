//! Live ticket events over WebSocket.
//!
//! * [`Broadcaster`]: the domain's [`EventNotifier`](support_domain::ports::EventNotifier)
//!   adapter; its tailer publishes logged events in log (position) order, each
//!   serialised once, and it fans them out without ever waiting;
//! * [`configure`]: mounts `GET /ws[?since=N]`, which authenticates before
//!   upgrading, replays the log after `N`, then continues live with no gap and
//!   no duplicate; each connection has its own task, so a slow client only
//!   slows itself;
//! * [`WsSettings`]: heartbeat, send-timeout and frame-size limits;
//! * [`Frame`]: the wire format of one event;
//! * [`SocketIo`]: the same stream for `socket.io-client` apps at
//!   `/socket.io/`, with connection-state recovery from the durable log.
//!
//! Close codes: the client's own code when it closes; 1008 (policy) after a
//! `stream:resync_required` frame when the client fell behind, or when it
//! stopped answering pings, or when its token expired; 1009 for oversized client frames; 1002 for
//! protocol errors; 1001 when the broadcaster goes away. A client whose
//! outgoing buffer stays full for a whole send timeout is dropped without a
//! close frame (it could not receive one).
#![deny(missing_docs)]

mod auth;
mod broadcaster;
mod connection;
mod endpoint;
mod frame;
mod frame_limit;
mod recipients;
mod settings;
mod socket_life;
mod socketio;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;

pub use auth::SUBPROTOCOL;
pub use broadcaster::{Broadcaster, DEFAULT_CAPACITY};
pub use endpoint::{WS_PATH, configure};
pub use frame::{Frame, RESYNC_REQUIRED_EVENT, resync_required};
pub use settings::WsSettings;
pub use socketio::{SOCKET_IO_PATH, SocketIo, SocketIoSettings};
