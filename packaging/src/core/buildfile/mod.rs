//! The build file's sans-IO parts: its TOML subset ([`parse`]) and its
//! keys, the flags' names ([`keys`]).

pub mod keys;
pub mod parse;
