//! /etc/nodistro.conf and the kernel command line into init's plan.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| nodistro_init::fuzzing::config(data));
