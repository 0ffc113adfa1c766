//! The console's sans-IO core: the line editor, words to commands, and
//! each command's text from the bytes the shell gathered (/proc, /sys,
//! kmsg, rtnetlink, ICMP), the other tools' paths from the configuration,
//! the 80 columns.
//! No system call, no clock (source_invariants checks this directory).

pub mod command;
pub mod devices;
pub mod editor;
pub mod files;
pub mod icmp;
pub mod kmsg;
pub mod net;
pub mod paths;
pub mod procfs;
pub mod report;
pub mod width;
