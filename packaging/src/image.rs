//! The image as a sorted tree of entries, written as one cpio stream.
//!
//! Paths are kept without a leading `/` (as the kernel and GNU cpio expect),
//! parents are created implicitly, and nothing of the host leaks in: owner
//! 0:0, one mtime for everything, permissions normalised (0755 for
//! directories and executables, 0644 for other files), inode numbers
//! assigned in path order. File data is streamed from its source once, at
//! write time.

use crate::core::cpio::{self, CpioError, Header};
pub use crate::core::nodes::{make_parents, Node, Source};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// Errors assembling or writing the image.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("image path {path:?} is not usable: {reason}")]
    BadPath { path: String, reason: &'static str },
    #[error("/{0} is given twice; each path in the image can come from one place only")]
    Duplicate(String),
    #[error("cannot put /{path} in the image: /{parent} is already a file, not a directory")]
    ParentNotDir { path: String, parent: String },
    #[error("cannot read {}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not UTF-8 (a cpio entry keeps names as UTF-8 here, and a renamed file would be a surprise): rename it", .0.display())]
    NotUtf8(PathBuf),
    #[error("{} is not a regular file, directory or symlink; only those can go into the image", .0.display())]
    Special(PathBuf),
    #[error("{} is {size} bytes; a cpio newc entry holds at most 4 GiB - 1", .path.display())]
    TooLarge { path: PathBuf, size: u64 },
    #[error("cannot write the archive")]
    Write(#[source] CpioError),
}

/// Normalise a path for the image: no leading `/`, no empty, `.` or `..`
/// components.
pub fn normalize(path: &str) -> Result<String, ImageError> {
    let bad = |reason| ImageError::BadPath {
        path: path.to_string(),
        reason,
    };
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        return Err(bad("it names the root"));
    }
    if parts.iter().any(|p| *p == "." || *p == "..") {
        return Err(bad("'.' and '..' are not allowed"));
    }
    if path.contains('\0') || path.contains('\n') {
        return Err(bad("it contains a NUL or newline"));
    }
    Ok(parts.join("/"))
}

fn file_mode(host_mode: u32) -> u32 {
    if host_mode & 0o111 != 0 {
        0o755
    } else {
        0o644
    }
}

/// A set of entries keyed by normalised path (sorted: parents come first).
#[derive(Debug, Default)]
pub struct Image {
    nodes: BTreeMap<String, Node>,
    /// Paths that came from a base root filesystem ([`Image::on_base`]):
    /// an entry added later replaces one of them instead of clashing.
    base: std::collections::BTreeSet<String>,
    /// The base's entries that were replaced, in order.
    replaced: Vec<String>,
    /// The base's entries not owned by root: uid and gid (everything else
    /// is written as 0:0).
    owners: BTreeMap<String, (u32, u32)>,
}

/// Symlinks followed in one path's parents, at most (Linux's limit).
const MAX_LINKS: usize = 40;

impl Image {
    pub fn new() -> Self {
        Image::default()
    }

    /// An image on top of a root filesystem (an OCI image's): what is
    /// added later goes where the kernel's unpacker would put it (a parent
    /// that is a symlink in the base, as `bin -> usr/bin`, is followed),
    /// and replaces a base file of the same path (see [`Image::replaced`]).
    pub fn on_base(nodes: BTreeMap<String, Node>, owners: BTreeMap<String, (u32, u32)>) -> Self {
        Image {
            base: nodes.keys().cloned().collect(),
            nodes,
            replaced: Vec::new(),
            owners,
        }
    }

    /// The owner (uid, gid) `path` is written with.
    pub fn owner(&self, path: &str) -> (u32, u32) {
        self.owners.get(path).copied().unwrap_or_default()
    }

    /// The base's files that added entries replaced.
    pub fn replaced(&self) -> &[String] {
        &self.replaced
    }

    /// The entries, sorted by path.
    pub fn nodes(&self) -> &BTreeMap<String, Node> {
        &self.nodes
    }

    /// Whether `path` (any form) is in the image.
    pub fn contains(&self, path: &str) -> bool {
        normalize(path).is_ok_and(|p| self.nodes.contains_key(&self.follow_parents(&p)))
    }

    /// On a base, `path` with the symlinks among its parents followed
    /// inside the image (`..` stops at the root); as it is otherwise.
    fn follow_parents(&self, path: &str) -> String {
        if self.base.is_empty() {
            return path.to_string();
        }
        let mut todo: Vec<String> = path.split('/').rev().map(String::from).collect();
        let Some(last) = todo.first().cloned() else {
            return path.to_string();
        };
        todo.remove(0);
        let mut out: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(c) = todo.pop() {
            match c.as_str() {
                "" | "." => continue,
                ".." => {
                    out.pop();
                    continue;
                }
                _ => out.push(c),
            }
            if let Some(Node::Symlink { target }) = self.nodes.get(&out.join("/")) {
                hops += 1;
                if hops > MAX_LINKS {
                    return path.to_string(); // a loop: ensure_parents refuses it
                }
                out.pop();
                if target.starts_with('/') {
                    out.clear();
                }
                todo.extend(target.split('/').rev().map(String::from));
            }
        }
        out.push(last);
        out.join("/")
    }

    fn ensure_parents(&mut self, path: &str) -> Result<(), ImageError> {
        make_parents(&mut self.nodes, path).map_err(|parent| ImageError::ParentNotDir {
            path: path.to_string(),
            parent,
        })
    }

    /// Add an entry (parents are created as 0755 directories). A directory
    /// may be added again; anything else only once.
    pub fn add(&mut self, path: &str, node: Node) -> Result<(), ImageError> {
        let path = self.follow_parents(&normalize(path)?);
        self.ensure_parents(&path)?;
        match (self.nodes.get(&path), &node) {
            (None, _) => {}
            (Some(Node::Dir { .. }), Node::Dir { .. }) => {}
            // A base's `bin -> usr/bin` stays (as the kernel's unpacker
            // keeps it: mkdir on it fails with EEXIST).
            (Some(Node::Symlink { .. }), Node::Dir { .. }) if self.base.contains(&path) => {
                return Ok(())
            }
            (Some(Node::Dir { .. }), _) => return Err(ImageError::Duplicate(path)),
            (Some(_), _) if self.base.remove(&path) => {
                self.owners.remove(&path);
                self.replaced.push(path.clone());
            }
            (Some(_), _) => return Err(ImageError::Duplicate(path)),
        }
        self.nodes.insert(path, node);
        Ok(())
    }

    /// Add a host file (its executable bits decide 0755 or 0644).
    pub fn add_file(&mut self, dest: &str, src: &Path) -> Result<(), ImageError> {
        self.add_host(dest, src, false)
    }

    /// Add a host file, directory (recursively, in sorted order) or symlink.
    pub fn add_tree(&mut self, dest: &str, src: &Path) -> Result<(), ImageError> {
        self.add_host(dest, src, true)
    }

    fn add_host(&mut self, dest: &str, src: &Path, recurse: bool) -> Result<(), ImageError> {
        use std::os::unix::fs::PermissionsExt;
        let read_err = |source| ImageError::Read {
            path: src.to_path_buf(),
            source,
        };
        let meta = if recurse {
            std::fs::symlink_metadata(src)
        } else {
            std::fs::metadata(src)
        }
        .map_err(read_err)?;
        let ft = meta.file_type();
        if ft.is_file() {
            if meta.len() > u64::from(u32::MAX) {
                return Err(ImageError::TooLarge {
                    path: src.to_path_buf(),
                    size: meta.len(),
                });
            }
            let mode = file_mode(meta.permissions().mode());
            self.add(
                dest,
                Node::File {
                    source: Source::Path(src.to_path_buf()),
                    mode,
                },
            )
        } else if ft.is_symlink() {
            let target = std::fs::read_link(src).map_err(read_err)?;
            let target = target
                .into_os_string()
                .into_string()
                .map_err(|_| ImageError::NotUtf8(src.to_path_buf()))?;
            self.add(dest, Node::Symlink { target })
        } else if ft.is_dir() && recurse {
            self.add(dest, Node::Dir { mode: 0o755 })?;
            let mut children = std::fs::read_dir(src)
                .and_then(|rd| {
                    rd.map(|e| e.map(|e| e.file_name()))
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(read_err)?;
            children.sort();
            for name in children {
                let Some(utf8) = name.to_str() else {
                    return Err(ImageError::NotUtf8(src.join(&name)));
                };
                let child_dest = format!("{}/{}", dest.trim_end_matches('/'), utf8);
                self.add_host(&child_dest, &src.join(&name), true)?;
            }
            Ok(())
        } else {
            Err(ImageError::Special(src.to_path_buf()))
        }
    }

    /// Write every entry as a cpio newc stream into `out`, all with `mtime`.
    /// Returns the writer and the uncompressed size.
    pub fn write<W: Write>(&self, out: W, mtime: u32) -> Result<(W, u64), ImageError> {
        let mut w = cpio::Writer::new(out);
        for (i, (path, node)) in self.nodes.iter().enumerate() {
            let (uid, gid) = self.owner(path);
            let mut h = Header {
                ino: i as u32 + 1,
                nlink: 1,
                mtime,
                uid,
                gid,
                name: path.clone(),
                ..Header::default()
            };
            let result = match node {
                Node::Dir { mode } => {
                    h.mode = cpio::S_IFDIR | mode;
                    h.nlink = 2;
                    w.entry(&h, &mut io::empty())
                }
                Node::CharDev { mode, major, minor } => {
                    h.mode = cpio::S_IFCHR | mode;
                    h.rdevmajor = *major;
                    h.rdevminor = *minor;
                    w.entry(&h, &mut io::empty())
                }
                Node::Symlink { target } => {
                    h.mode = cpio::S_IFLNK | 0o777;
                    h.filesize = target.len() as u32;
                    w.entry(&h, &mut target.as_bytes())
                }
                Node::File {
                    source: Source::Bytes(b),
                    mode,
                } => {
                    h.mode = cpio::S_IFREG | mode;
                    h.filesize = b.len() as u32;
                    w.entry(&h, &mut &b[..])
                }
                Node::File {
                    source: Source::Path(p),
                    mode,
                } => {
                    let read_err = |source| ImageError::Read {
                        path: p.clone(),
                        source,
                    };
                    let file = File::open(p).map_err(read_err)?;
                    let size = file.metadata().map_err(read_err)?.len();
                    h.filesize = u32::try_from(size).map_err(|_| ImageError::TooLarge {
                        path: p.clone(),
                        size,
                    })?;
                    h.mode = cpio::S_IFREG | mode;
                    let mut tagged = TaggedRead {
                        inner: file,
                        failed: None,
                    };
                    let r = w.entry(&h, &mut tagged);
                    if let Some(source) = tagged.failed {
                        return Err(read_err(source));
                    }
                    r
                }
            };
            result.map_err(ImageError::Write)?;
        }
        w.finish().map_err(ImageError::Write)
    }
}

/// Remembers a read error so it can be told apart from a write error.
struct TaggedRead<R: Read> {
    inner: R,
    failed: Option<io::Error>,
}

impl<R: Read> Read for TaggedRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            self.failed = Some(io::Error::new(e.kind(), e.to_string()));
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 15 defect 9: `bad\xffbyte` was packed as `bad\u{FFFD}byte`.
    #[test]
    fn non_utf8_names_are_refused_not_renamed() {
        use std::os::unix::ffi::OsStrExt;
        let dir = std::env::temp_dir().join(format!("nodistro-utf8-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let bad = std::ffi::OsStr::from_bytes(b"bad\xffbyte");
        std::fs::write(dir.join(bad), b"x").expect("file");
        let mut img = Image::new();
        let err = img.add_tree("/app", &dir).expect_err("refused");
        assert!(
            matches!(&err, ImageError::NotUtf8(p) if p.ends_with(bad)),
            "{err}"
        );
        assert!(err.to_string().contains("rename it"));
        std::fs::remove_file(dir.join(bad)).expect("rm");
        std::os::unix::fs::symlink(bad, dir.join("link")).expect("symlink");
        let err = Image::new().add_tree("/app", &dir).expect_err("refused");
        assert!(
            matches!(&err, ImageError::NotUtf8(p) if p.ends_with("link")),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn normalize_paths() {
        assert_eq!(normalize("/app//x/").expect("ok"), "app/x");
        assert!(normalize("/").is_err());
        assert!(normalize("a/../b").is_err());
        assert!(normalize("./a").is_err());
    }

    #[test]
    fn parents_are_implicit_and_conflicts_are_errors() {
        let mut img = Image::new();
        let f = |b: &[u8]| Node::File {
            source: Source::Bytes(b.to_vec()),
            mode: 0o644,
        };
        img.add("/etc/ssl/ca.pem", f(b"x")).expect("added");
        assert!(matches!(img.nodes().get("etc"), Some(Node::Dir { .. })));
        assert!(matches!(img.nodes().get("etc/ssl"), Some(Node::Dir { .. })));
        img.add("etc", Node::Dir { mode: 0o755 })
            .expect("dir twice is fine");
        assert!(matches!(
            img.add("etc/ssl/ca.pem", f(b"y")),
            Err(ImageError::Duplicate(p)) if p == "etc/ssl/ca.pem"
        ));
        assert!(matches!(
            img.add("etc/ssl/ca.pem/x", f(b"y")),
            Err(ImageError::ParentNotDir { .. })
        ));
    }

    #[test]
    fn written_archive_is_sorted_and_reads_back() {
        let mut img = Image::new();
        img.add("z", Node::Dir { mode: 0o755 }).expect("z");
        img.add("bin/b", Node::Symlink { target: "a".into() })
            .expect("b");
        img.add(
            "bin/a",
            Node::File {
                source: Source::Bytes(b"abc".to_vec()),
                mode: 0o755,
            },
        )
        .expect("a");
        img.add("dev/console", Node::console()).expect("console");
        let (bytes, size) = img.write(Vec::new(), 42).expect("written");
        assert_eq!(size, bytes.len() as u64);
        let mut r = cpio::Reader::new(&bytes[..]);
        let mut names = Vec::new();
        while let Some(e) = r.next_entry().expect("entry") {
            assert_eq!(e.header.mtime, 42);
            assert_eq!(e.header.ino as usize, names.len() + 1);
            names.push(e.header.name);
        }
        assert_eq!(names, ["bin", "bin/a", "bin/b", "dev", "dev/console", "z"]);
    }

    #[test]
    fn missing_source_names_the_file() {
        let mut img = Image::new();
        let err = img
            .add_file("app/x", Path::new("/nonexistent/nodistro-test"))
            .expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/nodistro-test"));
    }
}
