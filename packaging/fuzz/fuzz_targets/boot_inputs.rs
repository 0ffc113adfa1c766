//! What nodistro reads from files a user names for boot images: a kernel's
//! setup header, an EFI stub taking sections, an image whose kind `run
//! --image` tells. None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nodistro_packaging::fuzzing::boot_inputs(data));
