//! glibc's `/etc/ld.so.cache` (format `glibc-ld.so.cache1.1`, what
//! ldconfig writes since glibc 2.32): read the host's to resolve library
//! names the way ld.so does, and write one for the image listing exactly
//! the libraries packed. Sans-IO: bytes in, bytes out.
//!
//! Layout (little-endian on x86-64): a 48-byte header (magic
//! `glibc-ld.so.cache`, version `1.1`, entry count, string table size,
//! endianness flags, extension offset), then 24-byte entries (flags, key
//! and value offsets, osversion, hwcap), then NUL-terminated strings.
//! String offsets count from the start of the file. Entries are sorted
//! by [`libcmp`], greatest first: ld.so binary-searches them.

use std::cmp::Ordering;

/// `glibc-ld.so.cache` followed by the version `1.1`.
pub const MAGIC: &[u8; 20] = b"glibc-ld.so.cache1.1";
/// The old libc5 format's magic (ldconfig stopped writing it in 2.32).
const OLD_MAGIC: &[u8] = b"ld.so-1.7.0";
const HEADER: usize = 48;
const ENTRY: usize = 24;
/// `FLAG_ELF_LIBC6 | FLAG_X8664_LIB64`: what ld.so on x86-64 accepts.
pub const FLAGS_X86_64: i32 = 0x0303;
/// `cache_file_new_flags_endian_little`.
const ENDIAN_LITTLE: u8 = 2;
/// Entries of glibc-hwcaps subdirectories carry this in hwcap's high half.
const HWCAP_EXTENSION: u64 = 1 << 62;

/// Why a cache file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LdCacheError {
    #[error("is in the old libc5 format (ld.so-1.7.0); run ldconfig of glibc 2.32 or later to rewrite it")]
    OldFormat,
    #[error("does not start with glibc-ld.so.cache1.1")]
    BadMagic,
    #[error("is big-endian or of unknown byte order (flags {0:#x})")]
    Endian(u8),
    #[error("is cut short: {entries} entries do not fit in {len} bytes")]
    Truncated { entries: u32, len: usize },
    #[error("entry {index} points outside the file (offset {offset})")]
    BadOffset { index: usize, offset: u32 },
    #[error("entry {index} has a string without its NUL terminator")]
    Unterminated { index: usize },
}

/// One entry: a library name and the path ld.so opens for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub flags: i32,
    pub name: String,
    pub path: String,
    pub hwcap: u64,
}

impl Entry {
    /// A library of a glibc-hwcaps subdirectory (x86-64-v3...), which
    /// ld.so picks only on CPUs of that level.
    pub fn is_hwcaps(&self) -> bool {
        self.hwcap >> 32 == HWCAP_EXTENSION >> 32
    }
}

/// A parsed cache, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LdCache {
    pub entries: Vec<Entry>,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

fn string_at(b: &[u8], index: usize, offset: u32) -> Result<String, LdCacheError> {
    let start = offset as usize;
    let rest = b
        .get(start..)
        .filter(|r| !r.is_empty())
        .ok_or(LdCacheError::BadOffset { index, offset })?;
    let end = rest
        .iter()
        .position(|&c| c == 0)
        .ok_or(LdCacheError::Unterminated { index })?;
    Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
}

/// Read a cache file.
pub fn parse(b: &[u8]) -> Result<LdCache, LdCacheError> {
    if b.starts_with(OLD_MAGIC) {
        return Err(LdCacheError::OldFormat);
    }
    if b.len() < HEADER || !b.starts_with(MAGIC) {
        return Err(LdCacheError::BadMagic);
    }
    let n = u32_at(b, 20);
    let flags = b[28];
    if flags & 3 != ENDIAN_LITTLE && flags & 3 != 0 {
        return Err(LdCacheError::Endian(flags));
    }
    if (b.len() - HEADER) / ENTRY < n as usize {
        return Err(LdCacheError::Truncated {
            entries: n,
            len: b.len(),
        });
    }
    let mut entries = Vec::with_capacity(n as usize);
    for index in 0..n as usize {
        let at = HEADER + index * ENTRY;
        let e = &b[at..at + ENTRY];
        let mut hw = [0u8; 8];
        hw.copy_from_slice(&e[16..24]);
        entries.push(Entry {
            flags: u32_at(e, 0) as i32,
            name: string_at(b, index, u32_at(e, 4))?,
            path: string_at(b, index, u32_at(e, 8))?,
            hwcap: u64::from_le_bytes(hw),
        });
    }
    Ok(LdCache { entries })
}

/// glibc's `_dl_cache_libcmp`: byte order, except that runs of digits
/// compare as numbers (`libfoo.so.10` after `libfoo.so.9`) and a digit
/// sorts after any other byte.
pub fn libcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() {
        if a[i].is_ascii_digit() {
            if j >= b.len() || !b[j].is_ascii_digit() {
                return Ordering::Greater;
            }
            // Numbers as u128 saturating: glibc's int arithmetic would
            // overflow on such names anyway.
            let mut va: u128 = 0;
            while i < a.len() && a[i].is_ascii_digit() {
                va = va
                    .saturating_mul(10)
                    .saturating_add(u128::from(a[i] - b'0'));
                i += 1;
            }
            let mut vb: u128 = 0;
            while j < b.len() && b[j].is_ascii_digit() {
                vb = vb
                    .saturating_mul(10)
                    .saturating_add(u128::from(b[j] - b'0'));
                j += 1;
            }
            if va != vb {
                return va.cmp(&vb);
            }
        } else if j < b.len() && b[j].is_ascii_digit() {
            return Ordering::Less;
        } else if j >= b.len() || a[i] != b[j] {
            return a[i].cmp(b.get(j).unwrap_or(&0));
        } else {
            i += 1;
            j += 1;
        }
    }
    if j < b.len() {
        Ordering::Less
    } else {
        Ordering::Equal
    }
}

impl LdCache {
    /// The path ld.so on x86-64 takes for `name` on a CPU of the baseline
    /// level: the first entry of that name with x86-64 flags, skipping
    /// glibc-hwcaps variants and legacy hwcap entries (the image's CPU is
    /// not known at build time; the baseline library runs on all).
    pub fn lookup(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.name == name && e.flags == FLAGS_X86_64 && !e.is_hwcaps() && e.hwcap == 0)
            .map(|e| e.path.as_str())
    }

    /// Whether the entries are in the order ld.so's binary search needs.
    pub fn is_sorted(&self) -> bool {
        self.entries
            .windows(2)
            .all(|w| libcmp(&w[0].name, &w[1].name) != Ordering::Less)
    }
}

/// Write a cache of `(name, path)` pairs for x86-64 (no hwcaps, no
/// extensions), sorted as ldconfig sorts. A pair given twice is written
/// once.
pub fn write(pairs: &[(String, String)]) -> Vec<u8> {
    let mut pairs: Vec<&(String, String)> = pairs.iter().collect();
    // Greatest first; ties by path, for the same bytes from the same set.
    pairs.sort_by(|a, b| libcmp(&b.0, &a.0).then_with(|| a.1.cmp(&b.1)));
    pairs.dedup();
    let strings_at = HEADER + pairs.len() * ENTRY;
    let mut strings: Vec<u8> = Vec::new();
    let mut offsets = std::collections::BTreeMap::<String, u32>::new();
    let mut intern = |s: &str, strings: &mut Vec<u8>| -> u32 {
        *offsets.entry(s.to_string()).or_insert_with(|| {
            let o = (strings_at + strings.len()) as u32;
            strings.extend_from_slice(s.as_bytes());
            strings.push(0);
            o
        })
    };
    let mut entries = Vec::with_capacity(pairs.len() * ENTRY);
    for (name, path) in &pairs {
        let k = intern(name, &mut strings);
        let v = intern(path, &mut strings);
        entries.extend_from_slice(&FLAGS_X86_64.to_le_bytes());
        entries.extend_from_slice(&k.to_le_bytes());
        entries.extend_from_slice(&v.to_le_bytes());
        entries.extend_from_slice(&0u32.to_le_bytes());
        entries.extend_from_slice(&0u64.to_le_bytes());
    }
    let mut out = Vec::with_capacity(strings_at + strings.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    out.extend_from_slice(&(strings.len() as u32).to_le_bytes());
    out.extend_from_slice(&[ENDIAN_LITTLE, 0, 0, 0]);
    out.extend_from_slice(&[0u8; 16]); // extension offset 0, unused
    out.extend_from_slice(&entries);
    out.extend_from_slice(&strings);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libcmp_like_glibc() {
        use Ordering::*;
        assert_eq!(libcmp("libfoo.so.10", "libfoo.so.9"), Greater);
        assert_eq!(libcmp("libfoo.so.9", "libfoo.so.10"), Less);
        assert_eq!(libcmp("libz.so.1", "libz.so.1"), Equal);
        assert_eq!(libcmp("libz.so", "libz.so.1"), Less);
        assert_eq!(libcmp("libz.so.1", "libz.so"), Greater);
        // A digit sorts after any other byte.
        assert_eq!(libcmp("lib3", "libz"), Greater);
        assert_eq!(libcmp("libz", "lib3"), Less);
        assert_eq!(libcmp("liba", "libb"), Less);
        assert_eq!(libcmp("", ""), Equal);
        assert_eq!(libcmp("", "a"), Less);
        // Leading zeros are the same number.
        assert_eq!(libcmp("a01", "a1"), Equal);
    }

    #[test]
    fn write_then_parse() {
        let pairs = vec![
            (
                "libz.so.1".to_string(),
                "/lib/x86_64-linux-gnu/libz.so.1".to_string(),
            ),
            (
                "libc.so.6".to_string(),
                "/lib/x86_64-linux-gnu/libc.so.6".to_string(),
            ),
            ("libfoo.so.10".to_string(), "/opt/libfoo.so.10".to_string()),
            ("libfoo.so.9".to_string(), "/opt/libfoo.so.9".to_string()),
            (
                "libc.so.6".to_string(),
                "/lib/x86_64-linux-gnu/libc.so.6".to_string(),
            ),
        ];
        let bytes = write(&pairs);
        let c = parse(&bytes).expect("parses");
        assert_eq!(c.entries.len(), 4);
        assert!(c.is_sorted());
        let names: Vec<&str> = c.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            ["libz.so.1", "libfoo.so.10", "libfoo.so.9", "libc.so.6"]
        );
        assert_eq!(c.lookup("libfoo.so.9"), Some("/opt/libfoo.so.9"));
        assert_eq!(
            c.lookup("libc.so.6"),
            Some("/lib/x86_64-linux-gnu/libc.so.6")
        );
        assert_eq!(c.lookup("libm.so.6"), None);
        // Same set, same bytes.
        let mut rev = pairs.clone();
        rev.reverse();
        assert_eq!(write(&rev), bytes);
        assert_eq!(parse(&write(&[])).expect("empty").entries, []);
    }

    #[test]
    fn bad_caches_are_errors() {
        assert_eq!(parse(b"ld.so-1.7.0\0\0\0\0"), Err(LdCacheError::OldFormat));
        assert_eq!(parse(b"hello"), Err(LdCacheError::BadMagic));
        let good = write(&[("a".into(), "/a".into())]);
        assert!(matches!(
            parse(&good[..HEADER + 3]),
            Err(LdCacheError::Truncated { entries: 1, .. })
        ));
        let mut bad = good.clone();
        bad[HEADER + 4..HEADER + 8].copy_from_slice(&9999u32.to_le_bytes());
        assert!(matches!(
            parse(&bad),
            Err(LdCacheError::BadOffset { index: 0, .. })
        ));
        let mut bad = good.clone();
        let n = bad.len();
        bad[n - 1] = b'x';
        assert!(matches!(
            parse(&bad),
            Err(LdCacheError::Unterminated { .. })
        ));
        let mut bad = good;
        bad[28] = 1;
        assert_eq!(parse(&bad), Err(LdCacheError::Endian(1)));
    }

    /// The host's cache, written by Debian's ldconfig: every entry reads,
    /// in the order our comparison says, and lookups agree with
    /// `ldconfig -p`.
    #[test]
    fn host_cache_reads_like_ldconfig() {
        let Ok(bytes) = std::fs::read("/etc/ld.so.cache") else {
            panic!("/etc/ld.so.cache missing (Debian always has one; run ldconfig)");
        };
        let c = parse(&bytes).expect("the host's cache parses");
        assert!(c.entries.len() > 10);
        assert!(c.is_sorted(), "our libcmp disagrees with ldconfig's order");
        let p = std::process::Command::new("/sbin/ldconfig")
            .arg("-p")
            .output()
            .expect("ldconfig -p");
        let listing = String::from_utf8_lossy(&p.stdout);
        let mut checked = 0;
        for line in listing.lines().skip(1) {
            // "\tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1"
            let Some((left, path)) = line.trim().split_once(" => ") else {
                continue;
            };
            let name = left.split(' ').next().unwrap_or_default();
            if left.contains("(libc6,x86-64)") && !left.contains("hwcap") {
                assert!(
                    c.entries.iter().any(|e| e.name == name && e.path == path),
                    "{name} => {path} missing"
                );
                checked += 1;
            }
        }
        assert!(checked > 10, "{listing}");
        assert_eq!(
            c.lookup("libc.so.6"),
            Some("/lib/x86_64-linux-gnu/libc.so.6")
        );
    }

    /// Debian's ldconfig reads what we write (`ldconfig -C FILE -p`).
    #[test]
    fn ldconfig_reads_our_cache() {
        let dir = std::env::temp_dir().join(format!("nodistro-ldcache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let f = dir.join("ld.so.cache");
        let pairs = vec![
            (
                "libz.so.1".to_string(),
                "/lib/x86_64-linux-gnu/libz.so.1".to_string(),
            ),
            (
                "libcrypto.so.3".to_string(),
                "/usr/lib/libcrypto.so.3".to_string(),
            ),
        ];
        std::fs::write(&f, write(&pairs)).expect("write");
        let p = std::process::Command::new("/sbin/ldconfig")
            .arg("-C")
            .arg(&f)
            .arg("-p")
            .output()
            .expect("ldconfig");
        let out = String::from_utf8_lossy(&p.stdout);
        assert!(out.starts_with("2 libs found in cache"), "{out}");
        assert!(
            out.contains("libz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1"),
            "{out}"
        );
        assert!(
            out.contains("libcrypto.so.3 (libc6,x86-64) => /usr/lib/libcrypto.so.3"),
            "{out}"
        );
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
