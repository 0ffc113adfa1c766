//! The kernel command line and /etc/nodistro.conf from the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nodistro_common::fuzzing::config(data));
