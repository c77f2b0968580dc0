//! Refuses an oversized client frame from its header, before its payload
//! arrives.
//!
//! actix-ws buffers a frame until all of it has arrived and only then compares
//! its length with the limit, so a client that declares a huge frame and keeps
//! sending would make the server hold all of it. [`FrameLimit`] sits between
//! the connection's bytes and that decoder: it reads each frame header as the
//! bytes pass (RFC 6455 section 5.2) and fails the stream with
//! [`PayloadError::Overflow`] as soon as a frame, or the fragments of one
//! message together, declare more than the limit. The bytes themselves pass
//! through untouched; nothing is copied but the 2 to 14 header bytes.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use actix_ws::ProtocolError;
use futures_util::Stream;

/// The longest frame header: 2 bytes, a 64-bit length and a masking key.
const MAX_HEADER: usize = 14;

/// A stream of a WebSocket connection's incoming bytes that ends with
/// [`PayloadError::Overflow`] at the first frame or message over `limit`.
pub(crate) struct FrameLimit<S> {
    inner: S,
    limit: u64,
    reading: Reading,
    /// Payload bytes declared so far by the data frames of the message in
    /// progress (a message may be split into continuation frames).
    message_len: u64,
    refused: bool,
}

/// Where the bytes that pass are in the frame sequence.
enum Reading {
    /// Inside a header, of which `have` bytes have arrived.
    Header {
        bytes: [u8; MAX_HEADER],
        have: usize,
    },
    /// Inside a frame's payload, `left` bytes to go.
    Payload { left: u64 },
}

impl Reading {
    fn header() -> Self {
        Self::Header {
            bytes: [0; MAX_HEADER],
            have: 0,
        }
    }
}

/// A frame, or a message, declared more than the limit.
#[derive(Debug, PartialEq, Eq)]
struct Oversized;

impl<S> FrameLimit<S> {
    /// Watches `inner`, a connection's bytes from the upgrade on.
    pub(crate) fn new(inner: S, limit: usize) -> Self {
        Self {
            inner,
            limit: u64::try_from(limit).unwrap_or(u64::MAX),
            reading: Reading::header(),
            message_len: 0,
            refused: false,
        }
    }

    /// Follows the frames through `chunk`.
    fn observe(&mut self, mut chunk: &[u8]) -> Result<(), Oversized> {
        while !chunk.is_empty() {
            match &mut self.reading {
                Reading::Payload { left } => {
                    let passed = chunk
                        .len()
                        .min(usize::try_from(*left).unwrap_or(usize::MAX));
                    *left -= passed as u64;
                    chunk = &chunk[passed..];
                    if *left == 0 {
                        self.reading = Reading::header();
                    }
                }
                Reading::Header { bytes, have } => {
                    let want = header_len(&bytes[..*have]);
                    let taken = chunk.len().min(want - *have);
                    bytes[*have..*have + taken].copy_from_slice(&chunk[..taken]);
                    *have += taken;
                    chunk = &chunk[taken..];
                    // The first two bytes tell how long the header is.
                    if *have < header_len(&bytes[..*have]) {
                        continue;
                    }
                    let header = *bytes;
                    self.reading = self.start_frame(&header)?;
                }
            }
        }
        Ok(())
    }

    /// Checks a complete header; returns what follows it.
    fn start_frame(&mut self, header: &[u8; MAX_HEADER]) -> Result<Reading, Oversized> {
        let fin = header[0] & 0x80 != 0;
        let opcode = header[0] & 0x0F;
        let length = match header[1] & 0x7F {
            126 => u64::from(u16::from_be_bytes([header[2], header[3]])),
            127 => u64::from_be_bytes([
                header[2], header[3], header[4], header[5], header[6], header[7], header[8],
                header[9],
            ]),
            short => u64::from(short),
        };
        if length > self.limit {
            return Err(Oversized);
        }
        // Data frames (0 continuation, 1 text, 2 binary, 3-7 reserved) make up
        // messages; control frames (8 and up) may come between their fragments.
        if opcode < 8 {
            if opcode != 0 {
                self.message_len = 0;
            }
            self.message_len += length;
            if self.message_len > self.limit {
                return Err(Oversized);
            }
            if fin {
                self.message_len = 0;
            }
        }
        Ok(if length == 0 {
            Reading::header()
        } else {
            Reading::Payload { left: length }
        })
    }
}

/// How many bytes the header starting with `start` has: 2 until its first two
/// bytes are known, then 2 + the extended length (0, 2 or 8) + the masking key
/// (4 when the mask bit is set, as it must be on every client frame).
fn header_len(start: &[u8]) -> usize {
    let Some(&second) = start.get(1) else {
        return 2;
    };
    let extended = match second & 0x7F {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask = if second & 0x80 != 0 { 4 } else { 0 };
    2 + extended + mask
}

impl<S> Stream for FrameLimit<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.refused {
            return Poll::Ready(None);
        }
        match ready!(Pin::new(&mut this.inner).poll_next(cx)) {
            Some(Ok(bytes)) => match this.observe(&bytes) {
                Ok(()) => Poll::Ready(Some(Ok(bytes))),
                Err(Oversized) => {
                    this.refused = true;
                    Poll::Ready(Some(Err(PayloadError::Overflow)))
                }
            },
            other => Poll::Ready(other),
        }
    }
}

/// Whether the message stream failed because a frame or message was too
/// large: refused here from its header, or by the decoder's own check.
pub(crate) fn is_oversized(error: &ProtocolError) -> bool {
    match error {
        ProtocolError::Overflow => true,
        ProtocolError::Io(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<PayloadError>())
            .is_some_and(|payload| matches!(payload, PayloadError::Overflow)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use futures_util::{StreamExt, stream};

    use super::*;

    const LIMIT: usize = 4096;

    /// A masked client frame header declaring `len` bytes.
    fn header(fin: bool, opcode: u8, len: u64) -> Vec<u8> {
        let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
        if len < 126 {
            out.push(0x80 | len as u8);
        } else if len <= u64::from(u16::MAX) {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(0x80 | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
        out.extend_from_slice(&[1, 2, 3, 4]);
        out
    }

    fn frame(fin: bool, opcode: u8, len: usize) -> Vec<u8> {
        let mut out = header(fin, opcode, len as u64);
        out.extend(std::iter::repeat_n(0u8, len));
        out
    }

    /// Wraps a payload error the way actix-ws reports it.
    fn as_reported(error: PayloadError) -> ProtocolError {
        ProtocolError::Io(std::io::Error::other(error))
    }

    fn watch(bytes: &[u8]) -> Result<(), Oversized> {
        FrameLimit::new((), LIMIT).observe(bytes)
    }

    #[test]
    fn frames_up_to_the_limit_pass_in_every_length_encoding() {
        let mut bytes = frame(true, 1, 125);
        bytes.extend(frame(true, 2, 126));
        bytes.extend(frame(true, 1, LIMIT));
        bytes.extend(frame(true, 9, 0));
        bytes.extend(frame(true, 8, 2));
        assert_eq!(watch(&bytes), Ok(()));
    }

    #[test]
    fn a_declared_length_over_the_limit_is_refused_from_the_header_alone() {
        assert_eq!(watch(&header(true, 2, LIMIT as u64 + 1)), Err(Oversized));
        assert_eq!(watch(&header(true, 2, 1 << 30)), Err(Oversized));
        assert_eq!(watch(&header(true, 2, 1 << 62)), Err(Oversized));
        assert_eq!(watch(&header(true, 2, u64::MAX)), Err(Oversized));
    }

    #[test]
    fn a_header_split_across_reads_is_still_seen() {
        let mut watcher = FrameLimit::new((), LIMIT);
        let mut bytes = frame(true, 1, 300);
        bytes.extend(header(true, 2, 1 << 30));
        let mut result = Ok(());
        for byte in bytes.chunks(1) {
            result = watcher.observe(byte);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(Oversized));
    }

    #[test]
    fn a_fragmented_message_counts_all_its_fragments() {
        let half = LIMIT / 2;
        // Two fragments of half the limit each, a ping between them: fits.
        let mut fits = frame(false, 1, half);
        fits.extend(frame(true, 9, 4));
        fits.extend(frame(true, 0, half));
        assert_eq!(watch(&fits), Ok(()));
        // A third fragment takes the message over the limit.
        let mut over = frame(false, 2, half);
        over.extend(frame(false, 0, half));
        over.extend(header(true, 0, 1));
        assert_eq!(watch(&over), Err(Oversized));
    }

    #[test]
    fn each_message_starts_its_own_count() {
        let mut bytes = Vec::new();
        for _ in 0..10 {
            bytes.extend(frame(false, 1, LIMIT / 2));
            bytes.extend(frame(true, 0, LIMIT / 2));
        }
        assert_eq!(watch(&bytes), Ok(()));
    }

    #[actix_web::test]
    async fn the_stream_passes_bytes_through_then_ends_with_overflow() {
        let good = Bytes::from(frame(true, 1, 10));
        let chunks: Vec<Result<Bytes, PayloadError>> = vec![
            Ok(good.clone()),
            Ok(Bytes::from(header(true, 2, 1 << 30))),
            Ok(Bytes::from(vec![0u8; 100])),
        ];
        let mut limited = FrameLimit::new(stream::iter(chunks), LIMIT);
        assert_eq!(limited.next().await.unwrap().unwrap(), good);
        let error = limited.next().await.unwrap().unwrap_err();
        assert!(matches!(error, PayloadError::Overflow));
        assert!(is_oversized(&as_reported(error)));
        assert!(limited.next().await.is_none(), "nothing after the refusal");
    }

    #[test]
    fn other_protocol_errors_are_not_oversized() {
        assert!(is_oversized(&ProtocolError::Overflow));
        assert!(!is_oversized(&ProtocolError::UnmaskedFrame));
        assert!(!is_oversized(&as_reported(PayloadError::Incomplete(None))));
    }
}
