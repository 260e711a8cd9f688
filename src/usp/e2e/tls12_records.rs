//! A TLS 1.2 record layer run by hand for one established session with the
//! spec's TLS 1.2 suite (ECDHE-ECDSA-AES128-GCM-SHA256), from the keys
//! rustls hands over. rustls never asks to renegotiate, yet TP-469 3.6 needs
//! a Controller that does: a ClientHello sent inside the established
//! session, encrypted under its keys. Once the harness asks, the session's
//! records are written and read here (RFC 5246 6.2, RFC 5288 for the GCM
//! nonce). Pure: bytes in, bytes out.

use std::fmt;

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};

pub const CHANGE_CIPHER_SPEC: u8 = 20;
pub const ALERT: u8 = 21;
pub const HANDSHAKE: u8 = 22;
pub const APPLICATION_DATA: u8 = 23;

const VERSION_12: [u8; 2] = [3, 3];
const HEADER_LEN: usize = 5;
const EXPLICIT_NONCE_LEN: usize = 8;
const TAG_LEN: usize = 16;
/// The most plaintext one record may carry (RFC 5246 6.2.1).
const MAX_FRAGMENT: usize = 1 << 14;
/// TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256.
const SUITE_ECDHE_ECDSA_AES128_GCM: [u8; 2] = [0xc0, 0x2b];

/// One direction of the session: its key, its 12-byte nonce base (4 bytes
/// of salt, then 8 XORed with the sequence number for the explicit part,
/// as rustls lays it out) and the next record's sequence number.
pub struct Direction {
    key: LessSafeKey,
    iv: [u8; 12],
    seq: u64,
}

impl fmt::Debug for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Direction(seq {})", self.seq)
    }
}

/// One record read: its content type and plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plain {
    pub content_type: u8,
    pub data: Vec<u8>,
}

impl Direction {
    pub fn new(key: &[u8], iv: &[u8], seq: u64) -> Result<Direction, String> {
        let key = UnboundKey::new(&AES_128_GCM, key)
            .map_err(|_| format!("an AES-128-GCM key is 16 bytes, not {}", key.len()))?;
        let iv: [u8; 12] = iv
            .try_into()
            .map_err(|_| format!("a TLS 1.2 GCM nonce base is 12 bytes, not {}", iv.len()))?;
        Ok(Direction {
            key: LessSafeKey::new(key),
            iv,
            seq,
        })
    }

    /// The sequence number the next record takes.
    pub fn sequence(&self) -> u64 {
        self.seq
    }

    /// Encrypts `plaintext` as records of `content_type`.
    pub fn seal(&mut self, content_type: u8, plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(plaintext.len() + 64);
        for chunk in plaintext.chunks(MAX_FRAGMENT) {
            let mut nonce = self.iv;
            for (b, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
                *b ^= s;
            }
            let mut body = chunk.to_vec();
            let aad = additional_data(self.seq, content_type, chunk.len());
            // Sealing cannot fail below 2^36 bytes; a chunk is at most 2^14.
            let tag = self
                .key
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(aad),
                    &mut body,
                )
                .unwrap_or_else(|_| unreachable!("AES-GCM seals any fragment of 2^14 bytes"));
            let len = EXPLICIT_NONCE_LEN + body.len() + TAG_LEN;
            out.push(content_type);
            out.extend_from_slice(&VERSION_12);
            out.extend_from_slice(&(len as u16).to_be_bytes());
            out.extend_from_slice(&nonce[4..]);
            out.extend_from_slice(&body);
            out.extend_from_slice(tag.as_ref());
            self.seq += 1;
        }
        out
    }

    /// Decrypts every record in `bytes`, in order.
    pub fn open(&mut self, bytes: &[u8]) -> Result<Vec<Plain>, String> {
        split(bytes)?
            .into_iter()
            .map(|(content_type, fragment)| self.open_one(content_type, fragment))
            .collect()
    }

    fn open_one(&mut self, content_type: u8, fragment: &[u8]) -> Result<Plain, String> {
        if fragment.len() < EXPLICIT_NONCE_LEN + TAG_LEN {
            return Err(format!(
                "an encrypted record of {} bytes is shorter than its nonce and tag",
                fragment.len()
            ));
        }
        let mut nonce = [0u8; 12];
        nonce[..4].copy_from_slice(&self.iv[..4]);
        nonce[4..].copy_from_slice(&fragment[..EXPLICIT_NONCE_LEN]);
        let mut body = fragment[EXPLICIT_NONCE_LEN..].to_vec();
        let aad = additional_data(self.seq, content_type, body.len() - TAG_LEN);
        let plain_len = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut body,
            )
            .map_err(|_| {
                format!(
                    "a {} record (sequence number {}) does not decrypt: bad_record_mac",
                    content_name(content_type),
                    self.seq
                )
            })?
            .len();
        body.truncate(plain_len);
        self.seq += 1;
        Ok(Plain {
            content_type,
            data: body,
        })
    }
}

/// seq_num || type || version || length (RFC 5246 6.2.3.3).
fn additional_data(seq: u64, content_type: u8, len: usize) -> [u8; 13] {
    let mut aad = [0u8; 13];
    aad[..8].copy_from_slice(&seq.to_be_bytes());
    aad[8] = content_type;
    aad[9..11].copy_from_slice(&VERSION_12);
    aad[11..].copy_from_slice(&(len as u16).to_be_bytes());
    aad
}

/// The records in `bytes`: (content type, fragment), fragments as sent.
pub fn split(mut bytes: &[u8]) -> Result<Vec<(u8, &[u8])>, String> {
    let mut records = Vec::new();
    while !bytes.is_empty() {
        if bytes.len() < HEADER_LEN {
            return Err(format!(
                "{} bytes after the last whole TLS record",
                bytes.len()
            ));
        }
        let len = u16::from_be_bytes([bytes[3], bytes[4]]) as usize;
        let Some(fragment) = bytes.get(HEADER_LEN..HEADER_LEN + len) else {
            return Err(format!(
                "a TLS record announces {len} bytes, {} follow",
                bytes.len() - HEADER_LEN
            ));
        };
        records.push((bytes[0], fragment));
        bytes = &bytes[HEADER_LEN + len..];
    }
    Ok(records)
}

/// The content type of the first record in `bytes`. In TLS 1.2 it is sent
/// in the clear even when the record is encrypted.
pub fn first_content_type(bytes: &[u8]) -> Option<u8> {
    bytes.first().copied()
}

/// The verify_data of the Finished a client sent in `flights` (every TLS
/// record it wrote during the handshake): the first handshake record after
/// its ChangeCipherSpec, encrypted with sequence number 0 under `key`/`iv`.
pub fn client_finished(flights: &[u8], key: &[u8], iv: &[u8]) -> Result<Vec<u8>, String> {
    let records = split(flights)?;
    let after_ccs = records
        .iter()
        .skip_while(|(t, _)| *t != CHANGE_CIPHER_SPEC)
        .find(|(t, _)| *t == HANDSHAKE)
        .ok_or("the handshake records sent hold no Finished after a ChangeCipherSpec")?;
    let plain = Direction::new(key, iv, 0)?.open_one(after_ccs.0, after_ccs.1)?;
    match plain.data.as_slice() {
        [20, 0, 0, len, rest @ ..] if *len as usize == rest.len() => Ok(rest.to_vec()),
        other => Err(format!(
            "the record after the ChangeCipherSpec is not a Finished ({} bytes, type {})",
            other.len(),
            other.first().copied().unwrap_or_default()
        )),
    }
}

/// A ClientHello asking to renegotiate (a handshake message, not yet in a
/// record): the spec's TLS 1.2 suite on P-256 with ECDSA, and the
/// renegotiation_info extension carrying `client_verify_data`, the
/// verify_data of this side's last Finished (RFC 5746 3.5), so that a peer
/// which does renegotiate would take it as a genuine request.
pub fn renegotiation_client_hello(random: [u8; 32], client_verify_data: &[u8]) -> Vec<u8> {
    let mut extensions = Vec::new();
    let mut extension = |kind: u16, data: &[u8]| {
        extensions.extend_from_slice(&kind.to_be_bytes());
        extensions.extend_from_slice(&(data.len() as u16).to_be_bytes());
        extensions.extend_from_slice(data);
    };
    // supported_groups: secp256r1.
    extension(0x000a, &[0, 2, 0, 0x17]);
    // ec_point_formats: uncompressed.
    extension(0x000b, &[1, 0]);
    // signature_algorithms: ecdsa_secp256r1_sha256.
    extension(0x000d, &[0, 2, 4, 3]);
    // extended_master_secret (RFC 7627), as the first handshake had it.
    extension(0x0017, &[]);
    let mut info = vec![client_verify_data.len() as u8];
    info.extend_from_slice(client_verify_data);
    extension(0xff01, &info);

    let mut body = VERSION_12.to_vec();
    body.extend_from_slice(&random);
    body.push(0); // no session_id: nothing is resumed
    body.extend_from_slice(&2u16.to_be_bytes());
    body.extend_from_slice(&SUITE_ECDHE_ECDSA_AES128_GCM);
    body.extend_from_slice(&[1, 0]); // compression: null only
    body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    body.extend_from_slice(&extensions);

    let mut message = vec![1]; // client_hello
    message.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    message.extend_from_slice(&body);
    message
}

/// What a peer's non-application record says, for verdicts and traces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    Alert {
        fatal: bool,
        description: u8,
    },
    /// A handshake message (its first byte: the handshake type).
    Handshake {
        message_type: u8,
    },
    ChangeCipherSpec,
    /// Content of a type TLS does not define.
    Unknown {
        content_type: u8,
    },
}

/// no_renegotiation(100), RFC 5246 7.2.2.
pub const NO_RENEGOTIATION: u8 = 100;

impl Control {
    /// What one decrypted record that is not application data says (an
    /// alert record may hold several; each is one Control).
    pub fn of(record: &Plain) -> Vec<Control> {
        match record.content_type {
            ALERT => record
                .data
                .chunks(2)
                .map(|a| Control::Alert {
                    fatal: a[0] == 2,
                    description: a.get(1).copied().unwrap_or_default(),
                })
                .collect(),
            HANDSHAKE => vec![Control::Handshake {
                message_type: record.data.first().copied().unwrap_or_default(),
            }],
            CHANGE_CIPHER_SPEC => vec![Control::ChangeCipherSpec],
            other => vec![Control::Unknown {
                content_type: other,
            }],
        }
    }

    /// A warning or fatal no_renegotiation alert: a refusal TP-469 3.6
    /// accepts.
    pub fn refuses_renegotiation(&self) -> bool {
        matches!(
            self,
            Control::Alert {
                description: NO_RENEGOTIATION,
                ..
            }
        )
    }
}

impl fmt::Display for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Control::Alert { fatal, description } => write!(
                f,
                "TLS alert {}({description}), {}",
                alert_name(*description),
                if *fatal { "fatal" } else { "warning" }
            ),
            Control::Handshake { message_type } => write!(
                f,
                "TLS handshake message {}({message_type})",
                handshake_name(*message_type)
            ),
            Control::ChangeCipherSpec => f.write_str("TLS ChangeCipherSpec"),
            Control::Unknown { content_type } => {
                write!(f, "a TLS record of unknown content type {content_type}")
            }
        }
    }
}

fn content_name(content_type: u8) -> &'static str {
    match content_type {
        CHANGE_CIPHER_SPEC => "change_cipher_spec",
        ALERT => "alert",
        HANDSHAKE => "handshake",
        APPLICATION_DATA => "application_data",
        _ => "unknown",
    }
}

/// RFC 5246 7.2 (and RFC 8446 6 for the later ones).
pub fn alert_name(description: u8) -> &'static str {
    match description {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        90 => "user_canceled",
        100 => "no_renegotiation",
        110 => "unsupported_extension",
        _ => "unknown",
    }
}

fn handshake_name(message_type: u8) -> &'static str {
    match message_type {
        0 => "hello_request",
        1 => "client_hello",
        2 => "server_hello",
        11 => "certificate",
        12 => "server_key_exchange",
        13 => "certificate_request",
        14 => "server_hello_done",
        15 => "certificate_verify",
        16 => "client_key_exchange",
        20 => "finished",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 16] = [7; 16];
    const IV: [u8; 12] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

    #[test]
    fn sealed_records_open_in_order_and_not_twice() {
        let mut tx = Direction::new(&KEY, &IV, 5).unwrap();
        let mut rx = Direction::new(&KEY, &IV, 5).unwrap();
        let mut wire = tx.seal(APPLICATION_DATA, b"a Msg");
        wire.extend(tx.seal(ALERT, &[1, NO_RENEGOTIATION]));
        assert_eq!(tx.sequence(), 7);
        let read = rx.open(&wire).unwrap();
        assert_eq!(read[0].data, b"a Msg");
        assert_eq!(
            Control::of(&read[1]),
            vec![Control::Alert {
                fatal: false,
                description: NO_RENEGOTIATION
            }]
        );
        assert!(Control::of(&read[1])[0].refuses_renegotiation());
        // The sequence number is in the MAC: the same bytes again fail.
        assert!(rx.open(&wire).unwrap_err().contains("bad_record_mac"));
    }

    #[test]
    fn large_plaintext_is_split_into_records_of_at_most_2_14_bytes() {
        let mut tx = Direction::new(&KEY, &IV, 0).unwrap();
        let data = vec![9u8; MAX_FRAGMENT + 10];
        let wire = tx.seal(APPLICATION_DATA, &data);
        let records = split(&wire).unwrap();
        assert_eq!(records.len(), 2);
        let mut rx = Direction::new(&KEY, &IV, 0).unwrap();
        let joined: Vec<u8> = rx
            .open(&wire)
            .unwrap()
            .into_iter()
            .flat_map(|p| p.data)
            .collect();
        assert_eq!(joined, data);
    }

    #[test]
    fn truncated_and_tampered_records_are_errors_not_panics() {
        let mut tx = Direction::new(&KEY, &IV, 0).unwrap();
        let wire = tx.seal(HANDSHAKE, b"hello");
        for cut in 0..wire.len() {
            let _ = Direction::new(&KEY, &IV, 0).unwrap().open(&wire[..cut]);
        }
        let mut bad = wire.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(Direction::new(&KEY, &IV, 0).unwrap().open(&bad).is_err());
        assert!(Direction::new(&KEY[..3], &IV, 0).is_err());
    }

    #[test]
    fn the_client_hello_is_well_formed() {
        let hello = renegotiation_client_hello([0xaa; 32], &[0x55; 12]);
        assert_eq!(hello[0], 1);
        let len = u32::from_be_bytes([0, hello[1], hello[2], hello[3]]) as usize;
        assert_eq!(len, hello.len() - 4);
        assert_eq!(&hello[4..6], &VERSION_12);
        // renegotiation_info: type ff01, length 13, then 12 bytes of verify_data.
        let tail = &hello[hello.len() - 17..];
        assert_eq!(tail[..5], [0xff, 0x01, 0, 13, 12]);
        assert_eq!(tail[5..], [0x55; 12]);
    }
}
