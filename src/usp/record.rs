//! USP Records: building the ones a Controller or Agent sends and parsing
//! received bytes into a Record and its Msg, with a typed error for every way
//! a received Record can be bad. No I/O here: bytes in, values out.

use prost::Message;
use thiserror::Error;

mod in_place;
pub mod integrity;
pub use in_place::{parse, RecordRef, RecordTypeRef};

use super::proto::msg::Msg;
use super::proto::record::{
    record::{PayloadSecurity, RecordType},
    DisconnectRecord, MqttConnectRecord, NoSessionContextRecord, Record, StompConnectRecord,
    UdsConnectRecord, WebSocketConnectRecord,
};

/// The protocol version this harness speaks and puts in `Record.version`.
pub const USP_VERSION: &str = "1.4";

/// Highest field number of the `record_type` oneof in USP 1.4.
const LAST_KNOWN_RECORD_TYPE_FIELD: u32 = 13;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RecordError {
    #[error("the bytes are not a protobuf USP Record ({reason})")]
    NotProtobuf { reason: String },
    #[error("the Record carries a record_type this harness does not know (field {field}); USP 1.4 ends at field 13")]
    UnknownRecordType { field: u32 },
    #[error("the Record has no record_type (the oneof is empty; R-ENC.3 requires exactly one)")]
    RecordTypeMissing,
    #[error("the Record is addressed to '{actual}', not to this endpoint '{expected}' (R-E2E.1: such Records are ignored)")]
    WrongToId { expected: String, actual: String },
    #[error(
        "the Record's payload is empty (R-E2E.26: a NoSessionContext payload must carry a Msg)"
    )]
    EmptyPayload,
    #[error("the Record's payload is not a protobuf USP Msg ({reason})")]
    PayloadNotProtobuf { reason: String },
    #[error("the Msg has no {what} (R-ENC.3 requires it)")]
    MsgIncomplete { what: &'static str },
    #[error("the Record is a {kind}, which carries no Msg")]
    NoMsgInRecord { kind: &'static str },
}

impl RecordError {
    /// The USP Record-level error code (7100-7106) that answers this problem,
    /// for the error Record or DisconnectRecord a receiver may send back.
    pub fn usp_code(&self) -> u32 {
        use super::errors::*;
        match self {
            RecordError::NotProtobuf { .. }
            | RecordError::PayloadNotProtobuf { .. }
            | RecordError::UnknownRecordType { .. } => RECORD_NOT_PARSED,
            _ => INVALID_RECORD_VALUE,
        }
    }
}

fn base(from_id: &str, to_id: &str, record_type: RecordType) -> Record {
    Record {
        version: USP_VERSION.to_string(),
        to_id: to_id.to_string(),
        from_id: from_id.to_string(),
        payload_security: PayloadSecurity::Plaintext as i32,
        mac_signature: Vec::new(),
        sender_cert: Vec::new(),
        record_type: Some(record_type),
    }
}

/// A NoSessionContext Record carrying one serialized Msg.
pub fn no_session(from_id: &str, to_id: &str, msg: &Msg) -> Record {
    base(
        from_id,
        to_id,
        RecordType::NoSessionContext(NoSessionContextRecord {
            payload: msg.encode_to_vec(),
        }),
    )
}

pub fn websocket_connect(from_id: &str, to_id: &str) -> Record {
    base(
        from_id,
        to_id,
        RecordType::WebsocketConnect(WebSocketConnectRecord {}),
    )
}

pub fn mqtt_connect(from_id: &str, to_id: &str, version: i32, subscribed_topic: &str) -> Record {
    base(
        from_id,
        to_id,
        RecordType::MqttConnect(MqttConnectRecord {
            version,
            subscribed_topic: subscribed_topic.to_string(),
        }),
    )
}

pub fn stomp_connect(from_id: &str, to_id: &str, subscribed_destination: &str) -> Record {
    base(
        from_id,
        to_id,
        RecordType::StompConnect(StompConnectRecord {
            version: 0,
            subscribed_destination: subscribed_destination.to_string(),
        }),
    )
}

pub fn uds_connect(from_id: &str, to_id: &str) -> Record {
    base(from_id, to_id, RecordType::UdsConnect(UdsConnectRecord {}))
}

pub fn disconnect(from_id: &str, to_id: &str, reason_code: u32, reason: &str) -> Record {
    base(
        from_id,
        to_id,
        RecordType::Disconnect(DisconnectRecord {
            reason: reason.to_string(),
            reason_code,
        }),
    )
}

pub fn encode(record: &Record) -> Vec<u8> {
    record.encode_to_vec()
}

/// `encode(&no_session(from_id, to_id, msg))` from the Msg's encoding,
/// without building the Record: the bytes prost writes for it (field order,
/// proto3 defaults left out), one buffer, no copies of the ids.
pub fn encode_no_session(from_id: &str, to_id: &str, payload: &[u8]) -> Vec<u8> {
    use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};
    // A length-delimited field: key, length, bytes (tags below 16 take one
    // byte of key).
    let field_len = |n: usize| 1 + encoded_len_varint(n as u64) + n;
    // NoSessionContextRecord { payload = 2 }, the payload left out when empty.
    let inner = if payload.is_empty() {
        0
    } else {
        field_len(payload.len())
    };
    let strings = [(1, USP_VERSION), (2, to_id), (3, from_id)];
    let len = strings
        .iter()
        .filter(|(_, s)| !s.is_empty())
        .map(|(_, s)| field_len(s.len()))
        .sum::<usize>()
        + field_len(inner);
    let mut buf = Vec::with_capacity(len);
    let put = |tag: u32, value: &[u8], buf: &mut Vec<u8>| {
        encode_key(tag, WireType::LengthDelimited, buf);
        encode_varint(value.len() as u64, buf);
        buf.extend_from_slice(value);
    };
    for (tag, s) in strings {
        if !s.is_empty() {
            put(tag, s.as_bytes(), &mut buf);
        }
    }
    // payload_security PLAINTEXT (0), mac_signature and sender_cert empty:
    // proto3 defaults, not written. Then record_type 7.
    encode_key(7, WireType::LengthDelimited, &mut buf);
    encode_varint(inner as u64, &mut buf);
    if !payload.is_empty() {
        put(2, payload, &mut buf);
    }
    buf
}

/// `trace::describe_record` of the Record `encode_no_session` writes.
pub fn describe_no_session(from_id: &str, to_id: &str) -> String {
    describe_parts("NoSessionContextRecord", USP_VERSION, from_id, to_id)
}

/// How traces name a Record: `NoSessionContextRecord v1.4 proto::a -> proto::b`
/// (the same text as `trace::describe_record`).
pub(crate) fn describe_parts(kind: &str, version: &str, from_id: &str, to_id: &str) -> String {
    format!("{kind} v{version} {from_id} -> {to_id}")
}

/// Parses received bytes into a Record, rejecting what no endpoint may
/// process: undecodable bytes, an unknown or missing record type, and (when
/// `own_id` is given) a Record addressed to someone else.
pub fn decode(bytes: &[u8], own_id: Option<&str>) -> Result<Record, RecordError> {
    let record = Record::decode(bytes).map_err(|e| RecordError::NotProtobuf {
        reason: e.to_string(),
    })?;
    if record.record_type.is_none() {
        return Err(match unknown_record_type_field(bytes) {
            Some(field) => RecordError::UnknownRecordType { field },
            None => RecordError::RecordTypeMissing,
        });
    }
    if let Some(own) = own_id {
        if record.to_id != own {
            return Err(RecordError::WrongToId {
                expected: own.to_string(),
                actual: record.to_id.clone(),
            });
        }
    }
    Ok(record)
}

/// The Msg inside a NoSessionContext Record (or the single plaintext payload
/// of a SessionContext Record), checked for the parts every Msg must have.
pub fn payload_msg(record: &Record) -> Result<Msg, RecordError> {
    match &record.record_type {
        Some(t) => payload_msg_of(t),
        None => Err(RecordError::RecordTypeMissing),
    }
}

/// `payload_msg` for a Record's record type.
fn payload_msg_of(record_type: &RecordType) -> Result<Msg, RecordError> {
    match record_type {
        // Borrowed: no copy on the hot path (benches/codec.rs).
        RecordType::NoSessionContext(r) => msg_of(&r.payload),
        RecordType::SessionContext(r) => msg_of(&r.payload.concat()),
        other => Err(RecordError::NoMsgInRecord {
            kind: record_kind(other),
        }),
    }
}

/// A Record's payload as a Msg, checked for the parts every Msg must have.
fn msg_of(payload: &[u8]) -> Result<Msg, RecordError> {
    if payload.is_empty() {
        return Err(RecordError::EmptyPayload);
    }
    let msg = Msg::decode(payload).map_err(|e| RecordError::PayloadNotProtobuf {
        reason: e.to_string(),
    })?;
    let body = msg
        .body
        .as_ref()
        .ok_or(RecordError::MsgIncomplete { what: "body" })?;
    if msg.header.is_none() {
        return Err(RecordError::MsgIncomplete { what: "header" });
    }
    if body.msg_body.is_none() {
        return Err(RecordError::MsgIncomplete {
            what: "msg_body (request, response or error)",
        });
    }
    Ok(msg)
}

/// The spec's name for a record type, for traces and messages.
pub fn record_kind(record_type: &RecordType) -> &'static str {
    match record_type {
        RecordType::NoSessionContext(_) => "NoSessionContextRecord",
        RecordType::SessionContext(_) => "SessionContextRecord",
        RecordType::WebsocketConnect(_) => "WebSocketConnectRecord",
        RecordType::MqttConnect(_) => "MQTTConnectRecord",
        RecordType::StompConnect(_) => "STOMPConnectRecord",
        RecordType::Disconnect(_) => "DisconnectRecord",
        RecordType::UdsConnect(_) => "UDSConnectRecord",
    }
}

/// prost drops fields it does not know, so an unknown record type looks the
/// same as a missing one after decoding. Walk the top-level fields of the raw
/// bytes to tell the two apart.
fn unknown_record_type_field(mut bytes: &[u8]) -> Option<u32> {
    while !bytes.is_empty() {
        let key = read_varint(&mut bytes)?;
        let field = (key >> 3) as u32;
        match key & 7 {
            0 => {
                read_varint(&mut bytes)?;
            }
            1 => bytes = bytes.get(8..)?,
            2 => {
                let len = usize::try_from(read_varint(&mut bytes)?).ok()?;
                bytes = bytes.get(len..)?;
            }
            5 => bytes = bytes.get(4..)?,
            _ => return None,
        }
        if field > LAST_KNOWN_RECORD_TYPE_FIELD {
            return Some(field);
        }
    }
    None
}

fn read_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usp::msg;
    use crate::usp::proto::msg::{request::ReqType, Get};

    fn get_msg() -> Msg {
        msg::request(
            "42",
            ReqType::Get(Get {
                param_paths: vec!["Device.DeviceInfo.".into()],
                max_depth: 0,
            }),
        )
    }

    #[test]
    fn no_session_round_trip() {
        let rec = no_session("proto::ctrl", "proto::agent", &get_msg());
        let bytes = encode(&rec);
        let back = decode(&bytes, Some("proto::agent")).unwrap();
        assert_eq!(back, rec);
        assert_eq!(back.version, "1.4");
        assert_eq!(payload_msg(&back).unwrap(), get_msg());
    }

    #[test]
    fn encode_no_session_writes_what_prost_writes() {
        let m = get_msg();
        for (from, to) in [("proto::ctrl", "proto::agent"), ("", ""), ("a", "")] {
            let payload = m.encode_to_vec();
            assert_eq!(
                encode_no_session(from, to, &payload),
                encode(&no_session(from, to, &m))
            );
            let rec = decode(&encode_no_session(from, to, &payload), None).unwrap();
            assert_eq!(
                describe_no_session(from, to),
                crate::trace::describe_record(&rec)
            );
        }
        let mut empty = no_session("a", "b", &m);
        empty.record_type = Some(RecordType::NoSessionContext(NoSessionContextRecord {
            payload: Vec::new(),
        }));
        assert_eq!(encode_no_session("a", "b", &[]), encode(&empty));
        // A payload past 127 bytes takes a longer length varint.
        let big = vec![7u8; 300];
        let mut rec = no_session("a", "b", &m);
        rec.record_type = Some(RecordType::NoSessionContext(NoSessionContextRecord {
            payload: big.clone(),
        }));
        assert_eq!(encode_no_session("a", "b", &big), encode(&rec));
    }

    #[test]
    fn connect_and_disconnect_round_trip() {
        for rec in [
            websocket_connect("a", "c"),
            disconnect("a", "c", 7105, "bye"),
            mqtt_connect("a", "c", 1, "usp/agent"),
            stomp_connect("a", "c", "/agent"),
            uds_connect("a", "c"),
        ] {
            assert_eq!(decode(&encode(&rec), Some("c")).unwrap(), rec);
            assert!(matches!(
                payload_msg(&rec),
                Err(RecordError::NoMsgInRecord { .. })
            ));
        }
    }

    #[test]
    fn garbage_is_not_protobuf() {
        let err = decode(&[0xff, 0xff, 0xff], None).unwrap_err();
        assert!(matches!(err, RecordError::NotProtobuf { .. }), "{err:?}");
        assert_eq!(err.usp_code(), 7100);
    }

    #[test]
    fn wrong_to_id_is_rejected() {
        let bytes = encode(&no_session("c", "someone-else", &get_msg()));
        let err = decode(&bytes, Some("me")).unwrap_err();
        assert_eq!(
            err,
            RecordError::WrongToId {
                expected: "me".into(),
                actual: "someone-else".into()
            }
        );
    }

    #[test]
    fn missing_oneof_and_unknown_type_are_told_apart() {
        let mut rec = websocket_connect("a", "c");
        rec.record_type = None;
        let bare = encode(&rec);
        assert_eq!(
            decode(&bare, None).unwrap_err(),
            RecordError::RecordTypeMissing
        );
        // Append field 14, length-delimited, empty: a record type from the future.
        let mut future = bare.clone();
        future.extend_from_slice(&[(14 << 3) | 2, 0]);
        assert_eq!(
            decode(&future, None).unwrap_err(),
            RecordError::UnknownRecordType { field: 14 }
        );
    }

    #[test]
    fn empty_payload_is_rejected() {
        let mut rec = no_session("a", "c", &get_msg());
        rec.record_type = Some(RecordType::NoSessionContext(NoSessionContextRecord {
            payload: vec![],
        }));
        assert_eq!(payload_msg(&rec).unwrap_err(), RecordError::EmptyPayload);
    }

    #[test]
    fn payload_that_is_not_a_msg_is_rejected() {
        let mut rec = no_session("a", "c", &get_msg());
        rec.record_type = Some(RecordType::NoSessionContext(NoSessionContextRecord {
            payload: vec![0x0a, 0xff],
        }));
        assert!(matches!(
            payload_msg(&rec).unwrap_err(),
            RecordError::PayloadNotProtobuf { .. }
        ));
    }

    #[test]
    fn msg_without_body_oneof_is_incomplete() {
        let mut m = get_msg();
        m.body.as_mut().unwrap().msg_body = None;
        let rec = no_session("a", "c", &m);
        assert!(matches!(
            payload_msg(&rec).unwrap_err(),
            RecordError::MsgIncomplete { .. }
        ));
        let mut m = get_msg();
        m.header = None;
        assert!(matches!(
            payload_msg(&no_session("a", "c", &m)).unwrap_err(),
            RecordError::MsgIncomplete { what: "header" }
        ));
    }
}
