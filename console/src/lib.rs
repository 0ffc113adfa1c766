//! console: the debug console of a nodistro machine. With
//! `init.debug=console` init runs it on the console device, supervised like
//! a helper: a `# ` prompt with built-in bring-up commands (`help` lists
//! them). It gives root to whoever holds the serial line.
//!
//! - [`core`] (its own directory, sans-IO): `editor` the line editor
//!   (backspace, Ctrl-C, Ctrl-U), `command` words to commands, `procfs`,
//!   `files`, `devices`, `net`, `kmsg`, `icmp`, `report` each command's
//!   text from file contents, `paths` where netcfg and logfwd keep what
//!   the console reads (their directories from the configuration they
//!   read), `width` lines fit or wrapped to the 80 columns.
//! - [`fuzzing`]: every parser of outside bytes in one function (fuzz target).
//! - [`gather`]: reading /proc, /sys, /dev/kmsg, netlink (the IO).
//! - [`shell`]: the terminal, the prompt loop, the commands' IO.
//!
//! `console --report` prints the bring-up report once (init runs it at the
//! end of the boot when the console is on).
//!
//! The control protocol with init: the console writes `continue`,
//! `poweroff` or `reboot` lines on its readiness fd (`NODISTRO_READY_FD`).

pub mod core;
pub mod fuzzing;
pub mod gather;
pub mod shell;

use std::ffi::OsString;

pub use crate::core::width::{fit, WIDTH};

/// Entry point shared by the standalone binary and the multicall binary.
pub fn main_with_args(args: Vec<OsString>) -> i32 {
    match args.get(1).and_then(|a| a.to_str()) {
        None => shell::run(),
        Some("--report") => {
            let text = crate::core::report::report(&gather::facts_for_report().as_facts());
            shell::print_stdout(&text);
            0
        }
        Some("--help") => {
            println!("usage: console [--report]\nthe debug console (init.debug=console); --report prints the bring-up report");
            0
        }
        Some(other) => {
            eprintln!("console: unknown argument {other:?}; usage: console [--report]");
            2
        }
    }
}
