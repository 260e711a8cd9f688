//! Record+Msg encode and decode per second: this harness's codec as the
//! Session and the reference Agent use it (prost for the Msg, the Record
//! written and read in place by `usp::record`, with every check a received
//! Record gets) against the `rusp-lib` crate (quick-protobuf) on the same
//! bytes.
//! `cargo bench --bench codec`; target ratio >= 1.0 (issue #7).

#[allow(dead_code)] // the codec bench uses the interleaved ratio only
mod common;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use usp_plugfest::usp::proto::msg::{
    get_resp, request::ReqType, response::RespType, Get, GetResp, Msg,
};
use usp_plugfest::usp::{msg, record};

const CONTROLLER: &str = "proto::plugfest-controller";
const AGENT: &str = "proto::plugfest-agent";

/// The two Msgs of a DeviceInfo Get: the request and a 16-parameter answer.
fn messages() -> Vec<(&'static str, Msg)> {
    let get = msg::request(
        "plugfest-1764099999999-42",
        ReqType::Get(Get {
            param_paths: vec!["Device.DeviceInfo.".into()],
            max_depth: 0,
        }),
    );
    let params: BTreeMap<String, String> = (0..16)
        .map(|i| {
            (
                format!("Parameter{i}"),
                format!("value of parameter number {i}"),
            )
        })
        .collect();
    let resp = msg::response(
        "plugfest-1764099999999-42",
        RespType::GetResp(GetResp {
            req_path_results: vec![get_resp::RequestedPathResult {
                requested_path: "Device.DeviceInfo.".into(),
                err_code: 0,
                err_msg: String::new(),
                resolved_path_results: vec![get_resp::ResolvedPathResult {
                    resolved_path: "Device.DeviceInfo.".into(),
                    result_params: params,
                }],
            }],
        }),
    );
    vec![("Get", get), ("GetResp", resp)]
}

/// What `Session::send_msg` does: the Msg encoded, the Record written
/// around it.
fn ours_encode(m: &Msg) -> Vec<u8> {
    use prost::Message;
    record::encode_no_session(CONTROLLER, AGENT, &m.encode_to_vec())
}

/// What `Session::classify` does: the Record read in place and checked
/// (protobuf, UTF-8 strings, a known record type, to_id is ours), its Msg
/// decoded and checked (header, body, msg_body present).
fn ours_decode(bytes: &[u8]) -> Msg {
    let r = record::parse(bytes, Some(AGENT)).expect("own bytes decode");
    r.payload_msg().expect("own payload decodes")
}

/// rusp's structures for the same Msg, built by decoding our bytes.
fn rusp_msg(bytes: &[u8]) -> rusp_lib::usp::Msg {
    let r = rusp_lib::usp_decoder::try_decode_record(bytes).expect("rusp decodes our Record");
    match r.record_type {
        rusp_lib::usp_record::mod_Record::OneOfrecord_type::no_session_context(n) => {
            rusp_lib::usp_decoder::try_decode_msg(&n.payload).expect("rusp decodes our Msg")
        }
        _ => panic!("not a NoSessionContext Record"),
    }
}

fn rusp_encode(template: &rusp_lib::usp_record::Record, m: &rusp_lib::usp::Msg) -> Vec<u8> {
    use rusp_lib::usp_record::{mod_Record::OneOfrecord_type, NoSessionContextRecord};
    let mut r = template.clone();
    r.record_type = OneOfrecord_type::no_session_context(NoSessionContextRecord {
        payload: m.to_vec().expect("rusp encodes"),
    });
    r.to_vec().expect("rusp encodes")
}

fn rusp_decode(bytes: &[u8]) -> rusp_lib::usp::Msg {
    rusp_msg(bytes)
}

fn bench(c: &mut Criterion) {
    for (name, m) in messages() {
        let bytes = ours_encode(&m);
        let rusp_m = rusp_msg(&bytes);
        let template = rusp_lib::usp_decoder::try_decode_record(&bytes).unwrap();
        // Same bytes both ways (field order of a map aside): a fair match.
        assert_eq!(ours_decode(&rusp_encode(&template, &rusp_m)), m);
        // The Record written in place is the one prost writes.
        assert_eq!(
            bytes,
            record::encode(&record::no_session(CONTROLLER, AGENT, &m))
        );

        let mut g = c.benchmark_group(format!("codec/{name}"));
        g.bench_function("encode/plugfest", |b| b.iter(|| ours_encode(black_box(&m))));
        g.bench_function("encode/rusp", |b| {
            b.iter(|| rusp_encode(&template, black_box(&rusp_m)))
        });
        g.bench_function("decode/plugfest", |b| {
            b.iter(|| ours_decode(black_box(&bytes)))
        });
        g.bench_function("decode/rusp", |b| b.iter(|| rusp_decode(black_box(&bytes))));
        g.finish();

        let w = Duration::from_millis(200);
        let (o, t, r) = common::interleaved(
            7,
            w,
            &mut || drop(black_box(ours_encode(black_box(&m)))),
            &mut || drop(black_box(rusp_encode(&template, black_box(&rusp_m)))),
        );
        common::print_ratio(&format!("{name} Record+Msg encode vs rusp"), o, t, r, 1.0);
        let (o, t, r) = common::interleaved(
            7,
            w,
            &mut || drop(black_box(ours_decode(black_box(&bytes)))),
            &mut || drop(black_box(rusp_decode(black_box(&bytes)))),
        );
        common::print_ratio(&format!("{name} Record+Msg decode vs rusp"), o, t, r, 1.0);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = bench
}
criterion_main!(benches);
