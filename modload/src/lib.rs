//! modload: kernel module loading driven by device modaliases, with kmod's
//! lookup rules and no kmod, shell or udev in the image.
//!
//! - [`core`]: the sans-IO codecs, in their own directory: `modinfo`,
//!   `fnmatch`, `kmodbin`, `depmod`, `decompress`, `textfiles`, `depindex`,
//!   `hash`, `queries` (re-exported at the crate root by their old names).
//! - [`tree`]: the module index of a `/lib/modules/<version>` directory
//!   (opening it, module paths and dependencies); around it, one concern a
//!   file: `textfiles` (records of kmod's text files), `depindex`
//!   (modules.dep parsed), `hash` (the name hash), `queries` (a batch of
//!   aliases sorted for prefix search), `lookup` (kmod's lookup rules),
//!   `plan` (dependency closure in load order), `modinfo_scan` (a tree
//!   without depmod's files), `subset` (an image's index files).
//! - [`modinfo`]: a module's own `.modinfo` section.
//! - [`fnmatch`]: kmod's pattern matching and name normalisation.
//! - [`kmodbin`]: kmod's binary index format (depmod's `modules.*.bin`
//!   tries), read and written; `bins` opens a tree's indexes (a missing,
//!   stale, corrupt or foreign one: the text files, with one line saying
//!   why); [`depmod`] makes them from the text files as depmod does.
//! - [`coldplug`]: the devices in /sys, blacklist, alias resolution.
//! - [`load`]: finit_module, parameters, parallel loading.
//! - [`uevent`]: hotplug events.
//! - [`probe`]: `modprobe NAME PARAM=VALUE` and alias matches for the
//!   debug console (a thin entry point over the tree and the loader).
//!
//! Configuration (`/etc/nodistro.conf`, overridden by the kernel command
//! line): `modprobe.blacklist=a,b` and `modload.blacklist=a,b` (kmod's
//! blacklist: alias matches only), `<module>.<param>=<value>` (module
//! parameters, `-` and `_` alike in the module name). kmod's own
//! `/etc/modprobe.d/*.conf` and `/lib/modprobe.d/*.conf` (under `--root`)
//! are read too ([`modprobe_d`]): options (before the command line's),
//! blacklist, alias, softdep.
//!
//! Exit codes: 0 done, 1 a module failed to load (or an alias matched
//! nothing, for `show-depends`) or the tree cannot be used, 2 bad usage.
//! Top-level options go before a subcommand (`modload --root R show-depends ALIAS`).

mod bins;
pub mod coldplug;
pub mod core;
pub mod fuzzing;
pub mod load;
mod lookup;
mod modinfo_scan;
pub mod modprobe_d;
mod plan;
pub mod probe;
mod subset;
mod sys;
pub mod tree;
pub mod uevent;

// The codecs' paths before they moved into core/ (packaging and the
// tests use them).
pub use crate::core::{decompress, depmod, fnmatch, kmodbin, modinfo};
pub use modinfo::{modinfo, ModInfo, ModinfoError};
pub use tree::{ModuleTree, TreeError};

use argh::FromArgs;
use coldplug::{Blacklist, Device};
use load::{Decompressed, Loader, Outcome};
use nodistro_common::timeline;
use std::collections::HashSet;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(FromArgs)]
/// Load the kernel modules the devices present need (coldplug), then exit,
/// or with --watch keep loading drivers for devices that appear later.
struct Args {
    /// after coldplug, report `coldplug-done` to init and load drivers for
    /// devices the kernel announces (uevents)
    #[argh(switch)]
    watch: bool,
    /// print what coldplug would load, in order, one module path a line
    /// (`builtin NAME` for built-in ones); load nothing
    #[argh(switch)]
    dry_run: bool,
    /// root directory holding lib/modules (default /)
    #[argh(option, default = "PathBuf::from(\"/\")")]
    root: PathBuf,
    /// kernel version of the modules tree (default: the running kernel)
    #[argh(option)]
    kernel_version: Option<String>,
    /// sysfs to scan (default /sys)
    #[argh(option, default = "PathBuf::from(\"/sys\")")]
    sysfs: PathBuf,
    /// read aliases from this file (one a line) instead of scanning sysfs
    #[argh(option)]
    modaliases: Option<PathBuf>,
    /// configuration file (default /etc/nodistro.conf)
    #[argh(option, default = "PathBuf::from(nodistro_common::CONFIG_PATH)")]
    config: PathBuf,
    /// kernel command line file (default /proc/cmdline)
    #[argh(option, default = "PathBuf::from(\"/proc/cmdline\")")]
    cmdline: PathBuf,
    /// modules loaded at the same time (default 4)
    #[argh(option, default = "4")]
    workers: usize,
    #[argh(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum Cmd {
    ShowDepends(ShowDepends),
}

#[derive(FromArgs)]
/// Print the modules the given aliases or module names need, in load order,
/// one path a line (like modprobe --show-depends); load nothing.
#[argh(subcommand, name = "show-depends")]
struct ShowDepends {
    #[argh(positional)]
    aliases: Vec<String>,
}

/// Errors that stop modload.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the modules tree is for kernel {tree}, but the running kernel is {running}: refusing to load (build the image with the running kernel's modules, or use --dry-run)")]
    OtherKernel { tree: String, running: String },
    #[error("no modules for the running kernel {running} in {dir} (found: {found}): the image was built for another kernel", dir = .dir.display())]
    NoTree {
        running: String,
        dir: PathBuf,
        found: String,
    },
    #[error("cannot read the module tree")]
    Tree(#[source] TreeError),
    #[error("cannot read the alias list {path}", path = .path.display())]
    Aliases {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the uevent socket (hotplug disabled)")]
    Uevent(#[source] std::io::Error),
    #[error("cannot take the readiness fd from init")]
    Ready(#[source] nodistro_common::sys::FdError),
}

fn log(msg: &str) {
    timeline::log("modload", msg);
}

struct Ctx {
    tree: ModuleTree,
    /// Whether the tree's abandoning its .bin files was logged.
    fallback_logged: std::sync::atomic::AtomicBool,
    blacklist: Blacklist,
    loader_params: std::collections::HashMap<String, String>,
    running: String,
    workers: usize,
}

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

fn running_release() -> String {
    rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned()
}

fn run(args: Args) -> Result<i32, Error> {
    let running = running_release();
    let version = args.kernel_version.clone().unwrap_or(running.clone());
    let modules_dir = args.root.join("lib/modules");
    let dir = modules_dir.join(&version);
    let loading = !args.dry_run && args.cmd.is_none();
    if loading && version != running {
        return Err(Error::OtherKernel {
            tree: version,
            running,
        });
    }
    if !dir.is_dir() && args.kernel_version.is_none() {
        let mut found: Vec<String> = std::fs::read_dir(&modules_dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        if found.is_empty() && loading {
            return Ok(builtin_only(&args, &running));
        }
        return Err(Error::NoTree {
            running,
            dir: modules_dir,
            found: if found.is_empty() {
                "nothing".into()
            } else {
                found.join(", ")
            },
        });
    }
    let mut tree = ModuleTree::open(&dir).map_err(Error::Tree)?;
    for w in tree.warnings() {
        log(w);
    }
    let modprobe_conf = modprobe_d::load(&args.root);
    for w in &modprobe_conf.warnings {
        log(w);
    }
    tree.apply_modprobe_conf(&modprobe_conf);
    let (cfg, cmdline, warnings) = nodistro_common::Config::load_from(
        &args.config.to_string_lossy(),
        &args.cmdline.to_string_lossy(),
        &[],
    );
    for w in warnings {
        log(&w);
    }
    let ctx = Ctx {
        fallback_logged: Default::default(),
        blacklist: Blacklist::from_config(&cfg, &cmdline)
            .with(modprobe_conf.blacklist.iter().map(String::as_str)),
        loader_params: modprobe_conf.with_options(load::params_from_config(&cfg)),
        tree,
        running,
        workers: args.workers,
    };
    if let Some(Cmd::ShowDepends(sd)) = &args.cmd {
        let res = coldplug::resolve(
            &ctx.tree,
            sd.aliases.iter().map(String::as_str),
            &ctx.blacklist,
            false,
        );
        for a in &res.unmatched {
            log(&format!("no module matches {a}"));
        }
        print_plan(&ctx, &res.modules);
        return Ok(if res.unmatched.is_empty() { 0 } else { 1 });
    }
    let aliases = match &args.modaliases {
        Some(path) => Some(read_alias_list(path)?),
        None => None,
    };
    // Listen before scanning so that no device added in between is missed.
    let socket = if args.watch {
        Some(uevent::UeventSocket::open().map_err(Error::Uevent)?)
    } else {
        None
    };
    let failed = coldplug_loop(&ctx, &args, aliases);
    if let Some(socket) = socket {
        let mut notifier = nodistro_common::sys::Notifier::from_env().map_err(Error::Ready)?;
        notifier.notify(nodistro_common::protocol::ready::COLDPLUG_DONE);
        watch(&ctx, &args, &socket);
    }
    Ok(if failed == 0 { 0 } else { 1 })
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

fn read_alias_list(path: &Path) -> Result<Vec<Device>, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Aliases {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|a| Device {
            path: path.to_path_buf(),
            alias: a.to_string(),
        })
        .collect())
}

/// Print a plan like `modprobe --show-depends`: one absolute module path a
/// line, `builtin NAME` for built-in modules.
fn print_plan(ctx: &Ctx, modules: &[String]) {
    let plan = ctx.tree.plan(modules);
    log_fallback(ctx);
    for p in &plan.problems {
        log(&nodistro_common::report::chain(p));
    }
    let mut out = std::io::stdout().lock();
    for m in &plan.order {
        let _ = match ctx.tree.module_path(m) {
            Some(rel) => writeln!(out, "{}", ctx.tree.dir().join(rel).display()),
            None => writeln!(out, "builtin {m}"),
        };
    }
}

/// One line, once, when a lookup met a corrupt .bin file and the tree went
/// over to the text files.
fn log_fallback(ctx: &Ctx) {
    if let Some(why) = ctx.tree.fallback() {
        if !ctx
            .fallback_logged
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            log(why);
        }
    }
}

fn loader(ctx: &Ctx) -> Loader<'_> {
    Loader {
        tree: &ctx.tree,
        params: ctx.loader_params.clone(),
        sys_module: PathBuf::from("/sys/module"),
        workers: ctx.workers,
        running: ctx.running.clone(),
    }
}

fn report_outcome(ctx: &Ctx, name: &str, out: &Outcome) {
    match out {
        Outcome::Loaded(d, how) => {
            let params = match ctx.loader_params.get(name) {
                Some(p) => format!(" ({p})"),
                None => String::new(),
            };
            let how = match how {
                None => String::new(),
                Some(Decompressed::ByKernel(c)) => {
                    format!(" [{} decompressed by the kernel]", c.name())
                }
                Some(Decompressed::ByModload(c)) => {
                    format!(" [{} decompressed by modload]", c.name())
                }
            };
            log(&format!(
                "loaded {name} in {} ms{params}{how}",
                d.as_millis()
            ))
        }
        Outcome::Failed(e) => log(&format!(
            "cannot load {name}: {}",
            nodistro_common::report::chain(e)
        )),
        Outcome::AlreadyLoaded | Outcome::Builtin => {}
    }
}

/// Load and count: (loaded, failed).
fn load_modules(ctx: &Ctx, modules: &[String]) -> (usize, usize) {
    let plan = ctx.tree.plan(modules);
    log_fallback(ctx);
    for p in &plan.problems {
        log(&nodistro_common::report::chain(p));
    }
    let outcomes = loader(ctx).load_all(&plan, &|n, o| report_outcome(ctx, n, o));
    let loaded = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Loaded(..)))
        .count();
    let failed = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Failed(_)))
        .count();
    (loaded, failed)
}

/// Scan, resolve, load; again while loading made new devices appear.
/// Returns the number of modules that failed to load.
fn coldplug_loop(ctx: &Ctx, args: &Args, fixed: Option<Vec<Device>>) -> usize {
    let start = Instant::now();
    let mut seen: HashSet<String> = HashSet::new();
    let (mut devices_total, mut loaded, mut failed, mut unmatched) = (0, 0, 0, 0);
    for round in 1..=16 {
        let devices = match &fixed {
            Some(list) if round == 1 => list.clone(),
            Some(_) => break,
            None => coldplug::scan(&args.sysfs, &mut |w| log(&w)),
        };
        devices_total = devices_total.max(devices.len());
        let new: Vec<&Device> = devices
            .iter()
            .filter(|d| seen.insert(d.alias.clone()))
            .collect();
        if new.is_empty() {
            break;
        }
        let res = coldplug::resolve(
            &ctx.tree,
            new.iter().map(|d| d.alias.as_str()),
            &ctx.blacklist,
            false,
        );
        let unmatched_set: HashSet<&str> = res.unmatched.iter().map(String::as_str).collect();
        for d in new
            .iter()
            .filter(|d| unmatched_set.contains(d.alias.as_str()))
        {
            if fixed.is_some() || !coldplug::has_driver(&d.path) {
                unmatched += 1;
                log(&format!("no module for {}: {}", d.path.display(), d.alias));
            }
        }
        for (alias, m) in &res.blacklisted {
            log(&format!("not loading {m} for {alias}: blacklisted"));
        }
        if args.dry_run {
            print_plan(ctx, &res.modules);
            break;
        }
        let (l, f) = load_modules(ctx, &res.modules);
        loaded += l;
        failed += f;
        if l == 0 {
            break;
        }
    }
    log(&format!(
        "coldplug: {devices_total} devices, {} aliases, {loaded} modules loaded, {failed} failed, {unmatched} devices without a driver, {} ms",
        seen.len(),
        start.elapsed().as_millis()
    ));
    failed
}

/// Load drivers for devices the kernel adds, forever.
fn watch(ctx: &Ctx, args: &Args, socket: &uevent::UeventSocket) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let ev = match socket.recv(&mut buf) {
            Ok(Some(ev)) => ev,
            Ok(None) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOBUFS.raw_os_error()) => {
                log("uevent socket overflowed: events were lost; rescanning /sys");
                coldplug_loop(ctx, args, None);
                continue;
            }
            Err(e) => {
                log(&format!("uevent socket: {e}; retrying in 1 s"));
                std::thread::sleep(std::time::Duration::from_secs(1));
                continue;
            }
        };
        let (Some(alias), "add") = (ev.modalias.as_deref(), ev.action.as_str()) else {
            continue;
        };
        let res = coldplug::resolve(&ctx.tree, [alias], &ctx.blacklist, false);
        if !res.unmatched.is_empty() {
            log(&format!("no module for /sys{}: {alias}", ev.devpath));
        }
        load_modules(ctx, &res.modules);
    }
}
