//! modload: kernel module loading driven by device modaliases, with kmod's
//! lookup rules and no kmod, shell or udev in the image.
//!
//! - [`tree`]: the module index of a `/lib/modules/<version>` directory
//!   (kmod's text files), alias matching, dependency closure, subset index.
//! - [`modinfo`]: a module's own `.modinfo` section.
//! - [`fnmatch`]: kmod's pattern matching and name normalisation.

pub mod fnmatch;
pub mod modinfo;
pub mod tree;

pub use modinfo::{modinfo, ModInfo, ModinfoError};
pub use tree::{ModuleTree, TreeError};

use std::ffi::OsString;

/// Entry point shared by the standalone binary and the multicall binary.
/// `args[0]` is the program name. Returns the process exit code.
pub fn main_with_args(args: Vec<OsString>) -> i32 {
    let _ = args;
    eprintln!("modload: not implemented yet");
    1
}
