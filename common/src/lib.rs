//! Pieces every nodistro runtime tool shares.
//!
//! - [`bootlog`]: the boot's stages read back from console text.
//! - [`atomic_file`]: replace a file through a temporary and a rename.
//! - [`blkid`]: filesystem superblock probes (type, label, UUID), sans-IO.
//! - [`civil`]: calendar dates from day counts and back.
//! - [`cli`]: the argh prelude of every `main_with_args`.
//! - [`cmdline`]: the kernel command line, parsed with the kernel's own
//!   quoting rules.
//! - [`config`]: `/etc/nodistro.conf` (written by the packager) merged with
//!   command-line overrides. The same `key=value` names are used in both.
//! - [`fuzzing`]: fuzz harnesses and the stable corpus runner.
//! - [`netlink`]: the rtnetlink encoder, ack parser and request socket.
//! - [`hosts`]: `/etc/hosts` with the host name lines kept true.
//! - [`timeline`]: console lines stamped with milliseconds since boot.
//! - [`report`]: one-line error chains for `main`.
//! - [`sys`]: file descriptors handed down by init (readiness, app pipes);
//!   blocked signals read from a signalfd.
//! - [`syscall`]: the raw system calls rustix does not wrap (signal mask,
//!   signalfd, packet-socket options), so no tool calls a C library.
//! - [`signal`]: signal numbers (from rustix) as plain `i32` constants.

pub mod atomic_file;
pub mod blkid;
pub mod bootlog;
pub mod civil;
pub mod cli;
pub mod cmdline;
pub mod config;
pub mod fsmodule;
pub mod fuzzing;
pub mod hosts;
pub mod netlink;
pub mod report;
pub mod signal;
pub mod sys;
pub mod syscall;
pub mod timeline;

pub use cmdline::Cmdline;
pub use config::Config;

/// Where the packager writes the configuration and where the tools read it.
pub const CONFIG_PATH: &str = "/etc/nodistro.conf";

/// Environment variable naming the fd a helper writes its readiness line to.
pub const READY_FD_ENV: &str = "NODISTRO_READY_FD";
/// Environment variable naming the fd carrying the app's stdout (read end).
pub const APP_STDOUT_FD_ENV: &str = "NODISTRO_APP_STDOUT_FD";
/// Environment variable naming the fd carrying the app's stderr (read end).
pub const APP_STDERR_FD_ENV: &str = "NODISTRO_APP_STDERR_FD";
/// Environment variable carrying the app's name (for log records).
pub const APP_NAME_ENV: &str = "NODISTRO_APP_NAME";
/// Environment variable naming a file that exists once the drivers are
/// settled (modload's coldplug is done, or init stopped waiting for it).
/// init gives it to netcfg when both start together (the overlapped boot).
pub const COLDPLUG_FILE_ENV: &str = "NODISTRO_COLDPLUG_FILE";

/// The multicall binary's file name in the image.
pub const MULTICALL_NAME: &str = "nodistro-box";

/// Present while this boot is the trial of a fresh update (the `update`
/// tool makes it, and removes it once the slot is blessed): init then
/// reboots instead of restarting a failed app, so the firmware goes back
/// to the previous slot.
pub const TRIAL_FILE: &str = "/run/nodistro/update-trial";
/// The word the `update` tool reports once it knows what this boot is
/// (and made [`TRIAL_FILE`] if it is a trial): the app starts after it.
pub const UPDATE_READY_WORD: &str = "checked";
