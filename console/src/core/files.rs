//! `ls`, `cat` and `hexdump` views, sans-IO: the bytes read (bounded by the
//! caller) in, console text out. Nothing a file holds reaches the terminal
//! raw: control bytes and invalid UTF-8 are escaped, so a binary file
//! cannot reprogram the terminal.

/// `cat` reads at most this many bytes.
pub const CAT_MAX: usize = 16 * 1024;

/// One directory entry for `ls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    /// `d`, `-`, `l`, `c`, `b`, `p`, `s`.
    pub kind: char,
    pub mode: u32,
    pub size: u64,
    pub target: Option<String>,
}

fn perms(mode: u32) -> String {
    let mut s = String::with_capacity(9);
    for shift in [6, 3, 0] {
        let b = (mode >> shift) & 7;
        s.push(if b & 4 != 0 { 'r' } else { '-' });
        s.push(if b & 2 != 0 { 'w' } else { '-' });
        s.push(if b & 1 != 0 { 'x' } else { '-' });
    }
    s
}

/// `ls` lines, sorted by name.
pub fn ls(entries: &mut [Entry]) -> String {
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = String::new();
    for e in entries.iter() {
        let mut line = format!(
            "{}{} {:>10} {}",
            e.kind,
            perms(e.mode),
            e.size,
            escape_str(&e.name)
        );
        if let Some(t) = &e.target {
            line += &format!(" -> {}", escape_str(t));
        }
        out += &crate::core::width::fit(&line);
        out.push('\n');
    }
    out
}

fn escape_str(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_control() {
            out += &format!("\\x{:02x}", c as u32 & 0xff);
        } else {
            out.push(c);
        }
    }
    out
}

/// Printable text with every other byte as `\xNN` (tab and newline kept).
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\n' || c == '\t' || !c.is_control() {
                out.push(c);
            } else {
                out += &format!("\\x{:02x}", c as u32);
            }
        }
        for b in chunk.invalid() {
            out += &format!("\\x{b:02x}");
        }
    }
    out
}

/// Whether the bytes look binary: a NUL, or many control bytes.
pub fn is_binary(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1024)];
    let ctl = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\t' | b'\r'))
        .count();
    head.contains(&0) || ctl * 4 > head.len()
}

/// `cat`: `bytes` is what was read (at most [`CAT_MAX`] + 1), `size` the
/// file's size when known (0 for /proc and /sys files).
pub fn cat(path: &str, bytes: &[u8], size: u64) -> String {
    let shown = &bytes[..bytes.len().min(CAT_MAX)];
    let mut out = String::new();
    if is_binary(shown) {
        let n = shown.len().min(256);
        out += &format!(
            "{path}: binary data; the first {n} bytes escaped (hexdump {path} for more):\n"
        );
        out += &escape(&shown[..n]);
    } else {
        out += &escape(shown);
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    let total = (bytes.len() as u64).max(size);
    if bytes.len() > CAT_MAX || size > CAT_MAX as u64 {
        let more = if size > 0 {
            format!(" of {size}")
        } else {
            String::new()
        };
        out +=
            &format!("[cut after {CAT_MAX} bytes{more}; hexdump {path} {CAT_MAX} for the rest]\n");
    } else if total == 0 {
        out += "[empty]\n";
    }
    out
}

/// Classic 16-bytes-a-line dump (77 columns).
pub fn hexdump(bytes: &[u8], offset: u64) -> String {
    let mut out = String::new();
    for (i, row) in bytes.chunks(16).enumerate() {
        out += &format!("{:08x} ", offset + i as u64 * 16);
        for j in 0..16 {
            match row.get(j) {
                Some(b) => out += &format!(" {b:02x}"),
                None => out += "   ",
            }
        }
        out += "  |";
        out.extend(row.iter().map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '.'
            }
        }));
        out += "|\n";
    }
    if bytes.is_empty() {
        out += "(nothing at that offset)\n";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ls_lines() {
        let mut e = vec![
            Entry {
                name: "init".into(),
                kind: 'l',
                mode: 0o777,
                size: 20,
                target: Some("bin/nodistro-box".into()),
            },
            Entry {
                name: "app".into(),
                kind: 'd',
                mode: 0o755,
                size: 0,
                target: None,
            },
        ];
        let t = ls(&mut e);
        assert_eq!(
            t,
            "drwxr-xr-x          0 app\nlrwxrwxrwx         20 init -> bin/nodistro-box\n"
        );
    }

    #[test]
    fn cat_text_binary_and_huge() {
        assert_eq!(cat("/etc/x", b"a=1\nb=2\n", 8), "a=1\nb=2\n");
        assert_eq!(cat("/proc/x", b"no newline", 0), "no newline\n");
        assert_eq!(cat("/e", b"", 0), "\n[empty]\n");
        let t = cat("/t", b"bell\x07 esc\x1b[2J\n", 0);
        assert_eq!(t, "bell\\x07 esc\\x1b[2J\n", "terminal escapes are defused");
        let bin: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        let b = cat("/bin/x", &bin, 5000);
        assert!(
            b.starts_with("/bin/x: binary data; the first 256 bytes escaped"),
            "{b}"
        );
        assert!(
            !b.bytes().any(|c| c < 0x20 && c != b'\n' && c != b'\t'),
            "no raw control bytes"
        );
        assert!(b.len() < 2000);
        let huge = vec![b'x'; CAT_MAX + 1];
        let h = cat("/big", &huge, 1 << 30);
        assert!(
            h.ends_with("[cut after 16384 bytes of 1073741824; hexdump /big 16384 for the rest]\n"),
            "{}",
            &h[h.len() - 100..]
        );
        assert!(h.len() < CAT_MAX + 200);
        assert_eq!(escape(&[0xff, b'a', 0xc3]), "\\xffa\\xc3");
    }

    #[test]
    fn hexdump_rows() {
        let d = hexdump(b"ELF\x7f0123456789abcdefXY", 0x40);
        let lines: Vec<&str> = d.lines().collect();
        assert_eq!(
            lines[0],
            "00000040  45 4c 46 7f 30 31 32 33 34 35 36 37 38 39 61 62  |ELF.0123456789ab|"
        );
        assert!(lines[1].starts_with("00000050  63 64 65 66 58 59      "));
        assert!(d.lines().all(|l| l.len() <= 80));
        assert_eq!(hexdump(b"", 0), "(nothing at that offset)\n");
    }
}
