//! init: the PID 1 of a nodistro machine.
//!
//! - [`config`]: typed configuration (file + kernel command line), sans-IO.
//! - [`policy`]: the supervisor state machine (start order, readiness
//!   waits, restart backoff, exit policy, shutdown order), sans-IO.
//! - [`supervise`]: the event loop around it (signalfd, waitpid, poll).
//! - [`vm`]: kernel-only steps (mounts, console, `lo`, host name, reboot).
//! - [`appliance`]: state features the loop drives: data disks
//!   ([`mounts`] parses `init.mount`, [`datadisk`] mounts and unmounts),
//!   health checks ([`health`] decides, [`checks`] runs one), the
//!   hardware [`watchdog`], per-instance settings ([`metadata`]: NoCloud
//!   seed, IMDSv2).
//!
//! Two modes: on a machine (PID 1, no `--namespace`; [`machine`]) the
//! kernel's extra bare words are appended to the app's arguments; `init
//! --namespace -- APP [ARGS...]` ([`namespace`]) runs as PID 1 of a PID
//! namespace or container, skips the kernel-only steps and exits with the
//! app's status. [`helpers`] builds the commands both hand the supervisor.

pub mod appliance;
pub mod buttons;
pub mod checks;
pub mod core;
// The core's modules by their old paths.
pub use self::core::{config, health, policy, signals, startorder};
pub mod datadisk;
pub mod debug;
pub mod execfail;
pub mod fuzzing;
pub mod helpers;
pub mod machine;
pub mod metadata;
pub mod mounts;
pub mod namespace;
pub mod supervise;
mod sys;
pub mod vm;
pub mod watchdog;

use std::ffi::OsString;

/// Entry point shared by the standalone binary and the multicall binary.
/// `args[0]` is the program name. Returns the process exit code.
pub fn main_with_args(args: Vec<OsString>) -> i32 {
    let pid1 = rustix::process::getpid().is_init();
    let ns = args.get(1).is_some_and(|a| a == "--namespace");
    if pid1 && !ns && args.get(1).is_none_or(|a| a != "--help") {
        machine::run(
            args.iter()
                .skip(1)
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
        )
    } else {
        namespace::run(args)
    }
}
