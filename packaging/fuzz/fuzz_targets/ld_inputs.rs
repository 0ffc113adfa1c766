//! A host's /etc/ld.so.cache and library files into the readers
//! `nodistro build --allow-dynamic` uses. None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nodistro_packaging::fuzzing::ld_inputs(data));
