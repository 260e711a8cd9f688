//! DHCPv6 messages (RFC 8415) as far as USP Controller discovery needs
//! them, free of I/O: the client-server message format, its options, the
//! Vendor Class option 16 in which an Agent names USP (enterprise 3561,
//! "usp", R-DIS.1) and the Vendor-specific Information option 17 that
//! carries the same USP sub-options 25-29 as DHCPv4's option 125, with
//! two-byte codes and lengths.

use std::fmt;
use std::net::Ipv6Addr;

use super::{DecodeError, UspOptions, BBF_ENTERPRISE, USP_VENDOR_CLASS};

pub const SERVER_PORT: u16 = 547;
pub const CLIENT_PORT: u16 = 546;
/// All_DHCP_Relay_Agents_and_Servers (RFC 8415 7.1), link-scoped.
pub const ALL_SERVERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 1, 2);

/// Option codes (RFC 8415 21, RFC 3646 for DNS).
pub mod code {
    pub const CLIENT_ID: u16 = 1;
    pub const SERVER_ID: u16 = 2;
    pub const IA_NA: u16 = 3;
    pub const IA_ADDR: u16 = 5;
    pub const ORO: u16 = 6;
    pub const ELAPSED_TIME: u16 = 8;
    pub const STATUS_CODE: u16 = 13;
    pub const VENDOR_CLASS: u16 = 16;
    pub const VENDOR_OPTS: u16 = 17;
    pub const DNS_SERVERS: u16 = 23;
}

/// Status codes of option 13 the server sends.
pub mod status {
    pub const NO_ADDRS_AVAIL: u16 = 2;
}

/// The client-server message types (RFC 8415 7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Solicit = 1,
    Advertise = 2,
    Request = 3,
    Confirm = 4,
    Renew = 5,
    Rebind = 6,
    Reply = 7,
    Release = 8,
    Decline = 9,
    Reconfigure = 10,
    InformationRequest = 11,
}

impl Kind {
    pub fn from_code(c: u8) -> Option<Kind> {
        use Kind::*;
        [
            Solicit,
            Advertise,
            Request,
            Confirm,
            Renew,
            Rebind,
            Reply,
            Release,
            Decline,
            Reconfigure,
            InformationRequest,
        ]
        .into_iter()
        .find(|k| *k as u8 == c)
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Solicit => "SOLICIT",
            Kind::Advertise => "ADVERTISE",
            Kind::Request => "REQUEST",
            Kind::Confirm => "CONFIRM",
            Kind::Renew => "RENEW",
            Kind::Rebind => "REBIND",
            Kind::Reply => "REPLY",
            Kind::Release => "RELEASE",
            Kind::Decline => "DECLINE",
            Kind::Reconfigure => "RECONFIGURE",
            Kind::InformationRequest => "INFORMATION-REQUEST",
        }
    }
}

/// One client-server message: type, transaction id and its options in
/// wire order (an option may repeat, e.g. two Vendor Class options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub kind: u8,
    pub xid: [u8; 3],
    pub options: Vec<(u16, Vec<u8>)>,
}

fn fail<T>(offset: usize, what: String) -> Result<T, DecodeError> {
    Err(DecodeError { offset, what })
}

/// `code(2) len(2) data` records from `data`, whose first byte is at
/// `base` in the message; `what` names them in errors.
pub(super) fn records(
    data: &[u8],
    base: usize,
    what: &str,
) -> Result<Vec<(u16, Vec<u8>)>, DecodeError> {
    let (mut out, mut i) = (Vec::new(), 0);
    while i < data.len() {
        let left = data.len() - i;
        if left < 4 {
            return fail(
                base + i,
                format!("{what} header needs 4 bytes, {left} left"),
            );
        }
        let c = u16::from_be_bytes([data[i], data[i + 1]]);
        let len = usize::from(u16::from_be_bytes([data[i + 2], data[i + 3]]));
        if len > left - 4 {
            return fail(
                base + i,
                format!(
                    "{what} {c} runs past the end (length {len}, {} bytes left)",
                    left - 4
                ),
            );
        }
        out.push((c, data[i + 4..i + 4 + len].to_vec()));
        i += 4 + len;
    }
    Ok(out)
}

pub(super) fn put_record(out: &mut Vec<u8>, c: u16, data: &[u8]) {
    // Every option the harness or the reference Agent builds is far below
    // 64 KiB; a longer one is a caller bug.
    let len = u16::try_from(data.len()).expect("a DHCPv6 option under 64 KiB");
    out.extend_from_slice(&c.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(data);
}

impl Message {
    pub fn new(kind: Kind, xid: [u8; 3]) -> Message {
        Message {
            kind: kind as u8,
            xid,
            options: Vec::new(),
        }
    }

    pub fn decode(b: &[u8]) -> Result<Message, DecodeError> {
        if b.len() < 4 {
            return fail(
                0,
                format!("a DHCPv6 message has at least 4 bytes, got {}", b.len()),
            );
        }
        let kind = b[0];
        if kind == 12 || kind == 13 {
            return fail(
                0,
                "a relay message (RELAY-FORW/RELAY-REPL): the harness serves one link, without relays"
                    .into(),
            );
        }
        Ok(Message {
            kind,
            xid: [b[1], b[2], b[3]],
            options: records(&b[4..], 4, "option")?,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.kind, self.xid[0], self.xid[1], self.xid[2]];
        for (c, data) in &self.options {
            put_record(&mut out, *c, data);
        }
        out
    }

    pub fn kind(&self) -> Option<Kind> {
        Kind::from_code(self.kind)
    }

    /// The type's name, or its number when it is not a client-server type.
    pub fn kind_name(&self) -> String {
        self.kind().map_or_else(
            || format!("message type {}", self.kind),
            |k| k.name().into(),
        )
    }

    /// The first option `c`.
    pub fn option(&self, c: u16) -> Option<&[u8]> {
        self.options
            .iter()
            .find(|(k, _)| *k == c)
            .map(|(_, d)| d.as_slice())
    }

    /// Every option `c`, in order.
    pub fn options_of(&self, c: u16) -> impl Iterator<Item = &[u8]> {
        self.options
            .iter()
            .filter(move |(k, _)| *k == c)
            .map(|(_, d)| d.as_slice())
    }

    /// Replaces every option `c` with one holding `data`.
    pub fn set_option(&mut self, c: u16, data: Vec<u8>) {
        self.options.retain(|(k, _)| *k != c);
        self.options.push((c, data));
    }

    /// Adds one more option `c` (Vendor Class may repeat).
    pub fn add_option(&mut self, c: u16, data: Vec<u8>) {
        self.options.push((c, data));
    }

    /// The client's DUID (option 1) as hex, e.g. `00030001020000000007`.
    pub fn client_duid(&self) -> String {
        self.option(code::CLIENT_ID)
            .map_or_else(|| "no Client Identifier".into(), hex)
    }

    /// Every Vendor Class option, decoded; a malformed one is an Err.
    pub fn vendor_classes(&self) -> Vec<Result<VendorClass, DecodeError>> {
        self.options_of(code::VENDOR_CLASS)
            .map(VendorClass::decode)
            .collect()
    }

    /// Whether an option 16 names USP: enterprise 3561 with an item "usp".
    pub fn names_usp(&self) -> bool {
        self.vendor_classes()
            .iter()
            .any(|c| c.as_ref().is_ok_and(VendorClass::is_usp))
    }

    /// Option 17 blocks of enterprise 3561, decoded as USP sub-options.
    pub fn usp_options(&self) -> Option<Result<UspOptions, DecodeError>> {
        let data = self
            .options_of(code::VENDOR_OPTS)
            .find(|d| d.len() >= 4 && d[..4] == BBF_ENTERPRISE.to_be_bytes())?;
        Some(UspOptions::decode_v6(data))
    }

    /// Option 23's addresses (RFC 3646).
    pub fn dns_servers(&self) -> Vec<Ipv6Addr> {
        self.option(code::DNS_SERVERS)
            .unwrap_or_default()
            .chunks_exact(16)
            .map(|c| Ipv6Addr::from(<[u8; 16]>::try_from(c).expect("16 bytes")))
            .collect()
    }

    /// The first IA_NA, decoded.
    pub fn ia_na(&self) -> Option<Result<IaNa, DecodeError>> {
        self.option(code::IA_NA).map(IaNa::decode)
    }

    /// The status code of option 13, when there is one.
    pub fn status(&self) -> Option<(u16, String)> {
        decode_status(self.option(code::STATUS_CODE)?)
    }
}

fn decode_status(d: &[u8]) -> Option<(u16, String)> {
    let c = u16::from_be_bytes([*d.first()?, *d.get(1)?]);
    Some((c, String::from_utf8_lossy(&d[2..]).into_owned()))
}

pub fn encode_status(c: u16, message: &str) -> Vec<u8> {
    let mut out = c.to_be_bytes().to_vec();
    out.extend_from_slice(message.as_bytes());
    out
}

/// An Identity Association for Non-temporary Addresses (option 3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IaNa {
    pub iaid: u32,
    pub t1: u32,
    pub t2: u32,
    /// IA Address options: (address, preferred lifetime, valid lifetime).
    pub addresses: Vec<(Ipv6Addr, u32, u32)>,
    /// The IA's own status code, when it carries one.
    pub status: Option<(u16, String)>,
}

impl IaNa {
    pub fn decode(d: &[u8]) -> Result<IaNa, DecodeError> {
        if d.len() < 12 {
            return fail(0, format!("IA_NA needs 12 bytes, got {}", d.len()));
        }
        let word = |i: usize| u32::from_be_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
        let mut ia = IaNa {
            iaid: word(0),
            t1: word(4),
            t2: word(8),
            ..IaNa::default()
        };
        for (c, data) in records(&d[12..], 12, "IA_NA option")? {
            match c {
                code::IA_ADDR if data.len() >= 24 => {
                    let a = <[u8; 16]>::try_from(&data[..16]).expect("16 bytes");
                    let w = |i: usize| {
                        u32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]])
                    };
                    ia.addresses.push((Ipv6Addr::from(a), w(16), w(20)));
                }
                code::IA_ADDR => {
                    return fail(
                        12,
                        format!("IA Address option needs 24 bytes, got {}", data.len()),
                    )
                }
                code::STATUS_CODE => ia.status = decode_status(&data),
                _ => {}
            }
        }
        Ok(ia)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for w in [self.iaid, self.t1, self.t2] {
            out.extend_from_slice(&w.to_be_bytes());
        }
        for (a, preferred, valid) in &self.addresses {
            let mut data = a.octets().to_vec();
            data.extend_from_slice(&preferred.to_be_bytes());
            data.extend_from_slice(&valid.to_be_bytes());
            put_record(&mut out, code::IA_ADDR, &data);
        }
        if let Some((c, m)) = &self.status {
            put_record(&mut out, code::STATUS_CODE, &encode_status(*c, m));
        }
        out
    }
}

/// One Vendor Class option (16): an enterprise number and its
/// vendor-class-data items, each with a two-byte length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorClass {
    pub enterprise: u32,
    pub items: Vec<Vec<u8>>,
}

impl VendorClass {
    pub fn decode(d: &[u8]) -> Result<VendorClass, DecodeError> {
        if d.len() < 4 {
            return fail(
                0,
                format!(
                    "option 16 needs a 4-byte enterprise number, got {} bytes",
                    d.len()
                ),
            );
        }
        let enterprise = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
        let (mut items, mut i) = (Vec::new(), 4);
        while i < d.len() {
            if d.len() - i < 2 {
                return fail(i, "option 16 item length needs 2 bytes, 1 left".into());
            }
            let len = usize::from(u16::from_be_bytes([d[i], d[i + 1]]));
            let Some(item) = d.get(i + 2..i + 2 + len) else {
                return fail(
                    i,
                    format!(
                        "option 16 item runs past the end (length {len}, {} bytes left)",
                        d.len() - i - 2
                    ),
                );
            };
            items.push(item.to_vec());
            i += 2 + len;
        }
        Ok(VendorClass { enterprise, items })
    }

    pub fn encode(enterprise: u32, items: &[&[u8]]) -> Vec<u8> {
        let mut out = enterprise.to_be_bytes().to_vec();
        for item in items {
            let len = u16::try_from(item.len()).expect("a vendor class item under 64 KiB");
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(item);
        }
        out
    }

    /// Enterprise 3561 with an item equal to "usp" (R-DIS.1).
    pub fn is_usp(&self) -> bool {
        self.enterprise == BBF_ENTERPRISE
            && self
                .items
                .iter()
                .any(|i| i.as_slice() == USP_VENDOR_CLASS.as_bytes())
    }

    /// e.g. `enterprise 3561, items ["usp"]`.
    pub fn describe(&self) -> String {
        let shown: Vec<String> = self
            .items
            .iter()
            .map(|i| format!("{:?}", String::from_utf8_lossy(i)))
            .collect();
        format!(
            "enterprise {}, items [{}]",
            self.enterprise,
            shown.join(", ")
        )
    }
}

impl fmt::Display for Message {
    /// `SOLICIT xid 0a0b0c`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} xid {}", self.kind_name(), hex(&self.xid))
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A DUID-LL (RFC 8415 11.4) of an Ethernet address.
pub fn duid_ll(mac: [u8; 6]) -> Vec<u8> {
    let mut d = vec![0, 3, 0, 1];
    d.extend_from_slice(&mac);
    d
}

/// What an option 16 of the Agent's says, for reports: every class, or
/// "no option 16".
pub fn describe_vendor_classes(m: &Message) -> String {
    let classes = m.vendor_classes();
    if classes.is_empty() {
        return "no option 16".into();
    }
    let shown: Vec<String> = classes
        .iter()
        .map(|c| match c {
            Ok(c) => c.describe(),
            Err(e) => format!("malformed: {e}"),
        })
        .collect();
    format!("option 16: {}", shown.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 7];

    fn solicit() -> Message {
        let mut m = Message::new(Kind::Solicit, [1, 2, 3]);
        m.set_option(code::CLIENT_ID, duid_ll(MAC));
        m.add_option(
            code::VENDOR_CLASS,
            VendorClass::encode(BBF_ENTERPRISE, &[b"usp"]),
        );
        m.set_option(
            code::IA_NA,
            IaNa {
                iaid: 7,
                ..Default::default()
            }
            .encode(),
        );
        m
    }

    #[test]
    fn a_solicit_round_trips_and_names_usp() {
        let m = solicit();
        let bytes = m.encode();
        // type, xid, then option 1 (DUID-LL, 10 bytes).
        assert_eq!(&bytes[..8], &[1, 1, 2, 3, 0, 1, 0, 10]);
        let back = Message::decode(&bytes).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.kind(), Some(Kind::Solicit));
        assert!(back.names_usp());
        assert_eq!(back.client_duid(), "00030001020000000007");
        assert_eq!(back.ia_na().unwrap().unwrap().iaid, 7);
        assert_eq!(back.to_string(), "SOLICIT xid 010203");
    }

    #[test]
    fn the_usp_vendor_class_is_enterprise_3561_with_a_two_byte_item_length() {
        let d = VendorClass::encode(BBF_ENTERPRISE, &[b"usp"]);
        assert_eq!(d, [0, 0, 0x0d, 0xe9, 0, 3, b'u', b's', b'p']);
        let c = VendorClass::decode(&d).unwrap();
        assert!(c.is_usp());
        assert_eq!(c.describe(), "enterprise 3561, items [\"usp\"]");
        assert!(!VendorClass::decode(&VendorClass::encode(3562, &[b"usp"]))
            .unwrap()
            .is_usp());
        // DHCPv4's one-byte item length is a malformed DHCPv6 option 16.
        let e = VendorClass::decode(&[0, 0, 0x0d, 0xe9, 3, b'u', b's', b'p']).unwrap_err();
        assert!(e.what.contains("runs past the end"), "{e}");
    }

    #[test]
    fn option_17_carries_the_usp_sub_options_with_two_byte_codes() {
        let usp = UspOptions {
            controller_url: Some("ws://[fd00::1]:8080/usp".into()),
            provisioning_code: Some("pc".into()),
            ..Default::default()
        };
        let d = usp.encode_v6(true);
        assert_eq!(&d[..4], &BBF_ENTERPRISE.to_be_bytes());
        // Sub-option 25, 24 bytes (with the NUL).
        assert_eq!(&d[4..8], &[0, 25, 0, 24]);
        let mut m = Message::new(Kind::Reply, [0; 3]);
        m.add_option(code::VENDOR_OPTS, VendorClass::encode(9, &[]));
        m.add_option(code::VENDOR_OPTS, d);
        assert_eq!(m.usp_options().unwrap().unwrap(), usp);
    }

    #[test]
    fn ia_na_with_an_address_and_a_status_round_trips() {
        let ia = IaNa {
            iaid: 1,
            t1: 1800,
            t2: 2880,
            addresses: vec![("fd00::100".parse().unwrap(), 3600, 7200)],
            status: Some((0, "ok".into())),
        };
        assert_eq!(IaNa::decode(&ia.encode()).unwrap(), ia);
    }

    #[test]
    fn truncated_input_is_an_error_with_its_offset_never_a_panic() {
        let bytes = solicit().encode();
        for n in 0..bytes.len() {
            let _ = Message::decode(&bytes[..n]);
        }
        let e = Message::decode(&bytes[..bytes.len() - 1]).unwrap_err();
        assert!(e.what.contains("runs past the end"), "{e}");
        assert!(Message::decode(&[12, 0, 0, 0]).is_err());
        let e = Message::decode(&[1, 0, 0]).unwrap_err();
        assert_eq!(e.offset, 0);
    }

    #[test]
    fn dns_servers_are_read_sixteen_bytes_each() {
        let mut m = Message::new(Kind::Reply, [0; 3]);
        let a: Ipv6Addr = "fd00::1".parse().unwrap();
        m.set_option(code::DNS_SERVERS, a.octets().to_vec());
        assert_eq!(m.dns_servers(), vec![a]);
    }
}
