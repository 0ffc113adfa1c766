//! The module index of one `/lib/modules/<version>` directory, with kmod's
//! lookup rules:
//!
//! 1. a module name in `modules.dep` (`-` and `_` alike),
//! 2. else, for `symbol:NAME`, the module exporting it (`modules.symbols`),
//! 3. else every `modules.alias` pattern that matches (fnmatch),
//! 4. else every alias of a built-in module (`modules.builtin.modinfo`),
//! 5. else a built-in module's name (`modules.builtin`): satisfied, nothing
//!    to load.
//!
//! Read, like kmod, from depmod's binary indexes (`modules.*.bin`, see
//! [`crate::core::kmodbin`]) when they are there, current and sound; from the
//! text files otherwise, with one warning saying why. A corrupt node met
//! during a lookup switches the tree to the text files from then on
//! ([`ModuleTree::fallback`]).

use crate::bins::Bins;
use crate::core::depindex::DepIndex;
pub use crate::core::fnmatch::name_of_path;
use crate::core::fnmatch::{fnmatch, normalize_name};
use crate::core::hash::FxMap;
use crate::core::softdep::{parse_softdeps, Softdep};
use crate::core::textfiles::into_string;
use crate::sys::read_optional;
use crate::sys::Bytes;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

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

/// A module's modules.dep line: its path and its dependencies' paths.
#[derive(Clone, Copy)]
pub(crate) struct DepLine<'a> {
    pub(crate) path: &'a str,
    pub(crate) deps: &'a str,
}

/// The module index of one kernel's module directory. The text files are
/// read on first need only: with depmod's .bin files a lookup reads a few
/// trie nodes and nothing else.
pub struct ModuleTree {
    pub(crate) dir: PathBuf,
    /// depmod's binary indexes, when usable.
    pub(crate) bins: Option<Bins>,
    /// Why the binary indexes were abandoned after a lookup met a corrupt
    /// node (the text files are used from then on).
    pub(crate) fallback: OnceLock<String>,
    pub(crate) dep_text: OnceLock<String>,
    /// modules.dep parsed, on first need.
    pub(crate) dep_index: OnceLock<DepIndex>,
    pub(crate) alias_text: OnceLock<Bytes>,
    /// Offsets of modules.alias lines by [`crate::core::queries::bucket`] of their
    /// pattern, built on the first text lookup.
    pub(crate) alias_buckets: OnceLock<FxMap<u16, Vec<u32>>>,
    pub(crate) builtin_modinfo: OnceLock<Vec<u8>>,
    pub(crate) symbols_text: OnceLock<Bytes>,
    pub(crate) softdeps: HashMap<String, Softdep>,
    /// Built-in module name -> its modules.builtin line.
    pub(crate) builtin: HashMap<String, String>,
    pub(crate) builtin_order: Vec<String>,
    /// Modules with softdep lines, in file order.
    pub(crate) softdep_order: Vec<String>,
    /// modprobe.d `softdep` lines (module pattern, softdep) of the files
    /// named before modules.softdep, then of those named after it, each
    /// in reading order (see [`ModuleTree::apply_modprobe_conf`]).
    pub(crate) config_softdeps: [Vec<(String, Softdep)>; 2],
    /// `alias` lines of modprobe.d (pattern, module): looked up first.
    pub(crate) config_aliases: Vec<(String, String)>,
    pub(crate) warnings: Vec<String>,
}

impl ModuleTree {
    /// Read the index files of `dir` (a `/lib/modules/<version>` directory):
    /// depmod's .bin files, else modules.dep (required) and the other text
    /// files (optional). Bad lines are skipped and listed in
    /// [`ModuleTree::warnings`].
    pub fn open(dir: &Path) -> Result<ModuleTree, TreeError> {
        let dep_path = dir.join("modules.dep");
        let bins = Bins::open(dir);
        let mut warnings = Vec::new();
        if let Err(why) = &bins {
            match std::fs::metadata(&dep_path) {
                Ok(_) => warnings.push(format!(
                    "{}: {why}: using the text files (run depmod)",
                    dir.display()
                )),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && dir.is_dir() => {
                    return Ok(Self::from_modinfo(dir));
                }
                Err(source) => {
                    return Err(TreeError::Read {
                        path: dep_path,
                        source,
                    })
                }
            }
        }
        let mut text = |name: &str| {
            into_string(read_optional(&dir.join(name), &mut warnings).unwrap_or_default())
        };
        let softdep = text("modules.softdep");
        let builtin = text("modules.builtin");
        let mut tree = ModuleTree::build(&softdep, &builtin);
        tree.dir = dir.to_path_buf();
        tree.bins = bins.ok();
        if tree.bins.is_none() {
            // Read now: a missing modules.dep is an error, not an empty tree.
            let dep = std::fs::read(&dep_path).map_err(|source| TreeError::Read {
                path: dep_path,
                source,
            })?;
            let _ = tree.dep_text.set(into_string(dep));
            warnings.extend(tree.deps().warnings.iter().cloned());
        }
        tree.warnings.splice(0..0, warnings);
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
        let t = Self::build(softdep, builtin);
        t.set_texts(
            dep.to_string(),
            alias.as_bytes().to_vec(),
            builtin_modinfo.to_vec(),
        )
    }

    /// The text files' contents, for trees not read from a directory.
    pub(crate) fn set_texts(mut self, dep: String, alias: Vec<u8>, modinfo: Vec<u8>) -> Self {
        let _ = self.dep_text.set(dep);
        let _ = self.alias_text.set(Bytes::Owned(alias));
        let _ = self.builtin_modinfo.set(modinfo);
        let _ = self.symbols_text.set(Bytes::Owned(Vec::new()));
        let w = self.deps().warnings.clone();
        self.warnings.extend(w);
        self
    }

    pub(crate) fn build(softdep: &str, builtin: &str) -> ModuleTree {
        let mut t = ModuleTree {
            dir: PathBuf::new(),
            bins: None,
            fallback: OnceLock::new(),
            dep_text: OnceLock::new(),
            dep_index: OnceLock::new(),
            alias_text: OnceLock::new(),
            alias_buckets: OnceLock::new(),
            builtin_modinfo: OnceLock::new(),
            symbols_text: OnceLock::new(),
            softdeps: HashMap::new(),
            builtin: HashMap::new(),
            builtin_order: Vec::new(),
            softdep_order: Vec::new(),
            config_aliases: Vec::new(),
            config_softdeps: Default::default(),
            warnings: Vec::new(),
        };
        t.add_softdeps(softdep);
        for line in builtin.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let name = name_of_path(line);
            if t.builtin.insert(name.clone(), line.to_string()).is_none() {
                t.builtin_order.push(name);
            }
        }
        t
    }

    /// `softdep MODULE pre: ... post: ...` lines of modules.softdep; a
    /// module's first line wins, as in kmod.
    pub(crate) fn add_softdeps(&mut self, text: &str) {
        for (name, sd, line) in parse_softdeps(text) {
            if !self.softdeps.contains_key(&name) {
                self.softdep_order.push(name.clone());
            }
            let entry = self.softdeps.entry(name).or_default();
            if entry.line.is_empty() {
                *entry = sd;
            } else {
                // Kept for the subset writer; kmod uses the first only.
                entry.line.push('\n');
                entry.line.push_str(line);
            }
        }
    }

    /// Apply modprobe.d: its aliases are looked up before anything else.
    /// Its softdeps go as kmod takes them: kmod reads modules.softdep among
    /// the configuration files in name order and uses the first softdep
    /// line whose module (a glob pattern, as in `softdep e100* pre: x`)
    /// matches, so the lines of files named before it override a module's
    /// own softdeps and those of files named after it only count for
    /// modules without their own.
    pub fn apply_modprobe_conf(&mut self, conf: &crate::modprobe_d::ModprobeConf) {
        self.config_aliases = conf.aliases.clone();
        self.config_softdeps = [&conf.softdeps, &conf.late_softdeps].map(|text| {
            parse_softdeps(text)
                .into_iter()
                .map(|(pattern, sd, _)| (pattern, sd))
                .collect()
        });
    }

    /// The softdep line that counts for module `name` (normalised).
    pub(crate) fn softdep_of(&self, name: &str) -> Option<&Softdep> {
        fn first<'a>(lines: &'a [(String, Softdep)], name: &str) -> Option<&'a Softdep> {
            lines
                .iter()
                .find(|(p, _)| fnmatch(p.as_bytes(), name.as_bytes()))
                .map(|(_, sd)| sd)
        }
        first(&self.config_softdeps[0], name)
            .or_else(|| self.softdeps.get(name))
            .or_else(|| first(&self.config_softdeps[1], name))
    }

    /// A text file of the tree, read (or mapped) on first need; missing or
    /// unreadable: empty.
    fn lazy<'a>(&'a self, cell: &'a OnceLock<Bytes>, name: &str) -> &'a [u8] {
        cell.get_or_init(|| match crate::sys::Mapped::open(&self.dir.join(name)) {
            Ok(m) => Bytes::Mapped(m),
            Err(_) => Bytes::Owned(Vec::new()),
        })
    }

    pub(crate) fn dep_text(&self) -> &str {
        self.dep_text.get_or_init(|| {
            into_string(std::fs::read(self.dir.join("modules.dep")).unwrap_or_default())
        })
    }

    pub(crate) fn alias_text(&self) -> &[u8] {
        self.lazy(&self.alias_text, "modules.alias")
    }

    pub(crate) fn symbols_text(&self) -> &[u8] {
        self.lazy(&self.symbols_text, "modules.symbols")
    }

    pub(crate) fn builtin_modinfo(&self) -> &[u8] {
        self.builtin_modinfo.get_or_init(|| {
            std::fs::read(self.dir.join("modules.builtin.modinfo")).unwrap_or_default()
        })
    }

    /// A byte range of modules.dep.
    pub(crate) fn text(&self, r: (u32, u32)) -> &str {
        self.dep_text()
            .get(r.0 as usize..r.1 as usize)
            .unwrap_or("")
    }

    /// modules.builtin as this tree holds it.
    pub(crate) fn builtin_text(&self) -> String {
        self.builtin_order
            .iter()
            .map(|n| format!("{}\n", self.builtin[n]))
            .collect()
    }

    pub(crate) fn deps(&self) -> &DepIndex {
        self.dep_index
            .get_or_init(|| DepIndex::parse(self.dep_text()))
    }

    /// The binary indexes, unless absent or abandoned.
    pub(crate) fn usable_bins(&self) -> Option<&Bins> {
        self.bins.as_ref().filter(|_| self.fallback.get().is_none())
    }

    /// Abandon the binary indexes (the first reason is kept).
    pub(crate) fn give_up_bins(&self, why: String) {
        let _ = self.fallback.set(format!(
            "{}: {why}: using the text files from now on (run depmod)",
            self.dir.display()
        ));
    }

    /// Why the binary indexes were abandoned during a lookup, if they were.
    pub fn fallback(&self) -> Option<&str> {
        self.fallback.get().map(String::as_str)
    }

    /// The modules.dep line of the module with this normalised name.
    pub(crate) fn find(&self, name: &str) -> Option<DepLine<'_>> {
        if let Some(b) = self.usable_bins() {
            match b.dep_line(name) {
                Ok(found) => return found.map(|(path, deps)| DepLine { path, deps }),
                Err(why) => self.give_up_bins(why),
            }
        }
        let m = self.deps().find(name)?;
        Some(DepLine {
            path: self.text(m.path),
            deps: self.text(m.deps),
        })
    }

    /// The directory this tree was read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Problems met while reading (bad lines, unreadable optional files,
    /// why the binary indexes are not used).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Whether lookups use depmod's binary indexes.
    pub fn uses_bins(&self) -> bool {
        self.usable_bins().is_some()
    }

    /// Path relative to the tree as modules.dep gives it; `None` for built-in
    /// or unknown modules.
    pub fn module_path(&self, name: &str) -> Option<&str> {
        Some(self.find(&normalize_name(name))?.path)
    }

    pub(crate) fn dep_paths(&self, name: &str) -> impl Iterator<Item = &str> {
        self.find(name).map_or("", |l| l.deps).split_whitespace()
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
        match self.softdep_of(&normalize_name(name)) {
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

    /// Checked against modprobe in tests/tests/modload_kmod.rs.
    #[test]
    fn modprobe_d_softdeps_named_before_modules_softdep_win() {
        let mut t = ModuleTree::from_texts(
            "a.ko:\n",
            "",
            "softdep jbd2 pre: own1\nsoftdep ext4 pre: own2\n",
            "",
            b"",
        );
        let mut conf = crate::modprobe_d::ModprobeConf::default();
        conf.parse_file("a.conf", "a.conf", "softdep jbd2 pre: early\n");
        conf.parse_file(
            "zz.conf",
            "zz.conf",
            "softdep ext4 pre: late\nsoftdep e100* pre: late\nsoftdep jbd2 pre: late\n",
        );
        t.apply_modprobe_conf(&conf);
        let pre = |m: &str| t.softdeps(m).0.to_vec();
        assert_eq!(pre("jbd2"), ["early"]);
        assert_eq!(pre("ext4"), ["own2"]);
        assert_eq!(pre("e1000"), ["late"]);
        assert_eq!(pre("e1000e"), ["late"]);
        assert!(pre("virtio_net").is_empty());
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
        assert_eq!(t.warnings().len(), 1);
    }

    /// A tree directory with the fixture's files, text and .bin.
    fn on_disk(tag: &str) -> (crate::testutil::TempTree, Vec<(String, Vec<u8>)>) {
        let t = fixture::tree();
        let all: std::collections::BTreeSet<String> =
            t.module_names().map(str::to_string).collect();
        let files = t.write_subset_index(&all, &Default::default());
        let dir = crate::testutil::TempTree::new(tag);
        for (name, content) in &files {
            std::fs::write(dir.0.join(name), content).expect("write");
        }
        (dir, files)
    }

    fn answers_right(t: &ModuleTree) {
        assert_eq!(t.resolve_alias("fs-ext4"), ["ext4"]);
        assert_eq!(
            t.resolve_alias("crypto-crc32c"),
            ["crc32c_intel", "crc32c_generic"]
        );
        assert_eq!(
            t.closure(&["ext4".into()]).expect("closure"),
            ["jbd2", "crc32c_intel", "crc32c_generic", "ext4"]
        );
    }

    #[test]
    fn bad_bin_files_fall_back_to_the_text_with_one_line() {
        let (dir, files) = on_disk("modload-bins");
        let good = ModuleTree::open(&dir.0).expect("open");
        assert!(good.uses_bins(), "{:?}", good.warnings());
        assert!(good.warnings().is_empty(), "{:?}", good.warnings());
        answers_right(&good);
        let bin = |name: &str| {
            files
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, c)| c.clone())
                .expect("written")
        };
        let alias = bin("modules.alias.bin");
        let mut wrong_version = alias.clone();
        wrong_version[5] = 3;
        let mut wrong_magic = alias.clone();
        wrong_magic[0] = b'x';
        let cases: Vec<(&str, Option<Vec<u8>>, &str)> = vec![
            (
                "modules.alias.bin",
                Some(alias[..alias.len() - 9].to_vec()),
                "truncated",
            ),
            (
                "modules.alias.bin",
                Some(alias[..7].to_vec()),
                "truncated (7 bytes",
            ),
            ("modules.alias.bin", Some(wrong_version), "version 3.1"),
            ("modules.alias.bin", Some(wrong_magic), "not a kmod index"),
            (
                "modules.dep.bin",
                None,
                "no modules.alias.bin and modules.dep.bin",
            ),
        ];
        for (name, content, why) in cases {
            let path = dir.0.join(name);
            match &content {
                Some(c) => std::fs::write(&path, c).expect("write"),
                None => std::fs::remove_file(&path).expect("remove"),
            }
            let t = ModuleTree::open(&dir.0).expect("open");
            assert!(!t.uses_bins(), "{name} {why}");
            assert_eq!(t.warnings().len(), 1, "{:?}", t.warnings());
            let w = &t.warnings()[0];
            assert!(w.contains(why) && w.contains("using the text files"), "{w}");
            answers_right(&t);
            std::fs::write(&path, bin(name)).expect("restore");
        }
        // Stale: a text file newer than its index.
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
        let f = std::fs::File::options()
            .write(true)
            .open(dir.0.join("modules.dep"))
            .expect("open");
        f.set_modified(later).expect("set mtime");
        let t = ModuleTree::open(&dir.0).expect("open");
        assert!(!t.uses_bins());
        assert!(t.warnings()[0].contains("modules.dep.bin is older than modules.dep (stale)"));
        answers_right(&t);
    }

    /// Root node's child offsets pointed past the end: the header and root
    /// are fine (open accepts it), the first lookup that descends fails.
    fn break_children(data: &mut [u8]) {
        let root = u32::from_be_bytes([data[8], data[9], data[10], data[11]]);
        let mut at = (root & 0x0FFF_FFFF) as usize;
        assert_eq!(root & 0x8000_0000, 0, "fixture root has no prefix");
        let (first, last) = (data[at], data[at + 1]);
        at += 2;
        for _ in first..=last {
            data[at..at + 4].copy_from_slice(&0x2FFF_FFF0u32.to_be_bytes());
            at += 4;
        }
    }

    #[test]
    fn a_corrupt_node_met_in_a_lookup_switches_to_the_text() {
        for name in ["modules.alias.bin", "modules.dep.bin"] {
            let (dir, files) = on_disk("modload-bins-lazy");
            let mut data = files
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, c)| c.clone())
                .expect("written");
            break_children(&mut data);
            std::fs::write(dir.0.join(name), &data).expect("write");
            let t = ModuleTree::open(&dir.0).expect("open");
            assert!(t.uses_bins(), "{name}: the root is sound");
            assert!(t.fallback().is_none());
            answers_right(&t);
            let why = t.fallback().expect("a lookup met the corrupt node");
            assert!(
                why.contains(name) && why.contains("corrupt node") && why.contains("text files"),
                "{why}"
            );
            assert!(!t.uses_bins());
        }
    }

    /// Issue 15, defect 4: an index is not trusted for a module its entry
    /// does not name (a modules.dep.bin entry pointing at another module's
    /// line gives that module silently otherwise).
    #[test]
    fn a_dep_entry_for_another_module_is_refused() {
        let (dir, _) = on_disk("modload-bins-names");
        let t = ModuleTree::open(&dir.0).expect("open");
        let dep = t.dep_text().to_string();
        // Every name mapped to the next module's line.
        let lines: Vec<&str> = dep.lines().collect();
        let entries: Vec<(String, &str)> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let name = name_of_path(l.split(':').next().unwrap_or_default());
                (name, lines[(i + 1) % lines.len()])
            })
            .collect();
        let bin = crate::core::kmodbin::write(
            entries
                .iter()
                .enumerate()
                .map(|(i, (n, l))| (n.as_bytes(), l.as_bytes(), i as u32)),
        );
        std::fs::write(dir.0.join("modules.dep.bin"), bin).expect("write");
        let t = ModuleTree::open(&dir.0).expect("open");
        assert!(t.uses_bins());
        answers_right(&t);
        let why = t.fallback().expect("the wrong entry was noticed");
        assert!(
            why.contains("modules.dep.bin gives") && why.contains("(corrupt)"),
            "{why}"
        );
    }
}
