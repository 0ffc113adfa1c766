//! rtnetlink replies into the ack parser netcfg and init share.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nodistro_common::fuzzing::netlink_ack(data));
