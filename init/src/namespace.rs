//! Namespace mode: `init --namespace [OPTIONS] -- APP [ARGS...]` runs as
//! PID 1 of a PID namespace or container (or as a subreaper when not PID
//! 1): the configuration from `--config` and `--set`, helpers from
//! `--helper`, no kernel-only steps, and init exits with the app's status.
//! Also where `init --help` and a mistaken run outside PID 1 end up.

use crate::config::{InitConfig, HELPERS, PLAIN_KEYS};
use crate::helpers::{app_cmd, arrange, helper_cmd};
use crate::supervise::{self, AppCmd, HelperCmd, Plan};
use argh::FromArgs;
use nodistro_common::timeline::log;
use nodistro_common::Config;
use std::ffi::OsString;

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

/// Parse `args` (`args[0]` the program name) and run in namespace mode;
/// returns the exit code.
pub fn run(args: Vec<OsString>) -> i32 {
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
    let cfg = configuration(&a);
    let (c, warnings) = InitConfig::from_config(&cfg, &[]);
    for w in warnings {
        log("init", &w);
    }
    let (helpers, coldplug_mark) = helpers(&a.helper, &c);
    let Some(app) = app(&a.command, &c) else {
        eprintln!("init: --namespace needs an app: init --namespace -- APP [ARGS...]");
        return 2;
    };
    if !rustix::process::getpid().is_init() {
        // Not PID 1: still adopt orphans of our subtree.
        let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
    }
    let sigfd = match crate::sys::block_signals() {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("init: cannot set up signal handling: {e}");
            return 1;
        }
    };
    let plan = Plan {
        helpers,
        app: Some(app),
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

/// The `--config` file (none by default), its keys given with `--set`
/// replaced (several `--set` for one key, e.g. init.arg, keep their order).
fn configuration(a: &Args) -> Config {
    let mut cfg = Config::default();
    if let Some(path) = &a.config {
        let (c, _, warnings) = Config::load_from(path, "/dev/null", PLAIN_KEYS);
        cfg = c;
        for w in warnings {
            log("init", &w);
        }
    }
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
    Config::from_entries(entries)
}

/// The `--helper NAME=PATH` helpers in start order, and whether netcfg
/// gets the coldplug mark.
fn helpers(given: &[String], c: &InitConfig) -> (Vec<HelperCmd>, bool) {
    let mut helpers = Vec::new();
    for h in given {
        match h.split_once('=') {
            Some((n, p)) if !n.is_empty() && !p.is_empty() => {
                helpers.push(helper_cmd(n, p.into(), c))
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
    let coldplug_mark = arrange(&mut helpers, c);
    (helpers, coldplug_mark)
}

/// The app after `--`, else `init.app` with `init.arg`.
fn app(command: &[String], c: &InitConfig) -> Option<AppCmd> {
    match command.split_first() {
        Some((p, args)) => Some(app_cmd(c, p.clone(), args.to_vec())),
        None => c.app.clone().map(|p| app_cmd(c, p, c.args.clone())),
    }
}
