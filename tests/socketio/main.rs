//! The Socket.IO endpoint against the real `socket.io-client` (npm, pinned in
//! tests/socketio/client/package-lock.json), on SQLite and PostgreSQL: both
//! transports, refusals, visibility (internal comments and staff notes
//! included, live and replayed), the seed's payloads, and recovery after a
//! cut connection, across a server restart and on another instance, with no
//! gap and no duplicate.
//!
//! The client runs in node (client/driver.mjs), driven line by line from
//! [`driver`]; `npm ci` installs it on first use when it is missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod driver;
mod recovery;
mod refusals;
mod server;
mod transports;
mod visibility;

/// A scenario as two tests, `sqlite` and `postgres`, in a module named after it.
macro_rules! on_both_backends {
    ($($name:ident => $scenario:path;)*) => {$(
        mod $name {
            #[actix_web::test]
            async fn sqlite() {
                $scenario(crate::support::Backend::Sqlite).await;
            }

            #[actix_web::test]
            async fn postgres() {
                $scenario(crate::support::Backend::Postgres).await;
            }
        }
    )*};
}

on_both_backends! {
    socketio_connects_over_websocket_and_polling_and_upgrades_mid_stream => crate::transports::both_transports;
    socketio_refuses_bad_tokens_and_disconnects_an_expired_one => crate::refusals::refusals;
    socketio_owner_gets_seed_payloads_other_customer_nothing_staff_everything => crate::visibility::visibility_and_payloads;
    socketio_internal_comments_and_staff_notes_never_reach_the_customer => crate::visibility::internal_stays_internal;
    socketio_a_client_cut_mid_stream_recovers_without_gap_or_duplicate => crate::recovery::a_cut_client_recovers;
    socketio_recovers_across_a_server_restart => crate::recovery::a_restart_between_disconnect_and_reconnect;
}
