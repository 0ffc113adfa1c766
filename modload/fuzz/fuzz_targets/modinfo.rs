//! Fuzz target: a module file's .modinfo section. None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nodistro_modload::fuzzing::modinfo(data));
