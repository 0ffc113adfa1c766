//! Fuzz target: kmod's text index files (modules.dep, .alias, .softdep, .builtin, .builtin.modinfo split at 0xFF): lookups, plans, the subset writer. None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nodistro_modload::fuzzing::text_index(data));
