//! nodistro packaging: skeleton, filled in by its issue.

use std::ffi::OsString;

/// Entry point of the `nodistro` host tool. Returns the exit code.
pub fn main_with_args(args: Vec<OsString>) -> i32 {
    let _ = args;
    eprintln!("nodistro: not implemented yet");
    1
}
