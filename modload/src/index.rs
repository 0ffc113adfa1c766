//! modload's precompiled alias index, `modules.nodistro` (what depmod's
//! `modules.alias.bin` is to kmod): the patterns of modules.alias,
//! normalised, sorted by their literal prefix, so that a lookup binary-searches
//! each prefix length instead of reading 26,000 lines. `nodistro build` writes
//! it next to the text files; `modload index` writes it for a whole tree.
//! It is only a cache: it records the size of the modules.alias it was built
//! from, and a missing, stale or corrupt index falls back to the text.
//!
//! It also holds the module names of modules.dep, sorted, with their line's
//! place in modules.dep, so that opening a tree parses nothing.
//!
//! Layout (little-endian): `NDINDEX2`, u32 sizes of modules.alias and
//! modules.dep, u32 alias entry count, u32 number of distinct prefix lengths,
//! u32 name count, the lengths (u32 each), the alias entries (16 bytes: u32
//! pattern offset, u16 prefix length, u16 pattern length, u32 module offset,
//! u16 module length, u16 zero), the name entries (16 bytes: u32 name
//! offset, u16 name length, u16 zero, u32 line offset and u32 line length in
//! modules.dep), then the strings.

use crate::fnmatch::{fnmatch, literal_prefix, normalize_alias, normalize_name};
use std::cmp::Ordering;

/// File name in the modules directory.
pub const FILE: &str = "modules.nodistro";
const MAGIC: &[u8; 8] = b"NDINDEX2";
const ENTRY: usize = 16;

/// Build the index for a modules.alias text (`alias PATTERN MODULE` lines)
/// and a modules.dep text.
pub fn build(
    alias_lines: impl Iterator<Item = (String, String)>,
    alias_size: usize,
    dep_text: &str,
) -> Vec<u8> {
    let mut strings: Vec<u8> = Vec::new();
    // (prefix length, pattern offset, pattern length, module offset, module length)
    let mut entries: Vec<(usize, usize, usize, usize, usize)> = Vec::new();
    let mut modules: std::collections::HashMap<String, usize> = Default::default();
    for (pat, module) in alias_lines {
        let Some(norm) = normalize_alias(&pat) else {
            continue;
        };
        let module = normalize_name(&module);
        let m_off = *modules.entry(module.clone()).or_insert_with(|| {
            strings.extend_from_slice(module.as_bytes());
            strings.len() - module.len()
        });
        let lp = literal_prefix(norm.as_bytes()).len();
        if norm.len() > usize::from(u16::MAX) || module.len() > usize::from(u16::MAX) {
            continue;
        }
        entries.push((lp, strings.len(), norm.len(), m_off, module.len()));
        strings.extend_from_slice(norm.as_bytes());
    }
    let prefix = |e: &(usize, usize, usize, usize, usize)| &strings[e.1..e.1 + e.0];
    entries.sort_by(|a, b| prefix(a).cmp(prefix(b)));
    let mut lens: Vec<usize> = entries.iter().map(|e| e.0).collect();
    lens.sort_unstable();
    lens.dedup();
    // (name offset, name length, line offset, line length), first of a name wins.
    let mut names: Vec<(usize, usize, usize, usize)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut off = 0;
    for line in dep_text.split('\n') {
        let line_off = off;
        off += line.len() + 1;
        let Some((path, _)) = line.split_once(':') else {
            continue;
        };
        let name = crate::fnmatch::name_of_path(path.trim());
        if line.starts_with('#') || name.is_empty() || !seen.insert(name.clone()) {
            continue;
        }
        names.push((strings.len(), name.len(), line_off, line.len()));
        strings.extend_from_slice(name.as_bytes());
    }
    names.sort_by(|a, b| strings[a.0..a.0 + a.1].cmp(&strings[b.0..b.0 + b.1]));
    let u32b = |v: usize| (v as u32).to_le_bytes();
    let mut out = MAGIC.to_vec();
    out.extend(u32b(alias_size));
    out.extend(u32b(dep_text.len()));
    out.extend(u32b(entries.len()));
    out.extend(u32b(lens.len()));
    out.extend(u32b(names.len()));
    for l in &lens {
        out.extend(u32b(*l));
    }
    for (lp, p_off, p_len, m_off, m_len) in &entries {
        out.extend(u32b(*p_off));
        out.extend((*lp as u16).to_le_bytes());
        out.extend((*p_len as u16).to_le_bytes());
        out.extend(u32b(*m_off));
        out.extend((*m_len as u16).to_le_bytes());
        out.extend([0, 0]);
    }
    for (n_off, n_len, l_off, l_len) in &names {
        out.extend(u32b(*n_off));
        out.extend((*n_len as u16).to_le_bytes());
        out.extend([0, 0]);
        out.extend(u32b(*l_off));
        out.extend(u32b(*l_len));
    }
    out.extend(strings);
    out
}

fn u32_at(b: &[u8], off: usize) -> Option<usize> {
    let s = b.get(off..off + 4)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
}

fn u16_at(b: &[u8], off: usize) -> Option<usize> {
    let s = b.get(off..off + 2)?;
    Some(usize::from(u16::from_le_bytes([s[0], s[1]])))
}

/// Where the parts of an index are (checked once when it is opened).
#[derive(Debug, Clone)]
pub struct Meta {
    n: usize,
    lens: Vec<usize>,
    entries: usize,
    nn: usize,
    names: usize,
    strings: usize,
}

/// Check an index's header against the sizes of modules.alias and
/// modules.dep; `None` when it is not an index, stale or truncated.
pub fn open(data: &[u8], alias_size: usize, dep_size: usize) -> Option<Meta> {
    if data.get(..8)? != MAGIC || u32_at(data, 8)? != alias_size || u32_at(data, 12)? != dep_size {
        return None;
    }
    let n = u32_at(data, 16)?;
    let nl = u32_at(data, 20)?;
    let nn = u32_at(data, 24)?;
    let lens = (0..nl)
        .map(|i| u32_at(data, 28 + 4 * i))
        .collect::<Option<Vec<_>>>()?;
    let entries = 28usize.checked_add(nl.checked_mul(4)?)?;
    let names = entries.checked_add(n.checked_mul(ENTRY)?)?;
    let strings = names.checked_add(nn.checked_mul(ENTRY)?)?;
    (strings <= data.len()).then_some(Meta {
        n,
        lens,
        entries,
        nn,
        names,
        strings,
    })
}

/// Where the modules.dep line of module `name` (normalised) is: (offset,
/// length).
pub fn find_name(data: &[u8], m: &Meta, name: &[u8]) -> Option<(usize, usize)> {
    let at = |i: usize| -> Option<(&[u8], usize, usize)> {
        let e = m.names + i * ENTRY;
        let (n_off, n_len) = (u32_at(data, e)?, u16_at(data, e + 4)?);
        let s = data.get(m.strings..)?;
        Some((
            s.get(n_off..n_off + n_len)?,
            u32_at(data, e + 8)?,
            u32_at(data, e + 12)?,
        ))
    };
    let (mut lo, mut hi) = (0, m.nn);
    while lo < hi {
        let mid = (lo + hi) / 2;
        let (n, off, len) = at(mid)?;
        match n.cmp(name) {
            Ordering::Less => lo = mid + 1,
            Ordering::Greater => hi = mid,
            Ordering::Equal => return Some((off, len)),
        }
    }
    None
}

/// One entry: (prefix, pattern, module); `None` if out of bounds.
fn entry<'a>(data: &'a [u8], m: &Meta, i: usize) -> Option<(&'a [u8], &'a [u8], &'a [u8])> {
    let e = m.entries + i * ENTRY;
    let (p_off, lp, p_len) = (u32_at(data, e)?, u16_at(data, e + 4)?, u16_at(data, e + 6)?);
    let (m_off, m_len) = (u32_at(data, e + 8)?, u16_at(data, e + 12)?);
    let s = data.get(m.strings..)?;
    let pat = s.get(p_off..p_off + p_len)?;
    Some((pat.get(..lp)?, pat, s.get(m_off..m_off + m_len)?))
}

/// Call `hit(module)` for every pattern matching the normalised alias `q`.
pub fn matches(data: &[u8], m: &Meta, q: &[u8], mut hit: impl FnMut(&[u8])) {
    for &len in m.lens.iter().take_while(|&&l| l <= q.len()) {
        let key = &q[..len];
        // First entry whose prefix is not below `key`.
        let (mut lo, mut hi) = (0, m.n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match entry(data, m, mid).map(|(p, _, _)| p.cmp(key)) {
                Some(Ordering::Less) => lo = mid + 1,
                Some(_) => hi = mid,
                None => return,
            }
        }
        for i in lo..m.n {
            let Some((p, pat, module)) = entry(data, m, i) else {
                return;
            };
            if p != key {
                break;
            }
            if (p.len() == pat.len() && q.len() == p.len())
                || (p.len() < pat.len() && fnmatch(pat, q))
            {
                hit(module);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn finds_what_a_scan_finds_and_rejects_bad_files() {
        let idx = build(
            lines(&[
                ("pci:v00008086d0000100Esv*", "e1000"),
                ("pci:v00008086d*", "intel-any"),
                ("crypto-crc32c", "crc32c-intel"),
                ("*", "everything"),
                ("usb:v1234p[0-9]*", "usbx"),
            ]),
            99,
            "kernel/a/e1000.ko: kernel/b/x-y.ko\nkernel/b/x-y.ko:\n",
        );
        let m = open(&idx, 99, 52).expect("valid index");
        assert_eq!(find_name(&idx, &m, b"x_y"), Some((35, 16)));
        assert_eq!(find_name(&idx, &m, b"e1000"), Some((0, 34)));
        assert_eq!(find_name(&idx, &m, b"nosuch"), None);
        let find = |q: &str| {
            let mut v: Vec<String> = Vec::new();
            matches(&idx, &m, q.as_bytes(), |x| {
                v.push(String::from_utf8_lossy(x).into_owned())
            });
            v.sort();
            v
        };
        assert_eq!(
            find("pci:v00008086d0000100Esv1"),
            ["e1000", "everything", "intel_any"]
        );
        assert_eq!(find("crypto_crc32c"), ["crc32c_intel", "everything"]);
        assert_eq!(find("usb:v1234p5"), ["everything", "usbx"]);
        assert_eq!(find("usb:v1234pX"), ["everything"]);
        assert!(open(&idx, 98, 52).is_none(), "stale: modules.alias changed");
        assert!(open(&idx, 99, 53).is_none(), "stale: modules.dep changed");
        assert!(open(&idx[..30], 99, 52).is_none(), "truncated");
        assert!(open(b"garbage", 99, 52).is_none());
        // A corrupt entry table: lookups stop, no panic.
        let mut bad = idx.clone();
        let n = bad.len();
        bad.truncate(n - 20);
        if let Some(m) = open(&bad, 99, 52) {
            matches(&bad, &m, b"pci:v00008086d0000100Esv1", |_| {});
            let _ = find_name(&bad, &m, b"x_y");
        }
    }
}
