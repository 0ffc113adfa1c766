//! A build file (`nodistro build -f FILE`): TOML a user writes, read into
//! flags, checked and merged with a command line. No panic; what is
//! accepted parses as `nodistro build`'s arguments.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nodistro_packaging::fuzzing::buildfile(data));
