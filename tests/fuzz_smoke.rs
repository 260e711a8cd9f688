//! The fuzz targets (src/fuzz_entry.rs, run for long by `cargo fuzz`, see
//! fuzz/README.md) as an ordinary test: each gets its seed corpus
//! (fuzz/corpus/<target>/) plus deterministic pseudo-random mutations of it.
//! Cheap enough for every CI run; a panic names the target and the input.

use std::path::{Path, PathBuf};

use usp_plugfest::fuzz_entry::TARGETS;

/// Mutated inputs per target (the YAML parsers are slower: fewer).
const BINARY_RUNS: usize = 10_000;
const YAML_RUNS: usize = 2_000;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir(target))
        .unwrap_or_else(|e| panic!("fuzz/corpus/{target}: {e}"))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

/// xorshift64*: the same inputs on every run, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that tend to matter to parsers: delimiters, length extremes,
/// YAML and path syntax.
const INTERESTING: &[u8] = b"\x00\x01\x7f\x80\xff\n\r:{}[]\"'#&*!|>-.${}=<>,";

/// One to four edits of `input`, sometimes spliced with another seed.
fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(7) {
            0 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] ^= 1 << rng.below(8);
            }
            1 => out.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            2 if at < out.len() => {
                let end = (at + 1 + rng.below(16)).min(out.len());
                out.drain(at..end);
            }
            3 => out.truncate(at),
            4 if !out.is_empty() => {
                // Repeat a slice: nesting, long lines, repeated frames.
                let start = rng.below(out.len());
                let end = (start + 1 + rng.below(64)).min(out.len());
                let piece = out[start..end].to_vec();
                for _ in 0..=rng.below(8) {
                    out.splice(at..at, piece.iter().copied());
                }
            }
            5 if !other.is_empty() => {
                let from = rng.below(other.len());
                out.truncate(at);
                out.extend_from_slice(&other[from..]);
            }
            _ => {
                let i = at.min(out.len());
                out.insert(i, rng.next() as u8);
            }
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn every_fuzz_target_survives_its_corpus_and_mutations() {
    let mut ran = Vec::new();
    for (name, entry) in TARGETS {
        let seeds = seeds(name);
        assert!(!seeds.is_empty(), "no seeds for {name}");
        let runs = if name.ends_with("yaml") {
            YAML_RUNS
        } else {
            BINARY_RUNS
        };
        let mut rng = Rng(0x5eed_0000 ^ name.len() as u64 ^ (name.as_bytes()[0] as u64) << 32);
        let inputs = seeds.iter().cloned().chain((0..runs).map(|_| {
            let a = &seeds[rng.below(seeds.len())];
            let b = &seeds[rng.below(seeds.len())];
            mutate(&mut rng, a, b)
        }));
        let mut count = 0;
        for input in inputs {
            let outcome = std::panic::catch_unwind(|| entry(&input));
            assert!(
                outcome.is_ok(),
                "fuzz target {name} panicked on input (hex) {}\nadd it to fuzz/corpus/{name}/ once fixed",
                hex(&input)
            );
            count += 1;
        }
        ran.push(format!("{name}: {count}"));
    }
    eprintln!("fuzz smoke inputs run: {}", ran.join(", "));
}

/// The negative twin: the harness above does report a panicking target.
#[test]
fn a_panicking_target_is_caught() {
    let entry = |data: &[u8]| assert!(!data.contains(&b'!'), "boom");
    let outcome = std::panic::catch_unwind(|| entry(b"a!"));
    assert!(outcome.is_err());
}

/// Regenerates the binary seeds (encoded Records, Msgs, STOMP and UDS
/// frames) from the crate's own encoders: `cargo test --test fuzz_smoke --
/// --ignored`. The text seeds are hand-written files.
#[test]
#[ignore]
fn write_binary_seeds() {
    use usp_plugfest::mtp::uds::frame::{encode, Tlv};
    use usp_plugfest::usp::proto::msg::{request::ReqType, Get};
    use usp_plugfest::usp::{msg, record};

    let get = msg::request(
        "seed-1",
        ReqType::Get(Get {
            param_paths: vec!["Device.DeviceInfo.".into()],
            max_depth: 0,
        }),
    );
    let get_record = record::no_session("proto::ctrl", "proto::agent", &get);
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    };
    use prost::Message;
    write("msg_decode", "get", &get.encode_to_vec());
    write("record_decode", "get", &record::encode(&get_record));
    write(
        "record_decode",
        "ws-connect",
        &record::encode(&record::websocket_connect("proto::agent", "proto::ctrl")),
    );
    write(
        "record_decode",
        "disconnect",
        &record::encode(&record::disconnect(
            "proto::agent",
            "proto::ctrl",
            7003,
            "bye",
        )),
    );
    write(
        "uds_frames",
        "handshake-record",
        &[
            encode(&[Tlv::Handshake("proto::agent".into())]),
            encode(&[Tlv::Record(record::encode(&get_record))]),
        ]
        .concat(),
    );
    write(
        "uds_frames",
        "error",
        &encode(&[Tlv::Error("going away".into())]),
    );
    let send = usp_plugfest::mtp::stomp::frame::Frame::new("SEND")
        .header("destination", "/queue/usp.agent")
        .header("content-type", "application/vnd.bbf.usp.msg")
        .header("reply-to-dest", "/queue/usp.controller")
        .body_with_length(&record::encode(&get_record));
    write("stomp_frames", "send", &send.encode());
    let connected = usp_plugfest::mtp::stomp::frame::Frame::new("CONNECTED")
        .header("version", "1.2")
        .header("heart-beat", "0,5000")
        .header("subscribe-dest", "/queue/a\\cb");
    write(
        "stomp_frames",
        "connected-heartbeats",
        &[&connected.encode()[..], b"\n\r\n"].concat(),
    );
    use usp_plugfest::discovery::dhcp::{
        code, dns, encode_vendor_class, MessageType, Packet, UspOptions,
    };
    let mut discover = Packet::request(MessageType::Discover, 7, [2, 0, 0, 0, 0, 1]);
    discover.set_option(code::VENDOR_CLASS, encode_vendor_class(3561, &[b"usp"]));
    discover.set_option(code::PARAMETER_REQUEST_LIST, vec![1, 6, 125]);
    write("dhcp_packet", "discover-usp", &discover.encode());
    let mut offer = Packet::reply_to(&discover, MessageType::Offer, [10, 0, 0, 2].into());
    let usp = UspOptions {
        controller_url: Some("ws://10.0.0.1:8080/usp".into()),
        provisioning_code: Some("code".into()),
        controller_endpoint_id: Some("proto::ctrl".into()),
        ..Default::default()
    };
    offer.set_option(code::VENDOR_SPECIFIC, usp.encode(true).unwrap());
    write("dhcp_packet", "offer-125", &offer.encode());
    {
        use usp_plugfest::discovery::dhcp::v6::{code, duid_ll, IaNa, Kind, Message, VendorClass};
        let mut solicit = Message::new(Kind::Solicit, [1, 2, 3]);
        solicit.set_option(code::CLIENT_ID, duid_ll([2, 0, 0, 0, 0, 1]));
        solicit.set_option(code::IA_NA, IaNa::default().encode());
        solicit.set_option(code::ORO, vec![0, 17, 0, 23]);
        solicit.add_option(code::VENDOR_CLASS, VendorClass::encode(3561, &[b"usp"]));
        write("dhcpv6_message", "solicit-usp", &solicit.encode());
        let mut reply = Message::new(Kind::Reply, [1, 2, 3]);
        reply.set_option(code::SERVER_ID, duid_ll([2, 0, 0, 0, 0, 2]));
        reply.set_option(
            code::IA_NA,
            IaNa {
                iaid: 1,
                addresses: vec![("fd00::100".parse().unwrap(), 3600, 7200)],
                status: Some((0, "ok".into())),
                ..Default::default()
            }
            .encode(),
        );
        reply.add_option(code::VENDOR_OPTS, usp.encode_v6(true));
        reply.set_option(code::DNS_SERVERS, [0xfd; 16].to_vec());
        write("dhcpv6_message", "reply-17", &reply.encode());
    }
    use usp_plugfest::fuzz_entry::{TLS12_IV, TLS12_KEY};
    use usp_plugfest::usp::e2e::tls12_records::{self as tls, Direction};
    let mut tx = Direction::new(&TLS12_KEY, &TLS12_IV, 0).unwrap();
    let mut answer = tx.seal(tls::ALERT, &[1, tls::NO_RENEGOTIATION]);
    answer.extend(tx.seal(tls::APPLICATION_DATA, b"a GetResp Msg"));
    write("tls12_records", "alert-then-data", &answer);
    let mut tx = Direction::new(&TLS12_KEY, &TLS12_IV, 0).unwrap();
    let mut flight = vec![tls::HANDSHAKE, 3, 3, 0, 4, 16, 0, 0, 0];
    flight.extend([tls::CHANGE_CIPHER_SPEC, 3, 3, 0, 1, 1]);
    flight.extend(tx.seal(tls::HANDSHAKE, &[&[20, 0, 0, 12][..], &[7; 12]].concat()));
    write("tls12_records", "finished-flight", &flight);
    let query = dns::encode_query(0x41, "controller.plugfest.test");
    write("dns_message", "query-a", &query);
    let q = dns::decode_query(&query).unwrap();
    write(
        "dns_message",
        "response-a",
        &dns::encode_response(
            &q,
            &query,
            0,
            &[std::net::Ipv4Addr::new(10, 0, 0, 1).into()],
            60,
        ),
    );
}
