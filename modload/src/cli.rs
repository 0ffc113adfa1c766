//! modload's command line and the run it starts: which modules tree (the
//! running kernel's), then show-depends, or coldplug and the watch
//! ([`crate::session`]). The options are in `args`, the errors in
//! `error`.

use crate::args::{Args, Cmd};
use crate::core::kernel::{self, Check, Missing};
use crate::error::Error;
use crate::session::{log, Ctx};
use std::ffi::OsString;
use std::path::PathBuf;

/// Entry point shared by the standalone binary and the multicall binary.
/// `args[0]` is the program name. Returns the process exit code.
pub fn main_with_args(args: Vec<OsString>) -> i32 {
    let args: Args = match nodistro_common::cli::parse("modload", args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    match run(args) {
        Ok(code) => code,
        Err(e) => nodistro_common::report::fail("modload", &e, 1),
    }
}

/// Where the modules tree is, or that the image has none.
enum Located {
    Tree(PathBuf),
    BuiltinOnly,
}

/// The tree of the kernel asked for (the running one by default).
fn locate(args: &Args, running: &str) -> Result<Located, Error> {
    let version = args.kernel_version.clone().unwrap_or(running.to_string());
    let modules_dir = args.root.join("lib/modules");
    let dir = modules_dir.join(&version);
    let loading = !args.dry_run && args.cmd.is_none();
    let explicit = args.kernel_version.is_some();
    match kernel::check(&version, running, loading, explicit, dir.is_dir()) {
        Check::Use => Ok(Located::Tree(dir)),
        Check::OtherKernel => Err(Error::OtherKernel {
            tree: version,
            running: running.to_string(),
        }),
        Check::Missing => {
            let found = std::fs::read_dir(&modules_dir)
                .map(|d| {
                    d.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            match kernel::missing(found, loading) {
                Missing::BuiltinOnly => Ok(Located::BuiltinOnly),
                Missing::Others(found) => Err(Error::NoTree {
                    running: running.to_string(),
                    dir: modules_dir,
                    found,
                }),
            }
        }
    }
}

fn run(args: Args) -> Result<i32, Error> {
    let running = crate::sys::running_release();
    let dir = match locate(&args, &running)? {
        Located::Tree(dir) => dir,
        Located::BuiltinOnly => return Ok(builtin_only(&args, &running)),
    };
    let ctx = Ctx::open(&dir, &args, running)?;
    match &args.cmd {
        Some(Cmd::ShowDepends(sd)) => Ok(ctx.show_depends(&sd.aliases)),
        None => ctx.coldplug_and_watch(&args),
    }
}

/// An image without any modules: say so once, report readiness and stay
/// (nothing to load, nothing to restart).
fn builtin_only(args: &Args, running: &str) -> i32 {
    log(&format!(
        "no kernel modules in this image: kernel {running} uses its built-in drivers only"
    ));
    if !args.watch {
        return 0;
    }
    match nodistro_common::sys::Notifier::from_env() {
        Ok(mut n) => n.notify(nodistro_common::protocol::ready::COLDPLUG_DONE),
        Err(e) => log(&nodistro_common::report::chain(&e)),
    }
    loop {
        std::thread::park();
    }
}
