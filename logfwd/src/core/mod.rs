//! logfwd's sans-IO core: parsers of what the producers write, the
//! formats and framing of what the sinks send, the bounded queue and ring,
//! the options, the kernel position's file text. Bytes and time in, records and bytes out: no system call,
//! no clock (source_invariants checks this directory).

pub mod format;
pub mod kmsg;
pub mod lines;
pub mod options;
pub mod position;
pub mod queue;
pub mod record;
pub mod stall;
pub mod syslog;
