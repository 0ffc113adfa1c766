//! `nodistro-box`: one static binary for all runtime tools, dispatching on
//! the name it was started under (`/init`, `/bin/modload`, ...) like busybox,
//! or on its first argument (`nodistro-box netcfg --oneshot eth0`).

use std::ffi::OsString;
use std::path::Path;

type Entry = fn(Vec<OsString>) -> i32;

const TOOLS: &[(&str, Entry)] = &[
    ("init", nodistro_init::main_with_args),
    ("modload", nodistro_modload::main_with_args),
    ("netcfg", nodistro_netcfg::main_with_args),
    ("logfwd", nodistro_logfwd::main_with_args),
    #[cfg(feature = "console")]
    ("console", nodistro_console::main_with_args),
];

fn lookup(name: &OsString) -> Option<Entry> {
    let base = Path::new(name).file_name()?.to_str()?;
    TOOLS.iter().find(|(n, _)| *n == base).map(|(_, f)| *f)
}

fn main() {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    if let Some(entry) = args.first().and_then(lookup) {
        std::process::exit(entry(args));
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
        "nodistro-box: run me as one of {} (a link with that name, or `nodistro-box TOOL ARGS...`)",
        names.join(", ")
    );
    std::process::exit(2);
}
