//! Fuzz target: a modprobe.d configuration file. None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nodistro_modload::fuzzing::modprobe_d(data));
