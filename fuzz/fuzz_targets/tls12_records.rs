#![no_main]
//! See usp_plugfest::fuzz_entry::tls12_records.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| usp_plugfest::fuzz_entry::tls12_records(data));
