//! `nodistro`, the host-side tool: builds a reproducible initramfs from the
//! runtime tools, the user's app and the kernel modules it needs; lists
//! archives; boots kernel + initramfs under QEMU; runs the demo; publishes
//! signed releases for the update tool.
//!
//! Each subcommand lives in its own module with its own argh struct.

use argh::FromArgs;
use std::ffi::OsString;

pub mod bootable;
pub mod boxtools;
pub mod build;
pub mod buildfile;
pub mod cache;
pub mod chart;
pub mod compress;
pub mod core;
pub mod debkernel;
pub mod debug_console;
pub mod deflate;
pub mod demo;
pub mod drivers;
pub mod dynamic;
pub mod etcfiles;
pub mod fuzzing;
pub mod image;
pub mod iso;
pub mod kernel;
pub mod ls;
pub mod modules;
pub mod oci;
pub mod publish;
pub mod push;
pub mod qemu;
pub mod rpi;
pub mod sign;
pub mod tempout;

// The core's modules by their old paths.
pub use self::core::{
    abdisk, arch, cpio, digest, dynlink, elf, fat, gpt, ldcache, mbr, pe, signcheck, uki,
};

/// nodistro: pack a static app with a Linux kernel's modules and the nodistro
/// runtime tools into a bootable initramfs, and boot it under QEMU.
#[derive(FromArgs, Debug)]
pub struct Cli {
    #[argh(subcommand)]
    pub command: Command,
}

// Parsed once per run: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum Command {
    Build(Box<build::BuildArgs>),
    Ls(ls::LsArgs),
    Run(qemu::RunArgs),
    Demo(demo::DemoArgs),
    Chart(chart::ChartArgs),
    Publish(publish::PublishArgs),
    Update(push::UpdateArgs),
}

/// Entry point of the `nodistro` host tool. Returns the exit code.
pub fn main_with_args(args: Vec<OsString>) -> i32 {
    let args = if args.get(1).is_some_and(|a| a == "build") {
        match buildfile::expand(build::optional_values(args)) {
            Ok(a) => a,
            Err(e) => return nodistro_common::report::fail("nodistro build", &e, 2),
        }
    } else {
        args
    };
    let cli: Cli = match nodistro_common::cli::parse("nodistro", args) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match cli.command {
        Command::Build(a) => build::main(*a),
        Command::Ls(a) => ls::main(a),
        Command::Run(a) => qemu::main(a),
        Command::Demo(a) => demo::main(a),
        Command::Chart(a) => chart::main(a),
        Command::Publish(a) => publish::main(a),
        Command::Update(a) => push::main(a),
    }
}
