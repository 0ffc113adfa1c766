//! logfwd's syslog input into its harness (see logfwd/src/fuzzing.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nodistro_logfwd::fuzzing::syslog(data));
