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

use crate::fnmatch::{find_byte, fnmatch, literal_prefix, normalize_alias, normalize_name};
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

#[derive(Clone, Copy, Default)]
struct Module {
    /// Byte range into `DepIndex::names`.
    name: (u32, u32),
    /// Byte ranges into `ModuleTree::dep_text`.
    path: (u32, u32),
    /// Dependency paths as modules.dep lists them (load the last first).
    deps: (u32, u32),
}

#[derive(Default)]
struct Softdep {
    line: String,
    pre: Vec<String>,
    post: Vec<String>,
}

fn hash_name(name: &str) -> u64 {
    use std::hash::Hasher;
    let mut h = Fx::default();
    h.write(name.as_bytes());
    h.finish()
}

/// FxHash: module names are short and trusted enough; SipHash costs more
/// than the rest of a lookup.
#[derive(Default, Clone, Copy)]
struct Fx(u64);

impl std::hash::Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        let mix = |h: u64, v: u64| (h.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = mix(self.0, u64::from_le_bytes(w));
        }
        for &b in chunks.remainder() {
            self.0 = mix(self.0, u64::from(b));
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fx>>;

/// Aliases being resolved together, sorted so that those starting with a
/// pattern's literal prefix form one contiguous run.
struct Queries<'a> {
    sorted: Vec<(&'a [u8], usize)>,
    /// Bit per value of a query's first two bytes: most patterns are
    /// rejected by one lookup.
    first2: Vec<u64>,
}

fn first2(s: &[u8]) -> usize {
    usize::from(s[0]) << 8 | usize::from(s[1])
}

impl<'a> Queries<'a> {
    fn new(items: impl Iterator<Item = (&'a [u8], usize)>) -> Self {
        let mut sorted: Vec<(&[u8], usize)> = items.collect();
        sorted.sort_unstable();
        let mut bits = vec![0u64; 1024];
        for (q, _) in &sorted {
            if q.len() >= 2 {
                let k = first2(q);
                bits[k / 64] |= 1 << (k % 64);
            }
        }
        Queries {
            sorted,
            first2: bits,
        }
    }

    /// Cheap pre-check on a raw pattern's first two bytes (`false`: no
    /// query can match it).
    fn may_match(&self, pat: &[u8]) -> bool {
        match pat {
            [a, b, ..] if !b"*?[\\-".contains(a) && !b"*?[\\-".contains(b) => {
                let k = first2(pat);
                self.first2[k / 64] & (1 << (k % 64)) != 0
            }
            _ => true,
        }
    }

    /// Call `hit(query index)` for every query the (normalised) pattern
    /// matches.
    fn match_pattern(&self, pat: &[u8], mut hit: impl FnMut(usize)) {
        let lp = literal_prefix(pat);
        if lp.len() >= 2 {
            let k = first2(lp);
            if self.first2[k / 64] & (1 << (k % 64)) == 0 {
                return;
            }
        }
        let start = self.sorted.partition_point(|(q, _)| *q < lp);
        for &(q, i) in &self.sorted[start..] {
            if !q.starts_with(lp) {
                break;
            }
            if (lp.len() == pat.len() && q.len() == lp.len())
                || (lp.len() < pat.len() && fnmatch(pat, q))
            {
                hit(i);
            }
        }
    }
}

/// Records of `text` separated by `sep`.
fn records(text: &[u8], sep: u8) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let r = rest?;
        match find_byte(r, sep) {
            Some(i) => {
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// `alias PATTERN MODULE` lines of modules.alias, as (pattern, module).
fn alias_lines(text: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    records(text, b'\n').filter_map(|line| {
        let rest = line.strip_prefix(b"alias ")?;
        let sp = find_byte(rest, b' ')?;
        Some((&rest[..sp], rest[sp + 1..].trim_ascii()))
    })
}

/// Answers of [`ModuleTree::lookup_many`], one per alias.
type Lookups = Vec<Option<(LookupKind, Vec<String>)>>;
/// Matches (pattern, module) records against the pending lookups.
type ScanFn<'a> = dyn Fn(&mut dyn Iterator<Item = (&[u8], &[u8])>, LookupKind, &mut Lookups) + 'a;

/// The first two bytes of a pattern or alias as a bucket number; 0 (no
/// bucket: every query must look) when they hold a wildcard or `-`.
fn bucket(s: &[u8]) -> u16 {
    match s {
        [a, b, ..] if !b"*?[\\-".contains(a) && !b"*?[\\-".contains(b) => {
            u16::from(*a) << 8 | u16::from(*b)
        }
        _ => 0,
    }
}

/// The `alias` line starting at `off`.
fn alias_line_at(text: &[u8], off: u32) -> Option<(&[u8], &[u8])> {
    let rest = text.get(off as usize..)?;
    let line = &rest[..find_byte(rest, b'\n').unwrap_or(rest.len())];
    alias_lines(line).next()
}

/// `MODULE.alias=PATTERN` records of modules.builtin.modinfo, as
/// (pattern, module).
fn builtin_alias_records(data: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    records(data, 0).filter_map(|rec| {
        let dot = rec.windows(7).position(|w| w == b".alias=")?;
        let module = &rec[..dot];
        (!module.contains(&b'=')).then_some((&rec[dot + 7..], module))
    })
}

/// Bytes of a file: mapped from the page cache, or owned (tests).
enum Bytes {
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

/// modules.dep parsed: every module, its name, a hashed name lookup.
#[derive(Default)]
struct DepIndex {
    modules: Vec<Module>,
    /// Normalised module names, one after the other.
    names: String,
    /// Hash of a module name -> index in `modules`; `collide` holds the
    /// modules whose name hash was already taken.
    by_name: FxMap<u64, u32>,
    collide: Vec<u32>,
    warnings: Vec<String>,
}

impl DepIndex {
    fn parse(dep_text: &str) -> DepIndex {
        let mut d = DepIndex::default();
        let mut off = 0usize;
        for (n, line) in dep_text.split('\n').enumerate() {
            let line_off = off;
            off += line.len() + 1;
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let Some(colon) = line.find(':') else {
                d.warnings.push(format!(
                    "modules.dep line {}: no ':' ({line:?}); skipped",
                    n + 1
                ));
                continue;
            };
            let start = d.names.len();
            let path = line[..colon].trim();
            let base = path.rsplit('/').next().unwrap_or(path);
            let base = base.split('.').next().unwrap_or(base);
            d.names
                .extend(base.chars().map(|c| if c == '-' { '_' } else { c }));
            let name = (start as u32, d.names.len() as u32);
            let path_end = line[..colon].trim_end().len();
            let range = |a: usize, b: usize| ((line_off + a) as u32, (line_off + b) as u32);
            let id = d.modules.len() as u32;
            let h = hash_name(&d.names[start..]);
            match d.by_name.entry(h) {
                // The first module under a name hash stays in the map (the
                // same name twice: the first wins); the others in `collide`.
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(id);
                }
                std::collections::hash_map::Entry::Occupied(_) => d.collide.push(id),
            }
            d.modules.push(Module {
                name,
                path: range(line.len() - line.trim_start().len(), path_end),
                deps: range(colon + 1, line.len()),
            });
        }
        d
    }

    fn mod_name(&self, m: &Module) -> &str {
        self.names
            .get(m.name.0 as usize..m.name.1 as usize)
            .unwrap_or("")
    }

    /// The module with this normalised name.
    fn find(&self, name: &str) -> Option<Module> {
        let i = *self.by_name.get(&hash_name(name))?;
        let m = self.modules[i as usize];
        if self.mod_name(&m) == name {
            return Some(m);
        }
        self.collide
            .iter()
            .map(|&c| self.modules[c as usize])
            .find(|m| self.mod_name(m) == name)
    }
}

/// Path and dependency ranges of the modules.dep line at `off..off + len`.
fn module_at(dep_text: &str, off: usize, len: usize) -> Option<Module> {
    let line = dep_text.get(off..off + len)?;
    let colon = line.find(':')?;
    let path_start = line.len() - line.trim_start().len();
    let path_end = line[..colon].trim_end().len();
    let r = |a: usize, b: usize| ((off + a) as u32, (off + b) as u32);
    Some(Module {
        name: (0, 0),
        path: r(path_start, path_end),
        deps: r(colon + 1, line.len()),
    })
}

/// The module index of one kernel's module directory. The alias files are
/// kept as text and scanned once per batch of lookups
/// ([`ModuleTree::lookup_many`]): a coldplug resolves a few hundred aliases,
/// and one pass over 26,000 lines costs less than building an index.
pub struct ModuleTree {
    dir: PathBuf,
    dep_text: String,
    /// modules.dep parsed, on first need (never, for lookups, when the
    /// precompiled index is present).
    dep_index: std::sync::OnceLock<DepIndex>,
    alias_text: Bytes,
    /// Offsets of modules.alias lines by [`bucket`] of their pattern,
    /// built on the first lookup.
    alias_buckets: std::sync::OnceLock<FxMap<u16, Vec<u32>>>,
    /// The precompiled index (modules.nodistro) when present and current.
    alias_idx: Option<(Bytes, crate::index::Meta)>,
    builtin_modinfo: Vec<u8>,
    softdeps: HashMap<String, Softdep>,
    /// Built-in module name -> its modules.builtin line.
    builtin: HashMap<String, String>,
    builtin_order: Vec<String>,
    /// Modules with softdep lines, in file order.
    softdep_order: Vec<String>,
    warnings: Vec<String>,
}

/// Module name of a path in modules.dep: the file name up to its first
/// `.`, `-` as `_`.
pub fn name_of_path(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    normalize_name(base.split('.').next().unwrap_or(base))
}

fn into_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
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
    /// What each softdep name met on the way resolved to.
    pub softdep_targets: HashMap<String, Vec<String>>,
}

impl Plan {
    /// The modules `name`'s `pre:` soft dependencies resolved to.
    pub fn pre_softdeps<'a>(&'a self, tree: &'a ModuleTree, name: &str) -> Vec<&'a str> {
        tree.softdeps(name)
            .0
            .iter()
            .filter_map(|s| self.softdep_targets.get(s))
            .flatten()
            .map(String::as_str)
            .collect()
    }
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

    /// A tree without depmod's files: every `.ko` / `.ko.gz` under `dir`
    /// is read and its `.modinfo` (depends, alias, softdep) stands in for
    /// the index files. Slower (each module is read whole); unreadable
    /// modules are listed in the warnings and left out.
    pub fn from_modinfo(dir: &Path) -> ModuleTree {
        let mut warnings = vec![format!(
            "no modules.dep in {}: reading each module's .modinfo instead (slower; run depmod)",
            dir.display()
        )];
        let mut files = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                let name = e.file_name().to_string_lossy().into_owned();
                if p.is_dir() {
                    stack.push(p);
                } else if name.ends_with(".ko") || name.ends_with(".ko.gz") {
                    files.push(p);
                }
            }
        }
        files.sort();
        let mut infos = Vec::new();
        for f in &files {
            let rel = f
                .strip_prefix(dir)
                .unwrap_or(f)
                .to_string_lossy()
                .into_owned();
            let data = std::fs::read(f).and_then(|d| {
                if rel.ends_with(".gz") {
                    let mut out = Vec::new();
                    std::io::Read::read_to_end(
                        &mut flate2::read::GzDecoder::new(&d[..]),
                        &mut out,
                    )?;
                    Ok(out)
                } else {
                    Ok(d)
                }
            });
            match data.map(|d| crate::modinfo::modinfo(&d)) {
                Ok(Ok(info)) => infos.push((rel, info)),
                Ok(Err(e)) => warnings.push(format!("{}: {e}; left out", f.display())),
                Err(e) => warnings.push(format!("cannot read {}: {e}; left out", f.display())),
            }
        }
        let path_of: HashMap<String, &str> = infos
            .iter()
            .map(|(rel, _)| (name_of_path(rel), rel.as_str()))
            .collect();
        let (mut dep, mut alias, mut softdep) = (String::new(), String::new(), String::new());
        for (rel, info) in &infos {
            let name = name_of_path(rel);
            dep.push_str(rel);
            dep.push(':');
            // Direct dependencies, the one loaded first last (depmod's order).
            for d in info.depends.iter().rev() {
                match path_of.get(&normalize_name(d)) {
                    Some(p) => {
                        dep.push(' ');
                        dep.push_str(p);
                    }
                    None => warnings.push(format!(
                        "{rel}: depends on {d}, which is not in {}",
                        dir.display()
                    )),
                }
            }
            dep.push('\n');
            for a in &info.alias {
                alias.push_str(&format!("alias {a} {name}\n"));
            }
            for sd in &info.softdep {
                softdep.push_str(&format!("softdep {name} {sd}\n"));
            }
        }
        let builtin = std::fs::read_to_string(dir.join("modules.builtin")).unwrap_or_default();
        let mut t = Self::build(
            dep,
            Bytes::Owned(alias.into_bytes()),
            &softdep,
            &builtin,
            Vec::new(),
        );
        t.dir = dir.to_path_buf();
        warnings.append(&mut t.warnings);
        warnings.extend(t.deps().warnings.iter().cloned());
        t.warnings = warnings;
        t
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

    fn build(
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

    fn deps(&self) -> &DepIndex {
        self.dep_index
            .get_or_init(|| DepIndex::parse(&self.dep_text))
    }

    /// The module with this normalised name: from the precompiled index
    /// when there is one, else from modules.dep parsed.
    fn find(&self, name: &str) -> Option<Module> {
        if let Some((idx, meta)) = &self.alias_idx {
            let (off, len) = crate::index::find_name(idx, meta, name.as_bytes())?;
            return module_at(&self.dep_text, off, len);
        }
        self.deps().find(name)
    }

    fn text(&self, r: (u32, u32)) -> &str {
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

    /// Look `alias` up with kmod's rules (see the module documentation).
    /// `None`: nothing matches. For many aliases use
    /// [`ModuleTree::lookup_many`]: one pass over the alias files for all.
    pub fn lookup(&self, alias: &str) -> Option<(LookupKind, Vec<String>)> {
        self.lookup_many(&[alias]).pop().flatten()
    }

    /// [`ModuleTree::lookup`] for each alias, in one pass over the files.
    pub fn lookup_many(&self, aliases: &[&str]) -> Vec<Option<(LookupKind, Vec<String>)>> {
        let norm: Vec<Option<String>> = aliases.iter().map(|a| normalize_alias(a)).collect();
        let mut out: Vec<Option<(LookupKind, Vec<String>)>> = norm
            .iter()
            .map(|n| {
                let n = n.as_deref()?;
                self.find(n)
                    .is_some()
                    .then(|| (LookupKind::Name, vec![n.to_string()]))
            })
            .collect();
        let pending = |out: &[Option<_>]| {
            Queries::new(
                norm.iter()
                    .enumerate()
                    .filter(|(i, n)| n.is_some() && out[*i].is_none())
                    .filter_map(|(i, n)| Some((n.as_deref()?.as_bytes(), i))),
            )
        };
        let scan = |records: &mut dyn Iterator<Item = (&[u8], &[u8])>,
                    kind: LookupKind,
                    out: &mut Vec<Option<(LookupKind, Vec<String>)>>| {
            let qs = pending(out);
            if qs.sorted.is_empty() {
                return;
            }
            let mut found: Vec<Vec<String>> = vec![Vec::new(); out.len()];
            let mut buf: String;
            for (pat, module) in records {
                if !qs.may_match(pat) {
                    continue;
                }
                let pat = if pat.contains(&b'-') {
                    match normalize_alias(&String::from_utf8_lossy(pat)) {
                        Some(p) => {
                            buf = p;
                            buf.as_bytes()
                        }
                        None => continue,
                    }
                } else {
                    pat
                };
                qs.match_pattern(pat, |i| {
                    let m = normalize_name(&String::from_utf8_lossy(module));
                    if !found[i].contains(&m) {
                        found[i].push(m);
                    }
                });
            }
            for (i, f) in found.into_iter().enumerate() {
                if !f.is_empty() {
                    out[i] = Some((kind, f));
                }
            }
        };
        if let Some((idx, meta)) = &self.alias_idx {
            for (i, n) in norm.iter().enumerate() {
                let (None, Some(q)) = (&out[i], n) else {
                    continue;
                };
                let mut found: Vec<String> = Vec::new();
                crate::index::matches(idx, meta, q.as_bytes(), |m| {
                    let m = String::from_utf8_lossy(m).into_owned();
                    if !found.contains(&m) {
                        found.push(m);
                    }
                });
                if !found.is_empty() {
                    out[i] = Some((LookupKind::Alias, found));
                }
            }
        } else {
            self.scan_alias_text(&norm, &mut out, &scan);
        }
        scan(
            &mut builtin_alias_records(&self.builtin_modinfo),
            LookupKind::BuiltinAlias,
            &mut out,
        );
        for (i, n) in norm.iter().enumerate() {
            if let (None, Some(n)) = (&out[i], n) {
                if self.builtin.contains_key(n) {
                    out[i] = Some((LookupKind::Builtin, vec![n.clone()]));
                }
            }
        }
        out
    }

    /// The alias step without an index: the lines of the queries' buckets.
    fn scan_alias_text(&self, norm: &[Option<String>], out: &mut Lookups, scan: &ScanFn) {
        let buckets = self.alias_buckets.get_or_init(|| {
            let mut map: FxMap<u16, Vec<u32>> = FxMap::default();
            let base = self.alias_text.as_ptr() as usize;
            for (pat, _) in alias_lines(&self.alias_text) {
                let off = (pat.as_ptr() as usize - base - "alias ".len()) as u32;
                map.entry(bucket(pat)).or_default().push(off);
            }
            map
        });
        let mut keys: Vec<u16> = norm
            .iter()
            .enumerate()
            .filter(|(i, _)| out[*i].is_none())
            .filter_map(|(_, n)| Some(bucket(n.as_deref()?.as_bytes())))
            .collect();
        keys.push(0);
        keys.sort_unstable();
        keys.dedup();
        let text: &[u8] = &self.alias_text;
        // A query shorter than two bytes (or holding `*`, `-`... there) has
        // no bucket: only then look at every line.
        let everything = norm.iter().enumerate().any(|(i, n)| {
            out[i].is_none() && n.as_deref().is_some_and(|n| bucket(n.as_bytes()) == 0)
        });
        if everything {
            scan(&mut alias_lines(text), LookupKind::Alias, out);
        } else {
            let mut lines = keys
                .iter()
                .filter_map(|k| buckets.get(k))
                .flatten()
                .filter_map(|&off| alias_line_at(text, off));
            scan(&mut lines, LookupKind::Alias, out);
        }
    }

    /// The precompiled alias index of this tree (see [`crate::index`]).
    pub fn build_index(&self) -> Vec<u8> {
        crate::index::build(
            alias_lines(&self.alias_text).map(|(p, m)| {
                (
                    String::from_utf8_lossy(p).into_owned(),
                    String::from_utf8_lossy(m).into_owned(),
                )
            }),
            self.alias_text.len(),
            &self.dep_text,
        )
    }

    /// Whether lookups use the precompiled index.
    pub fn has_index(&self) -> bool {
        self.alias_idx.is_some()
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
        // Softdep names are aliases: resolve those met on the way in one
        // batch, and walk again until no unresolved one is met.
        let mut targets: HashMap<String, Vec<String>> = HashMap::new();
        loop {
            let mut marks = HashMap::new();
            let mut plan = Plan::default();
            let mut missing = BTreeSet::new();
            for n in names {
                let n = normalize_name(n);
                if self.find(&n).is_none() && !self.builtin.contains_key(&n) {
                    plan.problems.push(TreeError::UnknownModule(n));
                    continue;
                }
                self.visit(&n, &mut marks, &mut plan, &targets, &mut missing);
            }
            if missing.is_empty() {
                plan.softdep_targets = targets;
                return plan;
            }
            let missing: Vec<&str> = missing.iter().map(String::as_str).collect();
            for (n, f) in missing.iter().zip(self.lookup_many(&missing)) {
                targets.insert(n.to_string(), f.map(|(_, v)| v).unwrap_or_default());
            }
        }
    }

    fn visit(
        &self,
        name: &str,
        marks: &mut HashMap<String, Mark>,
        plan: &mut Plan,
        targets: &HashMap<String, Vec<String>>,
        missing: &mut BTreeSet<String>,
    ) {
        if marks.contains_key(name) {
            return;
        }
        marks.insert(name.to_string(), Mark::InProgress);
        let soft = self.softdeps.get(name);
        let visit_soft = |list: Option<&Vec<String>>,
                          marks: &mut _,
                          plan: &mut _,
                          missing: &mut BTreeSet<String>| {
            for s in list.into_iter().flatten() {
                match targets.get(s) {
                    Some(found) => {
                        for m in found {
                            self.visit(m, marks, plan, targets, missing);
                        }
                    }
                    None => {
                        missing.insert(s.clone());
                    }
                }
            }
        };
        let deps: Vec<&str> = self.dep_paths(name).collect();
        for dep_path in deps.into_iter().rev() {
            let dep = name_of_path(dep_path);
            match marks.get(&dep) {
                Some(Mark::Done) => continue,
                Some(Mark::InProgress) => plan.problems.push(TreeError::Cycle {
                    module: name.to_string(),
                    dep,
                }),
                None if self.find(&dep).is_some() || self.builtin.contains_key(&dep) => {
                    self.visit(&dep, marks, plan, targets, missing)
                }
                None => plan.problems.push(TreeError::MissingDependency {
                    module: name.to_string(),
                    dep: dep_path.to_string(),
                }),
            }
        }
        // kmod's order: the dependencies, then the `pre:` soft
        // dependencies, then the module.
        visit_soft(soft.map(|s| &s.pre), marks, plan, missing);
        plan.order.push(name.to_string());
        marks.insert(name.to_string(), Mark::Done);
        visit_soft(soft.map(|s| &s.post), marks, plan, missing);
    }

    /// Path relative to the tree as modules.dep gives it; `None` for built-in
    /// or unknown modules.
    pub fn module_path(&self, name: &str) -> Option<&str> {
        let m = self.find(&normalize_name(name))?;
        Some(self.text(m.path))
    }

    fn dep_paths(&self, name: &str) -> impl Iterator<Item = &str> {
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

    /// Index files for an image holding only `subset` (module names): the
    /// lines of modules.dep, modules.alias and modules.softdep that concern
    /// those modules, and every built-in module (so that the target knows
    /// they are satisfied). Returns (file name, content).
    pub fn write_subset_index(&self, subset: &BTreeSet<String>) -> Vec<(String, Vec<u8>)> {
        let subset: BTreeSet<String> = subset.iter().map(|n| normalize_name(n)).collect();
        let mut dep = String::new();
        let d = self.deps();
        for m in d.modules.iter().filter(|m| subset.contains(d.mod_name(m))) {
            dep.push_str(self.text(m.path));
            dep.push(':');
            for d in self.text(m.deps).split_whitespace() {
                dep.push(' ');
                dep.push_str(d);
            }
            dep.push('\n');
        }
        let mut alias = String::from("# Aliases extracted from modules themselves.\n");
        for (pat, module) in alias_lines(&self.alias_text) {
            let module = String::from_utf8_lossy(module);
            if subset.contains(&normalize_name(&module)) {
                let pat = String::from_utf8_lossy(pat);
                alias.push_str(&format!("alias {pat} {module}\n"));
            }
        }
        let mut softdep = String::from("# Soft dependencies extracted from modules themselves.\n");
        for name in self.softdep_order.iter().filter(|n| subset.contains(*n)) {
            softdep.push_str(&self.softdeps[name].line);
            softdep.push('\n');
        }
        let mut builtin = String::new();
        for name in &self.builtin_order {
            builtin.push_str(&self.builtin[name]);
            builtin.push('\n');
        }
        let mut modinfo = Vec::new();
        for (pat, module) in builtin_alias_records(&self.builtin_modinfo) {
            for part in [module, b".alias=", pat, b"\0"] {
                modinfo.extend_from_slice(part);
            }
        }
        let idx = crate::index::build(
            alias_lines(alias.as_bytes()).map(|(p, m)| {
                (
                    String::from_utf8_lossy(p).into_owned(),
                    String::from_utf8_lossy(m).into_owned(),
                )
            }),
            alias.len(),
            &dep,
        );
        vec![
            ("modules.dep".into(), dep.into_bytes()),
            ("modules.alias".into(), alias.into_bytes()),
            (crate::index::FILE.into(), idx),
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
softdep ext4 pre: virtio_net
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
        assert_eq!(c, ["jbd2", "crc32c_intel", "crc32c_generic", "ext4"]);
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
            ["jbd2", "crc32c_intel", "crc32c_generic", "ext4"]
        );
        assert!(sub.is_builtin("virtio_pci_builtin"));
        // The same files on disk, with the precompiled index.
        let dir = std::env::temp_dir().join(format!("modload-subset-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        for (name, content) in t.write_subset_index(&set) {
            std::fs::write(dir.join(name), content).expect("write");
        }
        let disk = ModuleTree::open(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        let disk = disk.expect("open");
        assert!(disk.has_index());
        assert_eq!(disk.resolve_alias("fs-ext4"), ["ext4"]);
        assert_eq!(
            disk.resolve_alias("crypto-crc32c"),
            ["crc32c_intel", "crc32c_generic"]
        );
        assert!(disk.resolve_alias("virtio:d00000001v00001AF4").is_empty());
        assert_eq!(
            sub.resolve_alias("pci:v00001AF4d00001000sv0sd0bc0sc0i0"),
            ["virtio_pci_builtin"]
        );
    }

    #[test]
    fn a_tree_without_depmod_files_is_read_from_modinfo() {
        use crate::modinfo::tests::tiny_ko;
        let dir = std::env::temp_dir().join(format!("modload-modinfo-{}", std::process::id()));
        let k = dir.join("kernel/drivers");
        std::fs::create_dir_all(&k).expect("mkdir");
        let ko = |name: &str, info: &str| {
            std::fs::write(k.join(name), tiny_ko(info.replace(';', "\0").as_bytes()))
                .expect("write");
        };
        ko("virtio_ring.ko", "name=virtio_ring;depends=;");
        ko("virtio.ko", "name=virtio;depends=virtio_ring;");
        ko(
            "virtio_net.ko",
            "name=virtio_net;depends=virtio,virtio_ring;alias=virtio:d00000001v*;softdep=pre: crc;",
        );
        ko("crc-x.ko", "name=crc_x;alias=crc;");
        std::fs::write(k.join("broken.ko"), b"not elf").expect("write");
        let t = ModuleTree::open(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        let t = t.expect("open");
        assert_eq!(t.resolve_alias("virtio:d00000001v00001AF4"), ["virtio_net"]);
        assert_eq!(
            t.closure(&["virtio_net".into()]).expect("closure"),
            ["virtio_ring", "virtio", "crc_x", "virtio_net"]
        );
        assert_eq!(t.module_path("virtio"), Some("kernel/drivers/virtio.ko"));
        assert!(
            t.warnings()
                .iter()
                .any(|w| w.contains("broken.ko") && w.contains("not an ELF")),
            "{:?}",
            t.warnings()
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
        assert_eq!(t.warnings().len(), 1);
    }
}
