//! Entry points for the fuzz targets (fuzz/) and tests/fuzz_smoke.rs: each
//! takes arbitrary bytes as they would arrive from an Agent, a broker or a
//! person's file, drives one pure parser, and must return without
//! panicking whatever the bytes are. Errors are fine; panics are bugs.

use std::path::Path;
use std::sync::OnceLock;

use prost::Message;

use crate::agent::model::Model;
use crate::agent::{path, resolve};
use crate::datamodel::Profiles;
use crate::mtp::{stomp, uds};
use crate::usp::proto::msg::Msg;
use crate::usp::record;

/// A Record from an Agent: decode, take its Msg, describe both for the
/// trace (what the harness does with every received Record).
pub fn record_decode(data: &[u8]) {
    if let Ok(r) = record::decode(data, None) {
        let _ = crate::trace::describe_record(&r);
        if let Ok(msg) = record::payload_msg(&r) {
            let _ = crate::trace::describe_msg(&msg);
        }
        // What we decoded, we can encode again.
        let _ = record::decode(&record::encode(&r), None);
    }
}

/// A Msg on its own (the payload of a Record).
pub fn msg_decode(data: &[u8]) {
    if let Ok(msg) = Msg::decode(data) {
        let _ = crate::trace::describe_msg(&msg);
        let _ = crate::usp::msg::body_type(&msg);
        let _ = crate::usp::msg::header_type(&msg);
    }
}

/// Cuts `data` into pieces at the sizes its first byte suggests, as a
/// socket would deliver them; every piece at least one byte.
fn chunks(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let size = data.first().map_or(1, |b| usize::from(*b % 64) + 1);
    data.chunks(size)
}

/// STOMP frames arriving in pieces (R-STOMP: the broker's byte stream).
pub fn stomp_frames(data: &[u8]) {
    let mut decoder = stomp::frame::Decoder::new(64 * 1024);
    for piece in chunks(data) {
        decoder.push(piece);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    let _ = frame.get("content-type");
                    let _ = frame.encode();
                }
                Ok(None) => break,
                Err(_) => return, // the connection would be closed
            }
        }
        let _ = decoder.take_heartbeats();
    }
}

/// UDS frames (sync bytes, length, TLVs) arriving in pieces.
pub fn uds_frames(data: &[u8]) {
    let mut decoder = uds::frame::Decoder::new();
    for piece in chunks(data) {
        decoder.push(piece);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    let _ = uds::frame::encode(&frame.tlvs);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
    let _ = decoder.finish();
}

fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| Model::new("proto::fuzz-agent"))
}

/// A path or search expression as a Controller may send it, parsed both
/// ways and resolved against the reference Agent's data model.
pub fn path_expression(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = path::parse(text, false);
        let _ = path::parse(text, true);
        let _ = resolve::resolve(model(), text);
    }
}

fn profiles() -> &'static Profiles {
    static PROFILES: OnceLock<Profiles> = OnceLock::new();
    PROFILES.get_or_init(Profiles::builtin)
}

/// A test-case file as a person writes it.
pub fn case_yaml(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::suite::loader::load_str(Path::new("fuzz.yaml"), text, profiles());
    }
}

/// A target file as a person writes it.
pub fn target_yaml(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::target::Target::parse(text, "fuzz.yaml");
    }
}

/// A DHCPv4 message from the link under test: decoded, its USP options
/// read, described for the report, encoded again (the harness's server
/// and the reference Agent's client).
pub fn dhcp_packet(data: &[u8]) {
    use crate::discovery::dhcp::{code, decode_vendor_class, Packet, UspOptions};
    if let Ok(p) = Packet::decode(data) {
        let _ = p.message_type();
        let _ = p.client_hw();
        if let Some(v) = p.option(code::VENDOR_CLASS) {
            if let Ok(classes) = decode_vendor_class(&v) {
                let _ = classes.iter().map(|c| (c.is_usp(), c.describe())).count();
            }
        }
        if let Some(v) = p.option(code::VENDOR_SPECIFIC) {
            if let Ok(usp) = UspOptions::decode(&v) {
                let _ = usp.describe();
                let _ = usp.encode(true);
            }
        }
        let _ = Packet::decode(&p.encode());
    }
}

/// A DHCPv6 message from the link under test: decoded, its vendor class,
/// USP options, IA_NA and DNS servers read and described, answered by the
/// harness's server logic, encoded again.
pub fn dhcpv6_message(data: &[u8]) {
    use crate::discovery::dhcp::v6;
    if let Ok(m) = v6::Message::decode(data) {
        let _ = (m.to_string(), m.client_duid(), m.names_usp(), m.status());
        let _ = v6::describe_vendor_classes(&m);
        if let Some(Ok(usp)) = m.usp_options() {
            let _ = (usp.describe(), usp.encode_v6(true));
        }
        if let Some(Ok(ia)) = m.ia_na() {
            let _ = v6::IaNa::decode(&ia.encode());
        }
        let _ = m.dns_servers();
        let _ = crate::discovery::dhcp::server::answer_v6_for_fuzzing(&m);
        let _ = v6::Message::decode(&m.encode());
    }
}

/// A DNS datagram: as a query to the harness's responder (answered), as a
/// response to the reference Agent's A query, and as an mDNS response.
pub fn dns_message(data: &[u8]) {
    use crate::discovery::dhcp::dns;
    if let Ok(q) = dns::decode_query(data) {
        let _ = q.questions.iter().map(dns::Question::describe).count();
        let addr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
        let _ = dns::decode_query(&dns::encode_response(&q, data, 0, &[addr], 60));
    }
    let id = data.first().map_or(0, |b| u16::from(*b));
    let _ = dns::decode_a_response(data, id, "controller.plugfest.test");
    // As an mDNS response heard on loopback (expect_mdns_announcement).
    if let Ok(records) = dns::decode_records(data) {
        let _ = records.iter().map(|r| format!("{r:?}")).count();
    }
}

/// The key and nonce base the `tls12_records` seeds are sealed with.
pub const TLS12_KEY: [u8; 16] = [0x42; 16];
pub const TLS12_IV: [u8; 12] = [0x24; 12];

/// TLS 1.2 records from an Agent once the harness runs the session by hand
/// (after a renegotiation request): decrypted under the seeds' key, every
/// record's content described; the same bytes read as a handshake flight
/// holding the client's Finished.
pub fn tls12_records(data: &[u8]) {
    use crate::usp::e2e::tls12_records::{client_finished, split, Control, Direction, Plain};
    let describe = |p: &Plain| Control::of(p).iter().map(|c| c.to_string()).count();
    if let Ok(mut rx) = Direction::new(&TLS12_KEY, &TLS12_IV, 0) {
        if let Ok(plain) = rx.open(data) {
            let _ = plain.iter().map(describe).count();
        }
    }
    if let Ok(records) = split(data) {
        for (content_type, fragment) in records {
            describe(&Plain {
                content_type,
                data: fragment.to_vec(),
            });
        }
    }
    let _ = client_finished(data, &TLS12_KEY, &TLS12_IV);
}

/// Every target by the name fuzz/ and tests/fuzz_smoke.rs use for it.
pub const TARGETS: [(&str, fn(&[u8])); 11] = [
    ("record_decode", record_decode),
    ("msg_decode", msg_decode),
    ("stomp_frames", stomp_frames),
    ("uds_frames", uds_frames),
    ("path_expression", path_expression),
    ("case_yaml", case_yaml),
    ("target_yaml", target_yaml),
    ("dhcp_packet", dhcp_packet),
    ("dhcpv6_message", dhcpv6_message),
    ("dns_message", dns_message),
    ("tls12_records", tls12_records),
];
