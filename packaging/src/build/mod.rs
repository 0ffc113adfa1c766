//! `nodistro build`: pack the runtime tools, the app, extra files and kernel
//! modules into a reproducible initramfs (cpio newc, gzip/zstd/none).
//!
//! [`args`] holds the flags, [`inputs`] reads and checks what they name,
//! [`assemble`] puts the image together, [`output`] writes the initramfs;
//! the other formats are written by [`crate::bootable`] (uki, disk, iso,
//! rpi) and [`crate::oci::build`] (oci), which this module dispatches to.

pub mod args;
pub mod assemble;
pub mod config;
pub mod error;
pub mod inputs;
pub mod output;

pub use args::{optional_values, BuildArgs};
pub use error::BuildError;

use args::Format;
use inputs::update_key;
use nodistro_common::report;
use output::main_initramfs;

const TOOL: &str = "nodistro build";

/// Run the subcommand; returns the exit code.
pub fn main(args: BuildArgs) -> i32 {
    let start = std::time::Instant::now();
    if let Err(e) = update_key(&args) {
        return report::fail(TOOL, &e, 1);
    }
    let signing = args.sign_key.is_some() || args.sign_cert.is_some();
    if args.format == Format::Oci {
        if signing {
            return nodistro_common::report::fail(
                "nodistro build",
                &crate::sign::SignError::NotUefi,
                1,
            );
        }
        return crate::oci::build::main(&args, start);
    }
    if args.format != Format::Initramfs || args.kernel.is_some() || signing {
        return crate::bootable::main(args, start);
    }
    main_initramfs(&args, start)
}
