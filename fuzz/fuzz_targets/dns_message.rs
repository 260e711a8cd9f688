#![no_main]
//! See usp_plugfest::fuzz_entry::dns_message.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| usp_plugfest::fuzz_entry::dns_message(data));
