//! The module index of one `/lib/modules/<version>` directory, read from
//! kmod's text files (`modules.dep`, `modules.alias`, `modules.softdep`,
//! `modules.builtin`, `modules.builtin.modinfo`; the `.bin` files are not
//! used), with kmod's lookup rules:
//!
//! 1. a module name in `modules.dep` (`-` and `_` alike),
//! 2. else every `modules.alias` pattern that matches (fnmatch),
//! 3. else every alias of a built-in module (`modules.builtin.modinfo`),
//! 4. else a built-in module's name (`modules.builtin`): satisfied, nothing
//!    to load.
//!
//! Patterns are indexed by their literal prefix (the bytes before the first
//! wildcard), so a lookup tries only the patterns whose prefix the alias
//! starts with instead of all 26,000.

use crate::fnmatch::{fnmatch, literal_prefix, normalize_alias, normalize_name};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Errors reading a tree or following its dependencies.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("cannot read {path} (is {dir} a /lib/modules/<version> directory with depmod's files?)", dir = .path.parent().unwrap_or(Path::new("/")).display(), path = .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("module {0} is neither in modules.dep nor built into the kernel")]
    UnknownModule(String),
    #[error("module {module} needs {dep}, which is not listed in modules.dep")]
    MissingDependency { module: String, dep: String },
    #[error("dependency cycle: {module} needs {dep}, which needs {module} again (modules.dep is corrupt; run depmod)")]
    Cycle { module: String, dep: String },
}

/// How [`ModuleTree::lookup`] found its answer (kmod's order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupKind {
    /// A module name from modules.dep.
    Name,
    /// Patterns of modules.alias.
    Alias,
    /// Aliases of built-in modules (modules.builtin.modinfo).
    BuiltinAlias,
    /// The name of a built-in module.
    Builtin,
}

impl LookupKind {
    /// Alias matches are what a blacklist filters (kmod's rule).
    pub fn is_alias(self) -> bool {
        matches!(self, LookupKind::Alias | LookupKind::BuiltinAlias)
    }
}

struct Module {
    name: String,
    path: String,
    /// Dependency paths as modules.dep lists them (load the last first).
    deps: Vec<String>,
}

#[derive(Default)]
struct Softdep {
    line: String,
    pre: Vec<String>,
    post: Vec<String>,
}

struct AliasEntry {
    /// The pattern as written (for regenerated index files).
    pattern: String,
    /// The pattern normalised like kmod (`-` to `_` outside brackets).
    norm: String,
    module: String,
}

/// Patterns with no wildcard by exact text; the others by literal prefix.
#[derive(Default)]
struct AliasIndex {
    entries: Vec<AliasEntry>,
    exact: HashMap<String, Vec<u32>>,
    wild: HashMap<String, Vec<u32>>,
    prefix_lens: Vec<usize>,
}

impl AliasIndex {
    fn push(&mut self, pattern: &str, module: &str) {
        let Some(norm) = normalize_alias(pattern) else {
            return;
        };
        let id = self.entries.len() as u32;
        let prefix = literal_prefix(&norm);
        let map = if prefix.len() == norm.len() {
            &mut self.exact
        } else {
            &mut self.wild
        };
        map.entry(prefix.to_string()).or_default().push(id);
        self.entries.push(AliasEntry {
            pattern: pattern.to_string(),
            norm,
            module: normalize_name(module),
        });
    }

    fn finish(&mut self) {
        let lens: BTreeSet<usize> = self.wild.keys().map(String::len).collect();
        self.prefix_lens = lens.into_iter().collect();
    }

    /// Module names whose patterns match the normalised alias, in file order,
    /// without duplicates.
    fn matches(&self, alias: &str) -> Vec<String> {
        let mut ids: Vec<u32> = self.exact.get(alias).cloned().unwrap_or_default();
        for &len in &self.prefix_lens {
            if len > alias.len() {
                break;
            }
            let Some(prefix) = alias.get(..len) else {
                continue;
            };
            if let Some(cands) = self.wild.get(prefix) {
                ids.extend(cands.iter().copied().filter(|&id| {
                    fnmatch(self.entries[id as usize].norm.as_bytes(), alias.as_bytes())
                }));
            }
        }
        ids.sort_unstable();
        let mut names: Vec<String> = Vec::new();
        for id in ids {
            let m = &self.entries[id as usize].module;
            if !names.contains(m) {
                names.push(m.clone());
            }
        }
        names
    }
}

/// The module index of one kernel's module directory.
pub struct ModuleTree {
    dir: PathBuf,
    modules: Vec<Module>,
    by_name: HashMap<String, usize>,
    aliases: AliasIndex,
    builtin_aliases: AliasIndex,
    softdeps: HashMap<String, Softdep>,
    /// Built-in module name -> its modules.builtin line.
    builtin: HashMap<String, String>,
    builtin_order: Vec<String>,
    warnings: Vec<String>,
}

/// Module name of a path in modules.dep: the file name up to its first
/// `.`, `-` as `_`.
pub fn name_of_path(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    normalize_name(base.split('.').next().unwrap_or(base))
}

fn read_optional(path: &Path, warnings: &mut Vec<String>) -> Option<Vec<u8>> {
    match std::fs::read(path) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            warnings.push(format!("cannot read {}: {e}; ignoring it", path.display()));
            None
        }
    }
}

/// The result of following dependencies leniently: what to load in order and
/// what went wrong on the way (the rest still loads).
#[derive(Debug, Default)]
pub struct Plan {
    /// Module names, dependencies first. Built-in modules are included
    /// (they are satisfied; [`ModuleTree::module_path`] is `None` for them).
    pub order: Vec<String>,
    pub problems: Vec<TreeError>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    InProgress,
    Done,
}

impl ModuleTree {
    /// Read the index files of `dir` (a `/lib/modules/<version>` directory).
    /// modules.dep is required, the others optional. Bad lines are skipped
    /// and listed in [`ModuleTree::warnings`].
    pub fn open(dir: &Path) -> Result<ModuleTree, TreeError> {
        let dep_path = dir.join("modules.dep");
        let dep = std::fs::read(&dep_path).map_err(|source| TreeError::Read {
            path: dep_path.clone(),
            source,
        })?;
        let mut warnings = Vec::new();
        let text = |name: &str, warnings: &mut Vec<String>| {
            read_optional(&dir.join(name), warnings)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        };
        let alias = text("modules.alias", &mut warnings);
        let softdep = text("modules.softdep", &mut warnings);
        let builtin = text("modules.builtin", &mut warnings);
        let builtin_modinfo = read_optional(&dir.join("modules.builtin.modinfo"), &mut warnings);
        let mut tree = ModuleTree::from_texts(
            &String::from_utf8_lossy(&dep),
            &alias,
            &softdep,
            &builtin,
            builtin_modinfo.as_deref().unwrap_or_default(),
        );
        tree.dir = dir.to_path_buf();
        warnings.append(&mut tree.warnings);
        tree.warnings = warnings;
        Ok(tree)
    }

    /// Build from the files' contents (sans-IO; `dir` is empty).
    pub fn from_texts(
        dep: &str,
        alias: &str,
        softdep: &str,
        builtin: &str,
        builtin_modinfo: &[u8],
    ) -> ModuleTree {
        let mut t = ModuleTree {
            dir: PathBuf::new(),
            modules: Vec::new(),
            by_name: HashMap::new(),
            aliases: AliasIndex::default(),
            builtin_aliases: AliasIndex::default(),
            softdeps: HashMap::new(),
            builtin: HashMap::new(),
            builtin_order: Vec::new(),
            warnings: Vec::new(),
        };
        for (n, line) in dep.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((path, deps)) = line.split_once(':') else {
                t.warnings.push(format!(
                    "modules.dep line {}: no ':' ({line:?}); skipped",
                    n + 1
                ));
                continue;
            };
            let name = name_of_path(path);
            t.by_name.insert(name.clone(), t.modules.len());
            t.modules.push(Module {
                name,
                path: path.trim().to_string(),
                deps: deps.split_whitespace().map(str::to_string).collect(),
            });
        }
        for (n, line) in alias.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let mut w = line.split_whitespace();
            match (w.next(), w.next(), w.next()) {
                (Some("alias"), Some(pat), Some(module)) => t.aliases.push(pat, module),
                _ => t.warnings.push(format!(
                    "modules.alias line {}: not `alias PATTERN MODULE` ({line:?}); skipped",
                    n + 1
                )),
            }
        }
        t.aliases.finish();
        for line in softdep.lines() {
            let mut w = line.split_whitespace();
            if w.next() != Some("softdep") {
                continue;
            }
            let Some(module) = w.next() else { continue };
            let sd = t.softdeps.entry(normalize_name(module)).or_default();
            if !sd.line.is_empty() {
                sd.line.push('\n');
            }
            sd.line.push_str(line);
            // kmod: words before the first `pre:`/`post:` are ignored.
            let mut mode = 0;
            for word in w {
                match word {
                    "pre:" => mode = 1,
                    "post:" => mode = 2,
                    _ if mode == 1 => sd.pre.push(word.to_string()),
                    _ if mode == 2 => sd.post.push(word.to_string()),
                    _ => {}
                }
            }
        }
        for line in builtin.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let name = name_of_path(line);
            if t.builtin.insert(name.clone(), line.to_string()).is_none() {
                t.builtin_order.push(name);
            }
        }
        for rec in builtin_modinfo.split(|&b| b == 0) {
            let rec = String::from_utf8_lossy(rec);
            if let Some((module, pat)) = rec.split_once(".alias=") {
                if !module.contains('=') {
                    t.builtin_aliases.push(pat, module);
                }
            }
        }
        t.builtin_aliases.finish();
        t
    }

    /// The directory this tree was read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Problems met while reading (bad lines, unreadable optional files).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Look `alias` up with kmod's rules (see the module documentation).
    /// `None`: nothing matches.
    pub fn lookup(&self, alias: &str) -> Option<(LookupKind, Vec<String>)> {
        let norm = normalize_alias(alias)?;
        if self.by_name.contains_key(&norm) {
            return Some((LookupKind::Name, vec![norm]));
        }
        let m = self.aliases.matches(&norm);
        if !m.is_empty() {
            return Some((LookupKind::Alias, m));
        }
        let m = self.builtin_aliases.matches(&norm);
        if !m.is_empty() {
            return Some((LookupKind::BuiltinAlias, m));
        }
        self.builtin
            .contains_key(&norm)
            .then(|| (LookupKind::Builtin, vec![norm]))
    }

    /// Module names an alias (or a module name) resolves to; empty if none.
    pub fn resolve_alias(&self, alias: &str) -> Vec<String> {
        self.lookup(alias).map(|(_, v)| v).unwrap_or_default()
    }

    /// `names` plus their dependencies and soft dependencies (`pre:` and
    /// `post:`), dependencies first. The first problem is an error; see
    /// [`ModuleTree::plan`] for the lenient form.
    pub fn closure(&self, names: &[String]) -> Result<Vec<String>, TreeError> {
        let plan = self.plan(names);
        match plan.problems.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(plan.order),
        }
    }

    /// Like [`ModuleTree::closure`], but goes on past problems.
    pub fn plan(&self, names: &[String]) -> Plan {
        let mut marks = HashMap::new();
        let mut plan = Plan::default();
        for n in names {
            let n = normalize_name(n);
            if !self.by_name.contains_key(&n) && !self.builtin.contains_key(&n) {
                plan.problems.push(TreeError::UnknownModule(n));
                continue;
            }
            self.visit(&n, &mut marks, &mut plan);
        }
        plan
    }

    fn visit(&self, name: &str, marks: &mut HashMap<String, Mark>, plan: &mut Plan) {
        if marks.contains_key(name) {
            return;
        }
        marks.insert(name.to_string(), Mark::InProgress);
        let soft = self.softdeps.get(name);
        let visit_soft = |list: Option<&Vec<String>>, marks: &mut _, plan: &mut _| {
            for s in list.into_iter().flatten() {
                for m in self.resolve_alias(s) {
                    self.visit(&m, marks, plan);
                }
            }
        };
        visit_soft(soft.map(|s| &s.pre), marks, plan);
        if let Some(&i) = self.by_name.get(name) {
            for dep_path in self.modules[i].deps.iter().rev() {
                let dep = name_of_path(dep_path);
                match marks.get(&dep) {
                    Some(Mark::Done) => continue,
                    Some(Mark::InProgress) => plan.problems.push(TreeError::Cycle {
                        module: name.to_string(),
                        dep,
                    }),
                    None if self.by_name.contains_key(&dep) || self.builtin.contains_key(&dep) => {
                        self.visit(&dep, marks, plan)
                    }
                    None => plan.problems.push(TreeError::MissingDependency {
                        module: name.to_string(),
                        dep: dep_path.clone(),
                    }),
                }
            }
        }
        plan.order.push(name.to_string());
        marks.insert(name.to_string(), Mark::Done);
        visit_soft(soft.map(|s| &s.post), marks, plan);
    }

    /// Path relative to the tree as modules.dep gives it; `None` for built-in
    /// or unknown modules.
    pub fn module_path(&self, name: &str) -> Option<&str> {
        let i = *self.by_name.get(&normalize_name(name))?;
        Some(&self.modules[i].path)
    }

    /// Names of the modules `name` needs, as modules.dep lists them.
    pub fn dependencies(&self, name: &str) -> Vec<String> {
        match self.by_name.get(&normalize_name(name)) {
            Some(&i) => self.modules[i]
                .deps
                .iter()
                .map(|d| name_of_path(d))
                .collect(),
            None => Vec::new(),
        }
    }

    /// Names of the loadable modules (modules.dep order).
    pub fn module_names(&self) -> impl Iterator<Item = &str> {
        self.modules.iter().map(|m| m.name.as_str())
    }

    /// Whether `name` is built into the kernel (modules.builtin).
    pub fn is_builtin(&self, name: &str) -> bool {
        self.builtin.contains_key(&normalize_name(name))
    }

    /// Soft dependencies of a module as written (`pre`, `post`).
    pub fn softdeps(&self, name: &str) -> (&[String], &[String]) {
        match self.softdeps.get(&normalize_name(name)) {
            Some(s) => (&s.pre, &s.post),
            None => (&[], &[]),
        }
    }

    /// Index files for an image holding only `subset` (module names): the
    /// lines of modules.dep, modules.alias and modules.softdep that concern
    /// those modules, and every built-in module (so that the target knows
    /// they are satisfied). Returns (file name, content).
    pub fn write_subset_index(&self, subset: &BTreeSet<String>) -> Vec<(String, Vec<u8>)> {
        let subset: BTreeSet<String> = subset.iter().map(|n| normalize_name(n)).collect();
        let mut dep = String::new();
        for m in self.modules.iter().filter(|m| subset.contains(&m.name)) {
            dep.push_str(&m.path);
            dep.push(':');
            for d in &m.deps {
                dep.push(' ');
                dep.push_str(d);
            }
            dep.push('\n');
        }
        let alias_lines = |idx: &AliasIndex, all: bool| {
            let mut out = String::new();
            for e in idx
                .entries
                .iter()
                .filter(|e| all || subset.contains(&e.module))
            {
                out.push_str(&format!("alias {} {}\n", e.pattern, e.module));
            }
            out
        };
        let alias = format!(
            "# Aliases extracted from modules themselves.\n{}",
            alias_lines(&self.aliases, false)
        );
        let mut softdep = String::from("# Soft dependencies extracted from modules themselves.\n");
        for (name, sd) in &self.softdeps {
            if subset.contains(name) {
                softdep.push_str(&sd.line);
                softdep.push('\n');
            }
        }
        let mut builtin = String::new();
        for name in &self.builtin_order {
            builtin.push_str(&self.builtin[name]);
            builtin.push('\n');
        }
        let mut modinfo = Vec::new();
        for e in &self.builtin_aliases.entries {
            modinfo.extend_from_slice(format!("{}.alias={}\0", e.module, e.pattern).as_bytes());
        }
        vec![
            ("modules.dep".into(), dep.into_bytes()),
            ("modules.alias".into(), alias.into_bytes()),
            ("modules.softdep".into(), softdep.into_bytes()),
            ("modules.builtin".into(), builtin.into_bytes()),
            ("modules.builtin.modinfo".into(), modinfo),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEP: &str = "kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko
kernel/fs/jbd2/jbd2.ko:
kernel/arch/x86/crypto/crc32c-intel.ko:
kernel/crypto/crc32c_generic.ko:
kernel/drivers/net/ethernet/intel/e1000/e1000.ko.xz:
";
    const ALIAS: &str = "# Aliases extracted from modules themselves.
alias virtio:d00000001v* virtio_net
alias crypto-crc32c crc32c_intel
alias crypto-crc32c crc32c_generic
alias pci:v00008086d0000100Esv*sd*bc*sc*i* e1000
alias pci:v00008086d0000100[EF]sv*sd*bc*sc*i* e1000
alias fs-ext4 ext4
";
    const SOFTDEP: &str = "# Soft dependencies extracted from modules themselves.
softdep ext4 pre: crypto-crc32c
softdep cifs gcm
";

    fn tree() -> ModuleTree {
        ModuleTree::from_texts(
            DEP,
            ALIAS,
            SOFTDEP,
            "kernel/drivers/virtio/virtio_pci_builtin.ko\n",
            b"virtio_pci_builtin.alias=pci:v00001AF4d*sv*sd*bc*sc*i*\0virtio_pci_builtin.file=x\0",
        )
    }

    #[test]
    fn lookup_follows_kmods_order() {
        let t = tree();
        assert_eq!(
            t.lookup("virtio-net"),
            Some((LookupKind::Name, vec!["virtio_net".into()]))
        );
        assert_eq!(
            t.lookup("crypto-crc32c"),
            Some((
                LookupKind::Alias,
                vec!["crc32c_intel".into(), "crc32c_generic".into()]
            ))
        );
        assert_eq!(
            t.resolve_alias("pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00"),
            ["e1000"]
        );
        assert_eq!(
            t.lookup("pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00"),
            Some((LookupKind::BuiltinAlias, vec!["virtio_pci_builtin".into()]))
        );
        assert_eq!(
            t.lookup("virtio_pci_builtin"),
            Some((LookupKind::Builtin, vec!["virtio_pci_builtin".into()]))
        );
        assert_eq!(t.lookup("pci:v00001234d0000"), None);
        assert!(t.is_builtin("virtio-pci-builtin"));
        assert_eq!(
            t.module_path("e1000"),
            Some("kernel/drivers/net/ethernet/intel/e1000/e1000.ko.xz")
        );
        assert_eq!(t.module_names().count(), 10);
    }

    #[test]
    fn closure_puts_dependencies_and_softdeps_first() {
        let t = tree();
        let c = t.closure(&["virtio_net".into()]).expect("closure");
        assert_eq!(
            c,
            [
                "virtio_ring",
                "virtio",
                "failover",
                "net_failover",
                "virtio_net"
            ]
        );
        let c = t.closure(&["ext4".into()]).expect("closure");
        assert_eq!(c, ["crc32c_intel", "crc32c_generic", "jbd2", "ext4"]);
        assert!(matches!(
            t.closure(&["nosuch".into()]),
            Err(TreeError::UnknownModule(n)) if n == "nosuch"
        ));
    }

    #[test]
    fn cycles_and_missing_dependencies_are_reported_and_the_rest_goes_on() {
        let t = ModuleTree::from_texts(
            "a.ko: b.ko\nb.ko: a.ko\nc.ko: gone.ko\nd.ko:\n",
            "",
            "softdep d pre: d post: a\n",
            "",
            b"",
        );
        let p = t.plan(&["a".into(), "c".into(), "d".into()]);
        assert_eq!(p.order, ["b", "a", "c", "d"]);
        assert_eq!(p.problems.len(), 2, "{:?}", p.problems);
        assert!(
            matches!(&p.problems[0], TreeError::Cycle { module, dep } if module == "b" && dep == "a")
        );
        assert!(
            matches!(&p.problems[1], TreeError::MissingDependency { module, .. } if module == "c")
        );
        assert!(p.problems[1].to_string().contains("gone.ko"));
    }

    #[test]
    fn subset_index_round_trips() {
        let t = tree();
        let set: BTreeSet<String> = t
            .closure(&["ext4".into()])
            .expect("closure")
            .into_iter()
            .collect();
        let files: HashMap<String, String> = t
            .write_subset_index(&set)
            .into_iter()
            .map(|(n, c)| (n, String::from_utf8_lossy(&c).into_owned()))
            .collect();
        let sub = ModuleTree::from_texts(
            &files["modules.dep"],
            &files["modules.alias"],
            &files["modules.softdep"],
            &files["modules.builtin"],
            files["modules.builtin.modinfo"].as_bytes(),
        );
        assert_eq!(sub.module_names().count(), 4);
        assert_eq!(sub.resolve_alias("fs-ext4"), ["ext4"]);
        assert!(sub.resolve_alias("virtio:d00000001v00001AF4").is_empty());
        assert_eq!(
            sub.closure(&["ext4".into()]).expect("closure"),
            ["crc32c_intel", "crc32c_generic", "jbd2", "ext4"]
        );
        assert!(sub.is_builtin("virtio_pci_builtin"));
        assert_eq!(
            sub.resolve_alias("pci:v00001AF4d00001000sv0sd0bc0sc0i0"),
            ["virtio_pci_builtin"]
        );
    }

    #[test]
    fn bad_lines_are_skipped_with_a_warning() {
        let t = ModuleTree::from_texts(
            "a.ko:\ngarbage\n",
            "alias onlyone\nalias x a\n",
            "",
            "",
            b"",
        );
        assert_eq!(t.module_names().collect::<Vec<_>>(), ["a"]);
        assert_eq!(t.resolve_alias("x"), ["a"]);
        assert_eq!(t.warnings().len(), 2);
    }
}
