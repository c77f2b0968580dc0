//! The Engine.IO (protocol 4) packet codec: the framing under Socket.IO.
//!
//! A packet is one type digit and its data: `0` open, `1` close, `2` ping,
//! `3` pong, `4` message, `5` upgrade, `6` noop. A long-polling body carries
//! several packets separated by the record separator (`\x1e`); a WebSocket
//! frame carries one. Binary packets (`b<base64>` when polling, binary
//! frames on WebSocket) are recognised but never needed: this server only
//! receives small text packets.

use std::fmt;

/// Separates the packets of one long-polling body.
pub(crate) const SEPARATOR: char = '\u{1e}';

/// One Engine.IO packet, as a client sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Packet {
    /// `0`: only the server opens; kept so a client sending it is refused cleanly.
    Open,
    /// `1`: the client closes the session.
    Close,
    /// `2` with optional data (`2probe` tests a WebSocket during an upgrade).
    Ping(String),
    /// `3`: the answer to the server's ping.
    Pong(String),
    /// `4`: a Socket.IO packet.
    Message(String),
    /// `5`: the client switches to the probed WebSocket.
    Upgrade,
    /// `6`: nothing.
    Noop,
    /// A binary message; its bytes are never used.
    Binary,
}

/// A packet that is not Engine.IO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DecodeError;

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("malformed Engine.IO packet")
    }
}

impl std::error::Error for DecodeError {}

impl Packet {
    /// Decodes one text packet (a WebSocket text frame, or one record of a
    /// polling body).
    pub(crate) fn decode(text: &str) -> Result<Self, DecodeError> {
        let mut chars = text.chars();
        let kind = chars.next().ok_or(DecodeError)?;
        let data = chars.as_str();
        match kind {
            '0' => Ok(Self::Open),
            '1' => Ok(Self::Close),
            '2' => Ok(Self::Ping(data.to_owned())),
            '3' => Ok(Self::Pong(data.to_owned())),
            '4' => Ok(Self::Message(data.to_owned())),
            '5' => Ok(Self::Upgrade),
            '6' => Ok(Self::Noop),
            'b' => Ok(Self::Binary),
            _ => Err(DecodeError),
        }
    }

    /// Decodes a long-polling request body: packets separated by `\x1e`.
    pub(crate) fn decode_payload(body: &str) -> Result<Vec<Self>, DecodeError> {
        body.split(SEPARATOR).map(Self::decode).collect()
    }
}

/// The handshake's open packet: `0{"sid":...,"upgrades":[...],...}`.
pub(crate) fn open_packet(
    sid: &str,
    upgrades: &[&str],
    ping_interval_ms: u128,
    ping_timeout_ms: u128,
    max_payload: usize,
) -> String {
    let body = serde_json::json!({
        "sid": sid,
        "upgrades": upgrades,
        "pingInterval": ping_interval_ms,
        "pingTimeout": ping_timeout_ms,
        "maxPayload": max_payload,
    });
    format!("0{body}")
}

/// The server's heartbeat.
pub(crate) const PING: &str = "2";
/// The answer to a WebSocket probe during an upgrade.
pub(crate) const PONG_PROBE: &str = "3probe";
/// Ends a pending poll without content (during an upgrade).
pub(crate) const NOOP: &str = "6";
/// Tells a polling client that the session is over.
pub(crate) const CLOSE: &str = "1";

/// Joins encoded packets into one long-polling response body.
pub(crate) fn encode_payload<S: AsRef<str>>(packets: &[S]) -> String {
    let len = packets.iter().map(|p| p.as_ref().len() + 1).sum();
    let mut body = String::with_capacity(len);
    for (n, packet) in packets.iter().enumerate() {
        if n > 0 {
            body.push(SEPARATOR);
        }
        body.push_str(packet.as_ref());
    }
    body
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    // The examples of https://github.com/socketio/engine.io-protocol (v4).

    #[test]
    fn the_handshake_carries_what_the_readme_lists() {
        let open = open_packet(
            "lv_VI97HAXpY6yYWAAAC",
            &["websocket"],
            25000,
            20000,
            1_000_000,
        );
        assert!(open.starts_with('0'));
        let body: Value = serde_json::from_str(&open[1..]).unwrap();
        assert_eq!(
            body,
            json!({"sid": "lv_VI97HAXpY6yYWAAAC", "upgrades": ["websocket"],
                   "pingInterval": 25000, "pingTimeout": 20000, "maxPayload": 1000000})
        );
    }

    #[test]
    fn single_packets_decode() {
        assert_eq!(
            Packet::decode("4hello"),
            Ok(Packet::Message("hello".into()))
        );
        assert_eq!(Packet::decode("2"), Ok(Packet::Ping(String::new())));
        assert_eq!(Packet::decode("2probe"), Ok(Packet::Ping("probe".into())));
        assert_eq!(Packet::decode("3"), Ok(Packet::Pong(String::new())));
        assert_eq!(Packet::decode("5"), Ok(Packet::Upgrade));
        assert_eq!(Packet::decode("6"), Ok(Packet::Noop));
        assert_eq!(Packet::decode("1"), Ok(Packet::Close));
        assert_eq!(Packet::decode("bAQIDBA=="), Ok(Packet::Binary));
        assert_eq!(Packet::decode("4€"), Ok(Packet::Message("€".into())));
    }

    #[test]
    fn malformed_packets_are_errors_not_panics() {
        for bad in ["", "7", "x", "{}", "\u{1e}", "é"] {
            assert_eq!(Packet::decode(bad), Err(DecodeError), "{bad:?}");
        }
        assert_eq!(Packet::decode_payload("4a\u{1e}"), Err(DecodeError));
        assert_eq!(Packet::decode_payload(""), Err(DecodeError));
    }

    #[test]
    fn a_polling_payload_splits_on_the_record_separator() {
        // README: `4hello\x1e2\x1e4€` is a message, a ping and a message.
        assert_eq!(
            Packet::decode_payload("4hello\u{1e}2\u{1e}4€"),
            Ok(vec![
                Packet::Message("hello".into()),
                Packet::Ping(String::new()),
                Packet::Message("€".into()),
            ])
        );
        assert_eq!(
            Packet::decode_payload("4hello\u{1e}bAQIDBA=="),
            Ok(vec![Packet::Message("hello".into()), Packet::Binary])
        );
    }

    #[test]
    fn a_response_body_joins_packets() {
        assert_eq!(
            encode_payload(&["4hello", "2", "4€"]),
            "4hello\u{1e}2\u{1e}4€"
        );
        assert_eq!(encode_payload(&[NOOP]), "6");
        assert_eq!(encode_payload::<&str>(&[]), "");
    }
}
