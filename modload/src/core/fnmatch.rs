//! Shell-style pattern matching as kmod does it: glibc `fnmatch(pattern,
//! string, 0)` (`*` also matches `/`, backslash escapes, `[...]` with `!` or
//! `^` negation and ranges), and kmod's alias normalisation.

/// Whether `s` matches `pat` (`fnmatch(pat, s, 0) == 0`).
pub fn fnmatch(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    // Where to resume after the last `*`: (pattern index after it, string index).
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if p < pat.len() {
            if pat[p] == b'*' {
                p += 1;
                star = Some((p, i));
                continue;
            }
            let (ok, next) = match_one(pat, p, s[i]);
            if ok {
                p = next;
                i += 1;
                continue;
            }
        }
        match star {
            Some((sp, si)) => {
                p = sp;
                i = si + 1;
                star = Some((sp, si + 1));
            }
            None => return false,
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

/// Match one pattern element at `pat[p]` (not `*`) against `c`; returns
/// whether it matched and where the next element starts.
fn match_one(pat: &[u8], p: usize, c: u8) -> (bool, usize) {
    match pat[p] {
        b'?' => (true, p + 1),
        b'\\' if p + 1 < pat.len() => (pat[p + 1] == c, p + 2),
        b'[' => match bracket(pat, p, c) {
            Some(r) => r,
            // Unterminated bracket: `[` is an ordinary character.
            None => (c == b'[', p + 1),
        },
        lit => (lit == c, p + 1),
    }
}

/// `[...]` starting at `pat[p]`; `None` if it has no closing `]`.
fn bracket(pat: &[u8], p: usize, c: u8) -> Option<(bool, usize)> {
    let mut j = p + 1;
    let negate = matches!(pat.get(j), Some(b'!' | b'^'));
    if negate {
        j += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let mut ch = *pat.get(j)?;
        if ch == b']' && !first {
            return Some((matched != negate, j + 1));
        }
        first = false;
        if ch == b'\\' {
            j += 1;
            ch = *pat.get(j)?;
        }
        if pat.get(j + 1) == Some(&b'-') && pat.get(j + 2).is_some_and(|&h| h != b']') {
            let hi = pat[j + 2];
            matched |= ch <= c && c <= hi;
            j += 3;
        } else {
            matched |= ch == c;
            j += 1;
        }
    }
}

/// Bytes before the first wildcard character (`*`, `?`, `[`, `\`).
pub fn literal_prefix(pat: &[u8]) -> &[u8] {
    let end = pat
        .iter()
        .position(|b| matches!(b, b'*' | b'?' | b'[' | b'\\'))
        .unwrap_or(pat.len());
    &pat[..end]
}

/// Position of the first `needle` in `hay`, eight bytes at a time.
pub fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let rep = LO.wrapping_mul(u64::from(needle));
    let mut i = 0;
    while let Some(chunk) = hay.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let x = u64::from_le_bytes(w) ^ rep;
        if x.wrapping_sub(LO) & !x & HI != 0 {
            break;
        }
        i += 8;
    }
    hay[i..].iter().position(|&b| b == needle).map(|p| p + i)
}

/// kmod's `alias_normalize`: `-` becomes `_` outside `[...]`. `None` for an
/// unbalanced bracket (kmod rejects such aliases).
pub fn normalize_alias(alias: &str) -> Option<String> {
    let mut out = String::with_capacity(alias.len());
    let mut in_bracket = false;
    for c in alias.chars() {
        match c {
            '[' if !in_bracket => in_bracket = true,
            ']' if in_bracket => in_bracket = false,
            ']' => return None,
            _ => {}
        }
        out.push(if c == '-' && !in_bracket { '_' } else { c });
    }
    (!in_bracket).then_some(out)
}

/// Module names treat `-` and `_` alike; the canonical form uses `_`.
pub fn normalize_name(name: &str) -> String {
    name.replace('-', "_")
}

/// Module name of a path in modules.dep: the file name up to its first
/// `.`, `-` as `_`.
pub fn name_of_path(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    normalize_name(base.split('.').next().unwrap_or(base))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        fnmatch(p.as_bytes(), s.as_bytes())
    }

    #[test]
    fn wildcards() {
        assert!(m("pci:v00008086d*sv*", "pci:v00008086d0000100Esv00001AF4"));
        assert!(!m("pci:v00008086d*sv*", "pci:v00008087d0000100Esv0"));
        assert!(m("*", ""));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("x*/y", "x/a/y"), "* matches / without FNM_PATHNAME");
        assert!(m("", ""));
        assert!(!m("", "a"));
    }

    #[test]
    fn brackets_and_escapes() {
        assert!(m("dmi*:rvn[Ll][Ee][Nn]*", "dmi:bvn:rvnLeNovo"));
        assert!(m("a[0-9]b", "a5b"));
        assert!(!m("a[!0-9]b", "a5b"));
        assert!(m("a[^0-9]b", "axb"));
        assert!(m("a[]]b", "a]b"));
        assert!(m("a[-x]b", "a-b"));
        assert!(m("a[x-]b", "a-b"));
        assert!(m("a[b", "a[b"), "unterminated bracket is literal");
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "aXb"));
    }

    #[test]
    fn prefixes_and_normalisation() {
        assert_eq!(literal_prefix(b"usb:v0BDAp8179d*dc*"), b"usb:v0BDAp8179d");
        assert_eq!(literal_prefix(b"exact"), b"exact");
        assert_eq!(literal_prefix(b"[ab]"), b"");
        let hay = b"0123456789abcdef\nxyz";
        assert_eq!(find_byte(hay, b'\n'), Some(16));
        assert_eq!(find_byte(hay, b'0'), Some(0));
        assert_eq!(find_byte(hay, b'z'), Some(19));
        assert_eq!(find_byte(hay, b'Q'), None);
        assert_eq!(find_byte(b"", b'Q'), None);
        assert_eq!(
            normalize_alias("crypto-aes-x[0-9]").as_deref(),
            Some("crypto_aes_x[0-9]")
        );
        assert_eq!(normalize_alias("a]b"), None);
        assert_eq!(normalize_alias("a[b"), None);
        assert_eq!(normalize_name("crc32c-intel"), "crc32c_intel");
    }
}
