//! Minimal DNS message codec (RFC 1035) for the harness's two tiny DNS peers: a responder
//! that answers A queries for the few names it knows and records every question it is asked,
//! and a stub resolver that asks one A question and reads the IPv4 answers. Pure and
//! std-only. Everything read from the network goes through a `Result` naming the byte
//! offset: a malformed message is a finding to report, never a panic or a hang.
//!
//! Decoded names are ASCII-lowercased, without a trailing dot ("controller.plugfest.test";
//! the root is ""); bytes that are not printable ASCII, and dots inside a label, are shown
//! as `\DDD` as dig does.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

pub const PORT: u16 = 53;

const HEADER_LEN: usize = 12;
const QR: u16 = 0x8000;
const OPCODE: u16 = 0x7800;
const AA: u16 = 0x0400;
const RD: u16 = 0x0100;
const CLASS_IN: u16 = 1;
const MAX_NAME_LEN: usize = 255;

/// Record and question types.
pub mod qtype {
    pub const A: u16 = 1;
    pub const PTR: u16 = 12;
    pub const TXT: u16 = 16;
    pub const AAAA: u16 = 28;
    pub const SRV: u16 = 33;
}

/// Response codes (the low 4 bits of the flags).
pub mod rcode {
    pub const NOERROR: u8 = 0;
    pub const FORMERR: u8 = 1;
    pub const SERVFAIL: u8 = 2;
    pub const NXDOMAIN: u8 = 3;
    pub const NOTIMP: u8 = 4;
    pub const REFUSED: u8 = 5;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
}

impl Question {
    /// e.g. "A controller.plugfest.test"; unknown types as "TYPE<n>".
    pub fn describe(&self) -> String {
        let t = match self.qtype {
            qtype::A => "A",
            qtype::AAAA => "AAAA",
            qtype::SRV => "SRV",
            qtype::TXT => "TXT",
            qtype::PTR => "PTR",
            n => return format!("TYPE{n} {}", self.name),
        };
        format!("{t} {}", self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub id: u16,
    pub flags: u16,
    pub questions: Vec<Question>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub offset: usize,
    pub what: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.what)
    }
}

impl std::error::Error for DecodeError {}

fn fail<T>(offset: usize, what: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError {
        offset,
        what: what.into(),
    })
}

fn rcode_name(rc: u8) -> String {
    const NAMES: [&str; 6] = [
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
    ];
    NAMES
        .get(rc as usize)
        .map_or_else(|| format!("RCODE{rc}"), |n| n.to_string())
}

/// Big-endian u16 at `at`, or an error naming `what`.
fn u16_at(b: &[u8], at: usize, what: &str) -> Result<u16, DecodeError> {
    match b.get(at..at + 2) {
        Some(s) => Ok(u16::from_be_bytes([s[0], s[1]])),
        None => fail(at, format!("message ends inside {what}")),
    }
}

/// id, flags, qdcount, ancount, nscount, arcount.
fn read_header(b: &[u8]) -> Result<[u16; 6], DecodeError> {
    if b.len() < HEADER_LEN {
        return fail(
            b.len(),
            format!("message shorter than the {HEADER_LEN}-byte header"),
        );
    }
    Ok(std::array::from_fn(|i| {
        u16::from_be_bytes([b[2 * i], b[2 * i + 1]])
    }))
}

/// Reads the (possibly compressed) name starting at `start`; returns it normalised and the
/// offset just past it in the original position. Every pointer must point before the start
/// of the segment it ends, and after the header, so decoding always terminates.
fn read_name(b: &[u8], start: usize) -> Result<(String, usize), DecodeError> {
    read_name_cased(b, start, true)
}

/// `read_name`, lowercasing or keeping the case as sent (DNS-SD instance
/// names are shown as their owner wrote them).
fn read_name_cased(
    b: &[u8],
    start: usize,
    lowercase: bool,
) -> Result<(String, usize), DecodeError> {
    let (mut pos, mut segment_start, mut end) = (start, start, None);
    let (mut name, mut wire_len) = (String::new(), 1usize);
    loop {
        let Some(&len) = b.get(pos) else {
            return fail(pos, "message ends inside a name");
        };
        match len & 0xc0 {
            0x00 if len == 0 => break,
            0x00 => {
                let len = len as usize;
                wire_len += len + 1;
                if wire_len > MAX_NAME_LEN {
                    return fail(pos, format!("name longer than {MAX_NAME_LEN} bytes"));
                }
                let Some(label) = b.get(pos + 1..pos + 1 + len) else {
                    return fail(pos, format!("label of {len} bytes runs past the end"));
                };
                if !name.is_empty() {
                    name.push('.');
                }
                for &c in label {
                    if c.is_ascii_graphic() && c != b'.' && c != b'\\' {
                        name.push(if lowercase {
                            c.to_ascii_lowercase() as char
                        } else {
                            c as char
                        });
                    } else {
                        name.push_str(&format!("\\{c:03}"));
                    }
                }
                pos += 1 + len;
            }
            0xc0 => {
                let target = (u16_at(b, pos, "a compression pointer")? & 0x3fff) as usize;
                if target >= segment_start || target < HEADER_LEN {
                    let msg = format!("compression pointer to {target} does not point back");
                    return fail(pos, msg);
                }
                end.get_or_insert(pos + 2);
                pos = target;
                segment_start = target;
            }
            _ => return fail(pos, format!("reserved label type 0x{len:02x}")),
        }
    }
    Ok((name, end.unwrap_or(pos + 1)))
}

/// `name` as the decoder shows it: lowercase, no trailing dot.
fn normalise(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// Appends `name` in wire form, uncompressed. The name is caller-supplied, not network
/// input: labels must be 1..=63 bytes (checked only by `debug_assert`).
fn push_name(out: &mut Vec<u8>, name: &str) {
    let name = name.strip_suffix('.').unwrap_or(name);
    for label in name.split('.').filter(|_| !name.is_empty()) {
        debug_assert!((1..=63).contains(&label.len()), "bad DNS label {label:?}");
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
}

fn header(id: u16, flags: u16, counts: [u16; 4]) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    for c in counts {
        out.extend_from_slice(&c.to_be_bytes());
    }
    out
}

/// Reads a query (QR clear). Answer, authority and additional sections are ignored.
pub fn decode_query(bytes: &[u8]) -> Result<Query, DecodeError> {
    let [id, flags, qdcount, ..] = read_header(bytes)?;
    if flags & QR != 0 {
        return fail(2, "QR is set: a response, not a query");
    }
    if qdcount == 0 {
        return fail(4, "qdcount is 0: no question");
    }
    let (mut pos, mut questions) = (HEADER_LEN, Vec::new());
    for _ in 0..qdcount {
        let (name, after) = read_name(bytes, pos)?;
        let qtype = u16_at(bytes, after, "a question's type")?;
        let qclass = u16_at(bytes, after + 2, "a question's class")?;
        questions.push(Question {
            name,
            qtype,
            qclass,
        });
        pos = after + 4;
    }
    Ok(Query {
        id,
        flags,
        questions,
    })
}

/// A standard recursion-desired query (RD set) for one A/IN question. `name` is
/// caller-supplied: its labels must be 1..=63 bytes (debug-asserted only).
pub fn encode_query(id: u16, name: &str) -> Vec<u8> {
    let mut out = header(id, RD, [1, 0, 0, 0]);
    push_name(&mut out, name);
    out.extend_from_slice(&qtype::A.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out
}

/// The answer to `query` (decoded from `raw`, so the first question is echoed byte for
/// byte): QR and AA set, opcode and RD copied, RCODE `rcode`, only the first question
/// echoed (qdcount 1), then one A/IN record per address in `answers`, owned by a pointer to
/// the question's name at offset 12, with `ttl`. A query without questions gets a bare
/// header (no question, no answers).
pub fn encode_response(
    query: &Query,
    raw: &[u8],
    rcode: u8,
    answers: &[IpAddr],
    ttl: u32,
) -> Vec<u8> {
    let flags = QR | AA | (query.flags & (OPCODE | RD)) | u16::from(rcode & 0x0f);
    let Some(first) = query.questions.first() else {
        return header(query.id, flags, [0; 4]);
    };
    let ancount = answers.len().min(u16::MAX as usize);
    let mut out = header(query.id, flags, [1, ancount as u16, 0, 0]);
    match read_name(raw, HEADER_LEN) {
        Ok((_, after)) if raw.len() >= after + 4 => {
            out.extend_from_slice(&raw[HEADER_LEN..after + 4])
        }
        _ => {
            push_name(&mut out, &first.name);
            out.extend_from_slice(&first.qtype.to_be_bytes());
            out.extend_from_slice(&first.qclass.to_be_bytes());
        }
    }
    for addr in &answers[..ancount] {
        let (kind, data) = match addr {
            IpAddr::V4(a) => (qtype::A, a.octets().to_vec()),
            IpAddr::V6(a) => (qtype::AAAA, a.octets().to_vec()),
        };
        out.extend_from_slice(&[0xc0, HEADER_LEN as u8]);
        out.extend_from_slice(&kind.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&(data.len() as u16).to_be_bytes());
        out.extend_from_slice(&data);
    }
    out
}

/// Reads a response to the query with id `id` for `name`: QR must be set, the id must
/// match and RCODE must be NOERROR (else an Err naming it). Returns the addresses of every
/// A/IN answer owned by `name` (case-insensitive); other records are skipped by rdlength.
/// Any A/IN record whose rdlength is not 4 is an error. Authority/additional are ignored.
pub fn decode_a_response(bytes: &[u8], id: u16, name: &str) -> Result<Vec<Ipv4Addr>, DecodeError> {
    let [got_id, flags, qdcount, ancount, ..] = read_header(bytes)?;
    if got_id != id {
        return fail(0, format!("id {got_id}, expected {id}"));
    }
    if flags & QR == 0 {
        return fail(2, "QR is clear: a query, not a response");
    }
    let rc = (flags & 0x0f) as u8;
    if rc != rcode::NOERROR {
        return fail(3, format!("response code {} ({rc})", rcode_name(rc)));
    }
    let mut pos = skip_questions(bytes, qdcount)?;
    let (want, mut out) = (normalise(name), Vec::new());
    for _ in 0..ancount {
        let rr = RawRecord::read(bytes, pos, true)?;
        if rr.rtype == qtype::A && rr.class == CLASS_IN {
            if let RData::A(addr) = rr.a_data()? {
                if rr.owner == want {
                    out.push(addr);
                }
            }
        }
        pos = rr.end;
    }
    Ok(out)
}

/// Past the question section (`qdcount` questions from the header's end):
/// where the records begin.
fn skip_questions(bytes: &[u8], qdcount: u16) -> Result<usize, DecodeError> {
    let mut pos = HEADER_LEN;
    for _ in 0..qdcount {
        let (_, after) = read_name(bytes, pos)?;
        u16_at(bytes, after + 2, "a question's class")?;
        pos = after + 4;
    }
    Ok(pos)
}

/// One record's fixed fields, its rdata located, not yet interpreted.
struct RawRecord<'a> {
    owner: String,
    rtype: u16,
    class: u16,
    ttl: u32,
    /// Offset of the rdata (names in it may point back into the message).
    rdata_at: usize,
    rdata: &'a [u8],
    /// Offset just past the record.
    end: usize,
}

impl<'a> RawRecord<'a> {
    /// The record at `pos`; its owner name lowercased or as sent.
    fn read(bytes: &'a [u8], pos: usize, lowercase: bool) -> Result<Self, DecodeError> {
        let (owner, after) = read_name_cased(bytes, pos, lowercase)?;
        let rtype = u16_at(bytes, after, "a record's type")?;
        let class = u16_at(bytes, after + 2, "a record's class")?;
        let ttl = u32::from(u16_at(bytes, after + 4, "a record's TTL")?) << 16
            | u32::from(u16_at(bytes, after + 6, "a record's TTL")?);
        let rdlength = u16_at(bytes, after + 8, "a record's rdlength")? as usize;
        let rdata_at = after + 10;
        let Some(rdata) = bytes.get(rdata_at..rdata_at + rdlength) else {
            return fail(
                after + 8,
                format!("rdata of {rdlength} bytes runs past the end"),
            );
        };
        Ok(RawRecord {
            owner,
            rtype,
            class,
            ttl,
            rdata_at,
            rdata,
            end: rdata_at + rdlength,
        })
    }

    /// An A record's address; its rdlength must be 4.
    fn a_data(&self) -> Result<RData, DecodeError> {
        match <[u8; 4]>::try_from(self.rdata) {
            Ok(octets) => Ok(RData::A(octets.into())),
            Err(_) => fail(
                self.rdata_at - 2,
                format!("A record with rdlength {}, not 4", self.rdata.len()),
            ),
        }
    }
}

/// One resource record of a response, its data read for the types DNS-SD
/// uses (RFC 6763); the class's top bit (mDNS cache-flush) is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRecord {
    /// Owner name, without the trailing dot, in the case it was sent
    /// (compare case-insensitively).
    pub name: String,
    pub rtype: u16,
    pub ttl: u32,
    pub data: RData,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RData {
    A(Ipv4Addr),
    Ptr(String),
    Srv {
        port: u16,
        target: String,
    },
    /// The character-strings, as sent (`key=value` or `key`).
    Txt(Vec<Vec<u8>>),
    Other,
}

/// Every record of a response (QR set): answer, authority and additional
/// sections, in order. An mDNS announcement is such a response with no
/// question (RFC 6762 8.3).
pub fn decode_records(bytes: &[u8]) -> Result<Vec<ResourceRecord>, DecodeError> {
    let [_, flags, qdcount, ancount, nscount, arcount] = read_header(bytes)?;
    if flags & QR == 0 {
        return fail(2, "QR is clear: a query, not a response");
    }
    let mut pos = skip_questions(bytes, qdcount)?;
    let count = usize::from(ancount) + usize::from(nscount) + usize::from(arcount);
    let mut out = Vec::new();
    for _ in 0..count {
        let rr = RawRecord::read(bytes, pos, false)?;
        let data = match rr.rtype {
            qtype::A => rr.a_data()?,
            qtype::PTR => RData::Ptr(read_name_cased(bytes, rr.rdata_at, false)?.0),
            qtype::SRV => {
                // priority, weight, port, then the (possibly compressed) target.
                let port = u16_at(bytes, rr.rdata_at + 4, "an SRV record's port")?;
                RData::Srv {
                    port,
                    target: read_name_cased(bytes, rr.rdata_at + 6, false)?.0,
                }
            }
            qtype::TXT => {
                let (mut strings, mut rest) = (Vec::new(), rr.rdata);
                while let Some((&len, tail)) = rest.split_first() {
                    let Some(s) = tail.get(..len as usize) else {
                        return fail(rr.rdata_at, "a TXT character-string runs past its rdata");
                    };
                    strings.push(s.to_vec());
                    rest = &tail[len as usize..];
                }
                RData::Txt(strings)
            }
            _ => RData::Other,
        };
        pos = rr.end;
        out.push(ResourceRecord {
            name: rr.owner,
            rtype: rr.rtype,
            ttl: rr.ttl,
            data,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dns_sd_announcement_reads_as_its_records() {
        // PTR, SRV and TXT of one instance, names compressed.
        let mut m = header(0, QR | AA, [0, 3, 0, 0]);
        push_name(&mut m, "_usp-agt-ws._tcp.local");
        m.extend_from_slice(&qtype::PTR.to_be_bytes());
        m.extend_from_slice(&0x8001u16.to_be_bytes());
        m.extend_from_slice(&120u32.to_be_bytes());
        let instance = b"\x0cproto::agent\xc0\x0c";
        m.extend_from_slice(&(instance.len() as u16).to_be_bytes());
        let instance_at = m.len() as u8;
        m.extend_from_slice(instance);
        m.extend_from_slice(&[0xc0, instance_at]);
        m.extend_from_slice(&qtype::SRV.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m.extend_from_slice(&120u32.to_be_bytes());
        m.extend_from_slice(&8u16.to_be_bytes());
        m.extend_from_slice(&[0, 0, 0, 0, 0x1f, 0x90, 0xc0, 0x0c]);
        m.extend_from_slice(&[0xc0, instance_at]);
        m.extend_from_slice(&qtype::TXT.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m.extend_from_slice(&0u32.to_be_bytes());
        m.extend_from_slice(&8u16.to_be_bytes());
        m.extend_from_slice(b"\x06path=/\x00");
        let records = decode_records(&m).unwrap();
        assert_eq!(records.len(), 3);
        let instance_name = "proto::agent._usp-agt-ws._tcp.local";
        assert_eq!(records[0].data, RData::Ptr(instance_name.into()));
        assert_eq!(records[1].name, instance_name);
        assert_eq!(
            records[1].data,
            RData::Srv {
                port: 8080,
                target: "_usp-agt-ws._tcp.local".into()
            }
        );
        assert_eq!(records[2].ttl, 0);
        assert_eq!(
            records[2].data,
            RData::Txt(vec![b"path=/".to_vec(), Vec::new()])
        );
        for cut in 0..m.len() {
            let _ = decode_records(&m[..cut]);
        }
        assert!(decode_records(&encode_query(1, "a.local")).is_err());
    }

    const NAME: &str = "controller.plugfest.test";
    const ADDRS: [Ipv4Addr; 2] = [Ipv4Addr::new(192, 0, 2, 7), Ipv4Addr::new(192, 0, 2, 8)];

    /// A response to `encode_query(7, NAME)` with the given answer records appended.
    fn hand_response(records: &[&[u8]]) -> Vec<u8> {
        let mut b = encode_query(7, NAME);
        b[2] |= 0x84; // QR, AA
        b[7] = records.len() as u8;
        records.iter().for_each(|r| b.extend_from_slice(r));
        b
    }

    #[test]
    fn query_round_trip() {
        let raw = encode_query(0xbeef, "Controller.PlugFest.Test.");
        let q = decode_query(&raw).unwrap();
        assert_eq!(q.id, 0xbeef);
        assert_eq!(q.flags & RD, RD);
        assert_eq!(
            q.questions,
            vec![Question {
                name: NAME.into(),
                qtype: qtype::A,
                qclass: 1
            }]
        );
        assert_eq!(q.questions[0].describe(), "A controller.plugfest.test");
        let other = Question {
            name: "x".into(),
            qtype: 99,
            qclass: 1,
        };
        assert_eq!(other.describe(), "TYPE99 x");
    }

    #[test]
    fn response_round_trip_and_nxdomain() {
        let raw = encode_query(42, NAME);
        let q = decode_query(&raw).unwrap();
        let resp = encode_response(&q, &raw, rcode::NOERROR, &ADDRS.map(IpAddr::V4), 60);
        assert_eq!(&resp[12..raw.len()], &raw[12..]);
        assert_eq!(
            decode_a_response(&resp, 42, "CONTROLLER.plugfest.test.").unwrap(),
            ADDRS
        );
        assert_eq!(
            decode_a_response(&resp, 42, "other.test").unwrap(),
            Vec::<Ipv4Addr>::new()
        );
        let nx = encode_response(&q, &raw, rcode::NXDOMAIN, &[], 60);
        let err = decode_a_response(&nx, 42, NAME).unwrap_err();
        assert!(err.to_string().contains("NXDOMAIN"), "{err}");
    }

    #[test]
    fn only_first_question_echoed() {
        let mut raw = encode_query(5, NAME);
        raw[5] = 2;
        raw.extend_from_slice(&[1, b'b', 0xc0, 12, 0, 28, 0, 1]); // b.<first name>, AAAA
        let q = decode_query(&raw).unwrap();
        assert_eq!(q.questions[1].name, format!("b.{NAME}"));
        let resp = encode_response(&q, &raw, 0, &[IpAddr::V4(ADDRS[0])], 5);
        assert_eq!(resp[5], 1);
        assert_eq!(decode_a_response(&resp, 5, NAME).unwrap(), ADDRS[..1]);
    }

    #[test]
    fn non_a_record_skipped() {
        let cname: &[u8] = &[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 4, 1, b'x', 0xc0, 12];
        let a: &[u8] = &[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 9];
        let b = hand_response(&[cname, a]);
        assert_eq!(
            decode_a_response(&b, 7, NAME).unwrap(),
            vec![Ipv4Addr::new(192, 0, 2, 9)]
        );
    }

    #[test]
    fn a_rdata_of_five_bytes_is_an_error() {
        let a: &[u8] = &[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 5, 192, 0, 2, 9, 0];
        let err = decode_a_response(&hand_response(&[a]), 7, NAME).unwrap_err();
        assert!(err.what.contains("rdlength 5"), "{err}");
    }

    #[test]
    fn pointer_loops_are_errors() {
        let mut selfp = encode_query(1, "")[..12].to_vec();
        selfp.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(decode_query(&selfp).unwrap_err().offset, 12);
        let mut fwd = encode_query(1, "")[..12].to_vec();
        fwd.extend_from_slice(&[0xc0, 14, 0xc0, 12, 0, 1, 0, 1]);
        assert!(decode_query(&fwd).is_err());
        // a label that runs over its own pointer, pointing back to itself
        let mut back = encode_query(1, "")[..12].to_vec();
        back.extend_from_slice(&[1, b'a', 0xc0, 12, 0, 1, 0, 1]);
        assert!(decode_query(&back).is_err());
        let mut hdr = encode_query(1, "")[..12].to_vec();
        hdr.extend_from_slice(&[0xc0, 2, 0, 1, 0, 1]);
        assert!(decode_query(&hdr).is_err());
    }

    #[test]
    fn prefixes_never_panic() {
        let raw = encode_query(3, NAME);
        let resp = encode_response(
            &decode_query(&raw).unwrap(),
            &raw,
            0,
            &ADDRS.map(IpAddr::V4),
            1,
        );
        for i in 0..raw.len() {
            assert!(decode_query(&raw[..i]).is_err(), "query prefix {i}");
        }
        for i in 0..resp.len() {
            assert!(
                decode_a_response(&resp[..i], 3, NAME).is_err(),
                "response prefix {i}"
            );
        }
    }

    #[test]
    fn refusals() {
        let raw = encode_query(9, NAME);
        let resp = encode_response(
            &decode_query(&raw).unwrap(),
            &raw,
            0,
            &ADDRS.map(IpAddr::V4),
            1,
        );
        assert_eq!(decode_query(&resp).unwrap_err().offset, 2);
        assert!(decode_a_response(&resp, 10, NAME)
            .unwrap_err()
            .what
            .contains("id 9"));
        assert!(decode_a_response(&raw, 9, NAME).is_err());
        let mut long = encode_query(1, "")[..12].to_vec();
        (0..5).for_each(|_| long.extend_from_slice(&[63; 64]));
        long.push(0);
        assert!(decode_query(&long).unwrap_err().what.contains("longer"));
    }
}
