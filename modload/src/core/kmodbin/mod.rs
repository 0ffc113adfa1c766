//! kmod's binary indexes (`modules.alias.bin`, `modules.dep.bin`,
//! `modules.symbols.bin`, `modules.builtin.bin`, `modules.builtin.alias.bin`):
//! the trie depmod writes and libkmod reads (format from kmod's
//! libkmod-index.c and depmod.c; read there, written here anew).
//!
//! Layout, integers big-endian: magic `B0 07 F4 57`, version (major 2 in the
//! high 16 bits), the root node's offset. A node offset carries flags in
//! its high nibble (`0x8` a prefix, `0x4` values, `0x2` children) and the
//! file offset in the low 28 bits (0: no node). At that offset: the prefix
//! (NUL-terminated) when flagged; then `first`, `last` (bytes) and
//! `last - first + 1` child offsets; then a value count and that many
//! (priority, NUL-terminated value). A key is the path of edge bytes and
//! prefixes from the root; its values are sorted by priority.
//!
//! The reader is here ([`Trie`]), the writer in `write` ([`write()`]).
//!
//! Every read is bounds-checked and every walk is bounded by the file's
//! size, so hostile bytes give [`Corrupt`], never a panic or a hang.

use crate::core::fnmatch::{find_byte, fnmatch};

mod write;
pub use write::write;

const MAGIC: u32 = 0xB007_F457;
const VERSION_MAJOR: u32 = 2;
const VERSION: u32 = VERSION_MAJOR << 16 | 1;
const F_PREFIX: u32 = 0x8000_0000;
const F_VALUES: u32 = 0x4000_0000;
const F_CHILDS: u32 = 0x2000_0000;
const MASK: u32 = 0x0FFF_FFFF;

/// Why an index cannot be used at all (checked when it is opened).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("truncated ({0} bytes, shorter than its header)")]
    Short(usize),
    #[error("not a kmod index (magic {0:#010x})")]
    Magic(u32),
    #[error("index format version {}.{}, this reader knows 2.x", .0 >> 16, .0 & 0xffff)]
    Version(u32),
    #[error("truncated or corrupt: its root node (offset {0:#x}) is outside the file")]
    Root(u32),
}

/// A node read outside the file or malformed (found during a lookup).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("corrupt node at offset {0:#x}")]
pub struct Corrupt(pub u32);

/// An opened index over its bytes.
#[derive(Clone, Copy)]
pub struct Trie<'a> {
    data: &'a [u8],
    root: u32,
}

#[derive(Clone, Copy)]
struct Node<'a> {
    off: u32,
    prefix: &'a [u8],
    first: u8,
    last: u8,
    /// `4 * (last - first + 1)` bytes of child offsets (empty: no children).
    children: &'a [u8],
    /// The value records and their count.
    values: &'a [u8],
    nvalues: u32,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// A value of a key and its priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Value<'a> {
    pub priority: u32,
    pub value: &'a [u8],
}

impl<'a> Trie<'a> {
    /// Check the header. The nodes are checked as lookups reach them.
    pub fn open(data: &'a [u8]) -> Result<Trie<'a>, OpenError> {
        let (Some(magic), Some(version), Some(root)) =
            (be32(data, 0), be32(data, 4), be32(data, 8))
        else {
            return Err(OpenError::Short(data.len()));
        };
        if magic != MAGIC {
            return Err(OpenError::Magic(magic));
        }
        if version >> 16 != VERSION_MAJOR {
            return Err(OpenError::Version(version));
        }
        let t = Trie { data, root };
        // depmod writes the root last: a truncated file loses (part of) it.
        match t.node(root) {
            Ok(_) => Ok(t),
            Err(_) => Err(OpenError::Root(root & MASK)),
        }
    }

    /// How many nodes a walk may visit: a well-formed trie has fewer nodes
    /// than bytes, so more visits mean a cycle.
    fn budget(&self) -> usize {
        self.data.len() + 1
    }

    fn node(&self, off: u32) -> Result<Option<Node<'a>>, Corrupt> {
        let at = (off & MASK) as usize;
        if at == 0 {
            return Ok(None);
        }
        let bad = Corrupt(off & MASK);
        let d = self.data;
        let mut p = at;
        if p > d.len() {
            return Err(bad);
        }
        let prefix: &[u8] = if off & F_PREFIX != 0 {
            let rest = d.get(p..).ok_or(bad)?;
            let n = find_byte(rest, 0).ok_or(bad)?;
            p += n + 1;
            &rest[..n]
        } else {
            &[]
        };
        let (mut first, mut last, mut children): (u8, u8, &[u8]) = (1, 0, &[]);
        if off & F_CHILDS != 0 {
            let (f, l) = (*d.get(p).ok_or(bad)?, *d.get(p + 1).ok_or(bad)?);
            if f > l {
                return Err(bad);
            }
            let n = 4 * (usize::from(l - f) + 1);
            children = d.get(p + 2..p + 2 + n).ok_or(bad)?;
            (first, last) = (f, l);
            p += 2 + n;
        }
        let (mut values, mut nvalues): (&[u8], u32) = (&[], 0);
        if off & F_VALUES != 0 {
            nvalues = be32(d, p).ok_or(bad)?;
            values = d.get(p + 4..).ok_or(bad)?;
            // Each value takes at least 5 bytes.
            if nvalues as usize > values.len() / 5 {
                return Err(bad);
            }
        }
        Ok(Some(Node {
            off: off & MASK,
            prefix,
            first,
            last,
            children,
            values,
            nvalues,
        }))
    }

    fn child(&self, n: &Node<'a>, ch: u8) -> Result<Option<Node<'a>>, Corrupt> {
        if n.children.is_empty() || ch < n.first || ch > n.last {
            return Ok(None);
        }
        let i = 4 * usize::from(ch - n.first);
        let off = be32(n.children, i).ok_or(Corrupt(n.off))?;
        self.node(off)
    }

    fn values(&self, n: &Node<'a>, mut each: impl FnMut(Value<'a>)) -> Result<(), Corrupt> {
        let mut rest = n.values;
        for _ in 0..n.nvalues {
            let priority = be32(rest, 0).ok_or(Corrupt(n.off))?;
            let s = rest.get(4..).ok_or(Corrupt(n.off))?;
            let len = find_byte(s, 0).ok_or(Corrupt(n.off))?;
            each(Value {
                priority,
                value: &s[..len],
            });
            rest = &s[len + 1..];
        }
        Ok(())
    }

    /// The first value of exactly `key` (kmod's `index_search`).
    pub fn search(&self, key: &[u8]) -> Result<Option<&'a [u8]>, Corrupt> {
        let mut node = self.node(self.root)?;
        let mut i = 0;
        let mut budget = self.budget();
        while let Some(n) = node {
            budget = budget.checked_sub(1).ok_or(Corrupt(n.off))?;
            if key.get(i..i + n.prefix.len()) != Some(n.prefix) {
                return Ok(None);
            }
            i += n.prefix.len();
            let Some(&ch) = key.get(i) else {
                let mut first = None;
                if n.nvalues > 0 {
                    self.values(&n, |v| {
                        first.get_or_insert(v.value);
                    })?;
                }
                return Ok(first);
            };
            node = self.child(&n, ch)?;
            i += 1;
        }
        Ok(None)
    }

    /// Every value whose key, read as a pattern (fnmatch), matches `key`,
    /// sorted by priority as kmod sorts them (`index_searchwild`): equal
    /// priorities in reverse order of discovery.
    pub fn search_wild(&self, key: &[u8]) -> Result<Vec<Value<'a>>, Corrupt> {
        let mut found: Vec<Value<'a>> = Vec::new();
        let mut budget = self.budget();
        let mut node = self.node(self.root)?;
        let mut i = 0;
        let mut buf = Vec::new();
        'descend: while let Some(n) = node {
            budget = budget.checked_sub(1).ok_or(Corrupt(n.off))?;
            for (j, &ch) in n.prefix.iter().enumerate() {
                if matches!(ch, b'*' | b'?' | b'[') {
                    buf.clear();
                    let sub = key.get(i + j..).unwrap_or(&[]);
                    self.all(n, j, &mut buf, sub, &mut found, &mut budget)?;
                    break 'descend;
                }
                if key.get(i + j) != Some(&ch) {
                    break 'descend;
                }
            }
            i += n.prefix.len();
            let sub = key.get(i..).unwrap_or(&[]);
            for w in [b'*', b'?', b'['] {
                if let Some(c) = self.child(&n, w)? {
                    buf.clear();
                    buf.push(w);
                    self.all(c, 0, &mut buf, sub, &mut found, &mut budget)?;
                }
            }
            let Some(&ch) = key.get(i) else {
                self.values(&n, |v| found.push(v))?;
                break;
            };
            node = self.child(&n, ch)?;
            i += 1;
        }
        // kmod inserts each value before the first of a priority not below
        // its own: by priority, equal ones latest first.
        let mut seq = 0;
        let mut keyed: Vec<(u32, std::cmp::Reverse<usize>, Value<'a>)> = found
            .into_iter()
            .map(|v| {
                seq += 1;
                (v.priority, std::cmp::Reverse(seq), v)
            })
            .collect();
        keyed.sort_by_key(|(p, s, _)| (*p, *s));
        Ok(keyed.into_iter().map(|(_, _, v)| v).collect())
    }

    /// The subtree under `start` (its prefix from `j` on) whose patterns,
    /// `buf` + the path, match `sub`; children first, then the node (kmod's
    /// order), without recursion.
    fn all(
        &self,
        start: Node<'a>,
        j: usize,
        buf: &mut Vec<u8>,
        sub: &[u8],
        found: &mut Vec<Value<'a>>,
        budget: &mut usize,
    ) -> Result<(), Corrupt> {
        // (node, next child byte to try, buf length before the node's edge)
        let mut stack: Vec<(Node<'a>, u16, usize)> = Vec::new();
        let base = buf.len();
        buf.extend_from_slice(start.prefix.get(j..).unwrap_or(&[]));
        stack.push((start, u16::from(start.first), base));
        while let Some(top) = stack.last_mut() {
            let (n, next) = (top.0, top.1);
            if !n.children.is_empty() && next <= u16::from(n.last) {
                top.1 += 1;
                let ch = next as u8;
                if let Some(c) = self.child(&n, ch)? {
                    *budget = budget.checked_sub(1).ok_or(Corrupt(c.off))?;
                    let before = buf.len();
                    buf.push(ch);
                    buf.extend_from_slice(c.prefix);
                    if may_match(buf, sub) {
                        stack.push((c, u16::from(c.first), before));
                    } else {
                        buf.truncate(before);
                    }
                }
                continue;
            }
            if n.nvalues > 0 && fnmatch(buf, sub) {
                self.values(&n, |v| found.push(v))?;
            }
            let before = top.2;
            buf.truncate(before);
            stack.pop();
        }
        buf.truncate(base);
        Ok(())
    }

    /// Every (key, value) in key order (like `index_dump`).
    pub fn entries(&self) -> Result<Vec<(Vec<u8>, Value<'a>)>, Corrupt> {
        let mut out = Vec::new();
        let Some(root) = self.node(self.root)? else {
            return Ok(out);
        };
        let mut budget = self.budget();
        let mut key = root.prefix.to_vec();
        let mut stack: Vec<(Node<'a>, u16, usize)> = vec![(root, u16::from(root.first), 0)];
        self.values(&root, |v| out.push((key.clone(), v)))?;
        while let Some(top) = stack.last_mut() {
            let (n, next) = (top.0, top.1);
            if !n.children.is_empty() && next <= u16::from(n.last) {
                top.1 += 1;
                if let Some(c) = self.child(&n, next as u8)? {
                    budget = budget.checked_sub(1).ok_or(Corrupt(c.off))?;
                    let before = key.len();
                    key.push(next as u8);
                    key.extend_from_slice(c.prefix);
                    self.values(&c, |v| out.push((key.clone(), v)))?;
                    stack.push((c, u16::from(c.first), before));
                }
                continue;
            }
            key.truncate(top.2);
            stack.pop();
        }
        Ok(out)
    }
}

/// Whether a pattern starting with `pat` may still match `s`: the literal
/// bytes after its last `*` or `?` must occur in `s` (the whole subtree of
/// patterns below needs them). Patterns with brackets or escapes are not
/// judged. A cheap necessary condition that spares walking most subtrees.
fn may_match(pat: &[u8], s: &[u8]) -> bool {
    if pat.iter().any(|&b| b == b'[' || b == b'\\') {
        return true;
    }
    let run = match pat.iter().rposition(|&b| b == b'*' || b == b'?') {
        Some(i) => &pat[i + 1..],
        None => pat,
    };
    run.is_empty() || run.len() <= s.len() && s.windows(run.len()).any(|w| w == run)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx() -> Vec<u8> {
        write([
            (&b"pci:v00008086d00007010sv*"[..], &b"ata_piix"[..], 3),
            (b"pci:v*d*sv*sd*bc01sc01i*", b"ata_generic", 5),
            (b"pci:v00008086d0000100Esv*", b"e1000", 1),
            (b"crypto_crc32c", b"crc32c_intel", 7),
            (b"crypto_crc32c", b"crc32c_generic", 2),
            (b"usb:v1234p[0-9]*", b"usbx", 4),
            (b"*", b"everything", 9),
            (b"a?c", b"abc", 6),
        ])
    }

    fn wild(t: &Trie, k: &str) -> Vec<String> {
        t.search_wild(k.as_bytes())
            .expect("well formed")
            .iter()
            .map(|v| String::from_utf8_lossy(v.value).into_owned())
            .collect()
    }

    #[test]
    fn written_indexes_read_back_with_kmods_rules() {
        let data = idx();
        let t = Trie::open(&data).expect("open");
        assert_eq!(
            wild(&t, "pci:v00008086d00007010sv00001AF4sd00001100bc01sc01i80"),
            ["ata_piix", "ata_generic", "everything"],
            "by priority, not by pattern"
        );
        assert_eq!(
            wild(&t, "crypto_crc32c"),
            ["crc32c_generic", "crc32c_intel", "everything"]
        );
        assert_eq!(wild(&t, "usb:v1234p5"), ["usbx", "everything"]);
        assert_eq!(wild(&t, "usb:v1234pX"), ["everything"]);
        assert_eq!(wild(&t, "abc"), ["abc", "everything"]);
        assert_eq!(wild(&t, ""), ["everything"]);
        assert_eq!(t.search(b"crypto_crc32c"), Ok(Some(&b"crc32c_generic"[..])));
        assert_eq!(t.search(b"crypto_crc32"), Ok(None));
        assert_eq!(t.search(b"crypto_crc32cX"), Ok(None));
        let e = t.entries().expect("entries");
        assert_eq!(e.len(), 8);
        assert!(e.windows(2).all(|w| w[0].0 <= w[1].0), "key order");
    }

    #[test]
    fn bad_files_are_errors_not_panics() {
        let data = idx();
        assert_eq!(Trie::open(&data[..8]).err(), Some(OpenError::Short(8)));
        let mut v = data.clone();
        v[0] = 0;
        assert!(matches!(Trie::open(&v), Err(OpenError::Magic(_))));
        let mut v = data.clone();
        v[5] = 3;
        assert!(matches!(
            Trie::open(&v),
            Err(OpenError::Version(0x0003_0001))
        ));
        // Truncated: the root is written last.
        assert!(matches!(
            Trie::open(&data[..data.len() - 10]),
            Err(OpenError::Root(_))
        ));
        // Every single-byte corruption: an answer or an error, no panic.
        for i in 12..data.len() {
            for b in [0u8, 0x7f, 0xff, b'*'] {
                let mut v = data.clone();
                v[i] = b;
                if let Ok(t) = Trie::open(&v) {
                    let _ = t.search_wild(b"pci:v00008086d00007010sv0");
                    let _ = t.search(b"crypto_crc32c");
                    let _ = t.entries();
                }
            }
        }
        // A node whose child is itself: a cycle is cut by the budget.
        let mut v = Vec::new();
        v.extend(MAGIC.to_be_bytes());
        v.extend(VERSION.to_be_bytes());
        v.extend((12 | F_CHILDS).to_be_bytes());
        v.extend([b'*', b'*']);
        v.extend((12 | F_CHILDS).to_be_bytes());
        let t = Trie::open(&v).expect("header is fine");
        assert!(t.search_wild(b"x").is_err());
        assert!(t.entries().is_err());
    }
}
