//! `nodistro ls`: skeleton, filled in by its issue.

use argh::FromArgs;

/// list an initramfs archive
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "ls")]
pub struct LsArgs {}

/// Run the subcommand; returns the exit code.
pub fn main(args: LsArgs) -> i32 {
    let _ = args;
    eprintln!("nodistro ls: not implemented yet");
    1
}
