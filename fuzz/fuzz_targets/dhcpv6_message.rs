#![no_main]
//! See usp_plugfest::fuzz_entry::dhcpv6_message.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| usp_plugfest::fuzz_entry::dhcpv6_message(data));
