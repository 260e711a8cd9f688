//! What an MTP connection's channel is, as its TLS layer saw it: plaintext
//! or a TLS session with its negotiated version, cipher suite and the
//! peer's certificate (subject and subjectAltName). The transports fill it
//! in after their handshake; checks (`expect_mtp_security`) only read it.
//! Also tells a TLS ClientHello from plaintext by its first byte, so a
//! listener that expects TLS can report a plaintext client instead of
//! failing a handshake nobody sees.

use std::fmt;

use rustls::{CommonState, ProtocolVersion};
use tokio::net::TcpStream;

use super::san::{certificate_endpoint_id, san_uris, subject_common_name};

/// The TLS record content type of a handshake (RFC 8446 5.1, RFC 5246
/// 6.2.1): every ClientHello starts with it; an MQTT CONNECT (0x10), a
/// STOMP frame ('S', 'C') or an HTTP request ('G') never does.
pub const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// One side's view of a connection's channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelSecurity {
    /// No TLS: the peer's first bytes were its protocol in the clear.
    Plaintext {
        /// The first byte the peer sent, when the listener looked at it.
        first_byte: Option<u8>,
    },
    Tls(TlsSession),
    /// The peer opened a TLS handshake that did not complete: why.
    TlsFailed(String),
}

/// A completed TLS handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSession {
    /// `TLSv1_3`, `TLSv1_2`, ... as rustls names it.
    pub version: String,
    /// The version as (major, minor) of the record layer numbering:
    /// TLS 1.2 is (3, 3), TLS 1.3 is (3, 4).
    pub wire_version: (u8, u8),
    pub cipher_suite: String,
    /// The peer's (leaf) certificate, if it sent one.
    pub peer_certificate: Option<PeerCertificate>,
}

/// What a certificate says about whom it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCertificate {
    /// The subject's commonName, if any.
    pub subject_cn: Option<String>,
    /// Every subjectAltName URI (`urn:bbf:usp:id:...`, R-SEC.0a).
    pub san_uris: Vec<String>,
    /// The Endpoint ID the SAN vouches for.
    pub endpoint_id: Option<String>,
}

impl PeerCertificate {
    pub fn from_der(der: &[u8]) -> PeerCertificate {
        PeerCertificate {
            subject_cn: subject_common_name(der),
            san_uris: san_uris(der),
            endpoint_id: certificate_endpoint_id(der),
        }
    }
}

impl TlsSession {
    /// What rustls negotiated on a connection whose handshake completed.
    pub fn of(state: &CommonState) -> TlsSession {
        let version = state.protocol_version();
        TlsSession {
            version: version.map_or_else(|| "unknown".into(), |v| format!("{v:?}")),
            wire_version: version.map_or((0, 0), |v| {
                let n = u16::from(v);
                ((n >> 8) as u8, (n & 0xff) as u8)
            }),
            cipher_suite: state
                .negotiated_cipher_suite()
                .map_or_else(|| "unknown".into(), |s| format!("{:?}", s.suite())),
            peer_certificate: state
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|leaf| PeerCertificate::from_der(leaf)),
        }
    }

    /// Whether the version is at least `minimum` ("1.2", "1.3").
    pub fn at_least(&self, minimum: TlsVersion) -> bool {
        self.wire_version >= minimum.wire()
    }
}

/// A TLS version a check asks for at least.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    V1_2,
    V1_3,
}

impl TlsVersion {
    pub fn parse(text: &str) -> Option<TlsVersion> {
        match text.trim() {
            "1.2" => Some(TlsVersion::V1_2),
            "1.3" => Some(TlsVersion::V1_3),
            _ => None,
        }
    }

    fn wire(self) -> (u8, u8) {
        let v = match self {
            TlsVersion::V1_2 => ProtocolVersion::TLSv1_2,
            TlsVersion::V1_3 => ProtocolVersion::TLSv1_3,
        };
        let n = u16::from(v);
        ((n >> 8) as u8, (n & 0xff) as u8)
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsVersion::V1_2 => "1.2",
            TlsVersion::V1_3 => "1.3",
        })
    }
}

impl fmt::Display for PeerCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "subject CN={}, SAN URI {}",
            self.subject_cn.as_deref().unwrap_or("(none)"),
            if self.san_uris.is_empty() {
                "(none)".to_string()
            } else {
                self.san_uris.join(", ")
            }
        )
    }
}

impl fmt::Display for ChannelSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelSecurity::Plaintext { first_byte: None } => f.write_str("plaintext (no TLS)"),
            ChannelSecurity::Plaintext {
                first_byte: Some(b),
            } => write!(
                f,
                "plaintext (no TLS): its first byte was 0x{b:02x}{}, not a TLS ClientHello (0x{TLS_HANDSHAKE_RECORD:02x})",
                printable(*b)
            ),
            ChannelSecurity::TlsFailed(why) => write!(f, "no TLS session: {why}"),
            ChannelSecurity::Tls(s) => {
                write!(f, "TLS {} with {}", s.version, s.cipher_suite)?;
                match &s.peer_certificate {
                    Some(c) => write!(f, "; peer certificate: {c}"),
                    None => f.write_str("; the peer sent no certificate"),
                }
            }
        }
    }
}

/// The byte as a character, and what it most likely opened: the plaintext
/// an MTP client sends first when it skips TLS.
fn printable(b: u8) -> String {
    let opened = match b {
        0x10 => ", an MQTT CONNECT",
        b'S' | b'C' => ", a STOMP frame",
        b'G' => ", an HTTP request (WebSocket handshake)",
        _ => "",
    };
    match b.is_ascii_graphic() {
        true => format!(" ('{}'{opened})", b as char),
        false if opened.is_empty() => String::new(),
        false => format!(" ({})", &opened[2..]),
    }
}

/// Whether a first byte opens a TLS handshake.
pub fn opens_tls(first_byte: u8) -> bool {
    first_byte == TLS_HANDSHAKE_RECORD
}

/// Waits for the first byte an accepted client sends, without consuming
/// it: `None` when the client closed (or failed) before sending anything.
pub async fn peek_first_byte(tcp: &TcpStream) -> Option<u8> {
    let mut byte = [0u8; 1];
    match tcp.peek(&mut byte).await {
        Ok(1) => Some(byte[0]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(wire_version: (u8, u8)) -> TlsSession {
        TlsSession {
            version: "x".into(),
            wire_version,
            cipher_suite: "y".into(),
            peer_certificate: None,
        }
    }

    #[test]
    fn versions_compare_by_their_wire_numbers() {
        assert!(session((3, 4)).at_least(TlsVersion::V1_2));
        assert!(session((3, 3)).at_least(TlsVersion::V1_2));
        assert!(!session((3, 3)).at_least(TlsVersion::V1_3));
        // TLS 1.1 is (3, 2).
        assert!(!session((3, 2)).at_least(TlsVersion::V1_2));
        assert_eq!(TlsVersion::parse("1.2"), Some(TlsVersion::V1_2));
        assert_eq!(TlsVersion::parse("1.1"), None);
    }

    #[test]
    fn a_client_hello_is_told_from_plaintext_protocols() {
        assert!(opens_tls(0x16));
        // MQTT CONNECT, STOMP's 'S'/'C', HTTP's 'G'.
        for b in [0x10, b'S', b'C', b'G'] {
            assert!(!opens_tls(b), "{b:#x}");
        }
        let plain = ChannelSecurity::Plaintext {
            first_byte: Some(0x10),
        };
        assert!(plain.to_string().contains("0x10"), "{plain}");
    }

    #[test]
    fn a_certificate_shows_its_subject_and_endpoint_id() {
        let ca = super::super::pki::TestCa::new("ca").unwrap();
        let cert = ca.issue("proto::agent-x").unwrap();
        let c = PeerCertificate::from_der(&cert.cert);
        assert_eq!(c.subject_cn.as_deref(), Some("proto::agent-x"));
        assert_eq!(c.endpoint_id.as_deref(), Some("proto::agent-x"));
        assert_eq!(c.san_uris, vec!["urn:bbf:usp:id:proto::agent-x"]);
    }
}
