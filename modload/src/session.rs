//! One run over an open tree: its context (the tree, the blacklist, the
//! module parameters), show-depends, coldplug rounds (scan, resolve, load,
//! again while loading made new devices appear) and the uevent watch.

use crate::args::Args;
use crate::coldplug::{self, Blacklist, Device};
use crate::error::Error;
use crate::load::{self, Decompressed, Loader, Outcome};
use crate::modprobe_d;
use crate::tree::ModuleTree;
use crate::uevent;
use nodistro_common::timeline;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub(crate) fn log(msg: &str) {
    timeline::log("modload", msg);
}

/// What a run needs of the tree and the configuration.
pub(crate) struct Ctx {
    tree: ModuleTree,
    /// Whether the tree's abandoning its .bin files was logged.
    fallback_logged: std::sync::atomic::AtomicBool,
    blacklist: Blacklist,
    loader_params: HashMap<String, String>,
    running: String,
    workers: usize,
}

impl Ctx {
    /// Open the tree in `dir` with modprobe.d and the configuration
    /// applied, logging their warnings.
    pub(crate) fn open(dir: &Path, args: &Args, running: String) -> Result<Ctx, Error> {
        let mut tree = ModuleTree::open(dir).map_err(Error::Tree)?;
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
        Ok(Ctx {
            fallback_logged: Default::default(),
            blacklist: Blacklist::from_config(&cfg, &cmdline)
                .with(modprobe_conf.blacklist.iter().map(String::as_str)),
            loader_params: modprobe_conf.with_options(load::params_from_config(&cfg)),
            tree,
            running,
            workers: args.workers,
        })
    }

    /// `show-depends ALIAS...`: the plan printed; the exit code.
    pub(crate) fn show_depends(&self, aliases: &[String]) -> i32 {
        let res = coldplug::resolve(
            &self.tree,
            aliases.iter().map(String::as_str),
            &self.blacklist,
            false,
        );
        for a in &res.unmatched {
            log(&format!("no module matches {a}"));
        }
        self.print_plan(&res.modules);
        if res.unmatched.is_empty() {
            0
        } else {
            1
        }
    }

    /// Coldplug; with `--watch`, then readiness to init and the uevent
    /// loop (forever). The exit code.
    pub(crate) fn coldplug_and_watch(&self, args: &Args) -> Result<i32, Error> {
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
        let failed = self.coldplug_loop(args, aliases);
        if let Some(socket) = socket {
            let mut notifier = nodistro_common::sys::Notifier::from_env().map_err(Error::Ready)?;
            notifier.notify(nodistro_common::protocol::ready::COLDPLUG_DONE);
            self.watch(args, &socket);
        }
        Ok(if failed == 0 { 0 } else { 1 })
    }

    /// Print a plan like `modprobe --show-depends`: one absolute module path a
    /// line, `builtin NAME` for built-in modules.
    fn print_plan(&self, modules: &[String]) {
        let plan = self.tree.plan(modules);
        self.log_fallback();
        for p in &plan.problems {
            log(&nodistro_common::report::chain(p));
        }
        let mut out = std::io::stdout().lock();
        for m in &plan.order {
            let _ = match self.tree.module_path(m) {
                Some(rel) => writeln!(out, "{}", self.tree.dir().join(rel).display()),
                None => writeln!(out, "builtin {m}"),
            };
        }
    }

    /// One line, once, when a lookup met a corrupt .bin file and the tree went
    /// over to the text files.
    fn log_fallback(&self) {
        if let Some(why) = self.tree.fallback() {
            if !self
                .fallback_logged
                .swap(true, std::sync::atomic::Ordering::Relaxed)
            {
                log(why);
            }
        }
    }

    fn loader(&self) -> Loader<'_> {
        Loader {
            tree: &self.tree,
            params: self.loader_params.clone(),
            sys_module: PathBuf::from("/sys/module"),
            workers: self.workers,
            running: self.running.clone(),
        }
    }

    fn report_outcome(&self, name: &str, out: &Outcome) {
        match out {
            Outcome::Loaded(d, how) => {
                let params = match self.loader_params.get(name) {
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
    fn load_modules(&self, modules: &[String]) -> (usize, usize) {
        let plan = self.tree.plan(modules);
        self.log_fallback();
        for p in &plan.problems {
            log(&nodistro_common::report::chain(p));
        }
        let outcomes = self
            .loader()
            .load_all(&plan, &|n, o| self.report_outcome(n, o));
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
    fn coldplug_loop(&self, args: &Args, fixed: Option<Vec<Device>>) -> usize {
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
                &self.tree,
                new.iter().map(|d| d.alias.as_str()),
                &self.blacklist,
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
                self.print_plan(&res.modules);
                break;
            }
            let (l, f) = self.load_modules(&res.modules);
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
    fn watch(&self, args: &Args, socket: &uevent::UeventSocket) {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let ev = match socket.recv(&mut buf) {
                Ok(Some(ev)) => ev,
                Ok(None) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOBUFS.raw_os_error()) => {
                    log("uevent socket overflowed: events were lost; rescanning /sys");
                    self.coldplug_loop(args, None);
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
            let res = coldplug::resolve(&self.tree, [alias], &self.blacklist, false);
            if !res.unmatched.is_empty() {
                log(&format!("no module for /sys{}: {alias}", ev.devpath));
            }
            self.load_modules(&res.modules);
        }
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
