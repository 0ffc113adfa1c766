//! `nodistro demo`: skeleton, filled in by its issue.

use argh::FromArgs;

/// build the demo image and boot it
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "demo")]
pub struct DemoArgs {}

/// Run the subcommand; returns the exit code.
pub fn main(args: DemoArgs) -> i32 {
    let _ = args;
    eprintln!("nodistro demo: not implemented yet");
    1
}
