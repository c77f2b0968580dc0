//! Unreachable and failing databases: fail fast, never hang.

use std::sync::Arc;
use std::time::Duration;

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use support_domain::{IssueType, PointsAward, RepositoryError, TICKET_CREATED_ACTION, UserId};
use support_persistence::test_support::PostgresTestDb;
use support_persistence::{Backend, Database, DatabaseError, PoolSettings};

use crate::support::*;

// ------------------------------------------- unreachable and failing databases

fn quick() -> PoolSettings {
    PoolSettings {
        max_size: Some(2),
        wait_timeout: Duration::from_millis(500),
        ..PoolSettings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_in_a_missing_directory_fails_to_connect() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/missing/sub/support.db", dir.path().display());
    let result = within(Duration::from_secs(10), Database::connect(&url, quick())).await;
    assert!(
        matches!(
            result,
            Err(DatabaseError::Connect {
                backend: Backend::Sqlite,
                ..
            })
        ),
        "{result:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_on_a_closed_port_fails_to_connect() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }; // closed again here
    let url = format!("postgres://postgres@127.0.0.1:{port}/test");
    let result = within(Duration::from_secs(10), Database::connect(&url, quick())).await;
    assert!(
        matches!(
            result,
            Err(DatabaseError::Connect {
                backend: Backend::Postgres,
                ..
            })
        ),
        "{result:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_that_never_answers_times_out() {
    // Accepts TCP connections (kernel backlog) but never speaks the protocol.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/test");
    let result = within(Duration::from_secs(10), Database::connect(&url, quick())).await;
    assert!(
        matches!(
            result,
            Err(DatabaseError::Connect {
                backend: Backend::Postgres,
                ..
            })
        ),
        "{result:?}"
    );
    drop(listener);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_urls_are_refused() {
    let result = Database::connect("mysql://root@127.0.0.1/test", quick()).await;
    assert!(
        matches!(result, Err(DatabaseError::BadUrl(_))),
        "{result:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_killed_by_the_server_are_replaced() {
    // Checkouts are not verified with `SELECT 1`: a dead pooled connection
    // may fail one query, but it must then be dropped, and the store recover
    // without a restart.
    let test_db = PostgresTestDb::new();
    let app = format!("support_pool_{}", uuid::Uuid::new_v4().simple());
    let url = format!("{}&application_name={app}", test_db.url());
    let db = Database::connect(&url, PoolSettings::default())
        .await
        .unwrap();
    db.run_migrations().await.unwrap();
    let repo = db.tickets();
    let t = insert(&*repo, 120, 0).await;

    let mut admin = AsyncPgConnection::establish(test_db.url()).await.unwrap();
    let killed = diesel::sql_query(
        "SELECT CAST(COUNT(pg_terminate_backend(pid)) AS BIGINT) AS n FROM pg_stat_activity \
         WHERE application_name = $1",
    )
    .bind::<Text, _>(&app)
    .get_result::<Count>(&mut admin)
    .await
    .unwrap()
    .n;
    assert!(killed >= 1, "the pool had no open connection to kill");

    let mut failures = 0;
    let found = loop {
        match within(
            Duration::from_secs(15),
            repo.find_for_customer(t.id(), customer(120)),
        )
        .await
        {
            Ok(found) => break found,
            Err(RepositoryError::Unavailable(_))
                if failures < PoolSettings::POSTGRES_DEFAULT_MAX_SIZE =>
            {
                failures += 1;
            }
            Err(other) => panic!("after {failures} failures: {other:?}"),
        }
    };
    assert_eq!(found.map(|f| f.id()), Some(t.id()));
    // Once recovered, it stays recovered.
    for _ in 0..5 {
        assert!(repo.find_for_customer(t.id(), customer(120)).await.is_ok());
    }
}

/// A TCP proxy in front of PostgreSQL that the test can cut.
struct Proxy {
    port: u16,
    tasks: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Proxy {
    async fn start(target: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tasks = Arc::new(std::sync::Mutex::new(Vec::new()));
        let registry = Arc::clone(&tasks);
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let session = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                registry.lock().unwrap().push(session.abort_handle());
            }
        });
        tasks.lock().unwrap().push(accept.abort_handle());
        Self { port, tasks }
    }

    /// Closes the listening port and every proxied connection.
    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_away_makes_operations_unavailable() {
    let test_db = PostgresTestDb::new();
    // postgres://user@host:port/db?... -> route host:port through the proxy.
    let (scheme, rest) = test_db.url().split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let (user, host_port) = authority.rsplit_once('@').unwrap_or(("", authority));
    let target = tokio::net::lookup_host(host_port)
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = Proxy::start(target).await;
    let url = format!("{scheme}://{user}@127.0.0.1:{}/{path}", proxy.port);
    let db = Database::connect(&url, quick()).await.unwrap();
    db.run_migrations().await.unwrap();
    let repo = db.tickets();
    let t = insert(&*repo, 110, 0).await;

    proxy.cut();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let outcomes = within(Duration::from_secs(15), async {
        (
            repo.ping().await,
            repo.find_for_customer(t.id(), customer(110)).await,
            repo.insert_owned(new_ticket(110, IssueType::Other, at(1, 0)))
                .await,
        )
    })
    .await;
    assert!(
        matches!(outcomes.0, Err(RepositoryError::Unavailable(_))),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes.1, Err(RepositoryError::Unavailable(_))),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes.2, Err(RepositoryError::Unavailable(_))),
        "{outcomes:?}"
    );
    let award = PointsAward {
        user_id: UserId::new(110).unwrap(),
        action: TICKET_CREATED_ACTION,
        points: 1,
        ticket_id: t.id(),
        awarded_at: at(0, 0),
    };
    assert!(
        within(Duration::from_secs(15), db.points().award(award))
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_locked_by_another_writer_makes_writes_unavailable() {
    let ctx = Ctx::sqlite().await;
    let repo = ctx.repo();
    let t = insert(&*repo, 120, 0).await;
    let mut raw = Raw::open(&ctx).await;
    raw.run_sql("BEGIN EXCLUSIVE;").await;
    // The write waits out busy_timeout (5 s), then gives up cleanly.
    let result = within(
        Duration::from_secs(20),
        repo.insert_owned(new_ticket(120, IssueType::Other, at(1, 0))),
    )
    .await;
    assert!(
        matches!(result, Err(RepositoryError::Unavailable(_))),
        "{result:?}"
    );
    raw.run_sql("ROLLBACK;").await;
    assert!(
        repo.find_for_customer(t.id(), customer(120))
            .await
            .unwrap()
            .is_some()
    );
}
