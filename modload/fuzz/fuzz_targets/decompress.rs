//! Fuzz target: a compressed module for the gzip, xz and zstd decoders, bounded. None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nodistro_modload::fuzzing::decompressors(data));
