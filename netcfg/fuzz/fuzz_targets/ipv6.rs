//! The IPv6 receive path: router advertisements, DHCPv6 messages to a
//! client in each receiving state, and (as text) the IPv6 `ip=` forms.
//! None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nodistro_netcfg::fuzzing::receive_ipv6(data));
