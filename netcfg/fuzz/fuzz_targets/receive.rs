//! Everything a hostile peer can hand netcfg: a raw frame into the client in
//! each receiving state, the same bytes as a bare DHCP payload, an rtnetlink
//! reply, and (as text) an `ip=` value. None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nodistro_netcfg::fuzzing::receive_everything(data));
