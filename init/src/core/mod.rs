//! init's sans-IO core: the typed configuration, the bring-up switches
//! (`debug`), readiness lines (`readiness`), power buttons (`buttons`),
//! the supervisor's policy
//! (start order, readiness, backoff, exit policy, shutdown order), what
//! each signal means, and the health checks' state. Fed values and time;
//! no system calls, no clock (source_invariants checks the directory).

pub mod buttons;
pub mod config;
pub mod debug;
pub mod health;
pub mod policy;
pub mod readiness;
pub mod signals;
pub mod startorder;
