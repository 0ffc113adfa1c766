//! Superblocks, `init.mount` values and kernel log records: none may panic
//! init.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nodistro_init::fuzzing::state_inputs(data));
