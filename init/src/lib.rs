//! init: the PID 1 of a nodistro machine.
//!
//! - [`config`]: typed configuration (file + kernel command line), sans-IO.
//! - [`policy`]: the supervisor state machine (start order, readiness
//!   waits, restart backoff, exit policy, shutdown order), sans-IO.
//! - [`supervise`]: the event loop around it (signalfd, waitpid, poll).
//! - [`vm`]: kernel-only steps (mounts, console, `lo`, host name, reboot).
//! - [`appliance`]: state features the loop drives: data disks
//!   ([`mounts`] parses `init.mount`, [`datadisk`] mounts and unmounts),
//!   health checks ([`health`] decides, [`checks`] runs one), the
//!   hardware [`watchdog`], per-instance settings ([`metadata`]: NoCloud
//!   seed, IMDSv2).
//!
//! Two modes: on a machine (PID 1, no `--namespace`) the kernel's extra
//! bare words are appended to the app's arguments; `init --namespace -- APP
//! [ARGS...]` runs as PID 1 of a PID namespace or container, skips the
//! kernel-only steps and exits with the app's status.

pub mod appliance;
pub mod checks;
pub mod core;
// The core's modules by their old paths.
pub use self::core::{config, health, policy, signals, startorder};
pub mod datadisk;
pub mod debug;
pub mod execfail;
pub mod fuzzing;
pub mod metadata;
pub mod mounts;
pub mod supervise;
mod sys;
pub mod vm;
pub mod watchdog;

use argh::FromArgs;
use config::{InitConfig, HELPERS, PLAIN_KEYS};
use nodistro_common::timeline::{log, since_boot_ms};
use nodistro_common::Config;
use policy::HelperSpec;
use std::ffi::OsString;
use std::path::PathBuf;
use supervise::{AppCmd, HelperCmd, Plan};

#[derive(FromArgs)]
/// nodistro's PID 1. On a machine it takes no options. In a PID namespace or
/// container: `init --namespace [OPTIONS] -- APP [ARGS...]`.
struct Args {
    /// run as PID 1 of a PID namespace or container: no mounts, no modules,
    /// no reboot(2); exit with the app's status
    #[argh(switch)]
    namespace: bool,
    /// configuration file to read (namespace mode reads none by default)
    #[argh(option)]
    config: Option<String>,
    /// override a configuration key: KEY=VALUE (e.g. init.on_exit=restart)
    #[argh(option)]
    set: Vec<String>,
    /// supervise a helper: NAME=PATH (modload, logfwd, netcfg get their
    /// protocol; other names are only supervised)
    #[argh(option)]
    helper: Vec<String>,
    /// the app and its arguments
    #[argh(positional, greedy)]
    command: Vec<String>,
}

/// Entry point shared by the standalone binary and the multicall binary.
/// `args[0]` is the program name. Returns the process exit code.
pub fn main_with_args(args: Vec<OsString>) -> i32 {
    let pid1 = rustix::process::getpid().is_init();
    let ns = args.get(1).is_some_and(|a| a == "--namespace");
    if pid1 && !ns && args.get(1).is_none_or(|a| a != "--help") {
        machine(
            args.iter()
                .skip(1)
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
        )
    } else {
        namespace(args)
    }
}

/// Put `helpers` in their start order (see [`startorder`]); returns whether
/// netcfg gets the coldplug mark.
fn arrange(helpers: &mut Vec<HelperCmd>, c: &InitConfig) -> bool {
    let names: Vec<&str> = helpers.iter().map(|h| h.spec.name.as_str()).collect();
    let order = startorder::arrange(&names, !c.sequential);
    let mark = startorder::netcfg_needs_coldplug_mark(&names, !c.sequential);
    let mut slots: Vec<Option<HelperCmd>> = std::mem::take(helpers).into_iter().map(Some).collect();
    helpers.extend(order.into_iter().filter_map(|i| slots[i].take()));
    mark
}

/// The helper's readiness word, timeout and arguments.
fn helper_cmd(name: &str, path: PathBuf, c: &InitConfig) -> HelperCmd {
    let (word, timeout, args) = match name {
        "modload" => (
            Some(nodistro_common::protocol::ready::COLDPLUG_DONE),
            c.modload_timeout,
            vec!["--watch".to_string()],
        ),
        "netcfg" => (
            Some(nodistro_common::protocol::ready::ONLINE),
            c.net_timeout,
            vec![],
        ),
        // The app waits until a trial boot is marked (the firmware's
        // variables read: well under a second).
        "update" => (
            Some(nodistro_common::protocol::ready::CHECKED),
            std::time::Duration::from_secs(10),
            vec![],
        ),
        _ => (None, Default::default(), vec![]),
    };
    HelperCmd {
        spec: HelperSpec {
            name: name.into(),
            ready_word: word.map(Into::into),
            ready_timeout: timeout,
        },
        path,
        args,
    }
}

fn app_cmd(c: &InitConfig, path: String, args: Vec<String>) -> AppCmd {
    AppCmd {
        path,
        args,
        env: c.env.clone(),
        workdir: c.workdir.clone(),
        uid: c.uid,
        gid: c.gid,
    }
}

fn namespace(args: Vec<OsString>) -> i32 {
    let a: Args = match nodistro_common::cli::parse("init", args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    if !a.namespace {
        eprintln!(
            "init: not PID 1; run me as a machine's /init, or with --namespace -- APP [ARGS...]"
        );
        return 2;
    }
    let mut cfg = Config::default();
    if let Some(path) = &a.config {
        let (c, _, warnings) = Config::load_from(path, "/dev/null", PLAIN_KEYS);
        cfg = c;
        for w in warnings {
            log("init", &w);
        }
    }
    // Keys given with --set replace the file's values for them (several
    // --set for one key, e.g. init.arg, keep their order).
    let mut sets = Vec::new();
    for kv in &a.set {
        match kv.split_once('=') {
            Some((k, v)) => sets.push((k.to_string(), v.to_string())),
            None => log("init", &format!("--set {kv:?} is not KEY=VALUE; ignored")),
        }
    }
    let mut entries: Vec<(String, String)> = cfg
        .entries()
        .iter()
        .filter(|(k, _)| !sets.iter().any(|(s, _)| s == k))
        .cloned()
        .collect();
    entries.extend(sets);
    let cfg = Config::from_entries(entries);
    let (c, warnings) = InitConfig::from_config(&cfg, &[]);
    for w in warnings {
        log("init", &w);
    }
    let mut helpers = Vec::new();
    for h in &a.helper {
        match h.split_once('=') {
            Some((n, p)) if !n.is_empty() && !p.is_empty() => {
                helpers.push(helper_cmd(n, p.into(), &c))
            }
            _ => log("init", &format!("--helper {h:?} is not NAME=PATH; ignored")),
        }
    }
    helpers.sort_by_key(|h| {
        HELPERS
            .iter()
            .position(|n| *n == h.spec.name)
            .unwrap_or(HELPERS.len())
    });
    let coldplug_mark = arrange(&mut helpers, &c);
    let app = match a.command.split_first() {
        Some((p, args)) => Some(app_cmd(&c, p.clone(), args.to_vec())),
        None => c.app.clone().map(|p| app_cmd(&c, p, c.args.clone())),
    };
    if app.is_none() {
        eprintln!("init: --namespace needs an app: init --namespace -- APP [ARGS...]");
        return 2;
    }
    if !rustix::process::getpid().is_init() {
        // Not PID 1: still adopt orphans of our subtree.
        let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
    }
    let sigfd = match sys::block_signals() {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("init: cannot set up signal handling: {e}");
            return 1;
        }
    };
    let plan = Plan {
        helpers,
        app,
        on_exit: c.on_exit,
        grace: c.grace,
        vm: false,
        forward: c.forward,
        overlap: !c.sequential,
        coldplug_mark,
        mounts_ms: None,
        debug: Default::default(),
        appliance: Default::default(),
    };
    let (_, code) = supervise::run(plan, &sigfd);
    log("init", &format!("exiting with status {code}"));
    code
}

/// With `init.debug=console`: the console first among the helpers (so a
/// stop point before modules has it), its stop points and the report.
fn debug_plan(c: &InitConfig, helpers: &mut Vec<HelperCmd>) -> debug::DebugPlan {
    if !c.debug.console {
        return Default::default();
    }
    let path = PathBuf::from("/bin").join(debug::CONSOLE);
    if !path.exists() {
        log(
            "init",
            &format!(
                "init.debug=console, but {} is not in the image; no console",
                path.display()
            ),
        );
        return Default::default();
    }
    log(
        "init",
        "debug console on the console device (init.debug=console): root for whoever holds it",
    );
    helpers.insert(0, helper_cmd(debug::CONSOLE, path, c));
    let names: Vec<&str> = helpers.iter().map(|h| h.spec.name.as_str()).collect();
    debug::DebugPlan {
        console: Some(0),
        breaks: c.debug.positions(&names),
        report: true,
    }
}

/// PID 1 of a machine. Never returns.
fn machine(kernel_args: Vec<String>) -> i32 {
    std::panic::set_hook(Box::new(|info| {
        log("init", &format!("BUG: init panicked: {info}; rebooting"));
        rustix::fs::sync();
        let _ = rustix::system::reboot(rustix::system::RebootCommand::Restart);
    }));
    let t0 = since_boot_ms();
    vm::mount_all();
    debug::keep_timeline();
    vm::console_stdio();
    let mounts_ms = since_boot_ms().saturating_sub(t0);
    log("init", &format!("mounts done in {mounts_ms} ms"));
    vm::cad_off();
    let (cfg, _, warnings) = Config::load_system(PLAIN_KEYS);
    for w in warnings {
        log("init", &w);
    }
    let (c, warnings) = InitConfig::from_config(&cfg, &kernel_args);
    for w in warnings {
        log("init", &w);
    }
    let (appliance, warnings) = appliance::Appliance::from_config(&cfg, c.grace);
    for w in warnings {
        log("init", &w);
    }
    let mounted = appliance.mounted();
    vm::lo_up();
    vm::set_hostname(&c.hostname);
    if let Err(e) = nodistro_common::hosts::sync(nodistro_common::hosts::PATH, &c.hostname, false) {
        log(
            "init",
            &format!("cannot update {}: {e}", nodistro_common::hosts::PATH),
        );
    }
    log("init", &format!("host name {}, lo up", c.hostname));
    let wanted: Vec<String> = c
        .helpers
        .clone()
        .unwrap_or_else(|| HELPERS.iter().map(|s| s.to_string()).collect());
    let mut helpers = Vec::new();
    for name in &wanted {
        let path = PathBuf::from("/bin").join(name);
        if path.exists() {
            helpers.push(helper_cmd(name, path, &c));
        } else {
            log(
                "init",
                &format!("{name} is not in the image ({}); skipped", path.display()),
            );
        }
    }
    let coldplug_mark = arrange(&mut helpers, &c);
    if c.sequential {
        log(
            "init",
            "init.sequential=on: starting the helpers one after the other",
        );
    }
    let debug = debug_plan(&c, &mut helpers);
    let app = c.app.clone().map(|p| app_cmd(&c, p, c.args.clone()));
    let sigfd = loop {
        match sys::block_signals() {
            Ok(fd) => break fd,
            Err(e) => {
                log(
                    "init",
                    &format!("cannot set up signal handling: {e}; retrying"),
                );
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        }
    };
    let plan = Plan {
        helpers,
        app,
        on_exit: c.on_exit,
        grace: c.grace,
        vm: true,
        forward: c.forward,
        overlap: !c.sequential,
        coldplug_mark,
        mounts_ms: Some(mounts_ms),
        debug,
        appliance,
    };
    let (halt, code) = supervise::run(plan, &sigfd);
    log("init", &format!("all stopped (app status {code})"));
    let data = mounted.borrow().clone();
    vm::end(halt, &data)
}
