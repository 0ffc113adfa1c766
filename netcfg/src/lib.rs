//! netcfg: DHCPv4 client and static `ip=` configuration.

pub mod dhcp;
pub mod frame;
pub mod ipconf;
pub mod lease;

use std::ffi::OsString;

/// Entry point shared by the standalone binary and the multicall binary.
/// `args[0]` is the program name. Returns the process exit code.
pub fn main_with_args(args: Vec<OsString>) -> i32 {
    let _ = args;
    eprintln!("netcfg: not implemented yet");
    1
}
