//! What `nodistro build --from-oci` reads from an image (its JSON
//! documents, a layer blob, the config's user and program) into the
//! readers. None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nodistro_packaging::fuzzing::oci_inputs(data));
