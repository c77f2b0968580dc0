//! The open-file limit: every socket is a file, so it caps the connections
//! (HTTP and WebSocket) one instance can hold.

/// Files kept aside from sockets: database connections, the log, the
/// binary's own files.
const RESERVED_FILES: u64 = 64;

/// Raises the soft open-file limit to the hard limit, the most a process may
/// take without privileges, and says how many sockets that leaves room for.
/// Raising the hard limit is the operator's (docs/benchmarks.md says how).
pub fn raise_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(
            open_files = limit,
            sockets = limit.saturating_sub(RESERVED_FILES),
            "open-file limit raised to the hard limit; room for about this many sockets"
        ),
        Err(error) => tracing::warn!(%error, "could not raise the open-file limit"),
    }
}
