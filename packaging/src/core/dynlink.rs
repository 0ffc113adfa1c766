//! The files a dynamically linked app needs to start, found the way
//! glibc's ld.so finds them (elf/dl-load.c, `_dl_map_object`): the ELF
//! interpreter, then breadth-first every DT_NEEDED name not already
//! loaded (by name or DT_SONAME), searched in
//!
//! 1. DT_RPATH of the object that needs it, then of its loader and so on
//!    up to the app, only when that object has no DT_RUNPATH;
//! 2. (LD_LIBRARY_PATH: not used, the image has no such setting);
//! 3. DT_RUNPATH of the object that needs it (not inherited);
//! 4. /etc/ld.so.cache;
//! 5. the default directories (none of 4 and 5 with DF_1_NODEFLIB).
//!
//! `$ORIGIN`, `$LIB` and `$PLATFORM` (and `${...}`) are expanded. A file
//! of another ELF class or machine is skipped and the search goes on, as
//! ld.so does. Symlinks on the way stay symlinks in the image, with their
//! targets packed.
//!
//! Sans-IO: the host's files come through [`Host`]. Each object has two
//! paths: where it is on the host, and where it goes in the image; they
//! differ only under an `$ORIGIN` of the app, which is /app in the image.

use crate::core::elf::{DynInfo, ElfCheck};
use crate::core::ldcache::LdCache;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// ld.so's system search path on Debian 12 x86-64 (`ld.so --help`).
pub const DEFAULT_DIRS: [&str; 4] = [
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib",
    "/usr/lib",
];
/// Debian's `$LIB`.
pub const DST_LIB: &str = "lib/x86_64-linux-gnu";
/// `$PLATFORM` as the kernel gives it (AT_PLATFORM). glibc 2.36 says
/// `haswell` on CPUs with AVX2; the image's CPU is not known here.
pub const DST_PLATFORM: &str = "x86_64";
/// The kernel's limit on symlinks followed in one lookup (MAXSYMLINKS).
const MAX_LINKS: usize = 40;

/// A file's identity on the host: device and inode.
pub type FileId = (u64, u64);

/// What is at a host path (its directories followed, not its last
/// component: lstat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Missing,
    Symlink(String),
    File {
        id: FileId,
        size: u64,
        check: ElfCheck,
    },
    /// The OS gave up on a loop of directory symlinks (ELOOP).
    Loop,
    /// A directory, unreadable, a name that is not UTF-8...
    Unusable(String),
}

/// The host's files.
pub trait Host {
    fn probe(&mut self, host_path: &str) -> Probe;
}

/// Where names are searched besides each object's own paths.
#[derive(Debug, Clone)]
pub struct Settings {
    pub cache: Option<LdCache>,
    pub default_dirs: Vec<String>,
    pub lib: String,
    pub platform: String,
}

impl Settings {
    /// Debian 12 on x86-64, with the host's cache if it has one.
    pub fn debian(cache: Option<LdCache>) -> Settings {
        Settings {
            cache,
            default_dirs: DEFAULT_DIRS.iter().map(|s| s.to_string()).collect(),
            lib: DST_LIB.into(),
            platform: DST_PLATFORM.into(),
        }
    }
}

/// One entry for the image (paths absolute, image paths normalised).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    File {
        image: String,
        host: String,
        size: u64,
    },
    Symlink {
        image: String,
        target: String,
    },
}

impl Item {
    pub fn image(&self) -> &str {
        match self {
            Item::File { image, .. } | Item::Symlink { image, .. } => image,
        }
    }
}

/// How an object was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    App,
    Interpreter,
    /// A DT_NEEDED name with a `/`, or a path given by the caller.
    Path,
    Rpath,
    Runpath,
    Cache,
    DefaultDir,
}

/// A loaded object.
#[derive(Debug, Clone)]
pub struct Object {
    /// Its path in the image after symlinks (what ld.so opens, last
    /// component not resolved: the origin of its `$ORIGIN`).
    pub image: String,
    pub host: String,
    /// The path it was found at, before symlinks (what ldconfig lists).
    pub found: String,
    pub info: DynInfo,
    /// The object whose DT_NEEDED (or dlopen) loaded it.
    pub loader: Option<usize>,
    /// The names it was asked for by.
    pub names: Vec<String>,
    pub how: How,
}

/// Why the closure cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("{name}, needed by {needed_by}, is not found (searched {}){}: install the package that has it on this machine, or link the app statically", .tried.join(", "), skipped_text(.skipped))]
    NotFound {
        name: String,
        needed_by: String,
        tried: Vec<String>,
        skipped: Vec<String>,
    },
    #[error("{path}: a loop of symlinks ({}): fix the link on this machine", .chain.join(" -> "))]
    Loop { path: String, chain: Vec<String> },
    #[error("{path}, found for {needed_by}, is not a usable library ({reason}); ld.so would stop there too: remove or fix it")]
    Bad {
        path: String,
        needed_by: String,
        reason: String,
    },
}

fn skipped_text(skipped: &[String]) -> String {
    if skipped.is_empty() {
        String::new()
    } else {
        format!("; skipped {}", skipped.join(", "))
    }
}

/// The result: what to pack, and each object.
#[derive(Debug, Clone, Default)]
pub struct Closure {
    pub items: Vec<Item>,
    pub objects: Vec<Object>,
    pub notes: Vec<String>,
}

impl Closure {
    /// `(name, image path)` of each library found by name: the image's
    /// /etc/ld.so.cache.
    pub fn cache_pairs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for o in &self.objects {
            if matches!(o.how, How::App | How::Interpreter | How::Path) {
                continue;
            }
            let mut names = o.names.clone();
            names.extend(o.info.soname.clone());
            names.sort();
            names.dedup();
            out.extend(names.into_iter().map(|n| (n, o.found.clone())));
        }
        out
    }

    /// The bytes of the files packed.
    pub fn bytes(&self) -> u64 {
        self.items
            .iter()
            .map(|i| match i {
                Item::File { size, .. } => *size,
                Item::Symlink { target, .. } => target.len() as u64,
            })
            .sum()
    }
}

/// `path` made absolute and free of `.`, `..` and empty components
/// (inside the image every directory is a real one).
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The directory part of an absolute path (`/` for `/x`).
pub fn dirname(path: &str) -> &str {
    match path.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) | None => "/",
        Some((d, _)) => d,
    }
}

/// The length of the dynamic string token `name` at the start of `rest`
/// (just after a `$`): `NAME` not followed by a name character, or
/// `{NAME}`.
fn dst_len(rest: &str, name: &str) -> usize {
    if let Some(r) = rest.strip_prefix('{') {
        if r.strip_prefix(name).is_some_and(|t| t.starts_with('}')) {
            return name.len() + 2;
        }
        return 0;
    }
    match rest.strip_prefix(name) {
        Some(t) if !t.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') => name.len(),
        _ => 0,
    }
}

/// Expand `$ORIGIN`, `$LIB`, `$PLATFORM` (and `${...}`); an unknown `$`
/// stays as it is, as in ld.so.
pub fn expand(s: &str, origin: &str, lib: &str, platform: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let mut done = false;
        for (name, value) in [("ORIGIN", origin), ("PLATFORM", platform), ("LIB", lib)] {
            let n = dst_len(after, name);
            if n > 0 {
                out.push_str(value);
                rest = &after[n..];
                done = true;
                break;
            }
        }
        if !done {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// A search directory: in the image, on the host, and how it is named in
/// messages.
struct Dir {
    image: String,
    host: String,
    how: How,
}

enum Found {
    Yes(usize),
    Absent,
    WrongArch(String),
}

/// Builds a [`Closure`].
pub struct Resolver<'a, H: Host> {
    host: &'a mut H,
    set: &'a Settings,
    closure: Closure,
    images: BTreeSet<String>,
    by_id: BTreeMap<FileId, usize>,
    queue: VecDeque<usize>,
}

impl<'a, H: Host> Resolver<'a, H> {
    pub fn new(host: &'a mut H, set: &'a Settings) -> Self {
        Resolver {
            host,
            set,
            closure: Closure::default(),
            images: BTreeSet::new(),
            by_id: BTreeMap::new(),
            queue: VecDeque::new(),
        }
    }

    /// Start from the app (object 0): `image` is its path in the image,
    /// `host` its real path on the host (symlinks resolved, as ld.so's
    /// `$ORIGIN` of the executable is). Packs its interpreter and the
    /// whole DT_NEEDED closure.
    pub fn app(&mut self, image: &str, host: &str, info: DynInfo) -> Result<(), ResolveError> {
        let interp = info.interpreter.clone();
        self.closure.objects.push(Object {
            image: normalize(image),
            host: host.to_string(),
            found: normalize(image),
            info,
            loader: None,
            names: Vec::new(),
            how: How::App,
        });
        if let Some(p) = interp {
            let who = normalize(image);
            match self.materialize(&normalize(&p), &p, &who, How::Interpreter, None)? {
                Found::Yes(_) => {}
                Found::Absent => {
                    return Err(ResolveError::NotFound {
                        name: p.clone(),
                        needed_by: format!("{who} as its ELF interpreter"),
                        tried: vec![p],
                        skipped: Vec::new(),
                    })
                }
                Found::WrongArch(w) => {
                    return Err(ResolveError::Bad {
                        path: p,
                        needed_by: who,
                        reason: w,
                    })
                }
            }
        }
        self.queue.push_back(0);
        self.run()
    }

    /// Load `name` (a library name, or a path) as `loader` would with
    /// dlopen, and what it needs. `Ok(None)` when it is nowhere.
    pub fn dlopen(&mut self, name: &str, loader: usize) -> Result<Option<usize>, ResolveError> {
        match self.need(name, loader) {
            Ok(i) => {
                self.run()?;
                Ok(Some(i))
            }
            Err(ResolveError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The objects so far.
    pub fn objects(&self) -> &[Object] {
        &self.closure.objects
    }

    pub fn finish(self) -> Closure {
        self.closure
    }

    fn run(&mut self) -> Result<(), ResolveError> {
        while let Some(i) = self.queue.pop_front() {
            for name in self.closure.objects[i].info.needed.clone() {
                self.need(&name, i)?;
            }
        }
        Ok(())
    }

    fn loaded(&self, name: &str) -> Option<usize> {
        self.closure.objects.iter().position(|o| {
            o.names.iter().any(|n| n == name)
                || o.info.soname.as_deref() == Some(name)
                || (name.contains('/') && o.image == normalize(name))
        })
    }

    fn origin(&self, i: usize) -> (String, String) {
        let o = &self.closure.objects[i];
        (dirname(&o.image).to_string(), dirname(&o.host).to_string())
    }

    /// A colon list of directories of object `i`, expanded.
    fn dirs_of(&mut self, list: &str, i: usize, how: How) -> Vec<Dir> {
        let (oi, oh) = self.origin(i);
        let (lib, plat) = (self.set.lib.as_str(), self.set.platform.as_str());
        let mut out = Vec::new();
        for d in list.split(':') {
            let host = expand(d, &oh, lib, plat);
            if !host.starts_with('/') {
                let note = format!(
                    "{}: {} entry {d:?} is relative to the working directory at run time; not searched",
                    self.closure.objects[i].image,
                    if how == How::Rpath { "RPATH" } else { "RUNPATH" }
                );
                if !self.closure.notes.contains(&note) {
                    self.closure.notes.push(note);
                }
                continue;
            }
            out.push(Dir {
                image: normalize(&expand(d, &oi, lib, plat)),
                host: host.trim_end_matches('/').to_string(),
                how,
            });
        }
        out
    }

    /// The directories searched for a name `loader` needs, in order
    /// (the cache comes between the RUNPATH and the default ones).
    fn search_dirs(&mut self, loader: usize) -> (Vec<Dir>, Vec<Dir>) {
        let mut first = Vec::new();
        let objs = &self.closure.objects;
        if objs[loader].info.runpath.is_none() {
            let mut l = Some(loader);
            let mut did_main = false;
            let mut chain = Vec::new();
            while let Some(i) = l {
                if let Some(rp) = effective_rpath(&objs[i].info) {
                    chain.push((rp, i));
                    did_main |= i == 0;
                }
                l = objs[i].loader;
            }
            if !did_main {
                if let Some(rp) = objs.first().and_then(|o| effective_rpath(&o.info)) {
                    chain.push((rp, 0));
                }
            }
            for (rp, i) in chain {
                let d = self.dirs_of(&rp, i, How::Rpath);
                first.extend(d);
            }
        }
        if let Some(rp) = self.closure.objects[loader].info.runpath.clone() {
            let d = self.dirs_of(&rp, loader, How::Runpath);
            first.extend(d);
        }
        let defaults = self
            .set
            .default_dirs
            .iter()
            .map(|d| Dir {
                image: normalize(d),
                host: d.clone(),
                how: How::DefaultDir,
            })
            .collect();
        (first, defaults)
    }

    /// Find `name` for `loader`; the object's index.
    fn need(&mut self, name: &str, loader: usize) -> Result<usize, ResolveError> {
        if let Some(j) = self.loaded(name) {
            let o = &mut self.closure.objects[j];
            if !o.names.iter().any(|n| n == name) {
                o.names.push(name.to_string());
            }
            return Ok(j);
        }
        let who = self.closure.objects[loader].image.clone();
        let mut tried = Vec::new();
        let mut skipped = Vec::new();
        if name.contains('/') {
            return self.need_path(name, loader, who);
        }
        let (first, defaults) = self.search_dirs(loader);
        let nodeflib = self.closure.objects[loader].info.nodeflib;
        let mut candidates: Vec<(String, String, How)> = first
            .iter()
            .map(|d| (join(&d.image, name), join(&d.host, name), d.how))
            .collect();
        for d in &first {
            tried.push(format!(
                "{} {}",
                if d.how == How::Rpath {
                    "RPATH"
                } else {
                    "RUNPATH"
                },
                d.host
            ));
        }
        if let Some(c) = &self.set.cache {
            tried.push("/etc/ld.so.cache".into());
            if let Some(p) = c.lookup(name) {
                let in_default = self.set.default_dirs.iter().any(|d| dirname(p) == d);
                if !(nodeflib && in_default) {
                    candidates.push((normalize(p), p.to_string(), How::Cache));
                }
            }
        }
        if !nodeflib {
            for d in &defaults {
                tried.push(d.host.clone());
                candidates.push((join(&d.image, name), join(&d.host, name), d.how));
            }
        }
        for (image, host, how) in candidates {
            match self.materialize(&image, &host, &who, how, Some(loader))? {
                Found::Yes(j) => {
                    if !skipped.is_empty() {
                        let at = &self.closure.objects[j].host;
                        self.closure.notes.push(format!(
                            "{name} for {who}: skipped {}, as ld.so does; took {at}",
                            skipped.join(", ")
                        ));
                    }
                    return Ok(self.named(j, name));
                }
                Found::Absent => {}
                Found::WrongArch(w) => {
                    let s = format!("{host} ({w})");
                    if !skipped.contains(&s) {
                        skipped.push(s);
                    }
                }
            }
        }
        Err(ResolveError::NotFound {
            name: name.into(),
            needed_by: who,
            tried,
            skipped,
        })
    }

    /// [`Self::need`] for a name with a slash: that path ($ORIGIN, $LIB
    /// and $PLATFORM expanded), nothing else.
    fn need_path(&mut self, name: &str, loader: usize, who: String) -> Result<usize, ResolveError> {
        let (oi, oh) = self.origin(loader);
        let (lib, plat) = (self.set.lib.clone(), self.set.platform.clone());
        // A relative path is relative to the working directory: /.
        let host = normalize(&expand(name, &oh, &lib, &plat));
        let image = normalize(&expand(name, &oi, &lib, &plat));
        let mut skipped = Vec::new();
        match self.materialize(&image, &host, &who, How::Path, Some(loader))? {
            Found::Yes(j) => return Ok(self.named(j, name)),
            Found::Absent => {}
            Found::WrongArch(w) => skipped.push(format!("{host} ({w})")),
        }
        Err(ResolveError::NotFound {
            name: name.into(),
            needed_by: who,
            tried: vec![host],
            skipped,
        })
    }

    fn named(&mut self, j: usize, name: &str) -> usize {
        let o = &mut self.closure.objects[j];
        if !o.names.iter().any(|n| n == name) {
            o.names.push(name.to_string());
        }
        j
    }

    /// Follow the symlinks at `image`/`host` to a file; pack the links and
    /// the file and load it as a new object (or the one already at that
    /// file).
    fn materialize(
        &mut self,
        image: &str,
        host: &str,
        who: &str,
        how: How,
        loader: Option<usize>,
    ) -> Result<Found, ResolveError> {
        let mut links = Vec::new();
        let mut chain = vec![image.to_string()];
        let (mut img, mut hst) = (image.to_string(), host.to_string());
        loop {
            match self.host.probe(&hst) {
                Probe::Missing | Probe::Unusable(_) => return Ok(Found::Absent),
                Probe::Loop => {
                    return Err(ResolveError::Loop {
                        path: hst,
                        chain: vec![format!("{host} (its directories)")],
                    })
                }
                Probe::Symlink(t) => {
                    (img, hst) = follow(&img, &hst, t, image, &mut links, &mut chain)?;
                }
                Probe::File { id, size, check } => {
                    let info = match check {
                        ElfCheck::Usable(i) => i,
                        ElfCheck::WrongArch(w) => return Ok(Found::WrongArch(w)),
                        ElfCheck::Bad(reason) => {
                            return Err(ResolveError::Bad {
                                path: hst,
                                needed_by: who.to_string(),
                                reason,
                            })
                        }
                    };
                    for l in links {
                        self.push(l);
                    }
                    // The same file under another path: one copy, a link,
                    // one object (ld.so compares device and inode too).
                    if let Some(&j) = self.by_id.get(&id) {
                        let first = self.closure.objects[j].image.clone();
                        if first != img {
                            self.push(Item::Symlink {
                                image: img,
                                target: first,
                            });
                        }
                        return Ok(Found::Yes(j));
                    }
                    self.push(Item::File {
                        image: img.clone(),
                        host: hst.clone(),
                        size,
                    });
                    self.by_id.insert(id, self.closure.objects.len());
                    self.closure.objects.push(Object {
                        image: img,
                        host: hst,
                        found: image.to_string(),
                        info,
                        loader,
                        names: Vec::new(),
                        how,
                    });
                    let j = self.closure.objects.len() - 1;
                    if how != How::Interpreter {
                        self.queue.push_back(j);
                    }
                    return Ok(Found::Yes(j));
                }
            }
        }
    }

    fn push(&mut self, item: Item) {
        if self.images.insert(item.image().to_string()) {
            self.closure.items.push(item);
        }
    }
}

/// One symlink of [`Resolver::materialize`]: the link at `img` (`hst` on
/// the host) to `t` is packed, and where it leads returned (image, host);
/// a loop, or a chain longer than ld.so follows, from `image` is refused.
fn follow(
    img: &str,
    hst: &str,
    t: String,
    image: &str,
    links: &mut Vec<Item>,
    chain: &mut Vec<String>,
) -> Result<(String, String), ResolveError> {
    let (ni, nh) = if t.starts_with('/') {
        (normalize(&t), t.clone())
    } else {
        (
            normalize(&format!("{}/{t}", dirname(img))),
            format!("{}/{t}", dirname(hst)),
        )
    };
    links.push(Item::Symlink {
        image: img.to_string(),
        target: t,
    });
    let looped = chain.contains(&ni);
    chain.push(ni.clone());
    if looped || chain.len() > MAX_LINKS {
        return Err(ResolveError::Loop {
            path: image.to_string(),
            chain: std::mem::take(chain),
        });
    }
    Ok((ni, nh))
}

/// DT_RPATH, which ld.so drops from an object that has a DT_RUNPATH
/// (elf_get_dynamic_info), for itself and for what it loads.
fn effective_rpath(info: &DynInfo) -> Option<String> {
    match info.runpath {
        Some(_) => None,
        None => info.rpath.clone(),
    }
}

fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An in-memory host: files, symlinks (of files and directories).
    #[derive(Default)]
    struct Mem {
        nodes: BTreeMap<String, Node>,
        next: u64,
    }

    #[derive(Clone)]
    enum Node {
        Link(String),
        File(FileId, ElfCheck),
    }

    impl Mem {
        fn lib(&mut self, path: &str, needed: &[&str]) -> &mut Self {
            self.elf(
                path,
                DynInfo {
                    needed: needed.iter().map(|s| s.to_string()).collect(),
                    ..DynInfo::default()
                },
            )
        }
        fn elf(&mut self, path: &str, info: DynInfo) -> &mut Self {
            self.next += 1;
            self.nodes.insert(
                path.into(),
                Node::File((1, self.next), ElfCheck::Usable(info)),
            );
            self
        }
        fn link(&mut self, path: &str, target: &str) -> &mut Self {
            self.nodes.insert(path.into(), Node::Link(target.into()));
            self
        }
        fn other_arch(&mut self, path: &str) -> &mut Self {
            self.next += 1;
            self.nodes.insert(
                path.into(),
                Node::File((1, self.next), ElfCheck::WrongArch("ELF 32-bit".into())),
            );
            self
        }
        /// The path with its directory symlinks followed.
        fn walk(&self, path: &str) -> Result<String, ()> {
            let mut p = normalize(path);
            for _ in 0..MAX_LINKS {
                let parts: Vec<&str> = p.trim_start_matches('/').split('/').collect();
                let mut changed = None;
                for k in 1..parts.len() {
                    let prefix = format!("/{}", parts[..k].join("/"));
                    if let Some(Node::Link(t)) = self.nodes.get(&prefix) {
                        let base = if t.starts_with('/') {
                            t.clone()
                        } else {
                            format!("{}/{t}", dirname(&prefix))
                        };
                        changed = Some(normalize(&format!("{base}/{}", parts[k..].join("/"))));
                        break;
                    }
                }
                match changed {
                    Some(n) => p = n,
                    None => return Ok(p),
                }
            }
            Err(())
        }
    }

    impl Host for Mem {
        fn probe(&mut self, host_path: &str) -> Probe {
            let Ok(p) = self.walk(host_path) else {
                return Probe::Loop;
            };
            match self.nodes.get(&p) {
                None => Probe::Missing,
                Some(Node::Link(t)) => Probe::Symlink(t.clone()),
                Some(Node::File(id, check)) => Probe::File {
                    id: *id,
                    size: 100,
                    check: check.clone(),
                },
            }
        }
    }

    const LD: &str = "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2";

    /// A Debian-like base: the interpreter behind /lib64 and libc.
    fn base() -> Mem {
        let mut m = Mem::default();
        m.link("/lib64/ld-linux-x86-64.so.2", LD)
            .elf(
                LD,
                DynInfo {
                    soname: Some("ld-linux-x86-64.so.2".into()),
                    ..DynInfo::default()
                },
            )
            .elf(
                "/lib/x86_64-linux-gnu/libc.so.6",
                DynInfo {
                    soname: Some("libc.so.6".into()),
                    needed: vec!["ld-linux-x86-64.so.2".into()],
                    ..DynInfo::default()
                },
            );
        m
    }

    fn app(needed: &[&str]) -> DynInfo {
        DynInfo {
            interpreter: Some("/lib64/ld-linux-x86-64.so.2".into()),
            needed: needed.iter().map(|s| s.to_string()).collect(),
            ..DynInfo::default()
        }
    }

    fn resolve(m: &mut Mem, set: &Settings, info: DynInfo) -> Result<Closure, ResolveError> {
        resolve_at(m, set, "/home/u/x", info)
    }

    fn resolve_at(
        m: &mut Mem,
        set: &Settings,
        host: &str,
        info: DynInfo,
    ) -> Result<Closure, ResolveError> {
        let mut r = Resolver::new(m, set);
        r.app("/app/x", host, info)?;
        Ok(r.finish())
    }

    fn images(c: &Closure) -> Vec<String> {
        c.items
            .iter()
            .map(|i| match i {
                Item::File { image, host, .. } if image == host => image.clone(),
                Item::File { image, host, .. } => format!("{image} <- {host}"),
                Item::Symlink { image, target } => format!("{image} -> {target}"),
            })
            .collect()
    }

    fn found(c: &Closure, name: &str) -> String {
        c.objects
            .iter()
            .find(|o| o.names.iter().any(|n| n == name))
            .map(|o| o.image.clone())
            .unwrap_or_else(|| panic!("{name} not loaded"))
    }

    #[test]
    fn interpreter_libraries_and_symlinks() {
        let mut m = base();
        m.link("/lib/x86_64-linux-gnu/libz.so.1", "libz.so.1.2.13")
            .lib("/lib/x86_64-linux-gnu/libz.so.1.2.13", &["libc.so.6"]);
        let c = resolve(
            &mut m,
            &Settings::debian(None),
            app(&["libz.so.1", "libc.so.6"]),
        )
        .expect("resolves");
        assert_eq!(
            images(&c),
            [
                "/lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
                LD,
                "/lib/x86_64-linux-gnu/libz.so.1 -> libz.so.1.2.13",
                "/lib/x86_64-linux-gnu/libz.so.1.2.13",
                "/lib/x86_64-linux-gnu/libc.so.6",
            ]
        );
        // libc's ld-linux-x86-64.so.2 is the interpreter (its soname).
        assert_eq!(found(&c, "ld-linux-x86-64.so.2"), LD);
        assert_eq!(c.objects.len(), 4);
        let mut pairs = c.cache_pairs();
        pairs.sort();
        assert_eq!(
            pairs,
            [
                ("libc.so.6".into(), "/lib/x86_64-linux-gnu/libc.so.6".into()),
                ("libz.so.1".into(), "/lib/x86_64-linux-gnu/libz.so.1".into()),
            ]
        );
    }

    #[test]
    fn rpath_only_without_runpath_and_inherited() {
        let mut m = base();
        m.lib("/r/liba.so", &["libb.so"])
            .lib("/u/liba.so", &["libb.so"])
            .lib("/r/libb.so", &[])
            .lib("/usr/lib/libb.so", &[]);
        let set = Settings::debian(None);
        // RPATH alone: liba from /r, and liba (no RUNPATH) inherits the
        // app's RPATH for libb.
        let mut info = app(&["liba.so"]);
        info.rpath = Some("/r".into());
        let c = resolve(&mut m, &set, info.clone()).expect("rpath");
        assert_eq!(found(&c, "liba.so"), "/r/liba.so");
        assert_eq!(found(&c, "libb.so"), "/r/libb.so");
        // With a RUNPATH the app's RPATH is ignored; the RUNPATH is not
        // inherited: libb comes from the default directories.
        info.runpath = Some("/u".into());
        let c = resolve(&mut m, &set, info).expect("runpath");
        assert_eq!(found(&c, "liba.so"), "/u/liba.so");
        assert_eq!(found(&c, "libb.so"), "/usr/lib/libb.so");
        // A library with its own RUNPATH does not search the app's RPATH.
        let mut m = base();
        m.elf(
            "/r/liba.so",
            DynInfo {
                needed: vec!["libb.so".into()],
                runpath: Some("/a".into()),
                ..DynInfo::default()
            },
        )
        .lib("/r/libb.so", &[])
        .lib("/a/libb.so", &[]);
        let mut info = app(&["liba.so"]);
        info.rpath = Some("/r".into());
        let c = resolve(&mut m, &set, info).expect("own runpath");
        assert_eq!(found(&c, "libb.so"), "/a/libb.so");
    }

    #[test]
    fn origin_lib_and_platform() {
        let mut m = base();
        m.lib("/opt/foo/lib/libbar.so.1", &[]);
        // The app is /opt/foo/bin/x on the host, /app/x in the image.
        let mut info = app(&["libbar.so.1"]);
        info.runpath = Some("$ORIGIN/../lib".into());
        let mut r_m = m;
        let set = Settings::debian(None);
        let mut r = Resolver::new(&mut r_m, &set);
        r.app("/app/x", "/opt/foo/bin/x", info).expect("origin");
        let c = r.finish();
        assert!(
            images(&c).contains(&"/lib/libbar.so.1 <- /opt/foo/bin/../lib/libbar.so.1".into()),
            "{:?}",
            images(&c)
        );
        // libbar's $ORIGIN is where it is: ${ORIGIN}/$LIB/$PLATFORM.
        let mut m = base();
        m.elf(
            "/opt/foo/lib/libbar.so.1",
            DynInfo {
                needed: vec!["libbaz.so".into()],
                runpath: Some("${ORIGIN}/$LIB/$PLATFORM:$ORIGINX".into()),
                ..DynInfo::default()
            },
        )
        .lib("/opt/foo/lib/lib/x86_64-linux-gnu/x86_64/libbaz.so", &[]);
        let mut info = app(&["/opt/foo/lib/libbar.so.1"]);
        info.runpath = None;
        let c = resolve(&mut m, &set, info).expect("dst");
        assert_eq!(
            found(&c, "libbaz.so"),
            "/opt/foo/lib/lib/x86_64-linux-gnu/x86_64/libbaz.so"
        );
        // "$ORIGINX" is no token: a relative entry, said and not searched.
        assert!(
            c.notes
                .iter()
                .any(|n| n.contains("\"$ORIGINX\" is relative")),
            "{:?}",
            c.notes
        );
        assert_eq!(expand("$ORIGINX/${LIB}$", "/o", "l", "p"), "$ORIGINX/l$");
        assert_eq!(expand("a$PLATFORM/b", "/o", "l", "p"), "ap/b");
        assert_eq!(expand("${ORIGIN", "/o", "l", "p"), "${ORIGIN");
    }

    fn cache(pairs: &[(&str, &str)]) -> LdCache {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        crate::core::ldcache::parse(&crate::core::ldcache::write(&owned)).expect("cache")
    }

    #[test]
    fn cache_after_runpath_before_default_dirs() {
        let mut m = base();
        m.lib("/usr/local/lib/libq.so.1", &[])
            .lib("/usr/lib/libq.so.1", &[])
            .lib("/u/libq.so.1", &[]);
        let set = Settings::debian(Some(cache(&[("libq.so.1", "/usr/local/lib/libq.so.1")])));
        let c = resolve(&mut m, &set, app(&["libq.so.1"])).expect("cache");
        assert_eq!(found(&c, "libq.so.1"), "/usr/local/lib/libq.so.1");
        let mut info = app(&["libq.so.1"]);
        info.runpath = Some("/u".into());
        let c = resolve(&mut m, &set, info).expect("runpath first");
        assert_eq!(found(&c, "libq.so.1"), "/u/libq.so.1");
        // A cache entry whose file is gone: on to the default directories.
        let set = Settings::debian(Some(cache(&[("libq.so.1", "/gone/libq.so.1")])));
        let c = resolve(&mut m, &set, app(&["libq.so.1"])).expect("fallback");
        assert_eq!(found(&c, "libq.so.1"), "/usr/lib/libq.so.1");
        // DF_1_NODEFLIB: neither the cache's system entries nor defaults.
        let mut info = app(&["libq.so.1"]);
        info.nodeflib = true;
        let set = Settings::debian(Some(cache(&[("libq.so.1", "/usr/lib/libq.so.1")])));
        let e = resolve(&mut m, &set, info).expect_err("nodeflib");
        assert!(matches!(e, ResolveError::NotFound { .. }), "{e}");
    }

    #[test]
    fn wrong_architecture_is_skipped() {
        let mut m = base();
        m.other_arch("/lib/x86_64-linux-gnu/libz.so.1")
            .lib("/usr/lib/x86_64-linux-gnu/libz.so.1", &[]);
        let set = Settings::debian(None);
        let c = resolve(&mut m, &set, app(&["libz.so.1"])).expect("skips");
        assert_eq!(
            found(&c, "libz.so.1"),
            "/usr/lib/x86_64-linux-gnu/libz.so.1"
        );
        let mut m = base();
        m.other_arch("/lib/libz.so.1");
        let e = resolve(&mut m, &set, app(&["libz.so.1"])).expect_err("only 32-bit");
        let text = e.to_string();
        assert!(
            text.contains("skipped /lib/libz.so.1 (ELF 32-bit)"),
            "{text}"
        );
    }

    #[test]
    fn not_found_names_who_and_where() {
        let mut m = base();
        m.lib("/lib/x86_64-linux-gnu/liba.so", &["libmissing.so.3"]);
        let mut info = app(&["liba.so"]);
        info.rpath = Some("/r".into());
        let set = Settings::debian(Some(cache(&[])));
        let e = resolve(&mut m, &set, info).expect_err("missing");
        assert_eq!(
            e.to_string(),
            "libmissing.so.3, needed by /lib/x86_64-linux-gnu/liba.so, is not found \
             (searched RPATH /r, /etc/ld.so.cache, /lib/x86_64-linux-gnu, \
             /usr/lib/x86_64-linux-gnu, /lib, /usr/lib): install the package that has \
             it on this machine, or link the app statically"
        );
        // No interpreter at all.
        let mut m = Mem::default();
        let e = resolve(&mut m, &set, app(&[])).expect_err("no ld.so");
        assert!(e.to_string().contains("as its ELF interpreter"), "{e}");
    }

    #[test]
    fn symlink_loops_are_errors() {
        let mut m = base();
        m.link("/lib/x86_64-linux-gnu/liba.so.1", "liba.so.2").link(
            "/lib/x86_64-linux-gnu/liba.so.2",
            "/lib/x86_64-linux-gnu/liba.so.1",
        );
        let set = Settings::debian(None);
        let e = resolve(&mut m, &set, app(&["liba.so.1"])).expect_err("loop");
        assert_eq!(
            e.to_string(),
            "/lib/x86_64-linux-gnu/liba.so.1: a loop of symlinks \
             (/lib/x86_64-linux-gnu/liba.so.1 -> /lib/x86_64-linux-gnu/liba.so.2 -> \
             /lib/x86_64-linux-gnu/liba.so.1): fix the link on this machine"
        );
        // A loop of directory links (the OS says ELOOP).
        let mut m = base();
        m.link("/d1", "/d2").link("/d2", "/d1");
        let mut info = app(&["liba.so"]);
        info.runpath = Some("/d1".into());
        let e = resolve(&mut m, &set, info).expect_err("dir loop");
        assert!(matches!(e, ResolveError::Loop { .. }), "{e}");
    }

    #[test]
    fn one_file_under_two_paths_is_packed_once() {
        // Merged /usr: /lib is a link to usr/lib.
        let mut m = base();
        m.link("/lib", "usr/lib")
            .lib("/usr/lib/x86_64-linux-gnu/libz.so.1", &[])
            .elf(
                "/usr/lib/x86_64-linux-gnu/liby.so",
                DynInfo {
                    needed: vec!["libz.so.1".into()],
                    ..DynInfo::default()
                },
            );
        // /lib/x86_64-linux-gnu/libc.so.6 of base() is now hidden by the
        // link; put it where merged /usr has it.
        m.nodes.remove(LD);
        m.elf(
            "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
            DynInfo {
                soname: Some("ld-linux-x86-64.so.2".into()),
                ..DynInfo::default()
            },
        );
        let mut info = app(&["libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1"]);
        info.needed.push("liby.so".into());
        let set = Settings::debian(None);
        let c = resolve(&mut m, &set, info).expect("merged usr");
        let list = images(&c);
        // Found first as /lib/x86_64-linux-gnu/libz.so.1 (a real directory
        // in the image), then by its /usr path: a link to the first.
        assert!(
            list.contains(&"/lib/x86_64-linux-gnu/libz.so.1".to_string()),
            "{list:?}"
        );
        assert!(
            list.contains(
                &"/usr/lib/x86_64-linux-gnu/libz.so.1 -> /lib/x86_64-linux-gnu/libz.so.1"
                    .to_string()
            ),
            "{list:?}"
        );
        assert_eq!(
            c.items
                .iter()
                .filter(|i| matches!(i, Item::File { .. }))
                .count(),
            3,
            "{list:?}"
        );
    }

    #[test]
    fn dlopen_adds_a_library_and_its_needs() {
        let mut m = base();
        m.lib("/lib/x86_64-linux-gnu/libgcc_s.so.1", &["libc.so.6"]);
        let set = Settings::debian(None);
        let mut r = Resolver::new(&mut m, &set);
        r.app("/app/x", "/x", app(&["libc.so.6"])).expect("app");
        let libc = r
            .objects()
            .iter()
            .position(|o| o.names.iter().any(|n| n == "libc.so.6"))
            .expect("libc");
        assert!(r.dlopen("libgcc_s.so.1", libc).expect("ok").is_some());
        assert_eq!(r.dlopen("libnope.so", libc).expect("ok"), None);
        let c = r.finish();
        assert_eq!(
            found(&c, "libgcc_s.so.1"),
            "/lib/x86_64-linux-gnu/libgcc_s.so.1"
        );
    }

    #[test]
    fn paths() {
        assert_eq!(normalize("/a/./b/../c//d/"), "/a/c/d");
        assert_eq!(normalize("/../x"), "/x");
        assert_eq!(dirname("/app/x"), "/app");
        assert_eq!(dirname("/x"), "/");
    }
}
