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
//!
//! A job that panics, or a failure after which SQLite rolled the whole
//! transaction back (a full disk, an I/O error), ends its group: the rest of
//! the group is refused, what ran is rolled back and answered as not
//! committed, and the writer goes on with the next group on a clean
//! connection. Too many writes waiting are refused at once rather than
//! queued without bound.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::SqliteConnection;
use diesel::connection::{
    AnsiTransactionManager, SimpleConnection, TransactionManager, TransactionManagerStatus,
};
use support_domain::RepositoryError;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};

use crate::connections::SqlitePool;
use crate::errors::WriteError;

/// Most jobs committed in one transaction.
const MAX_GROUP: usize = 256;

/// Most jobs waiting for the writer; more are refused as unavailable (they
/// never ran, so a retry is safe).
const MAX_QUEUED: usize = 10_000;

/// Hands writes to the writer thread. Cheap to clone; the thread stops once
/// every clone is gone and the queue is empty.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    queue: mpsc::UnboundedSender<Queued>,
    /// Jobs sent and not yet taken by the writer.
    waiting: Arc<AtomicUsize>,
    /// Keeps the checkpointer going while any handle on the writer lives.
    _checkpoints: Option<std::sync::mpsc::Sender<()>>,
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
    /// the group's commit succeeded or failed, and whether the group's
    /// transaction is still sound (the savepoint was released or rolled back).
    fn run(self: Box<Self>, conn: &mut SqliteConnection) -> (Box<dyn Answer>, bool);
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
    fn run(self: Box<Self>, conn: &mut SqliteConnection) -> (Box<dyn Answer>, bool) {
        let Pending { work, reply } = *self;
        let mut sound = true;
        let ran = catch_unwind(AssertUnwindSafe(|| in_savepoint(conn, work, &mut sound)));
        let outcome = ran.unwrap_or_else(|_| {
            tracing::error!("a SQLite write panicked; its group is rolled back");
            sound = false;
            Err(RepositoryError::Unavailable(
                "the write failed unexpectedly".to_owned(),
            ))
        });
        (Box::new(Ran { outcome, reply }), sound)
    }

    fn refuse(self: Box<Self>, error: RepositoryError) {
        let _ = self.reply.send(Err(error));
    }
}

/// Runs `work` in a savepoint of the group's transaction: released on
/// `Ok`, rolled back to on `Err`. Clears `sound` when the savepoint could
/// not be taken, released or rolled back: the job's writes may then be
/// half in the transaction, so the group must not commit.
fn in_savepoint<T>(
    conn: &mut SqliteConnection,
    work: impl FnOnce(&mut SqliteConnection) -> Result<T, WriteError>,
    sound: &mut bool,
) -> Result<T, RepositoryError> {
    if let Err(error) = AnsiTransactionManager::begin_transaction(conn) {
        *sound = false;
        return Err(RepositoryError::from(WriteError::from(error)));
    }
    match work(conn) {
        Ok(value) => match AnsiTransactionManager::commit_transaction(conn) {
            Ok(()) => Ok(value),
            Err(error) => {
                *sound = false;
                Err(RepositoryError::from(WriteError::from(error)))
            }
        },
        Err(error) => {
            if AnsiTransactionManager::rollback_transaction(conn).is_err() {
                *sound = false;
            }
            Err(RepositoryError::from(error))
        }
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
    /// Starts the writer thread on `connection`; a checkpointer started with
    /// the receiving end of `checkpoints` stops when the last handle goes.
    pub(crate) fn start(
        connection: WriterConnection,
        checkpoints: Option<std::sync::mpsc::Sender<()>>,
    ) -> std::io::Result<Self> {
        let (queue, jobs) = mpsc::unbounded_channel();
        let waiting = Arc::new(AtomicUsize::new(0));
        let taken = Arc::clone(&waiting);
        std::thread::Builder::new()
            .name("sqlite-writer".to_owned())
            .spawn(move || write_until_closed(connection, jobs, &taken))?;
        Ok(Self {
            queue,
            waiting,
            _checkpoints: checkpoints,
        })
    }

    /// Queues `job`, unless too many are waiting already.
    fn send(&self, job: Queued) -> Result<(), RepositoryError> {
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= MAX_QUEUED {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(RepositoryError::Unavailable(
                "too many writes are waiting for the SQLite writer".to_owned(),
            ));
        }
        self.queue.send(job).map_err(|_| {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            gone()
        })
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
        self.send(Queued::Grouped(Box::new(Pending { work, reply })))?;
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
            // A panic drops `reply`: the caller is told the writer stopped.
            if let Ok(value) = catch_unwind(AssertUnwindSafe(|| work(conn))) {
                let _ = reply.send(value);
            } else {
                tracing::error!("a SQLite job panicked");
            }
        };
        self.send(Queued::Alone(Box::new(job)))?;
        answer.await.map_err(|_| gone())
    }
}

fn gone() -> RepositoryError {
    RepositoryError::Unavailable("the SQLite writer has stopped".to_owned())
}

/// The writer thread: takes whatever has queued up, commits it as one group,
/// and again, until the queue closes.
fn write_until_closed(
    mut connection: WriterConnection,
    mut jobs: mpsc::UnboundedReceiver<Queued>,
    waiting: &AtomicUsize,
) {
    let mut next = None;
    loop {
        let first = match next.take() {
            Some(job) => job,
            None => match jobs.blocking_recv() {
                Some(job) => job,
                None => return,
            },
        };
        let mut taken = 1;
        let mut group = match first {
            Queued::Alone(work) => {
                waiting.fetch_sub(taken, Ordering::AcqRel);
                connection.with(work);
                continue;
            }
            Queued::Grouped(job) => vec![job],
        };
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(Queued::Grouped(job)) => {
                    taken += 1;
                    group.push(job);
                }
                // Runs after this group; counted as taken when it runs.
                Ok(alone) => {
                    next = Some(alone);
                    break;
                }
                Err(_) => break,
            }
        }
        waiting.fetch_sub(taken, Ordering::AcqRel);
        connection.with(move |conn| commit_group(conn, group));
    }
}

impl WriterConnection {
    /// Runs `work` on the connection, and leaves it outside any transaction.
    fn with(&mut self, work: impl FnOnce(&mut SqliteConnection) + Send + 'static) {
        match self {
            Self::Own(conn, reopen) => {
                work(conn);
                if !leave_clean(conn) {
                    // A transaction that could not even be rolled back would
                    // refuse every later group: start afresh instead.
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
                        // The pool's only connection cannot be reopened (it
                        // is the database): roll back what is left open.
                        leave_clean(c);
                        Ok(())
                    })
                    .await
                    .map_err(|e| e.to_string())
                });
                if let Err(error) = borrowed {
                    // `work` was dropped unrun: its callers are told the
                    // write did not happen by their dropped reply.
                    tracing::warn!(%error, "the SQLite writer could not borrow the connection");
                }
            }
        }
    }
}

/// Whether `conn` is in the group's transaction, with no savepoint left
/// open: diesel's count of open transactions is exactly one. SQLite rolls
/// the whole transaction back after some failures (a full disk, an I/O
/// error), and diesel then counts none.
fn in_group_transaction(conn: &mut SqliteConnection) -> bool {
    AnsiTransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .is_ok_and(|depth| depth.map(std::num::NonZeroU32::get) == Some(1))
}

/// Rolls back whatever transaction `conn` still has open; whether it is
/// outside any transaction afterwards.
fn leave_clean(conn: &mut SqliteConnection) -> bool {
    let outside = |conn: &mut SqliteConnection| {
        AnsiTransactionManager::transaction_manager_status_mut(conn)
            .transaction_depth()
            .is_ok_and(|depth| depth.is_none())
    };
    if outside(conn) {
        return true;
    }
    // A plain ROLLBACK ends every savepoint too. Diesel resets its count
    // only when a statement fails outside a transaction, so it is told here.
    match conn.batch_execute("ROLLBACK") {
        Ok(()) => {
            *AnsiTransactionManager::transaction_manager_status_mut(conn) =
                TransactionManagerStatus::default();
        }
        Err(error) => {
            tracing::warn!(%error, "rolling back the SQLite writer's transaction failed");
        }
    }
    outside(conn)
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
    let mut jobs = group.into_iter();
    let mut answers: Vec<Box<dyn Answer>> = Vec::with_capacity(jobs.len());
    for job in jobs.by_ref() {
        let (answer, sound) = job.run(conn);
        answers.push(answer);
        if !sound || !in_group_transaction(conn) {
            // A panic left a savepoint open, or SQLite rolled everything
            // back: nothing of this group may be committed, nor run on its
            // own outside the group's transaction.
            let why = "the group's transaction was lost";
            tracing::warn!(jobs = answers.len(), "{why}; rolling the group back");
            for job in jobs {
                job.refuse(RepositoryError::Unavailable(why.to_owned()));
            }
            leave_clean(conn);
            for answer in answers {
                answer.settle(Err(why));
            }
            return;
        }
    }
    match AnsiTransactionManager::commit_transaction(conn) {
        Ok(()) => {
            for answer in answers {
                answer.settle(Ok(()));
            }
        }
        Err(error) => {
            let why = error.to_string();
            tracing::warn!(error = %why, jobs = answers.len(), "SQLite write group not committed");
            leave_clean(conn);
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
        Writer::start(WriterConnection::Own(conn, reopen), None).unwrap()
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

    #[tokio::test]
    async fn a_panicking_write_rolls_its_group_back_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let writer = writer(&dir, SqliteSynchronous::Full);
        let held = hold_the_writer(&writer).await;
        let (before, panicked, after) = tokio::join!(
            writer.write(insert(1)),
            writer.write(|_| -> Result<(), WriteError> { panic!("a bug in a write") }),
            writer.write(insert(2)),
        );
        held.await.unwrap();
        for result in [&before, &panicked, &after] {
            assert!(
                matches!(result, Err(RepositoryError::Unavailable(_))),
                "{result:?}"
            );
        }
        assert_eq!(
            items(&writer).await,
            0,
            "nothing of the group was committed"
        );
        writer.write(insert(3)).await.unwrap();
        assert_eq!(items(&writer).await, 1);
    }

    #[tokio::test]
    async fn writes_after_a_lost_transaction_are_not_committed_on_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let writer = writer(&dir, SqliteSynchronous::Full);
        let held = hold_the_writer(&writer).await;
        // As SQLite does after a full disk: the whole transaction is gone.
        let (first, lost, third) = tokio::join!(
            writer.write(insert(1)),
            writer.write(|conn| {
                diesel::sql_query("ROLLBACK").execute(conn)?;
                Ok(())
            }),
            writer.write(insert(3)),
        );
        held.await.unwrap();
        for result in [&first, &lost, &third] {
            assert!(
                matches!(result, Err(RepositoryError::Unavailable(_))),
                "{result:?}"
            );
        }
        assert_eq!(items(&writer).await, 0);
        writer.write(insert(4)).await.unwrap();
        assert_eq!(items(&writer).await, 1);
    }

    #[tokio::test]
    async fn too_many_waiting_writes_are_refused_without_running() {
        let dir = tempfile::tempdir().unwrap();
        let writer = writer(&dir, SqliteSynchronous::Full);
        let held = hold_the_writer(&writer).await;
        let queued: Vec<_> = (0..MAX_QUEUED)
            .map(|_| {
                tokio::spawn({
                    let writer = writer.clone();
                    async move { writer.write(|_| Ok(())).await }
                })
            })
            .collect();
        // Let every spawned write reach the queue.
        while writer.waiting.load(Ordering::Acquire) < MAX_QUEUED {
            tokio::task::yield_now().await;
        }
        let refused = writer.write(insert(1)).await;
        assert!(
            matches!(refused, Err(RepositoryError::Unavailable(_))),
            "{refused:?}"
        );
        held.await.unwrap();
        for write in queued {
            write.await.unwrap().unwrap();
        }
        assert_eq!(items(&writer).await, 0, "the refused write never ran");
        assert_eq!(writer.waiting.load(Ordering::Acquire), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_in_memory_database_keeps_its_data_after_a_panicking_write() {
        // The pool's only connection is the database: a write that panics
        // must leave it usable, not open in a transaction (which would make
        // the pool replace it with a new, empty database).
        let db = crate::Database::connect("sqlite::memory:", crate::PoolSettings::default())
            .await
            .unwrap();
        db.run_migrations().await.unwrap();
        let writer = db.sqlite_writer().unwrap();
        writer
            .write(|conn| {
                diesel::sql_query("CREATE TABLE kept (id INTEGER PRIMARY KEY)").execute(conn)?;
                Ok(())
            })
            .await
            .unwrap();
        let panicked = writer
            .write(|_| -> Result<(), WriteError> { panic!("a bug in a write") })
            .await;
        assert!(panicked.is_err());
        writer
            .write(|conn| {
                diesel::sql_query("INSERT INTO kept (id) VALUES (1)").execute(conn)?;
                Ok(())
            })
            .await
            .unwrap();
    }

    #[test]
    fn durability_settings_parse() {
        assert_eq!("full".parse(), Ok(SqliteSynchronous::Full));
        assert_eq!(" NORMAL ".parse(), Ok(SqliteSynchronous::Normal));
        assert!("OFF".parse::<SqliteSynchronous>().is_err());
    }
}
