//! `plugfest decode`: a USP Record (or a bare Msg), given as hex, base64 or
//! a file, in the same readable form the traces use, so a capture from
//! Wireshark or an Agent's log can be read without a protobuf toolchain.

use std::path::Path;
use std::process::ExitCode;

use base64::Engine as _;
use prost::Message as _;
use thiserror::Error;

use super::{exit, EXIT_BAD_INPUT, EXIT_PASSED};
use crate::trace::{compact_debug, describe_msg, describe_record, hex_preview};
use crate::usp::proto::msg::Msg;
use crate::usp::proto::record::record::RecordType;
use crate::usp::proto::record::Record;
use crate::usp::record::{decode as decode_record, payload_msg};

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("nothing to decode: give HEX or BASE64 text, or --file F")]
    Empty,
    #[error("the text is neither hex nor base64 ({0})")]
    NotText(String),
    #[error("not a USP Record ({record}) nor a USP Msg ({msg}); first bytes: {preview}")]
    Garbage {
        record: String,
        msg: String,
        preview: String,
    },
}

/// Hex when every character is a hex digit (an even number of them),
/// else base64 (standard or URL-safe alphabet, padding optional).
/// Whitespace, and `:` between hex bytes, are ignored.
pub fn bytes_from_text(text: &str) -> Result<Vec<u8>, DecodeError> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let compact = compact.strip_prefix("0x").unwrap_or(&compact);
    if compact.is_empty() {
        return Err(DecodeError::Empty);
    }
    let hex: String = compact.chars().filter(|c| *c != ':').collect();
    if hex.len() % 2 == 0 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Ok((0..hex.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
            .collect());
    }
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    let mut last = String::new();
    for engine in engines {
        match engine.decode(compact) {
            Ok(bytes) => return Ok(bytes),
            Err(e) => last = e.to_string(),
        }
    }
    Err(DecodeError::NotText(format!("base64: {last}")))
}

/// The bytes as a Record with its payload Msg, or else as a bare Msg.
pub fn describe_bytes(bytes: &[u8]) -> Result<String, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let record_error = match decode_record(bytes, None) {
        Ok(record) => return Ok(describe_full_record(&record, bytes.len())),
        Err(e) => e.to_string(),
    };
    match Msg::decode(bytes) {
        // prost accepts many byte strings as a Msg with nothing set; a Msg
        // needs a header and a body (R-ENC.3) to count as one.
        Ok(msg)
            if msg.header.is_some() && msg.body.as_ref().is_some_and(|b| b.msg_body.is_some()) =>
        {
            Ok(format!(
                "Msg ({} bytes, no Record around it)\n{}",
                bytes.len(),
                describe_msg(&msg)
            ))
        }
        Ok(_) => Err(garbage(bytes, record_error, "no header or no body".into())),
        Err(e) => Err(garbage(bytes, record_error, e.to_string())),
    }
}

fn garbage(bytes: &[u8], record: String, msg: String) -> DecodeError {
    DecodeError::Garbage {
        record,
        msg,
        preview: hex_preview(bytes),
    }
}

/// Every Record field, with payload bytes replaced by their size and the
/// payload Msg decoded below.
fn describe_full_record(record: &Record, size: usize) -> String {
    let mut shown = record.clone();
    let mut payload_sizes = Vec::new();
    match shown.record_type.as_mut() {
        Some(RecordType::NoSessionContext(r)) => {
            payload_sizes.push(r.payload.len());
            r.payload.clear();
        }
        Some(RecordType::SessionContext(r)) => {
            payload_sizes.extend(r.payload.iter().map(Vec::len));
            r.payload.clear();
        }
        _ => {}
    }
    let mac = std::mem::take(&mut shown.mac_signature).len();
    let cert = std::mem::take(&mut shown.sender_cert).len();
    let mut out = format!("{} ({size} bytes)\n", describe_record(record));
    out.push_str(&name_reason_codes(&compact_debug(&format!("{shown:#?}"))));
    out.push('\n');
    if mac > 0 || cert > 0 {
        out.push_str(&format!(
            "mac_signature: {mac} bytes, sender_cert: {cert} bytes\n"
        ));
    }
    if !payload_sizes.is_empty() {
        out.push_str(&format!("payload: {payload_sizes:?} bytes\n"));
        match payload_msg(record) {
            Ok(msg) => {
                out.push_str("payload Msg:\n");
                out.push_str(&describe_msg(&msg));
                out.push('\n');
            }
            Err(e) => out.push_str(&format!("payload not decoded: {e}\n")),
        }
    }
    out
}

/// `reason_code: 7100,` in a DisconnectRecord gets the error code's name.
fn name_reason_codes(text: &str) -> String {
    crate::trace::name_codes(text, "reason_code")
}

pub fn decode(text: Option<&str>, file: Option<&Path>) -> ExitCode {
    let bytes = match (text, file) {
        (Some(t), None) => bytes_from_text(t),
        (None, Some(path)) => match std::fs::read(path) {
            // A file holds raw bytes, or hex/base64 text of them.
            Ok(raw) => match std::str::from_utf8(&raw).ok().map(bytes_from_text) {
                Some(Ok(b)) => Ok(b),
                _ => Ok(raw),
            },
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                return exit(EXIT_BAD_INPUT);
            }
        },
        _ => Err(DecodeError::Empty),
    };
    match bytes.and_then(|b| describe_bytes(&b)) {
        Ok(text) => {
            crate::say!("{text}");
            exit(EXIT_PASSED)
        }
        Err(e) => {
            eprintln!("cannot decode: {e}");
            exit(EXIT_BAD_INPUT)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usp::msg;
    use crate::usp::proto::msg::{request::ReqType, Get};
    use crate::usp::record::{disconnect, encode, no_session};

    fn get_msg() -> Msg {
        msg::request(
            "m-1",
            ReqType::Get(Get {
                param_paths: vec!["Device.DeviceInfo.".into()],
                max_depth: 0,
            }),
        )
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn a_record_in_hex_shows_its_fields_and_its_msg() {
        let bytes = encode(&no_session("proto::ctl", "proto::agent", &get_msg()));
        let text = describe_bytes(&bytes_from_text(&hex(&bytes)).unwrap()).unwrap();
        for needle in [
            "NoSessionContextRecord",
            "proto::ctl",
            "proto::agent",
            "msg_id: \"m-1\"",
            "Device.DeviceInfo.",
            "payload Msg:",
        ] {
            assert!(text.contains(needle), "{needle} missing:\n{text}");
        }
    }

    #[test]
    fn base64_and_bare_msg_are_read_too() {
        let bytes = get_msg().encode_to_vec();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let text = describe_bytes(&bytes_from_text(&b64).unwrap()).unwrap();
        assert!(text.starts_with("Msg ("), "{text}");
        assert!(text.contains("msg_type: Get"), "{text}");
    }

    #[test]
    fn disconnect_reason_code_is_named() {
        let bytes = encode(&disconnect("a", "b", 7100, "bad"));
        let text = describe_bytes(&bytes).unwrap();
        assert!(
            text.contains("reason_code: 7100, // Record could not be parsed"),
            "{text}"
        );
    }

    #[test]
    fn garbage_is_an_error_that_shows_the_bytes() {
        let err = describe_bytes(&[0xff, 0xff, 0x01, 0x02]).unwrap_err();
        let shown = err.to_string();
        assert!(shown.contains("not a USP Record"), "{shown}");
        assert!(shown.contains("ffff0102"), "{shown}");
        assert!(matches!(
            bytes_from_text("not base64 !!"),
            Err(DecodeError::NotText(_))
        ));
        assert_eq!(bytes_from_text("  "), Err(DecodeError::Empty));
    }
}
