//! QEMU's sans-IO part: when a run stops ([`stop`]).

pub mod stop;
