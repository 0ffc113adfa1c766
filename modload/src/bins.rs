//! depmod's binary indexes of one tree, as lookups use them: present, of
//! kmod's format, not older than the text files they were made from, and
//! sound where a lookup reads them. Anything else is a reason (one line) to
//! use the text files instead.

use crate::core::fnmatch::{name_of_path, normalize_name};
use crate::core::kmodbin::Trie;
use crate::sys::Bytes;
use std::path::Path;

/// The .bin files and the text file each was made from.
pub const FILES: [(&str, &str); 5] = [
    ("modules.alias.bin", "modules.alias"),
    ("modules.dep.bin", "modules.dep"),
    ("modules.symbols.bin", "modules.symbols"),
    ("modules.builtin.bin", "modules.builtin"),
    ("modules.builtin.alias.bin", "modules.builtin.modinfo"),
];

/// The mapped indexes (the last three are optional).
pub struct Bins {
    pub(crate) alias: Bytes,
    pub(crate) dep: Bytes,
    pub(crate) symbols: Option<Bytes>,
    pub(crate) builtin: Option<Bytes>,
    pub(crate) builtin_alias: Option<Bytes>,
}

fn mtime(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// One index file: mapped and its header checked, or why not (`Ok(None)`:
/// absent).
fn open_one(dir: &Path, bin: &str, text: &str) -> Result<Option<Bytes>, String> {
    let path = dir.join(bin);
    let data = match crate::sys::Mapped::open(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {bin}: {e}")),
    };
    if let Err(e) = Trie::open(&data) {
        return Err(format!("{bin} is unusable: {e}"));
    }
    if let (Some(b), Some(t)) = (mtime(&path), mtime(&dir.join(text))) {
        if t > b {
            return Err(format!("{bin} is older than {text} (stale)"));
        }
    }
    Ok(Some(Bytes::Mapped(data)))
}

impl Bins {
    /// The indexes of `dir`, or why the text files must do.
    pub fn open(dir: &Path) -> Result<Bins, String> {
        let mut got: Vec<Option<Bytes>> = Vec::new();
        for (bin, text) in FILES {
            got.push(open_one(dir, bin, text)?);
        }
        let mut it = got.into_iter();
        let (Some(alias), Some(dep)) = (it.next().flatten(), it.next().flatten()) else {
            return Err("no modules.alias.bin and modules.dep.bin".into());
        };
        Ok(Bins {
            alias,
            dep,
            symbols: it.next().flatten(),
            builtin: it.next().flatten(),
            builtin_alias: it.next().flatten(),
        })
    }

    /// modules.dep's line of module `name` (normalised) as (path,
    /// dependencies), checked to be that module's.
    pub fn dep_line(&self, name: &str) -> Result<Option<(&str, &str)>, String> {
        let t = Trie::open(&self.dep).map_err(|e| format!("modules.dep.bin: {e}"))?;
        let Some(v) = t
            .search(name.as_bytes())
            .map_err(|e| format!("modules.dep.bin: {e}"))?
        else {
            return Ok(None);
        };
        let line = std::str::from_utf8(v)
            .map_err(|_| format!("modules.dep.bin: the entry of {name} is not text (corrupt)"))?;
        let (path, deps) = line
            .split_once(':')
            .ok_or_else(|| format!("modules.dep.bin: the entry of {name} has no ':' (corrupt)"))?;
        let path = path.trim();
        if name_of_path(path) != name {
            return Err(format!(
                "modules.dep.bin gives {path} for module {name} (corrupt)"
            ));
        }
        Ok(Some((path, deps)))
    }

    /// Modules whose patterns in `data` match `q`, in kmod's order, each
    /// once.
    fn wild(data: &[u8], file: &str, q: &str) -> Result<Vec<String>, String> {
        let t = Trie::open(data).map_err(|e| format!("{file}: {e}"))?;
        let vals = t
            .search_wild(q.as_bytes())
            .map_err(|e| format!("{file}: {e}"))?;
        let mut seen = crate::core::hash::FxSet::default();
        Ok(vals
            .into_iter()
            .map(|v| normalize_name(&String::from_utf8_lossy(v.value)))
            .filter(|m| seen.insert(m.clone()))
            .collect())
    }

    pub fn aliases(&self, q: &str) -> Result<Vec<String>, String> {
        Self::wild(&self.alias, "modules.alias.bin", q)
    }

    /// `None`: no modules.symbols.bin.
    pub fn symbols(&self, q: &str) -> Option<Result<Vec<String>, String>> {
        Some(Self::wild(self.symbols.as_ref()?, "modules.symbols.bin", q))
    }

    /// Whether modules.builtin.bin lists `name` (`false` without the file).
    pub fn is_builtin(&self, name: &str) -> Result<bool, String> {
        let Some(data) = &self.builtin else {
            return Ok(false);
        };
        let t = Trie::open(data).map_err(|e| format!("modules.builtin.bin: {e}"))?;
        t.search(name.as_bytes())
            .map(|v| v.is_some())
            .map_err(|e| format!("modules.builtin.bin: {e}"))
    }

    /// `None`: no modules.builtin.alias.bin.
    pub fn builtin_aliases(&self, q: &str) -> Option<Result<Vec<String>, String>> {
        Some(Self::wild(
            self.builtin_alias.as_ref()?,
            "modules.builtin.alias.bin",
            q,
        ))
    }
}
