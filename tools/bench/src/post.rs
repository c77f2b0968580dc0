//! One blocking HTTP/1.1 `POST`, run on a thread of its own.
//!
//! The benchmark's actix thread also reads every WebSocket: at 10k
//! connections it may be busy draining thousands of frames when the `POST`
//! response arrives, and would stamp that response late. A dedicated thread
//! blocked in `read` stamps it as soon as the kernel hands it the bytes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::BoxError;

/// What one request saw.
#[derive(Debug)]
pub struct Posted {
    /// Just before connecting.
    pub sent: Instant,
    /// When the first bytes of the response were read.
    pub answered: Instant,
    /// The HTTP status code.
    pub status: u16,
    /// The response body.
    pub body: Vec<u8>,
}

/// `POST`s `body` (JSON) to `http://addr/path` with a bearer token, on a new
/// connection that the server closes after answering.
pub fn post_json(
    addr: SocketAddr,
    path: &str,
    token: &str,
    body: &[u8],
) -> Result<Posted, BoxError> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);

    let sent = Instant::now();
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(&request)?;
    let mut response = vec![0; 4096];
    let first = stream.read(&mut response)?;
    let answered = Instant::now();
    response.truncate(first);
    stream.read_to_end(&mut response)?;

    let (status, body) = parse_response(&response).ok_or_else(|| {
        format!(
            "malformed HTTP response: {}",
            String::from_utf8_lossy(&response)
        )
    })?;
    Ok(Posted {
        sent,
        answered,
        status,
        body: body.to_vec(),
    })
}

/// A keep-alive HTTP/1.1 connection for a steady stream of `POST`s from one
/// thread (a one-shot connection per request would use up ephemeral ports
/// next to thousands of open sockets).
pub struct KeepAlive {
    addr: SocketAddr,
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl KeepAlive {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> Result<Self, BoxError> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Self {
            addr,
            stream,
            buffer: Vec::with_capacity(4096),
        })
    }

    /// `POST`s `body` (JSON) to `path` with a bearer token and reads the
    /// whole answer (which must carry a `Content-Length`).
    pub fn post_json(&mut self, path: &str, token: &str, body: &[u8]) -> Result<Posted, BoxError> {
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        let sent = Instant::now();
        self.stream.write_all(&request)?;
        self.buffer.clear();
        let mut chunk = [0u8; 4096];
        let mut answered = None;
        loop {
            if let Some(total) = complete_length(&self.buffer) {
                let (status, body) =
                    parse_response(&self.buffer[..total]).ok_or("malformed HTTP response")?;
                let body = body.to_vec();
                self.buffer.drain(..total);
                return Ok(Posted {
                    sent,
                    answered: answered.unwrap_or_else(Instant::now),
                    status,
                    body,
                });
            }
            let read = self.stream.read(&mut chunk)?;
            if read == 0 {
                return Err("the server closed the connection".into());
            }
            answered.get_or_insert_with(Instant::now);
            self.buffer.extend_from_slice(&chunk[..read]);
        }
    }
}

/// The length of the first response in `buffer` once all of it is there
/// (head and a `Content-Length` body).
fn complete_length(buffer: &[u8]) -> Option<usize> {
    let split = buffer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(buffer.get(..split)?).ok()?;
    let length: usize = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())?
    })?;
    let total = split + 4 + length;
    (buffer.len() >= total).then_some(total)
}

/// Status code and body of a complete, non-chunked HTTP/1.1 response.
fn parse_response(response: &[u8]) -> Option<(u16, &[u8])> {
    let split = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(response.get(..split)?).ok()?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, response.get(split + 4..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_body() {
        let response = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(parse_response(response), Some((200, &b"{}"[..])));
        assert_eq!(parse_response(b"HTTP/1.1 200 OK\r\n"), None);
    }

    #[test]
    fn a_response_is_complete_once_its_declared_body_is_there() {
        let response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1";
        assert_eq!(complete_length(response), Some(response.len() - 8));
        assert_eq!(
            complete_length(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n{}"),
            None
        );
        assert_eq!(complete_length(b"HTTP/1.1 200 OK\r\n"), None);
    }
}
