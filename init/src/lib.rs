//! init: skeleton, filled in by its issue.

use std::ffi::OsString;

/// Entry point shared by the standalone binary and the multicall binary.
/// `args[0]` is the program name. Returns the process exit code.
pub fn main_with_args(args: Vec<OsString>) -> i32 {
    let _ = args;
    eprintln!("init: not implemented yet");
    1
}
