//! Where the API lives: the path prefixes the app mounts its routes under
//! and the OpenAPI document names them by (a leaf both read).

/// Path prefix of the customer ticket API.
pub const SUPPORT_PREFIX: &str = "/api/customer/mtables/support";
/// Path of the event log for polling clients.
pub const EVENTS_PATH: &str = "/api/support/events";
/// Path prefix of the staff views and actions.
pub const STAFF_PREFIX: &str = "/api/support";
