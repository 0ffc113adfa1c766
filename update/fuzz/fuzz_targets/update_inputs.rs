//! Manifests, HTTP heads, URLs, firmware variables, GPTs, hosts and keys
//! from outside: none may panic the update tool.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nodistro_update::fuzzing::update_inputs(data));
