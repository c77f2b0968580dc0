//! The one writer of a SQLite database, committing writes in groups.
//!
//! SQLite has a single writer per database file. Every write of this process
//! (ticket creates and changes, points awards, purges) is a job for one
//! thread that owns the writing connection. While it commits a group of jobs
//! (with `synchronous = FULL`, an fsync of the WAL), the writes that arrive
//! queue up, and the next group commits them all: one transaction, one
//! fsync. Each job runs in a savepoint of its own, so a job that fails (a
//! taken ticket number, a failed check) is rolled back alone; no job is
//! answered before the commit that makes it durable, and when that commit
//! fails, no job of its group is answered as done.
//!
//! The connection is the writer's own, so its page cache stays warm: a
//! pooled connection discards its cache whenever another connection wrote.
//! (An in-memory database has one connection, the pool's, which the writer
//! borrows for each group.)

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::{Connection, SqliteConnection};
use support_domain::RepositoryError;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};

use crate::connections::SqlitePool;
use crate::errors::WriteError;

/// Most jobs committed in one transaction.
const MAX_GROUP: usize = 256;

/// Hands writes to the writer thread. Cheap to clone; the thread stops once
/// every clone is gone and the queue is empty.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    queue: mpsc::UnboundedSender<Queued>,
}

/// Where the writer's connection comes from.
pub(crate) enum WriterConnection {
    /// A connection of its own to a database file, and how to open it again
    /// should a failed commit leave it unusable.
    Own(SqliteConnection, Reopen),
    /// The pool's only connection (an in-memory database, where every
    /// connection would be a database of its own), borrowed per group.
    Pooled(SqlitePool, Handle),
}

/// Opens the writer's connection again.
pub(crate) type Reopen = Box<dyn Fn() -> diesel::ConnectionResult<SqliteConnection> + Send>;

/// A write waiting for the writer.
enum Queued {
    /// Committed with the others of its group.
    Grouped(Box<dyn Job>),
    /// Run by itself, outside any transaction of the writer's (migrations,
    /// which manage their own).
    Alone(Box<dyn FnOnce(&mut SqliteConnection) + Send>),
}

/// A grouped write, type-erased so one queue holds writes of every kind.
trait Job: Send {
    /// Runs the write in a savepoint; returns how to answer its caller once
    /// the group's commit succeeded or failed.
    fn run(self: Box<Self>, conn: &mut SqliteConnection) -> Box<dyn Answer>;
    /// Answers without running: the group could not begin.
    fn refuse(self: Box<Self>, error: RepositoryError);
}

/// A grouped write that ran, waiting for its group's commit.
trait Answer: Send {
    /// Answers the caller: its outcome if the group committed, else unavailable.
    fn settle(self: Box<Self>, committed: Result<(), &str>);
}

struct Pending<F, T> {
    work: F,
    reply: oneshot::Sender<Result<T, RepositoryError>>,
}

impl<F, T> Job for Pending<F, T>
where
    F: FnOnce(&mut SqliteConnection) -> Result<T, WriteError> + Send,
    T: Send + 'static,
{
    fn run(self: Box<Self>, conn: &mut SqliteConnection) -> Box<dyn Answer> {
        // Inside the group's transaction, diesel makes this a savepoint:
        // released on `Ok`, rolled back to on `Err`.
        let work = self.work;
        let outcome = conn.transaction(work).map_err(RepositoryError::from);
        Box::new(Ran {
            outcome,
            reply: self.reply,
        })
    }

    fn refuse(self: Box<Self>, error: RepositoryError) {
        let _ = self.reply.send(Err(error));
    }
}

struct Ran<T> {
    outcome: Result<T, RepositoryError>,
    reply: oneshot::Sender<Result<T, RepositoryError>>,
}

impl<T: Send> Answer for Ran<T> {
    fn settle(self: Box<Self>, committed: Result<(), &str>) {
        let answer = match (self.outcome, committed) {
            (Ok(value), Ok(())) => Ok(value),
            (Ok(_), Err(why)) => Err(RepositoryError::Unavailable(format!(
                "the write was not committed: {why}"
            ))),
            (Err(error), _) => Err(error),
        };
        // The caller may have stopped waiting; the write stands anyway.
        let _ = self.reply.send(answer);
    }
}

impl Writer {
    /// Starts the writer thread on `connection`.
    pub(crate) fn start(connection: WriterConnection) -> std::io::Result<Self> {
        let (queue, jobs) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("sqlite-writer".to_owned())
            .spawn(move || write_until_closed(connection, jobs))?;
        Ok(Self { queue })
    }

    /// Runs `work` in the next group's transaction and answers once that
    /// transaction committed: `work`'s value, or its error (it was rolled
    /// back alone), or unavailable when the group did not commit.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, RepositoryError>
    where
        F: FnOnce(&mut SqliteConnection) -> Result<T, WriteError> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Queued::Grouped(Box::new(Pending { work, reply })))
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Runs `work` by itself on the writer's connection, outside any
    /// transaction of the writer's, between two groups.
    pub(crate) async fn alone<T, F>(&self, work: F) -> Result<T, RepositoryError>
    where
        F: FnOnce(&mut SqliteConnection) -> T + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = move |conn: &mut SqliteConnection| {
            let _ = reply.send(work(conn));
        };
        self.queue
            .send(Queued::Alone(Box::new(job)))
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())
    }
}

fn gone() -> RepositoryError {
    RepositoryError::Unavailable("the SQLite writer has stopped".to_owned())
}

/// The writer thread: takes whatever has queued up, commits it as one group,
/// and again, until the queue closes.
fn write_until_closed(mut connection: WriterConnection, mut jobs: mpsc::UnboundedReceiver<Queued>) {
    let mut next = None;
    loop {
        let Some(first) = next.take().or_else(|| jobs.blocking_recv()) else {
            return;
        };
        let mut group = match first {
            Queued::Alone(work) => {
                connection.with(work);
                continue;
            }
            Queued::Grouped(job) => vec![job],
        };
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(Queued::Grouped(job)) => group.push(job),
                // Runs after this group.
                Ok(alone) => {
                    next = Some(alone);
                    break;
                }
                Err(_) => break,
            }
        }
        connection.with(move |conn| commit_group(conn, group));
    }
}

impl WriterConnection {
    /// Runs `work` on the connection.
    fn with(&mut self, work: impl FnOnce(&mut SqliteConnection) + Send + 'static) {
        match self {
            Self::Own(conn, reopen) => {
                work(conn);
                // A transaction a failed commit could not even roll back
                // would refuse every later group: start afresh instead.
                let clean = AnsiTransactionManager::transaction_manager_status_mut(conn)
                    .transaction_depth()
                    .is_ok_and(|depth| depth.is_none());
                if !clean {
                    match reopen() {
                        Ok(fresh) => *conn = fresh,
                        Err(error) => {
                            tracing::warn!(%error, "could not reopen the SQLite writer's connection");
                        }
                    }
                }
            }
            Self::Pooled(pool, runtime) => {
                let borrowed = runtime.block_on(async {
                    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
                    conn.spawn_blocking(move |c| {
                        work(c);
                        Ok(())
                    })
                    .await
                    .map_err(|e| e.to_string())
                });
                if let Err(error) = borrowed {
                    // `work` was dropped unrun: its callers are told the
                    // writer is unavailable by their dropped reply.
                    tracing::warn!(%error, "the SQLite writer could not borrow the connection");
                }
            }
        }
    }
}

/// One transaction for `group`: each job in its savepoint, then one commit;
/// then every job is answered.
fn commit_group(conn: &mut SqliteConnection, group: Vec<Box<dyn Job>>) {
    // `IMMEDIATE` takes the write lock up front: only another process
    // writing the same file can make it wait (`busy_timeout`).
    if let Err(error) = AnsiTransactionManager::begin_transaction_sql(conn, "BEGIN IMMEDIATE") {
        let why = format!("could not begin a write: {error}");
        tracing::warn!(error = %why, "SQLite write group refused");
        for job in group {
            job.refuse(RepositoryError::Unavailable(why.clone()));
        }
        return;
    }
    let answers: Vec<Box<dyn Answer>> = group.into_iter().map(|job| job.run(conn)).collect();
    match AnsiTransactionManager::commit_transaction(conn) {
        Ok(()) => {
            for answer in answers {
                answer.settle(Ok(()));
            }
        }
        Err(error) => {
            let why = error.to_string();
            tracing::warn!(error = %why, jobs = answers.len(), "SQLite write group not committed");
            if AnsiTransactionManager::transaction_manager_status_mut(conn)
                .transaction_depth()
                .is_ok_and(|depth| depth.is_some())
            {
                let _ = AnsiTransactionManager::rollback_transaction(conn);
            }
            for answer in answers {
                answer.settle(Err(&why));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use diesel::RunQueryDsl;
    use diesel::connection::SimpleConnection;
    use diesel::sql_types::{BigInt, Integer};

    use super::*;
    use crate::connections::{SqliteSynchronous, sqlite_writer_connection};

    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    #[derive(diesel::QueryableByName)]
    struct Level {
        #[diesel(sql_type = Integer)]
        synchronous: i32,
    }

    /// A writer on a fresh database with `items (id PRIMARY KEY)` and a
    /// deferred foreign key `links.item -> items.id`, checked at commit.
    fn writer(dir: &tempfile::TempDir, synchronous: SqliteSynchronous) -> Writer {
        let path = dir.path().join("writer.db");
        let location = path.to_str().unwrap().to_owned();
        let mut conn = sqlite_writer_connection(&location, synchronous).unwrap();
        conn.batch_execute(
            "CREATE TABLE items (id INTEGER PRIMARY KEY);
             CREATE TABLE links (item INTEGER REFERENCES items (id) DEFERRABLE INITIALLY DEFERRED);",
        )
        .unwrap();
        let reopen = Box::new(move || sqlite_writer_connection(&location, synchronous));
        Writer::start(WriterConnection::Own(conn, reopen)).unwrap()
    }

    fn insert(id: i64) -> impl FnOnce(&mut SqliteConnection) -> Result<(), WriteError> + Send {
        move |conn| {
            diesel::sql_query(format!("INSERT INTO items (id) VALUES ({id})")).execute(conn)?;
            Ok(())
        }
    }

    /// Holds the writer busy, so that what is sent meanwhile forms one group.
    async fn hold_the_writer(writer: &Writer) -> tokio::task::JoinHandle<()> {
        let busy = writer.clone();
        let (started, running) = oneshot::channel();
        let handle = tokio::spawn(async move {
            busy.write(move |_| {
                let _ = started.send(());
                std::thread::sleep(Duration::from_millis(200));
                Ok(())
            })
            .await
            .unwrap();
        });
        running.await.unwrap();
        handle
    }

    async fn items(writer: &Writer) -> i64 {
        writer
            .alone(|conn| {
                diesel::sql_query("SELECT count(*) AS n FROM items")
                    .get_result::<Count>(conn)
                    .unwrap()
                    .n
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_failing_write_is_rolled_back_alone_in_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let writer = writer(&dir, SqliteSynchronous::Full);
        writer.write(insert(1)).await.unwrap();
        let held = hold_the_writer(&writer).await;
        let (a, taken, b) = tokio::join!(
            writer.write(insert(2)),
            writer.write(insert(1)),
            writer.write(insert(3)),
        );
        held.await.unwrap();
        assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
        assert!(
            matches!(taken, Err(RepositoryError::Unavailable(_))),
            "{taken:?}"
        );
        assert_eq!(items(&writer).await, 3);
    }

    #[tokio::test]
    async fn when_the_group_cannot_commit_no_write_of_it_is_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let writer = writer(&dir, SqliteSynchronous::Full);
        let held = hold_the_writer(&writer).await;
        // The dangling link passes its own savepoint (the key is deferred)
        // and fails the group's COMMIT.
        let (fine, dangling) = tokio::join!(
            writer.write(insert(1)),
            writer.write(|conn| {
                diesel::sql_query("INSERT INTO links (item) VALUES (99)").execute(conn)?;
                Ok(())
            }),
        );
        held.await.unwrap();
        assert!(
            matches!(fine, Err(RepositoryError::Unavailable(_))),
            "{fine:?}"
        );
        assert!(
            matches!(dangling, Err(RepositoryError::Unavailable(_))),
            "{dangling:?}"
        );
        assert_eq!(
            items(&writer).await,
            0,
            "nothing of the group was committed"
        );
        // The writer goes on with the next group.
        writer.write(insert(5)).await.unwrap();
        assert_eq!(items(&writer).await, 1);
    }

    #[tokio::test]
    async fn commits_are_fsynced_unless_configured_otherwise() {
        let level = |writer: Writer| async move {
            writer
                .alone(|conn| {
                    diesel::sql_query("PRAGMA synchronous")
                        .get_result::<Level>(conn)
                        .unwrap()
                        .synchronous
                })
                .await
                .unwrap()
        };
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(level(writer(&dir, SqliteSynchronous::default())).await, 2);
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(level(writer(&dir, SqliteSynchronous::Normal)).await, 1);
    }

    #[tokio::test]
    async fn a_caller_that_stops_waiting_does_not_stop_its_write() {
        let dir = tempfile::tempdir().unwrap();
        let writer = writer(&dir, SqliteSynchronous::Full);
        let held = hold_the_writer(&writer).await;
        let abandoned = tokio::time::timeout(Duration::from_millis(10), writer.write(insert(7)));
        assert!(
            abandoned.await.is_err(),
            "still queued behind the held group"
        );
        held.await.unwrap();
        assert_eq!(items(&writer).await, 1);
    }

    #[test]
    fn durability_settings_parse() {
        assert_eq!("full".parse(), Ok(SqliteSynchronous::Full));
        assert_eq!(" NORMAL ".parse(), Ok(SqliteSynchronous::Normal));
        assert!("OFF".parse::<SqliteSynchronous>().is_err());
    }
}
