//! High-level entry points for other tools (the debug console): load one
//! module by name or alias with parameters, like `modprobe NAME P=V`, and
//! tell which modules of the image match given device aliases. They open
//! the running kernel's tree under /lib/modules and hide how it is indexed.

use crate::coldplug::{self, Blacklist};
use crate::load::{self, Loader, Outcome};
use crate::tree::ModuleTree;
use std::path::{Path, PathBuf};

/// The modules tree of the running kernel in this image.
pub fn running_tree() -> Result<ModuleTree, crate::Error> {
    let running = crate::sys::running_release();
    let dir = Path::new("/lib/modules").join(&running);
    ModuleTree::open(&dir).map_err(crate::Error::Tree)
}

/// What `probe` did to each module it tried, in load order: (name, line).
pub type Report = Vec<(String, String)>;

/// Load `target` (a module name or an alias) and its dependencies; `params`
/// (`PARAM=VALUE` words) go to `target`'s own module, after those of the
/// configuration. Returns one line per module tried; `Err` when the tree
/// cannot be read or nothing matches.
pub fn probe(target: &str, params: &[String]) -> Result<Report, String> {
    let tree = running_tree().map_err(|e| nodistro_common::report::chain(&e))?;
    let (cfg, cmdline, _) =
        nodistro_common::Config::load_from(nodistro_common::CONFIG_PATH, "/proc/cmdline", &[]);
    let blacklist = Blacklist::from_config(&cfg, &cmdline);
    let res = coldplug::resolve(&tree, [target], &blacklist, false);
    if res.modules.is_empty() {
        return Err(match res.blacklisted.first() {
            Some((_, m)) => format!("{target}: matches {m}, which is blacklisted"),
            None => format!("{target}: no module in the image has that name or alias"),
        });
    }
    let mut loader_params = load::params_from_config(&cfg);
    if !params.is_empty() {
        for m in &res.modules {
            let key = crate::core::fnmatch::normalize_name(m);
            let entry = loader_params.entry(key).or_default();
            for p in params {
                if !entry.is_empty() {
                    entry.push(' ');
                }
                entry.push_str(p);
            }
        }
    }
    let plan = tree.plan(&res.modules);
    let mut out: Report = plan
        .problems
        .iter()
        .map(|p| (String::new(), nodistro_common::report::chain(p)))
        .collect();
    let loader = Loader {
        tree: &tree,
        params: loader_params,
        sys_module: PathBuf::from("/sys/module"),
        workers: 1,
        running: crate::sys::running_release(),
    };
    for (name, o) in loader.load_all(&plan, &|_, _| {}) {
        let line = match &o {
            Outcome::Loaded(d, _) => format!("loaded in {} ms", d.as_millis()),
            Outcome::AlreadyLoaded => "already loaded".into(),
            Outcome::Builtin => "built into the kernel".into(),
            Outcome::Failed(e) => format!("failed: {}", nodistro_common::report::chain(e)),
        };
        out.push((name, line));
    }
    Ok(out)
}

/// For each alias, the modules of `tree` that match it (empty: none).
pub fn matches(tree: &ModuleTree, aliases: &[&str]) -> Vec<Vec<String>> {
    tree.lookup_many(aliases)
        .into_iter()
        .map(|m| m.map(|(_, names)| names).unwrap_or_default())
        .collect()
}
