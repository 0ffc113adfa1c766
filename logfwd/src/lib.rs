//! logfwd: collects kernel (/dev/kmsg), syslog (/dev/log) and app
//! (stdout/stderr pipes) records and forwards them to the console, a
//! bounded ring and a remote syslog server (UDP, or TCP with RFC 6587
//! octet counting), never blocking the producers.

pub mod format;
pub mod kmsg;
pub mod lines;
pub mod queue;
pub mod record;
pub mod syslog;

use std::ffi::OsString;

/// Entry point shared by the standalone binary and the multicall binary.
/// `args[0]` is the program name. Returns the process exit code.
pub fn main_with_args(args: Vec<OsString>) -> i32 {
    let _ = args;
    eprintln!("logfwd: not implemented yet");
    1
}
