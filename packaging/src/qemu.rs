//! `nodistro run`: skeleton, filled in by its issue.

use argh::FromArgs;

/// boot a kernel and initramfs under QEMU
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "run")]
pub struct RunArgs {}

/// Run the subcommand; returns the exit code.
pub fn main(args: RunArgs) -> i32 {
    let _ = args;
    eprintln!("nodistro run: not implemented yet");
    1
}
