//! Response heads into the HTTP head parser init and update share.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nodistro_common::fuzzing::http_head(data));
