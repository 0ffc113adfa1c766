//! An initramfs image into the cpio reader and `nodistro ls`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nodistro_packaging::fuzzing::cpio(data));
