//! The Socket.IO (protocol 5) packet codec, inside Engine.IO messages.
//!
//! A packet is `<type>[<attachments>-][<namespace>,][<ack id>][<JSON>]`:
//! `0` CONNECT, `1` DISCONNECT, `2` EVENT, `3` ACK, `4` CONNECT_ERROR, `5`
//! BINARY_EVENT, `6` BINARY_ACK. The namespace is left out for `/`. What the
//! server sends is encoded as whole Engine.IO messages (with their leading
//! `4`), ready for the wire: `42["support:ticket_created",{...},"17"]`.

use serde::Serialize;
use serde_json::{Map, Value};

/// The only namespace served.
pub(crate) const DEFAULT_NAMESPACE: &str = "/";

/// A packet from the client, as far as the server cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClientPacket {
    /// Join `namespace`, with the client's `auth` object (empty when none).
    Connect {
        /// Where to.
        namespace: String,
        /// `{token, pid, offset, ...}`.
        auth: Map<String, Value>,
    },
    /// Leave `namespace`.
    Disconnect {
        /// Which.
        namespace: String,
    },
    /// An event, acknowledgement or binary packet: clients have nothing to
    /// tell this server, so these are dropped.
    Ignored,
}

/// A packet that is not Socket.IO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DecodeError;

impl ClientPacket {
    /// Decodes the data of one Engine.IO message.
    pub(crate) fn decode(text: &str) -> Result<Self, DecodeError> {
        let mut rest = text;
        let kind = take_digit(&mut rest).ok_or(DecodeError)?;
        if kind > 6 {
            return Err(DecodeError);
        }
        if kind == 5 || kind == 6 {
            let count = rest.find('-').ok_or(DecodeError)?;
            if count == 0 || !rest[..count].bytes().all(|b| b.is_ascii_digit()) {
                return Err(DecodeError);
            }
            rest = &rest[count + 1..];
        }
        let namespace = match rest.strip_prefix('/') {
            Some(_) => {
                let end = rest.find(',').unwrap_or(rest.len());
                let namespace = rest[..end].to_owned();
                rest = rest.get(end + 1..).unwrap_or("");
                namespace
            }
            None => DEFAULT_NAMESPACE.to_owned(),
        };
        let ack_digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if ack_digits > 0 && kind < 2 {
            return Err(DecodeError);
        }
        rest = &rest[ack_digits..];
        let data = match rest {
            "" => None,
            json => Some(serde_json::from_str::<Value>(json).map_err(|_| DecodeError)?),
        };
        match (kind, data) {
            (0, None) => Ok(Self::Connect {
                namespace,
                auth: Map::new(),
            }),
            (0, Some(Value::Object(auth))) => Ok(Self::Connect { namespace, auth }),
            (1, None) => Ok(Self::Disconnect { namespace }),
            (2 | 5, Some(Value::Array(args))) if !args.is_empty() => Ok(Self::Ignored),
            (3 | 6, Some(Value::Array(_))) => Ok(Self::Ignored),
            _ => Err(DecodeError),
        }
    }
}

fn take_digit(rest: &mut &str) -> Option<u32> {
    let mut chars = rest.chars();
    let digit = chars.next()?.to_digit(10)?;
    *rest = chars.as_str();
    Some(digit)
}

/// The answer to a CONNECT: `40{"sid":...,"pid":...}` (`pid` names the
/// session for connection-state recovery).
pub(crate) fn connect_ok(sid: &str, pid: &str) -> String {
    format!("40{}", serde_json::json!({ "sid": sid, "pid": pid }))
}

/// A refused CONNECT: `44{"message":...,"data":...}` (`44/ns,{...}` for
/// another namespace); the client's `connect_error` gets an `Error` with
/// this `message` and `data`.
pub(crate) fn connect_error(namespace: &str, message: &str, data: Value) -> String {
    let body = serde_json::json!({ "message": message, "data": data });
    match namespace {
        DEFAULT_NAMESPACE => format!("44{body}"),
        other => format!("44{other},{body}"),
    }
}

/// The server ends the socket: the client does not reconnect on its own.
pub(crate) const DISCONNECT: &str = "41";

/// An event in the default namespace: `42["<name>",<data>]`, or with the
/// log offset as the last argument, `42["<name>",<data>,"<offset>"]`
/// (a string: that is what the client remembers for recovery).
pub(crate) fn event(
    name: &str,
    data: &impl Serialize,
    offset: Option<i64>,
) -> Result<String, serde_json::Error> {
    let name = serde_json::to_string(name)?;
    let data = serde_json::to_string(data)?;
    Ok(match offset {
        Some(offset) => format!("42[{name},{data},\"{offset}\"]"),
        None => format!("42[{name},{data}]"),
    })
}

/// The event packet of a `/ws` frame's text (`{"id", "event", "data",
/// "at"}`): the same name, data and position, so both endpoints send the same
/// payload. The data is copied as it is, not re-serialised.
pub(crate) fn event_from_frame(text: &str) -> Result<String, serde_json::Error> {
    #[derive(serde::Deserialize)]
    struct WsText<'a> {
        id: Option<i64>,
        event: std::borrow::Cow<'a, str>,
        #[serde(borrow)]
        data: &'a serde_json::value::RawValue,
    }
    let frame: WsText<'_> = serde_json::from_str(text)?;
    event(&frame.event, &frame.data, frame.id)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn connect(namespace: &str, auth: Value) -> ClientPacket {
        ClientPacket::Connect {
            namespace: namespace.into(),
            auth: auth.as_object().cloned().unwrap(),
        }
    }

    // The examples of https://github.com/socketio/socket.io-protocol (v5).

    #[test]
    fn connect_packets_decode() {
        assert_eq!(ClientPacket::decode("0"), Ok(connect("/", json!({}))));
        assert_eq!(
            ClientPacket::decode(r#"0{"token":"123"}"#),
            Ok(connect("/", json!({"token": "123"})))
        );
        assert_eq!(
            ClientPacket::decode(r#"0/admin,{"token":"123"}"#),
            Ok(connect("/admin", json!({"token": "123"})))
        );
        assert_eq!(
            ClientPacket::decode("0/admin,"),
            Ok(connect("/admin", json!({})))
        );
        // Socket.IO 4.6+ recovery: the private id and the last offset seen.
        assert_eq!(
            ClientPacket::decode(r#"0{"token":"t","pid":"abc","offset":"42"}"#),
            Ok(connect(
                "/",
                json!({"token": "t", "pid": "abc", "offset": "42"})
            ))
        );
    }

    #[test]
    fn disconnect_events_and_acks_decode() {
        assert_eq!(
            ClientPacket::decode("1"),
            Ok(ClientPacket::Disconnect {
                namespace: "/".into()
            })
        );
        assert_eq!(
            ClientPacket::decode("1/admin,"),
            Ok(ClientPacket::Disconnect {
                namespace: "/admin".into()
            })
        );
        for ignored in [
            r#"2["foo"]"#,
            r#"2/admin,["bar"]"#,
            r#"212["foo"]"#,
            r#"3/admin,13["bar"]"#,
            r#"51-["baz",{"_placeholder":true,"num":0}]"#,
            r#"61-/admin,15[{"_placeholder":true,"num":0}]"#,
        ] {
            assert_eq!(
                ClientPacket::decode(ignored),
                Ok(ClientPacket::Ignored),
                "{ignored}"
            );
        }
    }

    #[test]
    fn malformed_packets_are_errors_not_panics() {
        for bad in [
            "",
            "7",
            "x",
            "0[1]",
            "0\"t\"",
            "0{",
            "2",
            "2[]",
            "2{}",
            "1{}",
            "5[\"a\"]",
            "5-[\"a\"]",
            "5x-[\"a\"]",
            "012{}",
            "2/admin",
            "4{}",
            "é",
        ] {
            assert_eq!(ClientPacket::decode(bad), Err(DecodeError), "{bad:?}");
        }
    }

    #[test]
    fn server_packets_encode_as_the_readme_shows() {
        let ok: Value =
            serde_json::from_str(&connect_ok("oSO0OpakMV_3jnilAAAA", "p1")[2..]).unwrap();
        assert!(connect_ok("s", "p").starts_with("40{"));
        assert_eq!(ok, json!({"sid": "oSO0OpakMV_3jnilAAAA", "pid": "p1"}));
        let refused = connect_error("/", "Not authorized", json!({"errorCode": "X"}));
        assert!(refused.starts_with("44{"));
        assert_eq!(
            serde_json::from_str::<Value>(&refused[2..]).unwrap(),
            json!({"message": "Not authorized", "data": {"errorCode": "X"}})
        );
        assert!(
            connect_error("/admin", "Invalid namespace", Value::Null).starts_with("44/admin,{")
        );
        assert_eq!(DISCONNECT, "41");
    }

    #[test]
    fn events_carry_their_offset_as_a_string_last() {
        let data = json!({"userId": 7, "ticketId": 99});
        assert_eq!(
            event("support:ticket_created", &data, Some(17)).unwrap(),
            r#"42["support:ticket_created",{"ticketId":99,"userId":7},"17"]"#
        );
        assert_eq!(
            event("support:ticket_status", &data, None).unwrap(),
            r#"42["support:ticket_status",{"ticketId":99,"userId":7}]"#
        );
        let decoded = ClientPacket::decode(&event("x\"y", &data, Some(1)).unwrap()[1..]);
        assert_eq!(decoded, Ok(ClientPacket::Ignored));
    }

    #[test]
    fn a_frame_becomes_the_same_event_with_its_offset() {
        let logged = r#"{"id":6,"event":"support:ticket_status_changed","data":{"ticketId":99,"status":"in_progress"},"at":"2025-06-01T12:30:05.042Z"}"#;
        assert_eq!(
            event_from_frame(logged).unwrap(),
            r#"42["support:ticket_status_changed",{"ticketId":99,"status":"in_progress"},"6"]"#
        );
        let live = r#"{"event":"support:ticket_status","data":{"ticketId":99},"at":"x"}"#;
        assert_eq!(
            event_from_frame(live).unwrap(),
            r#"42["support:ticket_status",{"ticketId":99}]"#
        );
        assert!(event_from_frame("not json").is_err());
    }
}
