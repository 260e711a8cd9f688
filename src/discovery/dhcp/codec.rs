//! DHCPv4 message codec (RFC 2131/2132, RFC 3396) plus the RFC 3925 options USP discovery
//! relies on (TR-369 R-DIS.1): 124 (V-I Vendor Class) and 125 (V-I Vendor-Specific Information)
//! for enterprise 3561 (Broadband Forum). Pure and std-only so the harness-side server and the
//! reference Agent's client share one implementation. Everything read from the network goes
//! through a `Result` naming the byte offset: a malformed packet from a device under test is a
//! finding to report, never a panic.

use std::fmt;
use std::net::Ipv4Addr;

pub const SERVER_PORT: u16 = 67;
pub const CLIENT_PORT: u16 = 68;
pub const BBF_ENTERPRISE: u32 = 3561;
pub const USP_VENDOR_CLASS: &str = "usp";
pub const BROADCAST_FLAG: u16 = 0x8000;

/// Fixed BOOTP header length, before the magic cookie.
const HEADER_LEN: usize = 236;
const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// RFC 1542 minimum: some relays and clients drop shorter BOOTP messages.
const MIN_PACKET_LEN: usize = 300;

/// DHCP option codes (RFC 2132, RFC 3925).
pub mod code {
    pub const PAD: u8 = 0;
    pub const SUBNET_MASK: u8 = 1;
    pub const ROUTER: u8 = 3;
    pub const DNS: u8 = 6;
    pub const REQUESTED_IP: u8 = 50;
    pub const LEASE_TIME: u8 = 51;
    pub const MESSAGE_TYPE: u8 = 53;
    pub const SERVER_ID: u8 = 54;
    pub const PARAMETER_REQUEST_LIST: u8 = 55;
    pub const CLIENT_ID: u8 = 61;
    pub const VENDOR_CLASS: u8 = 124;
    pub const VENDOR_SPECIFIC: u8 = 125;
    pub const END: u8 = 255;
}

/// USP sub-option codes in option 125 for enterprise 3561 (TR-369 R-DIS.1).
pub mod sub {
    pub const CONTROLLER_URL: u8 = 25;
    pub const PROVISIONING_CODE: u8 = 26;
    pub const RETRY_MIN_WAIT: u8 = 27;
    pub const RETRY_MULTIPLIER: u8 = 28;
    pub const CONTROLLER_ENDPOINT_ID: u8 = 29;
}

/// Value of option 53; discriminants are the wire codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    Discover = 1,
    Offer,
    Request,
    Decline,
    Ack,
    Nak,
    Release,
    Inform,
}

impl MessageType {
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<Self> {
        use MessageType::*;
        [Discover, Offer, Request, Decline, Ack, Nak, Release, Inform]
            .get((code as usize).checked_sub(1)?)
            .copied()
    }

    /// The RFC 2131 spelling, as used in reports and captures.
    pub fn name(self) -> &'static str {
        const NAMES: [&str; 8] = [
            "DHCPDISCOVER",
            "DHCPOFFER",
            "DHCPREQUEST",
            "DHCPDECLINE",
            "DHCPACK",
            "DHCPNAK",
            "DHCPRELEASE",
            "DHCPINFORM",
        ];
        NAMES[self as usize - 1]
    }
}

/// What was wrong with received bytes, and where, so a report can point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub offset: usize,
    pub what: String,
}

fn fail<T>(offset: usize, what: String) -> Result<T, DecodeError> {
    Err(DecodeError { offset, what })
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.what)
    }
}

impl std::error::Error for DecodeError {}

/// Splits code(1)+len(1)+data records, returning (code, absolute data offset, data). Pad and
/// End only exist in the DHCP options field, not among option 125 sub-options, hence `dhcp`.
type Record<'a> = (u8, usize, &'a [u8]);
fn records<'a>(
    b: &'a [u8],
    base: usize,
    what: &str,
    dhcp: bool,
) -> Result<Vec<Record<'a>>, DecodeError> {
    let (mut out, mut i) = (Vec::new(), 0);
    while i < b.len() {
        let c = b[i];
        if dhcp && c == code::PAD {
            i += 1;
            continue;
        } else if dhcp && c == code::END {
            break;
        }
        let Some(&len) = b.get(i + 1) else {
            return fail(base + i, format!("{what} {c} has no length byte"));
        };
        let (len, left) = (len as usize, b.len() - i - 2);
        if len > left {
            let msg = format!("{what} {c} runs past the end (length {len}, {left} bytes left)");
            return fail(base + i, msg);
        }
        out.push((c, base + i + 2, &b[i + 2..i + 2 + len]));
        i += 2 + len;
    }
    Ok(out)
}

/// A DHCPv4 message. sname and file are not kept and are written as zeros: USP discovery
/// does not use them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub op: u8,
    pub htype: u8,
    pub hlen: u8,
    pub hops: u8,
    pub xid: u32,
    pub secs: u16,
    pub flags: u16,
    pub ciaddr: Ipv4Addr,
    pub yiaddr: Ipv4Addr,
    pub siaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
    pub chaddr: [u8; 16],
    /// Options in the order they came (or will be written), instances of one code kept apart.
    pub options: Vec<(u8, Vec<u8>)>,
}

impl Packet {
    /// A BOOTREQUEST of `kind` from an Ethernet client `mac`, broadcast flag set, with option 53
    /// already in `options`. Broadcast because a client without an address cannot take unicast.
    pub fn request(kind: MessageType, xid: u32, mac: [u8; 6]) -> Packet {
        let mut chaddr = [0u8; 16];
        chaddr[..6].copy_from_slice(&mac);
        let zero = Ipv4Addr::UNSPECIFIED;
        Packet {
            op: 1,
            htype: 1,
            hlen: 6,
            hops: 0,
            xid,
            secs: 0,
            flags: BROADCAST_FLAG,
            ciaddr: zero,
            yiaddr: zero,
            siaddr: zero,
            giaddr: zero,
            chaddr,
            options: vec![(code::MESSAGE_TYPE, vec![kind.code()])],
        }
    }

    /// The BOOTREPLY of `kind` to `req`: same xid, flags, giaddr, chaddr, htype, hlen; option 53
    /// = kind; yiaddr as given. An ACK also keeps req's ciaddr (RFC 2131 table 3), else zero.
    pub fn reply_to(req: &Packet, kind: MessageType, yiaddr: Ipv4Addr) -> Packet {
        let ack = kind == MessageType::Ack;
        Packet {
            op: 2,
            hops: 0,
            secs: 0,
            ciaddr: if ack {
                req.ciaddr
            } else {
                Ipv4Addr::UNSPECIFIED
            },
            yiaddr,
            siaddr: Ipv4Addr::UNSPECIFIED,
            options: vec![(code::MESSAGE_TYPE, vec![kind.code()])],
            ..req.clone()
        }
    }

    /// Parses a UDP payload. Options are read only from the options field: option 52
    /// (sname/file overload) is deliberately not honoured, as no USP party needs the room.
    /// A missing End option is tolerated (options end at the end of data).
    pub fn decode(b: &[u8]) -> Result<Packet, DecodeError> {
        let n = b.len();
        if n < HEADER_LEN + 4 {
            let what =
                format!("packet is {n} bytes, shorter than BOOTP header + magic cookie (240)");
            return fail(n, what);
        }
        if b[0] != 1 && b[0] != 2 {
            let what = format!("op is {}, expected 1 (BOOTREQUEST) or 2 (BOOTREPLY)", b[0]);
            return fail(0, what);
        }
        if b[2] > 16 {
            return fail(2, format!("hlen is {}, over chaddr's 16 bytes", b[2]));
        }
        let cookie = &b[HEADER_LEN..HEADER_LEN + 4];
        if cookie != MAGIC_COOKIE {
            let what = format!("magic cookie is {cookie:?}, expected {MAGIC_COOKIE:?}");
            return fail(HEADER_LEN, what);
        }
        let opts = records(&b[HEADER_LEN + 4..], HEADER_LEN + 4, "option", true)?;
        let ip = |i: usize| Ipv4Addr::new(b[i], b[i + 1], b[i + 2], b[i + 3]);
        let mut chaddr = [0u8; 16];
        chaddr.copy_from_slice(&b[28..44]);
        Ok(Packet {
            op: b[0],
            htype: b[1],
            hlen: b[2],
            hops: b[3],
            xid: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            secs: u16::from_be_bytes([b[8], b[9]]),
            flags: u16::from_be_bytes([b[10], b[11]]),
            ciaddr: ip(12),
            yiaddr: ip(16),
            siaddr: ip(20),
            giaddr: ip(24),
            chaddr,
            options: opts.into_iter().map(|(c, _, d)| (c, d.to_vec())).collect(),
        })
    }

    /// Option 53 first (RFC 2131 §4.1 recommends it; some clients expect it), long options
    /// split per RFC 3396, End, zeros to 300 bytes. Entries coded 0 or 255 are skipped: they
    /// cannot carry data.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.op, self.htype, self.hlen, self.hops];
        out.extend_from_slice(&self.xid.to_be_bytes());
        out.extend_from_slice(&self.secs.to_be_bytes());
        out.extend_from_slice(&self.flags.to_be_bytes());
        for ip in [self.ciaddr, self.yiaddr, self.siaddr, self.giaddr] {
            out.extend_from_slice(&ip.octets());
        }
        out.extend_from_slice(&self.chaddr);
        out.resize(HEADER_LEN, 0); // sname and file
        out.extend_from_slice(&MAGIC_COOKIE);
        let (first, rest): (Vec<_>, Vec<_>) = self
            .options
            .iter()
            .partition(|(c, _)| *c == code::MESSAGE_TYPE);
        for (c, data) in first.into_iter().chain(rest) {
            if *c == code::PAD || *c == code::END {
                continue;
            }
            if data.is_empty() {
                out.extend_from_slice(&[*c, 0]);
            }
            for chunk in data.chunks(255) {
                out.extend_from_slice(&[*c, chunk.len() as u8]);
                out.extend_from_slice(chunk);
            }
        }
        out.push(code::END);
        out.resize(out.len().max(MIN_PACKET_LEN), 0);
        out
    }

    pub fn message_type(&self) -> Option<MessageType> {
        match self.option(code::MESSAGE_TYPE)?.as_slice() {
            [k] => MessageType::from_code(*k),
            _ => None,
        }
    }

    /// All instances of `code` concatenated (RFC 3396); None when absent.
    pub fn option(&self, code: u8) -> Option<Vec<u8>> {
        let mut found = self.options.iter().filter(|(c, _)| *c == code).peekable();
        found.peek()?;
        Some(found.flat_map(|(_, d)| d.iter().copied()).collect())
    }

    /// Replaces every instance of `code` with one entry (encode splits it if long). It takes
    /// the first old instance's place so option order stays stable.
    pub fn set_option(&mut self, code: u8, data: Vec<u8>) {
        let Some(at) = self.options.iter().position(|(c, _)| *c == code) else {
            return self.options.push((code, data));
        };
        self.options[at].1 = data;
        let mut i = 0;
        self.options.retain(|(c, _)| {
            i += 1;
            *c != code || i - 1 == at
        });
    }

    /// chaddr's first hlen (max 16) bytes as aa:bb:cc:dd:ee:ff.
    pub fn client_hw(&self) -> String {
        let n = (self.hlen as usize).min(16);
        let hex: Vec<String> = self.chaddr[..n]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        hex.join(":")
    }

    /// Exactly 4 bytes, else None.
    pub fn option_ipv4(&self, code: u8) -> Option<Ipv4Addr> {
        let d: [u8; 4] = self.option(code)?.try_into().ok()?;
        Some(Ipv4Addr::from(d))
    }
}

/// Quoted, with non-UTF-8 bytes and control characters escaped, for reports.
fn quote(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => format!("{s:?}"),
        Err(_) => format!("\"{}\"", bytes.escape_ascii()),
    }
}

/// Splits RFC 3925 enterprise blocks (enterprise(4) + len(1) + data) of option `opt`,
/// returning (enterprise, absolute data offset, data).
type Block<'a> = (u32, usize, &'a [u8]);
fn enterprise_blocks(data: &[u8], opt: u8) -> Result<Vec<Block<'_>>, DecodeError> {
    let (mut out, mut i) = (Vec::new(), 0);
    while i < data.len() {
        let left = data.len() - i;
        if left < 5 {
            return fail(
                i,
                format!("option {opt} block needs 5 header bytes, {left} left"),
            );
        }
        let ent = u32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
        let len = data[i + 4] as usize;
        if len > left - 5 {
            let left = left - 5;
            let what = format!(
                "option {opt} block of enterprise {ent} runs past the end (length {len}, {left} bytes left)"
            );
            return fail(i, what);
        }
        out.push((ent, i + 5, &data[i + 5..i + 5 + len]));
        i += 5 + len;
    }
    Ok(out)
}

/// How a vendor-class-data carried the class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VendorClassForm {
    /// RFC 3925 items, each len + bytes
    Items(Vec<Vec<u8>>),
    /// bytes that do not parse as items
    Bare(Vec<u8>),
}

/// One enterprise block of option 124.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorClass {
    pub enterprise: u32,
    pub data: VendorClassForm,
}

/// Parses option 124's (RFC 3396-joined) data. Vendor-class-data that does not split exactly
/// into len+bytes items is kept as `Bare`: some field Agents omit the item length, and the
/// harness must report that rather than drop the Agent.
pub fn decode_vendor_class(data: &[u8]) -> Result<Vec<VendorClass>, DecodeError> {
    let items = |mut vcd: &[u8]| {
        let mut items = Vec::new();
        while let Some((&len, rest)) = vcd.split_first() {
            let item = rest.get(..len as usize)?;
            items.push(item.to_vec());
            vcd = &rest[item.len()..];
        }
        Some(items)
    };
    let blocks = enterprise_blocks(data, code::VENDOR_CLASS)?;
    let class = |(enterprise, _, vcd): Block| VendorClass {
        enterprise,
        data: items(vcd).map_or_else(
            || VendorClassForm::Bare(vcd.to_vec()),
            VendorClassForm::Items,
        ),
    };
    Ok(blocks.into_iter().map(class).collect())
}

/// Option 124's data for enterprise `enterprise` with the given items (RFC 3925 form).
/// Panics if an item or the whole data exceeds 255 bytes: items come from the caller, not
/// the network, so that is a caller bug.
pub fn encode_vendor_class(enterprise: u32, items: &[&[u8]]) -> Vec<u8> {
    let mut vcd = Vec::new();
    for item in items {
        assert!(
            item.len() <= 255,
            "vendor class item of {} bytes exceeds 255",
            item.len()
        );
        vcd.push(item.len() as u8);
        vcd.extend_from_slice(item);
    }
    encode_vendor_class_bare(enterprise, &vcd)
}

/// Option 124's data for the fault where the class goes without its item length (the Bare
/// form). Panics if `data` exceeds 255 bytes (a caller bug).
pub fn encode_vendor_class_bare(enterprise: u32, data: &[u8]) -> Vec<u8> {
    assert!(
        data.len() <= 255,
        "vendor-class-data of {} bytes exceeds 255",
        data.len()
    );
    let mut out = enterprise.to_be_bytes().to_vec();
    out.push(data.len() as u8);
    out.extend_from_slice(data);
    out
}

impl VendorClass {
    /// Whether this names USP as R-DIS.1 asks: enterprise 3561 and an item (or bare data) equal
    /// to "usp". Bare counts so a server can still serve the Agent while reporting the fault.
    pub fn is_usp(&self) -> bool {
        let usp = USP_VENDOR_CLASS.as_bytes();
        self.enterprise == BBF_ENTERPRISE
            && match &self.data {
                VendorClassForm::Items(items) => items.iter().any(|i| i == usp),
                VendorClassForm::Bare(b) => b == usp,
            }
    }

    /// e.g. `enterprise 3561, items ["usp"]` or `enterprise 3561, bare "usp" (no RFC 3925 item
    /// length)`; non-UTF-8 shown escaped.
    pub fn describe(&self) -> String {
        let e = self.enterprise;
        match &self.data {
            VendorClassForm::Items(items) => {
                let shown: Vec<String> = items.iter().map(|i| quote(i)).collect();
                format!("enterprise {e}, items [{}]", shown.join(", "))
            }
            VendorClassForm::Bare(b) => {
                format!(
                    "enterprise {e}, bare {} (no RFC 3925 item length)",
                    quote(b)
                )
            }
        }
    }
}

/// The USP sub-options of option 125 (enterprise 3561), as strings with any trailing NUL removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UspOptions {
    pub controller_url: Option<String>,
    pub provisioning_code: Option<String>,
    pub retry_min_wait: Option<String>,
    pub retry_multiplier: Option<String>,
    pub controller_endpoint_id: Option<String>,
}

/// Only called with the five USP sub-option codes.
fn sub_name(c: u8) -> &'static str {
    match c {
        sub::CONTROLLER_URL => "URL",
        sub::PROVISIONING_CODE => "ProvisioningCode",
        sub::RETRY_MIN_WAIT => "RetryMinimumWait",
        sub::RETRY_MULTIPLIER => "RetryMultiplier",
        _ => "EndpointID",
    }
}

impl UspOptions {
    /// (code, field) in code order, so encode, decode and describe cannot disagree.
    fn fields_mut(&mut self) -> [(u8, &mut Option<String>); 5] {
        [
            (sub::CONTROLLER_URL, &mut self.controller_url),
            (sub::PROVISIONING_CODE, &mut self.provisioning_code),
            (sub::RETRY_MIN_WAIT, &mut self.retry_min_wait),
            (sub::RETRY_MULTIPLIER, &mut self.retry_multiplier),
            (
                sub::CONTROLLER_ENDPOINT_ID,
                &mut self.controller_endpoint_id,
            ),
        ]
    }

    fn present(&self) -> Vec<(u8, String)> {
        let mut me = self.clone();
        let fields = me.fields_mut().map(|(c, v)| (c, v.take()));
        fields
            .into_iter()
            .filter_map(|(c, v)| Some((c, v?)))
            .collect()
    }

    /// Option 125's data: one enterprise-3561 block with the sub-options present, in code order;
    /// each value NUL-terminated when `nul_terminated`. Err when the block would exceed 255 bytes
    /// of option-data (the data-len byte), saying which sub-options and how long.
    pub fn encode(&self, nul_terminated: bool) -> Result<Vec<u8>, String> {
        let (mut block, mut sizes) = (Vec::new(), Vec::new());
        for (c, v) in self.present() {
            let len = v.len() + nul_terminated as usize;
            sizes.push(format!("{c} ({}) {len} bytes", sub_name(c)));
            block.extend_from_slice(&[c, len.min(255) as u8]);
            block.extend_from_slice(v.as_bytes());
            block.extend_from_slice(if nul_terminated { b"\0" } else { b"" });
        }
        if block.len() > 255 {
            let (n, s) = (block.len(), sizes.join(", "));
            return Err(format!(
                "option 125 enterprise 3561 block needs {n} bytes of option-data (max 255): {s}"
            ));
        }
        let mut out = BBF_ENTERPRISE.to_be_bytes().to_vec();
        out.push(block.len() as u8);
        out.extend_from_slice(&block);
        Ok(out)
    }

    /// Reads every enterprise-3561 block of option 125's data (other enterprises skipped); a
    /// sub-option given twice keeps the last; unknown sub-option codes are skipped (room for
    /// later TR-369 versions). Err with offset on truncation; non-UTF-8 values are an error
    /// naming the sub-option.
    pub fn decode(data: &[u8]) -> Result<UspOptions, DecodeError> {
        let mut out = UspOptions::default();
        for (ent, base, block) in enterprise_blocks(data, code::VENDOR_SPECIFIC)? {
            if ent != BBF_ENTERPRISE {
                continue;
            }
            for (c, at, v) in records(block, base, "option 125 sub-option", false)? {
                let v = v.strip_suffix(b"\0").unwrap_or(v);
                let mut fields = out.fields_mut();
                let Some((_, slot)) = fields.iter_mut().find(|(k, _)| *k == c) else {
                    continue;
                };
                match std::str::from_utf8(v) {
                    Ok(s) => **slot = Some(s.to_string()),
                    Err(e) => {
                        let (name, shown) = (sub_name(c), quote(v));
                        let what =
                            format!("option 125 sub-option {c} ({name}) is not UTF-8: {shown}");
                        return fail(at + e.valid_up_to(), what);
                    }
                }
            }
        }
        Ok(out)
    }

    /// DHCPv6 option 17's data: enterprise 3561, then the sub-options
    /// present in code order, each with a two-byte code and length (the
    /// codes are DHCPv4's); each value NUL-terminated when `nul_terminated`.
    pub fn encode_v6(&self, nul_terminated: bool) -> Vec<u8> {
        let mut out = BBF_ENTERPRISE.to_be_bytes().to_vec();
        for (c, v) in self.present() {
            let mut value = v.into_bytes();
            if nul_terminated {
                value.push(0);
            }
            super::v6::put_record(&mut out, u16::from(c), &value);
        }
        out
    }

    /// Reads DHCPv6 option 17's data of enterprise 3561 (checked by the
    /// caller); as `decode`, unknown sub-options are skipped.
    pub fn decode_v6(data: &[u8]) -> Result<UspOptions, DecodeError> {
        let mut out = UspOptions::default();
        let block = data.get(4..).unwrap_or_default();
        for (c, v) in super::v6::records(block, 4, "option 17 sub-option")? {
            let v = v.strip_suffix(b"\0").unwrap_or(&v);
            let mut fields = out.fields_mut();
            let Some((_, slot)) = fields.iter_mut().find(|(k, _)| u16::from(*k) == c) else {
                continue;
            };
            match std::str::from_utf8(v) {
                Ok(s) => **slot = Some(s.to_string()),
                Err(_) => {
                    let what = format!(
                        "option 17 sub-option {c} ({}) is not UTF-8: {}",
                        sub_name(c as u8),
                        quote(v)
                    );
                    return fail(4, what);
                }
            }
        }
        Ok(out)
    }

    /// `25=ws://..., 26="code"` style one-line summary, for reports; None fields left out. The
    /// URL is shown bare unless empty or holding spaces or control characters.
    pub fn describe(&self) -> String {
        let show = |(c, v): (u8, String)| {
            let odd = v.is_empty() || v.chars().any(|ch| ch.is_whitespace() || ch.is_control());
            if c == sub::CONTROLLER_URL && !odd {
                format!("{c}={v}")
            } else {
                format!("{c}={v:?}")
            }
        };
        self.present()
            .into_iter()
            .map(show)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0, 0x5e, 0x10, 0xab, 0xcd];
    const USP_124: [u8; 9] = [0, 0, 0x0d, 0xe9, 4, 3, b'u', b's', b'p'];
    const USP_124_BARE: [u8; 8] = [0, 0, 0x0d, 0xe9, 3, b'u', b's', b'p'];

    fn usp_opts() -> UspOptions {
        UspOptions {
            controller_url: Some("ws://192.0.2.1:8080/usp".into()),
            provisioning_code: Some("code".into()),
            controller_endpoint_id: Some("proto::controller".into()),
            ..Default::default()
        }
    }

    fn discover() -> Packet {
        let mut p = Packet::request(MessageType::Discover, 0xdead_beef, MAC);
        p.options
            .push((code::PARAMETER_REQUEST_LIST, vec![1, 3, 6, 125]));
        p.options.push((
            code::VENDOR_CLASS,
            encode_vendor_class(BBF_ENTERPRISE, &[b"usp"]),
        ));
        p
    }

    fn class(data: &[u8]) -> VendorClass {
        decode_vendor_class(data).unwrap().remove(0)
    }

    #[test]
    fn discover_round_trip() {
        let p = discover();
        let bytes = p.encode();
        assert!(bytes.len() >= 300);
        assert_eq!(bytes[240..243], [53, 1, 1]);
        let q = Packet::decode(&bytes).unwrap();
        assert_eq!(q, p);
        assert_eq!(q.message_type(), Some(MessageType::Discover));
        assert_eq!(
            q.option(code::PARAMETER_REQUEST_LIST),
            Some(vec![1, 3, 6, 125])
        );
        assert_eq!(q.client_hw(), "02:00:5e:10:ab:cd");
        assert!(class(&q.option(code::VENDOR_CLASS).unwrap()).is_usp());
        for k in 0..=9 {
            assert_eq!(
                MessageType::from_code(k).map(MessageType::code),
                Some(k).filter(|k| (1..=8).contains(k))
            );
        }
        assert_eq!(MessageType::Ack.name(), "DHCPACK");
    }

    #[test]
    fn vendor_class_bytes_and_forms() {
        assert_eq!(encode_vendor_class(BBF_ENTERPRISE, &[b"usp"]), USP_124);
        assert_eq!(
            encode_vendor_class_bare(BBF_ENTERPRISE, b"usp"),
            USP_124_BARE
        );
        let items = class(&USP_124);
        assert_eq!(items.data, VendorClassForm::Items(vec![b"usp".to_vec()]));
        assert!(items.is_usp());
        assert_eq!(items.describe(), r#"enterprise 3561, items ["usp"]"#);
        let bare = class(&USP_124_BARE);
        assert_eq!(bare.data, VendorClassForm::Bare(b"usp".to_vec()));
        assert!(bare.is_usp());
        assert_eq!(
            bare.describe(),
            r#"enterprise 3561, bare "usp" (no RFC 3925 item length)"#
        );
        assert!(!class(&encode_vendor_class(3562, &[b"usp"])).is_usp());
        assert!(!class(&encode_vendor_class(3561, &[b"usx"])).is_usp());
        assert!(!class(&encode_vendor_class_bare(3561, b"usx")).is_usp());
        let odd = VendorClass {
            enterprise: 1,
            data: VendorClassForm::Bare(vec![0xff, b'a']),
        };
        assert_eq!(
            odd.describe(),
            r#"enterprise 1, bare "\xffa" (no RFC 3925 item length)"#
        );
        // Two enterprises; truncating the second is an error at its start.
        let mut two = encode_vendor_class(9, &[b"x", b"yz"]);
        two.extend(USP_124);
        let vc = decode_vendor_class(&two).unwrap();
        assert!(!vc[0].is_usp() && vc[1].is_usp());
        assert_eq!(
            decode_vendor_class(&two[..two.len() - 1])
                .unwrap_err()
                .offset,
            10
        );
    }

    #[test]
    fn rfc3396_concatenation_and_split() {
        let mut p = Packet::request(MessageType::Request, 7, MAC);
        p.options.push((code::VENDOR_CLASS, USP_124[..3].to_vec()));
        p.options
            .push((code::LEASE_TIME, 3600u32.to_be_bytes().to_vec()));
        p.options.push((code::VENDOR_CLASS, USP_124[3..].to_vec()));
        let q = Packet::decode(&p.encode()).unwrap();
        assert_eq!(q.option(code::VENDOR_CLASS), Some(USP_124.to_vec()));
        assert!(class(&q.option(code::VENDOR_CLASS).unwrap()).is_usp());

        let long: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        p.set_option(code::VENDOR_CLASS, long.clone());
        assert_eq!(
            p.options
                .iter()
                .filter(|(c, _)| *c == code::VENDOR_CLASS)
                .count(),
            1
        );
        assert_eq!(
            p.options[1].0,
            code::VENDOR_CLASS,
            "keeps the first instance's place"
        );
        let q = Packet::decode(&p.encode()).unwrap();
        let parts: Vec<usize> = q
            .options
            .iter()
            .filter(|o| o.0 == code::VENDOR_CLASS)
            .map(|o| o.1.len())
            .collect();
        assert_eq!(parts, [255, 45]);
        assert_eq!(q.option(code::VENDOR_CLASS), Some(long));
        assert_eq!(q.option(code::ROUTER), None);
    }

    #[test]
    fn usp_options_encode_decode() {
        let o = usp_opts();
        let plain = o.encode(false).unwrap();
        assert_eq!(
            plain[..7],
            [0, 0, 0x0d, 0xe9, (plain.len() - 5) as u8, 25, 23]
        );
        assert_eq!(UspOptions::decode(&plain).unwrap(), o);
        let nul = o.encode(true).unwrap();
        assert_eq!(nul.len(), plain.len() + 3);
        assert_eq!((nul[6], nul[7 + 23]), (24, 0));
        assert_eq!(UspOptions::decode(&nul).unwrap(), o);
        // Only one trailing NUL is stripped.
        let two_nul = [0, 0, 0x0d, 0xe9, 5, 26, 3, b'a', 0, 0];
        let d = UspOptions::decode(&two_nul).unwrap();
        assert_eq!(d.provisioning_code.as_deref(), Some("a\0"));
        let want = r#"25=ws://192.0.2.1:8080/usp, 26="code", 29="proto::controller""#;
        assert_eq!(o.describe(), want);
    }

    #[test]
    fn usp_options_skip_other_enterprise_and_errors() {
        let mut data = vec![0, 0, 0, 9, 4, 25, 2, b'n', b'o'];
        data.extend(usp_opts().encode(true).unwrap());
        data.extend([0, 0, 0x0d, 0xe9, 5, 99, 0, 26, 1, b'z']); // unknown sub 99; 26 again
        let d = UspOptions::decode(&data).unwrap();
        assert_eq!(d.controller_url, usp_opts().controller_url);
        assert_eq!(d.provisioning_code.as_deref(), Some("z"));
        assert!(UspOptions::decode(&data[..data.len() - 1]).is_err());
        let e = UspOptions::decode(&[0, 0, 0x0d, 0xe9, 3, 26, 5, b'a']).unwrap_err();
        assert_eq!(e.offset, 5);
        let e = UspOptions::decode(&[0, 0, 0x0d, 0xe9, 3, 29, 1, 0xff]).unwrap_err();
        assert!(e.what.contains("29 (EndpointID) is not UTF-8"), "{e}");
    }

    #[test]
    fn usp_options_too_long() {
        let o = UspOptions {
            controller_url: Some("x".repeat(250)),
            ..usp_opts()
        };
        let err = o.encode(false).unwrap_err();
        assert!(
            err.contains("25 (URL) 250 bytes") && err.contains("max 255"),
            "{err}"
        );
        let max = UspOptions {
            controller_url: Some("x".repeat(253)),
            ..Default::default()
        };
        assert_eq!(max.encode(false).unwrap().len(), 5 + 255);
        assert!(max.encode(true).is_err());
    }

    #[test]
    fn truncated_packets_never_panic() {
        let mut p = discover();
        p.set_option(code::VENDOR_SPECIFIC, usp_opts().encode(true).unwrap());
        let bytes = p.encode();
        for n in 0..=bytes.len() {
            match Packet::decode(&bytes[..n]) {
                Ok(q) => {
                    assert!(n >= 240);
                    for (_, d) in &q.options {
                        let _ = (decode_vendor_class(d), UspOptions::decode(d));
                    }
                }
                Err(e) => assert!(e.offset <= n, "{e}"),
            }
        }
        let e = Packet::decode(&bytes[..247]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "at byte 243: option 55 runs past the end (length 4, 2 bytes left)"
        );
    }

    #[test]
    fn header_checks() {
        let good = discover().encode();
        for (at, bad) in [(236, 0), (0, 3), (2, 17)] {
            let mut b = good.clone();
            b[at] = bad;
            assert_eq!(Packet::decode(&b).unwrap_err().offset, at);
        }
        // No End option: options simply stop at the end of data.
        let end = 240 + 3 + 6 + 11;
        assert_eq!(good[end], code::END);
        assert_eq!(Packet::decode(&good[..end]).unwrap().options.len(), 3);
    }

    #[test]
    fn reply_copies_request_fields() {
        let mut req = discover();
        req.giaddr = Ipv4Addr::new(10, 0, 0, 1);
        let mut offer = Packet::reply_to(&req, MessageType::Offer, Ipv4Addr::new(10, 0, 0, 50));
        assert_eq!(
            (offer.op, offer.xid, offer.flags),
            (2, req.xid, BROADCAST_FLAG)
        );
        assert_eq!(
            (offer.chaddr, offer.giaddr, offer.hlen),
            (req.chaddr, req.giaddr, 6)
        );
        assert_eq!(offer.yiaddr, Ipv4Addr::new(10, 0, 0, 50));
        assert_eq!(offer.message_type(), Some(MessageType::Offer));
        offer.options.push((code::SERVER_ID, vec![10, 0, 0, 1]));
        offer.options.push((code::SUBNET_MASK, vec![255, 255, 255]));
        assert_eq!(
            offer.option_ipv4(code::SERVER_ID),
            Some(Ipv4Addr::new(10, 0, 0, 1))
        );
        assert_eq!(offer.option_ipv4(code::SUBNET_MASK), None);
        let bytes = offer.encode();
        assert!(bytes.len() >= 300);
        assert_eq!(Packet::decode(&bytes).unwrap(), offer);
    }
}
