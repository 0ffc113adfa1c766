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

use crate::depindex::{module_at, DepIndex, Module};
pub use crate::fnmatch::name_of_path;
use crate::fnmatch::normalize_name;
use crate::hash::FxMap;
pub use crate::lookup::LookupKind;
pub use crate::plan::Plan;
use crate::textfiles::{into_string, read_optional};
use std::collections::HashMap;
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

#[derive(Default)]
pub(crate) struct Softdep {
    pub(crate) line: String,
    pub(crate) pre: Vec<String>,
    pub(crate) post: Vec<String>,
}

/// Bytes of a file: mapped from the page cache, or owned (tests).
pub(crate) enum Bytes {
    Owned(Vec<u8>),
    Mapped(crate::sys::Mapped),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Owned(v) => v,
            Bytes::Mapped(m) => m,
        }
    }
}

/// The module index of one kernel's module directory. The alias files are
/// kept as text and scanned once per batch of lookups
/// ([`ModuleTree::lookup_many`]): a coldplug resolves a few hundred aliases,
/// and one pass over 26,000 lines costs less than building an index.
pub struct ModuleTree {
    pub(crate) dir: PathBuf,
    pub(crate) dep_text: String,
    /// modules.dep parsed, on first need (never, for lookups, when the
    /// precompiled index is present).
    pub(crate) dep_index: std::sync::OnceLock<DepIndex>,
    pub(crate) alias_text: Bytes,
    /// Offsets of modules.alias lines by [`bucket`] of their pattern,
    /// built on the first lookup.
    pub(crate) alias_buckets: std::sync::OnceLock<FxMap<u16, Vec<u32>>>,
    /// The precompiled index (modules.nodistro) when present and current.
    pub(crate) alias_idx: Option<(Bytes, crate::index::Meta)>,
    pub(crate) builtin_modinfo: Vec<u8>,
    pub(crate) softdeps: HashMap<String, Softdep>,
    /// Built-in module name -> its modules.builtin line.
    pub(crate) builtin: HashMap<String, String>,
    pub(crate) builtin_order: Vec<String>,
    /// Modules with softdep lines, in file order.
    pub(crate) softdep_order: Vec<String>,
    pub(crate) warnings: Vec<String>,
}

impl ModuleTree {
    /// Read the index files of `dir` (a `/lib/modules/<version>` directory).
    /// modules.dep is required, the others optional. Bad lines are skipped
    /// and listed in [`ModuleTree::warnings`].
    pub fn open(dir: &Path) -> Result<ModuleTree, TreeError> {
        let dep_path = dir.join("modules.dep");
        let dep = match std::fs::read(&dep_path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && dir.is_dir() => {
                return Ok(Self::from_modinfo(dir));
            }
            Err(source) => {
                return Err(TreeError::Read {
                    path: dep_path.clone(),
                    source,
                })
            }
        };
        let mut warnings = Vec::new();
        let alias_path = dir.join("modules.alias");
        let alias = match crate::sys::Mapped::open(&alias_path) {
            Ok(m) => Bytes::Mapped(m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Bytes::Owned(Vec::new()),
            Err(e) => {
                warnings.push(format!(
                    "cannot read {}: {e}; ignoring it",
                    alias_path.display()
                ));
                Bytes::Owned(Vec::new())
            }
        };
        let mut text = |name: &str| {
            into_string(read_optional(&dir.join(name), &mut warnings).unwrap_or_default())
        };
        let softdep = text("modules.softdep");
        let builtin = text("modules.builtin");
        let builtin_modinfo =
            read_optional(&dir.join("modules.builtin.modinfo"), &mut warnings).unwrap_or_default();
        let alias_size = alias.len();
        let mut tree =
            ModuleTree::build(into_string(dep), alias, &softdep, &builtin, builtin_modinfo);
        tree.dir = dir.to_path_buf();
        if let Ok(idx) = crate::sys::Mapped::open(&dir.join(crate::index::FILE)) {
            match crate::index::open(&idx, alias_size, tree.dep_text.len()) {
                Some(meta) => tree.alias_idx = Some((Bytes::Mapped(idx), meta)),
                None => warnings.push(format!(
                    "{} does not match modules.alias and modules.dep (stale or corrupt): using the text (run `modload index`)",
                    dir.join(crate::index::FILE).display()
                )),
            }
        }
        warnings.append(&mut tree.warnings);
        if tree.alias_idx.is_none() {
            warnings.extend(tree.deps().warnings.iter().cloned());
        }
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
        let mut t = Self::build(
            dep.to_string(),
            Bytes::Owned(alias.as_bytes().to_vec()),
            softdep,
            builtin,
            builtin_modinfo.to_vec(),
        );
        let w = t.deps().warnings.clone();
        t.warnings.extend(w);
        t
    }

    pub(crate) fn build(
        dep_text: String,
        alias_text: Bytes,
        softdep: &str,
        builtin: &str,
        builtin_modinfo: Vec<u8>,
    ) -> ModuleTree {
        let mut t = ModuleTree {
            dir: PathBuf::new(),
            dep_index: std::sync::OnceLock::new(),
            alias_text: Bytes::Owned(Vec::new()),
            alias_buckets: std::sync::OnceLock::new(),
            alias_idx: None,
            builtin_modinfo,
            softdeps: HashMap::new(),
            builtin: HashMap::new(),
            builtin_order: Vec::new(),
            softdep_order: Vec::new(),
            warnings: Vec::new(),
            dep_text: String::new(),
        };
        t.dep_text = dep_text;
        t.alias_text = alias_text;
        for line in softdep.lines() {
            let mut w = line.split_whitespace();
            if w.next() != Some("softdep") {
                continue;
            }
            let Some(module) = w.next() else { continue };
            let name = normalize_name(module);
            if !t.softdeps.contains_key(&name) {
                t.softdep_order.push(name.clone());
            }
            let sd = t.softdeps.entry(name).or_default();
            let first = sd.line.is_empty();
            if !first {
                sd.line.push('\n');
            }
            sd.line.push_str(line);
            // kmod uses only the first softdep line of a module ("as
            // modprobe from module-init-tools does"): btrfs has four.
            if !first {
                continue;
            }
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
        t
    }

    pub(crate) fn deps(&self) -> &DepIndex {
        self.dep_index
            .get_or_init(|| DepIndex::parse(&self.dep_text))
    }

    /// The module with this normalised name: from the precompiled index
    /// when there is one, else from modules.dep parsed.
    pub(crate) fn find(&self, name: &str) -> Option<Module> {
        if let Some((idx, meta)) = &self.alias_idx {
            let (off, len) = crate::index::find_name(idx, meta, name.as_bytes())?;
            return module_at(&self.dep_text, off, len);
        }
        self.deps().find(name)
    }

    pub(crate) fn text(&self, r: (u32, u32)) -> &str {
        self.dep_text.get(r.0 as usize..r.1 as usize).unwrap_or("")
    }

    /// The directory this tree was read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Problems met while reading (bad lines, unreadable optional files).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Whether lookups use the precompiled index.
    pub fn has_index(&self) -> bool {
        self.alias_idx.is_some()
    }

    /// Path relative to the tree as modules.dep gives it; `None` for built-in
    /// or unknown modules.
    pub fn module_path(&self, name: &str) -> Option<&str> {
        let m = self.find(&normalize_name(name))?;
        Some(self.text(m.path))
    }

    pub(crate) fn dep_paths(&self, name: &str) -> impl Iterator<Item = &str> {
        let deps = match self.find(name) {
            Some(m) => self.text(m.deps),
            None => "",
        };
        deps.split_whitespace()
    }

    /// Names of the modules `name` needs, as modules.dep lists them.
    pub fn dependencies(&self, name: &str) -> Vec<String> {
        self.dep_paths(&normalize_name(name))
            .map(name_of_path)
            .collect()
    }

    /// Names of the loadable modules (modules.dep order).
    pub fn module_names(&self) -> impl Iterator<Item = &str> {
        let d = self.deps();
        d.modules.iter().map(|m| d.mod_name(m))
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
}

#[cfg(test)]
pub(crate) mod fixture {
    use super::ModuleTree;

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
softdep ext4 pre: virtio_net
softdep cifs gcm
";

    pub(crate) fn tree() -> ModuleTree {
        ModuleTree::from_texts(
            DEP,
            ALIAS,
            SOFTDEP,
            "kernel/drivers/virtio/virtio_pci_builtin.ko\n",
            b"virtio_pci_builtin.alias=pci:v00001AF4d*sv*sd*bc*sc*i*\0virtio_pci_builtin.file=x\0",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(t.warnings().len(), 1);
    }
}
