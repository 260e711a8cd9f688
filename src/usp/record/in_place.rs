//! Reading a received Record in place: its strings and a NoSessionContext
//! payload borrow the received bytes instead of being copied into a
//! `Record`. Every Record a peer sends is read this way first (the Session,
//! the reference Agent); the copy-free reader takes only the plain case (one
//! NoSessionContext record type, each field once, with its proper wire type)
//! and hands everything else to prost, so a Record is accepted or rejected,
//! and reads, exactly as `record::decode` would have it (the tests below and
//! tests/codec_in_place.rs compare the two). No I/O here.

use std::borrow::Cow;

use super::{decode, record_kind, RecordError};
use crate::usp::proto::msg::Msg;
use crate::usp::proto::record::{
    record::RecordType, NoSessionContextRecord, Record, SessionContextRecord,
};

/// A received Record, read without copying when it could be.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordRef<'a> {
    pub version: Cow<'a, str>,
    pub to_id: Cow<'a, str>,
    pub from_id: Cow<'a, str>,
    pub payload_security: i32,
    pub mac_signature: Cow<'a, [u8]>,
    pub sender_cert: Cow<'a, [u8]>,
    /// Always present: a Record without one is rejected (R-ENC.3).
    pub record_type: RecordTypeRef<'a>,
}

/// The record type of a `RecordRef`: the NoSessionContext payload borrowed,
/// any other type as prost decoded it.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordTypeRef<'a> {
    NoSessionContext {
        payload: Cow<'a, [u8]>,
    },
    /// Never `RecordType::NoSessionContext`.
    Other(RecordType),
}

/// `record::decode` without the copies: the same checks (a protobuf Record,
/// a known record type present, addressed to `own_id` when given) and the
/// same errors.
pub fn parse<'a>(bytes: &'a [u8], own_id: Option<&str>) -> Result<RecordRef<'a>, RecordError> {
    let Some(rec) = read(bytes) else {
        return decode(bytes, own_id).map(RecordRef::from);
    };
    if let Some(own) = own_id {
        if rec.to_id != own {
            return Err(RecordError::WrongToId {
                expected: own.to_string(),
                actual: rec.to_id.into_owned(),
            });
        }
    }
    Ok(rec)
}

impl<'a> RecordRef<'a> {
    /// The spec's name for the record type.
    pub fn kind(&self) -> &'static str {
        match &self.record_type {
            RecordTypeRef::NoSessionContext { .. } => "NoSessionContextRecord",
            RecordTypeRef::Other(t) => record_kind(t),
        }
    }

    /// The record type, when it is not NoSessionContext.
    pub fn other_type(&self) -> Option<&RecordType> {
        match &self.record_type {
            RecordTypeRef::Other(t) => Some(t),
            RecordTypeRef::NoSessionContext { .. } => None,
        }
    }

    /// The SessionContext record, if this is one.
    pub fn session_context(&self) -> Option<&SessionContextRecord> {
        match self.other_type() {
            Some(RecordType::SessionContext(sc)) => Some(sc),
            _ => None,
        }
    }

    /// `record::payload_msg` on this Record: the same checks, the same errors.
    pub fn payload_msg(&self) -> Result<Msg, RecordError> {
        match &self.record_type {
            RecordTypeRef::NoSessionContext { payload } => super::msg_of(payload),
            RecordTypeRef::Other(t) => super::payload_msg_of(t),
        }
    }

    /// `trace::describe_record` of the same Record, without building it.
    pub fn describe(&self) -> String {
        super::describe_parts(self.kind(), &self.version, &self.from_id, &self.to_id)
    }

    /// The Record as prost would have decoded it.
    pub fn into_owned(self) -> Record {
        Record {
            version: self.version.into_owned(),
            to_id: self.to_id.into_owned(),
            from_id: self.from_id.into_owned(),
            payload_security: self.payload_security,
            mac_signature: self.mac_signature.into_owned(),
            sender_cert: self.sender_cert.into_owned(),
            record_type: Some(match self.record_type {
                RecordTypeRef::NoSessionContext { payload } => {
                    RecordType::NoSessionContext(NoSessionContextRecord {
                        payload: payload.into_owned(),
                    })
                }
                RecordTypeRef::Other(t) => t,
            }),
        }
    }
}

/// From a Record `decode` accepted (so it has a record type).
impl From<Record> for RecordRef<'static> {
    fn from(r: Record) -> Self {
        let record_type = match r.record_type {
            Some(RecordType::NoSessionContext(n)) => RecordTypeRef::NoSessionContext {
                payload: Cow::Owned(n.payload),
            },
            Some(other) => RecordTypeRef::Other(other),
            // `decode` never returns such a Record; an empty one reads the same.
            None => RecordTypeRef::NoSessionContext {
                payload: Cow::Owned(Vec::new()),
            },
        };
        RecordRef {
            version: Cow::Owned(r.version),
            to_id: Cow::Owned(r.to_id),
            from_id: Cow::Owned(r.from_id),
            payload_security: r.payload_security,
            mac_signature: Cow::Owned(r.mac_signature),
            sender_cert: Cow::Owned(r.sender_cert),
            record_type,
        }
    }
}

// Protobuf wire types (the protobuf encoding spec).
const VARINT: u64 = 0;
const I64: u64 = 1;
const LEN: u64 = 2;
const I32: u64 = 5;

/// The plain case, read in place; `None` for anything else (prost then
/// decides, so odd but valid encodings and every error read as before).
fn read(bytes: &[u8]) -> Option<RecordRef<'_>> {
    let mut r = Wire(bytes);
    let mut version = None;
    let mut to_id = None;
    let mut from_id = None;
    let mut security = None;
    let mut mac = None;
    let mut cert = None;
    let mut payload = None;
    while !r.0.is_empty() {
        let (field, wire) = r.key()?;
        match (field, wire) {
            (1, LEN) => once(&mut version, r.str()?)?,
            (2, LEN) => once(&mut to_id, r.str()?)?,
            (3, LEN) => once(&mut from_id, r.str()?)?,
            // prost reads an int32 (an enum) as the varint's low 32 bits.
            (4, VARINT) => once(&mut security, r.varint()? as i32)?,
            (5, LEN) => once(&mut mac, r.len_delimited()?)?,
            (6, LEN) => once(&mut cert, r.len_delimited()?)?,
            (7, LEN) => once(&mut payload, no_session_payload(r.len_delimited()?)?)?,
            // Another record type, or a known field with an odd wire type.
            (1..=13, _) => return None,
            _ => r.skip(wire)?,
        }
    }
    Some(RecordRef {
        version: Cow::Borrowed(version.unwrap_or("")),
        to_id: Cow::Borrowed(to_id.unwrap_or("")),
        from_id: Cow::Borrowed(from_id.unwrap_or("")),
        payload_security: security.unwrap_or(0),
        mac_signature: Cow::Borrowed(mac.unwrap_or(&[])),
        sender_cert: Cow::Borrowed(cert.unwrap_or(&[])),
        record_type: RecordTypeRef::NoSessionContext {
            payload: Cow::Borrowed(payload?),
        },
    })
}

/// The payload (field 2) of a NoSessionContextRecord's bytes.
fn no_session_payload(bytes: &[u8]) -> Option<&[u8]> {
    let mut r = Wire(bytes);
    let mut payload = None;
    while !r.0.is_empty() {
        match r.key()? {
            (2, LEN) => once(&mut payload, r.len_delimited()?)?,
            (2, _) => return None,
            (_, wire) => r.skip(wire)?,
        }
    }
    Some(payload.unwrap_or(&[]))
}

/// Sets a field seen for the first time; a repeated one (which protobuf
/// merges or overrides) is left to prost.
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(value);
            Some(())
        }
    }
}

/// A cursor over protobuf wire data; every read is checked, and anything
/// prost might read differently (a group, field number 0) gives `None`.
struct Wire<'a>(&'a [u8]);

impl<'a> Wire<'a> {
    /// At most ten bytes, the tenth holding one bit, as prost accepts.
    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for i in 0..10 {
            let (&b, rest) = self.0.split_first()?;
            self.0 = rest;
            if i == 9 && b > 1 {
                return None;
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn key(&mut self) -> Option<(u32, u64)> {
        let key = self.varint()?;
        let field = u32::try_from(key >> 3).ok()?;
        (field != 0).then_some((field, key & 7))
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn len_delimited(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.varint()?).ok()?;
        self.take(n)
    }

    fn str(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.len_delimited()?).ok()
    }

    /// Skips an unknown field as prost does; groups are left to prost.
    fn skip(&mut self, wire: u64) -> Option<()> {
        match wire {
            VARINT => self.varint().map(drop),
            I64 => self.take(8).map(drop),
            LEN => self.len_delimited().map(drop),
            I32 => self.take(4).map(drop),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usp::msg;
    use crate::usp::proto::msg::{request::ReqType, Get};
    use crate::usp::record::{self, encode, no_session};

    fn get() -> Msg {
        msg::request(
            "7",
            ReqType::Get(Get {
                param_paths: vec!["Device.DeviceInfo.".into()],
                max_depth: 0,
            }),
        )
    }

    /// What `parse` answers must be what `decode` + `payload_msg` answer.
    fn same_as_decode(bytes: &[u8], own: Option<&str>) {
        let owned = record::decode(bytes, own);
        let parsed = parse(bytes, own);
        match (&owned, &parsed) {
            (Ok(o), Ok(p)) => {
                assert_eq!(&p.clone().into_owned(), o, "{bytes:02x?}");
                assert_eq!(p.payload_msg(), record::payload_msg(o), "{bytes:02x?}");
                assert_eq!(p.describe(), crate::trace::describe_record(o));
            }
            (Err(o), Err(p)) => assert_eq!(o, p, "{bytes:02x?}"),
            _ => panic!("decode {owned:?} but parse {parsed:?} for {bytes:02x?}"),
        }
    }

    #[test]
    fn the_plain_record_is_read_in_place() {
        let bytes = encode(&no_session("proto::c", "proto::a", &get()));
        let p = parse(&bytes, Some("proto::a")).unwrap();
        assert!(matches!(p.from_id, Cow::Borrowed("proto::c")));
        assert!(matches!(
            p.record_type,
            RecordTypeRef::NoSessionContext {
                payload: Cow::Borrowed(_)
            }
        ));
        assert_eq!(p.payload_msg().unwrap(), get());
        same_as_decode(&bytes, Some("proto::a"));
        same_as_decode(&bytes, Some("proto::other"));
        same_as_decode(&bytes, None);
    }

    #[test]
    fn other_record_types_and_odd_encodings_read_as_prost_reads_them() {
        let plain = encode(&no_session("c", "a", &get()));
        let mut cases = vec![
            plain.clone(),
            encode(&record::websocket_connect("c", "a")),
            encode(&record::disconnect("c", "a", 7105, "bye")),
            Vec::new(),
            vec![0xff; 3],
            vec![0x0a, 0x02, 0xc3, 0x28], // version that is not UTF-8
            vec![0x08, 0x01],             // field 1 as a varint
            vec![0x3a, 0x02, 0x12, 0x00], // payload present and empty
            vec![0x3a, 0x00],             // NoSessionContext without payload
            vec![0x3a, 0x02, 0x10, 0x01], // payload as a varint
            vec![0x3a, 0x02, 0x18, 0x01], // an unknown field inside
            vec![0x3a, 0x00, 0x3a, 0x00], // the record type twice
            vec![0x3a, 0x00, 0x4a, 0x00], // two record types
            vec![0x3a, 0x00, 0x72, 0x00], // plus a record type from the future
            vec![0x3a, 0x00, 0x20, 0x81, 0x80, 0x80, 0x80, 0x10], // big security
            vec![0x3a, 0x00, 0x0b, 0x0c], // a group
            vec![0x3a, 0x00, 0x02, 0x00], // field number 0
            vec![0x3a, 0x05, 0x12, 0x03], // payload cut short
        ];
        // Every field of the plain Record given twice, and unknown fields
        // of each wire type around it.
        let mut twice = plain.clone();
        twice.extend_from_slice(&plain);
        cases.push(twice);
        let mut unknown = plain.clone();
        unknown.extend_from_slice(&[0x78, 0x05, 0x79, 0, 0, 0, 0, 0, 0, 0, 0, 0x7d, 0, 0, 0, 0]);
        cases.push(unknown);
        // Every prefix of the plain Record: cut anywhere.
        cases.extend((0..plain.len()).map(|n| plain[..n].to_vec()));
        for bytes in &cases {
            same_as_decode(bytes, None);
            same_as_decode(bytes, Some("a"));
        }
    }
}
