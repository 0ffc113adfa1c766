//! `nodistro-box`: one static binary for all runtime tools, dispatching on
//! the name it was started under (`/init`, `/bin/modload`, ...) like busybox,
//! or on its first argument (`nodistro-box netcfg --oneshot eth0`).
//!
//! Each tool is a Cargo feature (all on by default), and the dispatch table
//! below follows the features (the uutils habit): `cargo build -p
//! nodistro-box --no-default-features --features init,netcfg` builds a
//! smaller box holding those two. `nodistro-box --list` prints the tools a
//! box holds, one a line; `nodistro build` asks it and links only those.
//!
//! Adding a tool: its crate exposes `main_with_args(Vec<OsString>) -> i32`;
//! in Cargo.toml add it as an optional dependency and a feature of the same
//! name (and to `default`), the same in libc-free/Cargo.toml (the
//! libc-free build of this file; tests/box_tools checks the two agree);
//! here add ONE entry to [`TOOLS`] and to the `compile_error!` guard:
//! `#[cfg(feature = "NAME")] ("NAME", CRATE::main_with_args),`

// The libc-free build (libc-free/, whose build.rs sets this cfg) links
// eyra's libc, written in Rust, in place of glibc.
#[cfg(nodistro_eyra)]
extern crate eyra;

use std::ffi::OsString;
use std::path::Path;

type Entry = fn(Vec<OsString>) -> i32;

/// The tools this box holds: (name under which it runs, entry point).
const TOOLS: &[(&str, Entry)] = &[
    #[cfg(feature = "init")]
    ("init", nodistro_init::main_with_args),
    #[cfg(feature = "modload")]
    ("modload", nodistro_modload::main_with_args),
    #[cfg(feature = "netcfg")]
    ("netcfg", nodistro_netcfg::main_with_args),
    #[cfg(feature = "logfwd")]
    ("logfwd", nodistro_logfwd::main_with_args),
    #[cfg(feature = "console")]
    ("console", nodistro_console::main_with_args),
    #[cfg(feature = "update")]
    ("update", nodistro_update::main_with_args),
];

#[cfg(not(any(
    feature = "init",
    feature = "modload",
    feature = "netcfg",
    feature = "logfwd",
    feature = "console",
    feature = "update"
)))]
compile_error!(
    "nodistro-box holds no tool: enable at least one of the features init, modload, netcfg, logfwd, console, update"
);

fn lookup(name: &OsString) -> Option<Entry> {
    let base = Path::new(name).file_name()?.to_str()?;
    TOOLS.iter().find(|(n, _)| *n == base).map(|(_, f)| *f)
}

fn main() {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    if let Some(entry) = args.first().and_then(lookup) {
        std::process::exit(entry(args));
    }
    if args.get(1).is_some_and(|a| a == "--list") {
        // What `nodistro build` reads to link the tools: one name a line.
        let list: String = TOOLS.iter().map(|(n, _)| format!("{n}\n")).collect();
        print!("{list}");
        std::process::exit(0);
    }
    // `nodistro-box TOOL ARGS...`
    if args.len() >= 2 {
        if let Some(entry) = lookup(&args[1]) {
            args.remove(0);
            std::process::exit(entry(args));
        }
    }
    let names: Vec<&str> = TOOLS.iter().map(|(n, _)| *n).collect();
    eprintln!(
        "nodistro-box: run me as one of {} (a link with that name, or `nodistro-box TOOL ARGS...`; --list prints them)",
        names.join(", ")
    );
    std::process::exit(2);
}
