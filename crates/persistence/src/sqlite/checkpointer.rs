//! Copies the write-ahead log back into the database file, beside the
//! writer instead of inside its commits.
//!
//! By default SQLite checkpoints in the commit that takes the log past a
//! thousand pages: the writer copies the pages and fsyncs the database file
//! while every write queued behind it waits. Here the writer's connection
//! has automatic checkpoints off (`sqlite_writer_connection`), and this
//! thread runs a passive checkpoint on a connection of its own every few
//! milliseconds: it never blocks the writer or a reader, and copies only
//! what no reader still needs.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use diesel::SqliteConnection;
use diesel::connection::SimpleConnection;

/// How often the log is copied back. Under load the log grows by a few MB a
/// second; this keeps it small without a checkpoint per commit.
const EVERY: Duration = Duration::from_millis(100);

/// Checkpoints on `conn` until `stop` is dropped (by the last writer handle).
pub(crate) fn start(mut conn: SqliteConnection, stop: Receiver<()>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("sqlite-checkpointer".to_owned())
        .spawn(move || {
            loop {
                match stop.recv_timeout(EVERY) {
                    Err(RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
                if let Err(error) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
                    tracing::warn!(%error, "SQLite checkpoint failed; the next one retries");
                }
            }
        })
        .map(drop)
}

#[cfg(test)]
mod tests {
    use diesel::RunQueryDsl;
    use diesel::sql_types::Integer;

    use super::*;
    use crate::connections::{
        SqliteSynchronous, sqlite_checkpoint_connection, sqlite_writer_connection,
    };

    #[derive(diesel::QueryableByName)]
    struct Level {
        #[diesel(sql_type = Integer)]
        wal_autocheckpoint: i32,
    }

    #[test]
    fn the_log_is_copied_back_beside_the_writer_which_does_not_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoints.db");
        let location = path.to_str().unwrap();
        let mut writer = sqlite_writer_connection(location, SqliteSynchronous::Full).unwrap();
        let level = diesel::sql_query("PRAGMA wal_autocheckpoint")
            .get_result::<Level>(&mut writer)
            .unwrap();
        assert_eq!(level.wal_autocheckpoint, 0, "the writer never checkpoints");
        writer
            .batch_execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
            .unwrap();
        for n in 0..2000 {
            writer
                .batch_execute(&format!(
                    "INSERT INTO rows (text) VALUES ('row number {n} {}')",
                    "x".repeat(200)
                ))
                .unwrap();
        }
        let before = std::fs::metadata(&path).unwrap().len();
        let (keep_going, stop) = std::sync::mpsc::channel();
        start(sqlite_checkpoint_connection(location).unwrap(), stop).unwrap();
        std::thread::sleep(EVERY * 5);
        let after = std::fs::metadata(&path).unwrap().len();
        assert!(
            after > before + 400_000,
            "the rows reached the database file: {before} -> {after} bytes"
        );
        drop(keep_going);
    }
}
