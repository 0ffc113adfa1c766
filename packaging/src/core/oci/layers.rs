//! An image's layers applied in order into one root filesystem, the way a
//! container runtime unpacks them (sans-IO): whiteouts (`.wh.NAME`) and
//! opaque directories (`.wh..wh..opq`) remove what lower layers put there,
//! a later entry replaces an earlier one, hard links become copies, and
//! parents that are symlinks are followed inside the root (never out of
//! it: `..` stops at the root, as securejoin does).

use crate::core::nodes::{Node, Source};
use std::collections::BTreeMap;

/// Whiteout prefix of the OCI image spec (layer.md, "Whiteouts").
pub const WHITEOUT: &str = ".wh.";
/// A directory whose lower-layer children are all hidden.
pub const OPAQUE: &str = ".wh..wh..opq";

/// Symlinks followed while resolving one path, at most (Linux's limit).
const MAX_LINKS: usize = 40;

/// One entry of a layer's tar stream, as [`super::tarlayer`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    File {
        data: Vec<u8>,
        mode: u32,
    },
    Dir {
        mode: u32,
    },
    Symlink {
        target: String,
    },
    /// A hard link to an earlier entry (its path as the tar names it).
    Hardlink {
        target: String,
    },
    /// A device node or FIFO: a container runtime makes /dev itself, an
    /// initramfs gets devtmpfs; left out with a note.
    Special {
        what: &'static str,
    },
}

/// A path of the layer, what it holds and its owner (uid, gid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerEntry {
    pub path: String,
    pub item: Item,
    pub owner: (u32, u32),
}

/// Why a layer cannot be applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LayerError {
    #[error("layer {layer}: entry {path:?} leads out of the image's root ('..'); the layer is broken or hostile")]
    Escapes { layer: usize, path: String },
    #[error("layer {layer}: entry {path:?} is an absolute path; a layer's paths are relative to its root")]
    Absolute { layer: usize, path: String },
    #[error("layer {layer}: entry {path:?} has a NUL or newline in its name")]
    BadName { layer: usize, path: String },
    #[error("layer {layer}: {path:?} cannot be placed: /{parent} is a file, not a directory")]
    ParentNotDir {
        layer: usize,
        path: String,
        parent: String,
    },
    #[error("layer {layer}: hard link {path:?} points at {target:?}, which no earlier entry holds as a file")]
    DanglingHardlink {
        layer: usize,
        path: String,
        target: String,
    },
    #[error("layer {layer}: resolving {path:?} follows more than {MAX_LINKS} symlinks (a loop?)")]
    SymlinkLoop { layer: usize, path: String },
}

/// The root filesystem built so far: paths without a leading `/`.
#[derive(Debug, Default)]
pub struct Rootfs {
    nodes: BTreeMap<String, Node>,
    /// Owners other than root (uid, gid), by path.
    owners: BTreeMap<String, (u32, u32)>,
    /// What the user should know (whiteouts of missing files, device
    /// nodes left out), one line each.
    pub notes: Vec<String>,
}

/// A tar entry's name as components: `./` and `/` runs dropped, `..` and
/// absolute names refused.
fn clean(layer: usize, raw: &str) -> Result<Vec<String>, LayerError> {
    if raw.contains('\0') || raw.contains('\n') {
        return Err(LayerError::BadName {
            layer,
            path: raw.into(),
        });
    }
    if raw.starts_with('/') {
        return Err(LayerError::Absolute {
            layer,
            path: raw.into(),
        });
    }
    let mut parts = Vec::new();
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                return Err(LayerError::Escapes {
                    layer,
                    path: raw.into(),
                })
            }
            c => parts.push(c.to_string()),
        }
    }
    Ok(parts)
}

impl Rootfs {
    pub fn new() -> Self {
        Rootfs::default()
    }

    /// The entries, sorted by path.
    pub fn nodes(&self) -> &BTreeMap<String, Node> {
        &self.nodes
    }

    /// The entries not owned by root: their uid and gid.
    pub fn owners(&self) -> &BTreeMap<String, (u32, u32)> {
        &self.owners
    }

    /// The entries and their owners other than root.
    pub fn into_parts(self) -> (BTreeMap<String, Node>, BTreeMap<String, (u32, u32)>) {
        (self.nodes, self.owners)
    }

    /// Apply layer number `layer` (1-based, for messages): its whiteouts
    /// first (they hide only what lower layers hold), then its entries in
    /// order.
    pub fn apply(&mut self, layer: usize, entries: Vec<LayerEntry>) -> Result<(), LayerError> {
        let mut rest = Vec::with_capacity(entries.len());
        for e in entries {
            let parts = clean(layer, &e.path)?;
            let Some(name) = parts.last() else {
                continue; // the root itself
            };
            if let Some(hidden) = name.strip_prefix(WHITEOUT) {
                let dir = self.resolve_parents(layer, &parts[..parts.len() - 1])?;
                if name == OPAQUE {
                    self.make_opaque(&dir);
                } else {
                    let path = join(&dir, hidden);
                    if !self.remove_tree(&path) {
                        self.notes.push(format!(
                            "layer {layer}: whiteout of /{path}, which no lower layer has; ignored"
                        ));
                    }
                }
                continue;
            }
            rest.push((parts, e.item, e.owner));
        }
        for (parts, item, owner) in rest {
            self.put(layer, &parts, item, owner)?;
        }
        Ok(())
    }

    fn put(
        &mut self,
        layer: usize,
        parts: &[String],
        item: Item,
        mut owner: (u32, u32),
    ) -> Result<(), LayerError> {
        let (name, parents) = match parts.split_last() {
            Some(p) => p,
            None => return Ok(()),
        };
        let dir = self.resolve_parents(layer, parents)?;
        let path = join(&dir, name);
        let node = match item {
            Item::File { data, mode } => Node::File {
                source: Source::Bytes(data),
                mode: mode & 0o7777,
            },
            Item::Dir { mode } => Node::Dir {
                mode: mode & 0o7777,
            },
            Item::Symlink { target } => Node::Symlink { target },
            Item::Hardlink { target } => {
                let tparts = clean(layer, &target)?;
                let resolved = self.resolve(layer, &tparts.join("/"))?;
                match self.nodes.get(&resolved) {
                    Some(n @ Node::File { .. }) => {
                        owner = self.owners.get(&resolved).copied().unwrap_or_default();
                        n.clone()
                    }
                    _ => {
                        return Err(LayerError::DanglingHardlink {
                            layer,
                            path: path.clone(),
                            target,
                        })
                    }
                }
            }
            Item::Special { what } => {
                self.notes
                    .push(format!("layer {layer}: /{path} is a {what}; left out"));
                return Ok(());
            }
        };
        self.ensure_dirs(layer, &path)?;
        match (self.nodes.get(&path), &node) {
            (Some(Node::Dir { .. }), Node::Dir { .. }) | (None, _) => {}
            (Some(Node::Dir { .. }), _) => {
                self.remove_tree(&path);
            }
            (Some(_), _) => {}
        }
        if owner == (0, 0) {
            self.owners.remove(&path);
        } else {
            self.owners.insert(path.clone(), owner);
        }
        self.nodes.insert(path, node);
        Ok(())
    }

    /// Create the missing parents of `path` as 0755 directories.
    fn ensure_dirs(&mut self, layer: usize, path: &str) -> Result<(), LayerError> {
        crate::core::nodes::make_parents(&mut self.nodes, path).map_err(|parent| {
            LayerError::ParentNotDir {
                layer,
                path: path.into(),
                parent,
            }
        })
    }

    /// Remove `path` and everything under it; whether anything was there.
    fn remove_tree(&mut self, path: &str) -> bool {
        let had = self.nodes.remove(path).is_some();
        self.owners.remove(path);
        let prefix = format!("{path}/");
        let under: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in &under {
            self.nodes.remove(k);
            self.owners.remove(k);
        }
        had || !under.is_empty()
    }

    /// Hide every lower-layer child of `dir` (the directory stays).
    fn make_opaque(&mut self, dir: &str) {
        if dir.is_empty() {
            self.nodes.clear();
            self.owners.clear();
            return;
        }
        let keep = self.nodes.get(dir).cloned();
        let owner = self.owners.get(dir).copied();
        self.remove_tree(dir);
        if let Some(n) = keep {
            self.nodes.insert(dir.to_string(), n);
        }
        if let Some(o) = owner {
            self.owners.insert(dir.to_string(), o);
        }
    }

    /// The directory `parts` names, with every symlink among them followed
    /// inside the root.
    fn resolve_parents(&self, layer: usize, parts: &[String]) -> Result<String, LayerError> {
        let mut hops = 0;
        self.walk(layer, parts.iter().map(String::as_str), &mut hops)
            .map(|p| p.join("/"))
    }

    /// `path` with every symlink followed, the last component's too
    /// (paths relative to the root; `..` stops at the root).
    pub fn resolve(&self, layer: usize, path: &str) -> Result<String, LayerError> {
        let mut hops = 0;
        self.walk(layer, path.split('/').filter(|c| !c.is_empty()), &mut hops)
            .map(|p| p.join("/"))
    }

    fn walk<'a>(
        &self,
        layer: usize,
        parts: impl Iterator<Item = &'a str>,
        hops: &mut usize,
    ) -> Result<Vec<String>, LayerError> {
        let parts: Vec<&str> = parts.collect();
        let mut out: Vec<String> = Vec::new();
        for c in &parts {
            match *c {
                "." | "" => continue,
                ".." => {
                    out.pop();
                    continue;
                }
                c => out.push(c.to_string()),
            }
            let here = out.join("/");
            if let Some(Node::Symlink { target }) = self.nodes.get(&here) {
                *hops += 1;
                if *hops > MAX_LINKS {
                    return Err(LayerError::SymlinkLoop {
                        layer,
                        path: parts.join("/"),
                    });
                }
                out.pop();
                let mut full: Vec<&str> = if target.starts_with('/') {
                    Vec::new()
                } else {
                    out.iter().map(String::as_str).collect()
                };
                full.extend(target.split('/'));
                out = self.walk(layer, full.into_iter(), hops)?;
            }
        }
        Ok(out)
    }

    /// The node at `path` after following symlinks, if any.
    pub fn lookup(&self, path: &str) -> Option<(String, &Node)> {
        let resolved = self.resolve(0, path).ok()?;
        let node = self.nodes.get(&resolved)?;
        Some((resolved, node))
    }

    /// The bytes of the regular file at `path` (symlinks followed).
    pub fn read(&self, path: &str) -> Option<&[u8]> {
        match self.lookup(path)? {
            (
                _,
                Node::File {
                    source: Source::Bytes(b),
                    ..
                },
            ) => Some(b),
            _ => None,
        }
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, data: &str) -> LayerEntry {
        LayerEntry {
            path: path.into(),
            item: Item::File {
                data: data.as_bytes().to_vec(),
                mode: 0o644,
            },
            owner: (0, 0),
        }
    }
    fn dir(path: &str) -> LayerEntry {
        LayerEntry {
            path: path.into(),
            item: Item::Dir { mode: 0o755 },
            owner: (0, 0),
        }
    }
    fn link(path: &str, target: &str) -> LayerEntry {
        LayerEntry {
            path: path.into(),
            item: Item::Symlink {
                target: target.into(),
            },
            owner: (0, 0),
        }
    }
    fn paths(r: &Rootfs) -> Vec<&str> {
        r.nodes().keys().map(String::as_str).collect()
    }

    #[test]
    fn later_layers_replace_and_whiteouts_hide() {
        let mut r = Rootfs::new();
        r.apply(
            1,
            vec![
                dir("./etc/"),
                file("./etc/a", "1"),
                file("etc/b", "1"),
                dir("var/cache"),
                file("var/cache/x", "x"),
                file("var/cache/y", "y"),
            ],
        )
        .expect("layer 1");
        r.apply(
            2,
            vec![
                file("etc/a", "2"),
                file("etc/.wh.b", ""),
                file("var/cache/.wh..wh..opq", ""),
                file("var/cache/z", "z"),
            ],
        )
        .expect("layer 2");
        assert_eq!(r.read("etc/a"), Some(&b"2"[..]));
        assert_eq!(r.read("etc/b"), None);
        assert_eq!(
            paths(&r),
            ["etc", "etc/a", "var", "var/cache", "var/cache/z"]
        );
        assert!(r.notes.is_empty());
    }

    #[test]
    fn whiteouts_of_the_same_layer_do_not_hide_its_own_files() {
        let mut r = Rootfs::new();
        r.apply(1, vec![file("d/old", "o")]).expect("1");
        r.apply(2, vec![file("d/new", "n"), file("d/.wh..wh..opq", "")])
            .expect("2");
        assert_eq!(paths(&r), ["d", "d/new"]);
    }

    #[test]
    fn a_whiteout_of_a_missing_file_is_a_note() {
        let mut r = Rootfs::new();
        r.apply(1, vec![file("a", "1")]).expect("1");
        r.apply(2, vec![file(".wh.nothing", "")]).expect("2");
        assert_eq!(r.notes.len(), 1);
        assert!(r.notes[0].contains("/nothing"), "{:?}", r.notes);
    }

    #[test]
    fn escaping_and_absolute_paths_are_refused() {
        let mut r = Rootfs::new();
        let e = r.apply(3, vec![file("a/../../etc/passwd", "x")]);
        assert!(matches!(e, Err(LayerError::Escapes { layer: 3, .. })));
        let e = r.apply(1, vec![file("/etc/passwd", "x")]);
        assert!(matches!(e, Err(LayerError::Absolute { .. })));
        assert!(r.nodes().is_empty(), "nothing applied: {:?}", paths(&r));
    }

    #[test]
    fn parent_symlinks_are_followed_inside_the_root() {
        let mut r = Rootfs::new();
        r.apply(1, vec![dir("usr/bin"), link("bin", "usr/bin")])
            .expect("1");
        r.apply(2, vec![file("bin/sh", "sh"), link("evil", "../../../")])
            .expect("2");
        assert_eq!(r.read("usr/bin/sh"), Some(&b"sh"[..]));
        assert_eq!(r.read("bin/sh"), Some(&b"sh"[..]));
        // An absolute or climbing target stays inside the root.
        r.apply(3, vec![file("evil/usr/x", "x")]).expect("3");
        assert_eq!(r.read("usr/x"), Some(&b"x"[..]));
    }

    #[test]
    fn symlink_loops_and_dangling_hardlinks_are_errors() {
        let mut r = Rootfs::new();
        r.apply(1, vec![link("a", "b"), link("b", "a")]).expect("1");
        assert!(matches!(
            r.apply(2, vec![file("a/x", "x")]),
            Err(LayerError::SymlinkLoop { .. })
        ));
        let e = r.apply(
            3,
            vec![LayerEntry {
                path: "h".into(),
                item: Item::Hardlink {
                    target: "missing".into(),
                },
                owner: (0, 0),
            }],
        );
        assert!(matches!(e, Err(LayerError::DanglingHardlink { .. })));
    }

    #[test]
    fn owners_follow_their_entries() {
        let mut r = Rootfs::new();
        let mut home = dir("home/app");
        home.owner = (1001, 1002);
        let mut f = file("home/app/x", "x");
        f.owner = (1001, 1002);
        r.apply(1, vec![home, f, file("etc/a", "a")]).expect("1");
        assert_eq!(r.owners().get("home/app"), Some(&(1001, 1002)));
        assert_eq!(r.owners().get("home/app/x"), Some(&(1001, 1002)));
        r.apply(2, vec![file("home/app/.wh.x", ""), file("home/app/y", "y")])
            .expect("2");
        assert_eq!(r.owners().len(), 1, "{:?}", r.owners());
        assert!(!r.owners().contains_key("home/app/y"), "root's");
    }

    #[test]
    fn hardlinks_copy_and_a_file_replaces_a_directory() {
        let mut r = Rootfs::new();
        r.apply(
            1,
            vec![
                file("bin/busybox", "bb"),
                LayerEntry {
                    path: "bin/ls".into(),
                    item: Item::Hardlink {
                        target: "./bin/busybox".into(),
                    },
                    owner: (0, 0),
                },
                file("d/inner", "i"),
            ],
        )
        .expect("1");
        r.apply(2, vec![file("d", "now a file")]).expect("2");
        assert_eq!(r.read("bin/ls"), Some(&b"bb"[..]));
        assert_eq!(r.read("d"), Some(&b"now a file"[..]));
        assert!(!r.nodes().contains_key("d/inner"));
    }
}
