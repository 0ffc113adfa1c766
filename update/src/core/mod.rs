//! The sans-IO core: formats and decisions, fed bytes, no system calls.

pub mod efi;
pub mod gpt;
pub mod http;
pub mod keys;
pub mod layout;
pub mod manifest;
pub mod slots;
