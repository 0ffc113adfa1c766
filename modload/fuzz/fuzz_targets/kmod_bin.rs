//! Fuzz target: one of depmod's binary indexes (modules.*.bin): exact and wildcard searches, the dump, a rewrite. None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nodistro_modload::fuzzing::kmod_bin(data));
