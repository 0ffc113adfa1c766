//! `nodistro build`: skeleton, filled in by its issue.

use argh::FromArgs;

/// build an initramfs
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "build")]
pub struct BuildArgs {}

/// Run the subcommand; returns the exit code.
pub fn main(args: BuildArgs) -> i32 {
    let _ = args;
    eprintln!("nodistro build: not implemented yet");
    1
}
