//! Signed A/B updates (issue 24).
//!
//! A `--format disk` image holds two UKI slots on its ESP; a release is a
//! UKI and a [`core::manifest`] signed with an ed25519 key whose public half
//! the image carries. The `update` tool pulls a newer release into the
//! inactive slot and reboots into it once (UEFI BootNext); init blesses it
//! (BootOrder) after the app stayed healthy, or the firmware falls back.

pub mod core;

/// The image file holding the trust root (an SPKI PEM).
pub const KEY_FILE: &str = "/etc/nodistro/update.pub";

/// `update`: check for, fetch and install releases.
pub fn main_with_args(_args: Vec<std::ffi::OsString>) -> i32 {
    0
}
