//! The sans-IO core: formats and decisions, fed bytes, no system calls.

pub mod keys;
pub mod layout;
pub mod manifest;
