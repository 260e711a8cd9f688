//! Sans-I/O MQTT 3.1.1 / 5.0 packet framing and decoding for the interposer.
//!
//! The packet codec itself is rumqttc's (`rumqttc::mqttbytes::v4` and
//! `rumqttc::v5::mqttbytes::v5`, public in 0.25 and round-tripping every
//! packet type with its properties and user properties). What it lacks, and
//! this module adds: splitting a byte stream into whole frames without
//! decoding them (so relayed bytes stay exactly what the peer sent), telling
//! the connection's protocol version from its CONNECT, the MQTT 5 DISCONNECT
//! and AUTH with Remaining Length 0 (reason 0x00, MQTT 5 §3.14.2.1, which
//! rumqttc refuses as "payload required"), and a flat, printable summary of a
//! packet for the trace and for `expect_mqtt`.

use bytes::BytesMut;
use rumqttc::mqttbytes::v4;
use rumqttc::v5::mqttbytes::v5;
use serde::Serialize;

/// The largest frame we relay (matches the MTP's own limit).
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Version {
    #[serde(rename = "3.1.1")]
    V311,
    #[serde(rename = "5.0")]
    V5,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    #[error("malformed Remaining Length (more than 4 bytes)")]
    BadLength,
    #[error("frame of {0} bytes exceeds the {MAX_FRAME}-byte limit")]
    TooLarge(usize),
    #[error("the first packet is not a CONNECT with protocol name MQTT")]
    NotConnect,
    #[error("unsupported MQTT protocol level {0}")]
    Level(u8),
    #[error("cannot decode packet: {0}")]
    Decode(String),
}

/// A decoded packet of either version.
#[derive(Debug, Clone, PartialEq)]
pub enum Packet {
    V4(v4::Packet),
    V5(v5::Packet),
}

/// Length of the first whole frame in `buf`, `None` while more bytes are
/// needed.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, CodecError> {
    let mut remaining: usize = 0;
    for i in 0..4 {
        let Some(&b) = buf.get(1 + i) else {
            return Ok(None);
        };
        remaining |= ((b & 0x7f) as usize) << (7 * i);
        if b & 0x80 == 0 {
            let total = 2 + i + remaining;
            if total > MAX_FRAME {
                return Err(CodecError::TooLarge(total));
            }
            return Ok((buf.len() >= total).then_some(total));
        }
    }
    Err(CodecError::BadLength)
}

/// The protocol version a CONNECT frame asks for (level 4 = 3.1.1, 5 = 5.0).
pub fn connect_version(frame: &[u8]) -> Result<Version, CodecError> {
    if frame.first().map(|b| b >> 4) != Some(1) {
        return Err(CodecError::NotConnect);
    }
    let header = frame_len(frame)?.ok_or(CodecError::NotConnect)? - remaining_bytes(frame);
    let name = frame
        .get(header..header + 6)
        .ok_or(CodecError::NotConnect)?;
    if name != b"\x00\x04MQTT" {
        return Err(CodecError::NotConnect);
    }
    match frame.get(header + 6) {
        Some(4) => Ok(Version::V311),
        Some(5) => Ok(Version::V5),
        Some(&l) => Err(CodecError::Level(l)),
        None => Err(CodecError::NotConnect),
    }
}

fn remaining_bytes(frame: &[u8]) -> usize {
    let mut n = 0;
    for i in 0..4 {
        n |= ((frame.get(1 + i).copied().unwrap_or(0) & 0x7f) as usize) << (7 * i);
        if frame.get(1 + i).is_none_or(|b| b & 0x80 == 0) {
            break;
        }
    }
    n
}

/// Decodes one whole frame (as cut by `frame_len`).
pub fn decode(version: Version, frame: &[u8]) -> Result<Packet, CodecError> {
    let mut buf = BytesMut::from(frame);
    match version {
        Version::V311 => v4::Packet::read(&mut buf, MAX_FRAME)
            .map(Packet::V4)
            .map_err(|e| CodecError::Decode(format!("{e:?}"))),
        Version::V5 => {
            // MQTT 5 §3.14.2.1 / §3.15.2.1: no Reason Code and no
            // properties means 0x00 (normal disconnection / success).
            if frame == [0xe0, 0x00] {
                return Ok(Packet::V5(v5::Packet::Disconnect(v5::Disconnect {
                    reason_code: v5::DisconnectReasonCode::NormalDisconnection,
                    properties: None,
                })));
            }
            v5::Packet::read(&mut buf, Some(MAX_FRAME as u32))
                .map(Packet::V5)
                .map_err(|e| CodecError::Decode(format!("{e:?}")))
        }
    }
}

pub fn encode(packet: &Packet) -> Result<Vec<u8>, CodecError> {
    let mut buf = BytesMut::new();
    let bad = |e: &dyn std::fmt::Debug| CodecError::Decode(format!("{e:?}"));
    match packet {
        Packet::V4(p) => p.write(&mut buf, MAX_FRAME).map_err(|e| bad(&e))?,
        Packet::V5(p) => p
            .write(&mut buf, Some(MAX_FRAME as u32))
            .map_err(|e| bad(&e))?,
    };
    Ok(buf.to_vec())
}

/// A packet in flat form: its type, fixed-header flags and every field
/// that matters to USP, as (name, value) pairs (a name repeats for lists:
/// one `topic_filter` per filter; user properties are `user_property:<key>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PacketSummary {
    pub packet: String,
    pub flags: u8,
    pub fields: Vec<(String, String)>,
}

impl PacketSummary {
    /// Values of `name`, in order.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `CONNECT client_id=a keep_alive=60 user_property:usp-endpoint-id=x`.
    pub fn one_line(&self) -> String {
        let mut s = self.packet.clone();
        for (k, v) in &self.fields {
            s.push_str(&format!(" {k}={v}"));
        }
        s
    }
}

/// Summarises a frame that failed to decode: type from the fixed header.
pub fn summarize_raw(frame: &[u8], why: &CodecError) -> PacketSummary {
    let byte1 = frame.first().copied().unwrap_or(0);
    PacketSummary {
        packet: type_name(byte1 >> 4).to_string(),
        flags: byte1 & 0x0f,
        fields: vec![("undecodable".into(), why.to_string())],
    }
}

pub fn summarize(frame: &[u8], packet: &Packet) -> PacketSummary {
    let byte1 = frame.first().copied().unwrap_or(0);
    let mut f = Fields::default();
    match packet {
        Packet::V5(p) => super::mqtt_summary::v5_fields(p, &mut f),
        Packet::V4(p) => super::mqtt_summary::v4_fields(p, &mut f),
    }
    PacketSummary {
        packet: type_name(byte1 >> 4).to_string(),
        flags: byte1 & 0x0f,
        fields: f.0,
    }
}

/// Collects the (name, value) pairs of a summary.
#[derive(Default)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    pub fn put(&mut self, name: &str, value: impl ToString) {
        self.0.push((name.to_string(), value.to_string()));
    }
    pub fn opt(&mut self, name: &str, value: Option<impl ToString>) {
        if let Some(v) = value {
            self.put(name, v);
        }
    }
    pub fn users(&mut self, props: &[(String, String)]) {
        for (k, v) in props {
            self.put(&format!("user_property:{k}"), v);
        }
    }
}

pub fn type_name(t: u8) -> &'static str {
    match t {
        1 => "CONNECT",
        2 => "CONNACK",
        3 => "PUBLISH",
        4 => "PUBACK",
        5 => "PUBREC",
        6 => "PUBREL",
        7 => "PUBCOMP",
        8 => "SUBSCRIBE",
        9 => "SUBACK",
        10 => "UNSUBSCRIBE",
        11 => "UNSUBACK",
        12 => "PINGREQ",
        13 => "PINGRESP",
        14 => "DISCONNECT",
        15 => "AUTH",
        _ => "RESERVED",
    }
}

#[cfg(test)]
#[path = "mqtt_codec_tests.rs"]
mod tests;
