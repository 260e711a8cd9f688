//! `plugfest decode` from the command line: Records made by the library's
//! codec, given as hex, base64 and a raw file, and garbage refused.

mod common;

use base64::Engine as _;
use usp_plugfest::usp::msg;
use usp_plugfest::usp::proto::msg::{request::ReqType, Get};
use usp_plugfest::usp::record::{encode, no_session};

fn record_bytes() -> Vec<u8> {
    let get = msg::request(
        "decode-1",
        ReqType::Get(Get {
            param_paths: vec!["Device.DeviceInfo.SerialNumber".into()],
            max_depth: 0,
        }),
    );
    encode(&no_session("proto::ctl", "proto::agent", &get))
}

fn assert_decoded(stdout: &str) {
    for needle in [
        "NoSessionContextRecord v1.4 proto::ctl -> proto::agent",
        "payload Msg:",
        "msg_id: \"decode-1\"",
        "\"Device.DeviceInfo.SerialNumber\"",
    ] {
        assert!(stdout.contains(needle), "{needle} missing:\n{stdout}");
    }
}

#[test]
fn hex_base64_and_file_give_the_same_readable_record() {
    let bytes = record_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("record.bin");
    std::fs::write(&file, &bytes).unwrap();

    let (code, from_hex, stderr) = common::plugfest_plain(&["decode", &hex]);
    assert_eq!(code, 0, "{stderr}");
    assert_decoded(&from_hex);
    let (code, from_b64, stderr) = common::plugfest_plain(&["decode", &b64]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(from_b64, from_hex);
    let (code, from_file, stderr) =
        common::plugfest_plain(&["decode", "--file", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(from_file, from_hex);
}

#[test]
fn garbage_is_refused_with_a_reason() {
    let (code, stdout, stderr) = common::plugfest_plain(&["decode", "deadbeef"]);
    assert_eq!(code, 2, "{stdout}");
    assert!(stderr.contains("not a USP Record"), "{stderr}");
    assert!(stderr.contains("deadbeef"), "{stderr}");
    // A truncated Record is garbage too.
    let bytes = record_bytes();
    let hex: String = bytes[..bytes.len() - 5]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let (code, _, stderr) = common::plugfest_plain(&["decode", &hex]);
    assert_eq!(code, 2, "{stderr}");
}
