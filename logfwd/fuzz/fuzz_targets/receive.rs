//! Everything a local sender or the kernel can hand logfwd: a /dev/log
//! datagram (parsed, then written in every format) and a /dev/kmsg record.
//! None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nodistro_logfwd::fuzzing::receive_everything(data));
