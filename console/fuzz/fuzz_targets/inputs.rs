//! Everything outside the console hands it: typed bytes, /proc and /sys
//! text, kmsg records, an rtnetlink address dump, ICMP packets, netcfg's
//! state file, the boot timeline. None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nodistro_console::fuzzing::inputs(data));
