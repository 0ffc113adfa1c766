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
//! - [`http`]: the HTTP/1.1 response head init's metadata client and the
//!   update tool read, sans-IO.
//! - [`netlink`]: the rtnetlink encoder, ack parser and request socket.
//! - [`hosts`]: `/etc/hosts` with the host name lines kept true.
//! - [`protocol`]: every contract between the tools (readiness words,
//!   environment names, the files one writes and another reads, shared
//!   configuration keys).
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
pub mod http;
pub mod netlink;
pub mod protocol;
pub mod report;
pub mod signal;
pub mod sys;
pub mod syscall;
pub mod timeline;

pub use cmdline::Cmdline;
pub use config::Config;

// The contracts' old names, kept for the crates that use them.
pub use protocol::env::{
    APP_NAME as APP_NAME_ENV, APP_STDERR_FD as APP_STDERR_FD_ENV,
    APP_STDOUT_FD as APP_STDOUT_FD_ENV, COLDPLUG_FILE as COLDPLUG_FILE_ENV,
    READY_FD as READY_FD_ENV,
};
pub use protocol::ready::CHECKED as UPDATE_READY_WORD;
pub use protocol::update::TRIAL_FILE;
pub use protocol::{CONFIG_PATH, MULTICALL_NAME};
