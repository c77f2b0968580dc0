//! What every Socket.IO session of one worker shares.

use std::sync::Arc;

use support_auth::JwtKeys;
use support_domain::ports::EventLog;

use super::sessions::Sessions;
use super::settings::SocketIoSettings;
use crate::broadcaster::Broadcaster;

/// The endpoint's dependencies (one per worker; `sessions` is the instance's).
pub(crate) struct Services {
    pub(crate) broadcaster: Broadcaster,
    pub(crate) log: Arc<dyn EventLog>,
    pub(crate) keys: JwtKeys,
    pub(crate) settings: SocketIoSettings,
    pub(crate) sessions: Arc<Sessions>,
}
