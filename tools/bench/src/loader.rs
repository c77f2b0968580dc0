//! A small closed-loop HTTP/1.1 load generator, for what oha cannot do:
//! requests that must each be different (escalate every ticket exactly once)
//! or whose responses we need (the ids of the tickets we create).
//!
//! `connections` keep-alive connections, one task each on the benchmark's
//! single thread; each sends its next request as soon as the previous answer
//! is read, until the requests run out or the deadline passes.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::BoxError;
use crate::stats::Percentiles;

/// Longest a single request may take before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A request as bytes on the wire: `method path` with a bearer token, and a
/// JSON body if given.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    json: Option<&str>,
) -> Vec<u8> {
    request_with_headers(addr, method, path, token, &[], json)
}

/// [`request`] with more header lines (`name`, `value`), sent after the
/// `Authorization` line and before the body's, e.g. an `Idempotency-Key`.
pub fn request_with_headers(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    json: Option<&str>,
) -> Vec<u8> {
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match json {
        Some(body) => {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ));
        }
        None => head.push_str("Content-Length: 0\r\n\r\n"),
    }
    head.into_bytes()
}

/// What a load run saw.
#[derive(Debug, Default)]
pub struct LoadResult {
    /// Time of every answered request (any status).
    pub latencies: Vec<Duration>,
    /// Answers with a 2xx status.
    pub ok: u64,
    /// Of those, the answers marked `Idempotent-Replayed: true`: the stored
    /// answer of an earlier request with the same `Idempotency-Key`.
    pub replayed: u64,
    /// Answers with another status.
    pub non_2xx: u64,
    /// The first non-2xx answer, for the log: status and body.
    pub first_failure: Option<(u16, String)>,
    /// Requests that got no answer (connection or protocol errors, timeouts).
    pub errors: u64,
    /// From the first request to the last answer.
    pub elapsed: Duration,
    /// Whether the requests ran out before the deadline.
    pub exhausted: bool,
    /// The bodies of the 2xx answers, if asked for.
    pub bodies: Vec<Vec<u8>>,
}

impl LoadResult {
    /// p50 and p99 of the latencies.
    pub fn percentiles(&self) -> Percentiles {
        Percentiles::of(self.latencies.clone())
    }
}

/// Sends `requests` over `connections` keep-alive connections to `addr`,
/// closed loop, until they run out or `deadline` passes. Keeps the bodies of
/// 2xx answers when `keep_bodies` is set.
pub async fn run<I>(
    addr: SocketAddr,
    connections: usize,
    requests: I,
    deadline: Option<Instant>,
    keep_bodies: bool,
) -> LoadResult
where
    I: Iterator<Item = Vec<u8>> + 'static,
{
    let requests = Rc::new(RefCell::new(requests));
    let result = Rc::new(RefCell::new(LoadResult::default()));
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections.max(1))
        .map(|_| {
            actix_web::rt::spawn(worker(
                addr,
                requests.clone(),
                result.clone(),
                deadline,
                keep_bodies,
            ))
        })
        .collect();
    for task in tasks {
        // A task only ends by returning; a panic is impossible here, and an
        // aborted task has nothing more to report.
        let _ = task.await;
    }
    let mut result = result.take();
    result.elapsed = started.elapsed();
    result
}

/// One connection's loop.
async fn worker<I>(
    addr: SocketAddr,
    requests: Rc<RefCell<I>>,
    result: Rc<RefCell<LoadResult>>,
    deadline: Option<Instant>,
    keep_bodies: bool,
) where
    I: Iterator<Item = Vec<u8>>,
{
    let mut connection: Option<Connection> = None;
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return;
        }
        let Some(request) = requests.borrow_mut().next() else {
            result.borrow_mut().exhausted = true;
            return;
        };
        let sent = Instant::now();
        let answer = match connection.as_mut() {
            Some(open) => tokio::time::timeout(REQUEST_TIMEOUT, open.exchange(&request)).await,
            None => {
                tokio::time::timeout(REQUEST_TIMEOUT, async {
                    let mut fresh = Connection::open(addr).await?;
                    let answer = fresh.exchange(&request).await;
                    connection = Some(fresh);
                    answer
                })
                .await
            }
        };
        let latency = sent.elapsed();
        let mut result = result.borrow_mut();
        match answer {
            Ok(Ok(response)) => {
                result.latencies.push(latency);
                if (200..300).contains(&response.status) {
                    result.ok += 1;
                    result.replayed += u64::from(response.replayed);
                    if keep_bodies {
                        result.bodies.push(response.body);
                    }
                } else {
                    result.non_2xx += 1;
                    if result.first_failure.is_none() {
                        let body = String::from_utf8_lossy(&response.body).into_owned();
                        result.first_failure = Some((response.status, body));
                    }
                }
                if response.close {
                    connection = None;
                }
            }
            Ok(Err(_)) | Err(_) => {
                result.errors += 1;
                connection = None;
            }
        }
    }
}

/// One answer.
#[derive(Debug, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
    /// The server announced it closes the connection.
    pub close: bool,
    /// The answer carries `Idempotent-Replayed: true`.
    pub replayed: bool,
}

/// A keep-alive HTTP/1.1 connection.
pub struct Connection {
    stream: BufReader<TcpStream>,
}

impl Connection {
    /// Connects to `addr`.
    pub async fn open(addr: SocketAddr) -> Result<Self, BoxError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream: BufReader::new(stream),
        })
    }

    /// Writes `request` and reads its answer (`Content-Length` bodies only:
    /// what the server sends for every JSON answer).
    pub async fn exchange(&mut self, request: &[u8]) -> Result<Response, BoxError> {
        self.stream.get_mut().write_all(request).await?;
        let mut head = String::new();
        loop {
            let before = head.len();
            if self.stream.read_line(&mut head).await? == 0 {
                return Err("connection closed by the server".into());
            }
            if head[before..].trim_end().is_empty() {
                break;
            }
        }
        let head = parse_head(&head)?;
        let mut body = vec![0; head.length];
        self.stream.read_exact(&mut body).await?;
        Ok(Response {
            status: head.status,
            body,
            close: head.close,
            replayed: head.replayed,
        })
    }
}

/// What the loader reads of a response head.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    status: u16,
    /// `Content-Length`, 0 without one.
    length: usize,
    /// `Connection: close`.
    close: bool,
    /// `Idempotent-Replayed: true`.
    replayed: bool,
}

/// Status, `Content-Length`, `Connection: close` and `Idempotent-Replayed:
/// true` of a response head.
fn parse_head(head: &str) -> Result<Head, BoxError> {
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("malformed status line: {head:?}"))?;
    let mut length = None;
    let mut close = false;
    let mut replayed = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(format!("unsupported transfer-encoding {value}").into());
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        } else if name.eq_ignore_ascii_case("idempotent-replayed") {
            replayed = value.eq_ignore_ascii_case("true");
        }
    }
    Ok(Head {
        status,
        length: length.unwrap_or(0),
        close,
        replayed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_requests_with_and_without_a_body() {
        let addr = SocketAddr::from(([127, 0, 0, 1], 8080));
        let get = request(addr, "GET", "/a", "t", None);
        assert_eq!(
            String::from_utf8(get).unwrap(),
            "GET /a HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAuthorization: Bearer t\r\nContent-Length: 0\r\n\r\n"
        );
        let post = request(addr, "POST", "/b", "t", Some("{}"));
        assert!(
            String::from_utf8(post)
                .unwrap()
                .ends_with("Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
        );
        let keyed = request_with_headers(
            addr,
            "POST",
            "/b",
            "t",
            &[("Idempotency-Key", "k-1")],
            Some("{}"),
        );
        assert_eq!(
            String::from_utf8(keyed).unwrap(),
            "POST /b HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAuthorization: Bearer t\r\n\
             Idempotency-Key: k-1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        );
        assert_eq!(
            request_with_headers(addr, "GET", "/a", "t", &[], None),
            request(addr, "GET", "/a", "t", None)
        );
    }

    #[test]
    fn parses_response_heads() {
        let head = "HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\nconnection: close\r\n\r\n";
        let head = parse_head(head).unwrap();
        assert_eq!(
            (head.status, head.length, head.close, head.replayed),
            (400, 12, true, false)
        );
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nidempotent-replayed: true\r\n\r\n";
        let head = parse_head(head).unwrap();
        assert_eq!(
            (head.status, head.length, head.close, head.replayed),
            (200, 3, false, true)
        );
        assert!(parse_head("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").is_err());
        assert!(parse_head("garbage\r\n\r\n").is_err());
    }

    /// A one-shot server answering every request on one connection.
    #[actix_web::test]
    async fn sends_every_request_once_and_counts_statuses() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        actix_web::rt::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                actix_web::rt::spawn(async move {
                    let mut socket = BufReader::new(socket);
                    let mut count = 0;
                    loop {
                        let mut line = String::new();
                        // Requests have no body here: read the head only.
                        loop {
                            line.clear();
                            if socket.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if line.trim_end().is_empty() {
                                break;
                            }
                        }
                        count += 1;
                        let status = if count % 2 == 0 { "400 Bad" } else { "200 OK" };
                        // Answers 1, 4, 5, 8 and 9: three 2xx among them.
                        let replayed = if count % 4 <= 1 {
                            "Idempotent-Replayed: true\r\n"
                        } else {
                            ""
                        };
                        let answer =
                            format!("HTTP/1.1 {status}\r\n{replayed}content-length: 2\r\n\r\nok");
                        socket.get_mut().write_all(answer.as_bytes()).await.unwrap();
                    }
                });
            }
        });
        let requests = (0..10).map(move |i| request(addr, "GET", &format!("/{i}"), "t", None));
        let result = run(addr, 1, requests, None, true).await;
        assert_eq!((result.ok, result.non_2xx, result.errors), (5, 5, 0));
        assert_eq!(result.replayed, 3);
        assert!(result.exhausted);
        assert_eq!(result.bodies, vec![b"ok".to_vec(); 5]);
        assert_eq!(result.first_failure, Some((400, "ok".to_owned())));
        assert_eq!(result.latencies.len(), 10);
    }
}
