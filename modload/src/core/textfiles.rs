//! Records of kmod's text index files (modules.alias, modules.builtin.modinfo)
//! and the small helpers for reading them.

use crate::core::fnmatch::find_byte;

/// Records of `text` separated by `sep`.
pub(crate) fn records(text: &[u8], sep: u8) -> impl Iterator<Item = &[u8]> {
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
pub(crate) fn alias_lines(text: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    records(text, b'\n').filter_map(|line| {
        let rest = line.strip_prefix(b"alias ")?;
        let sp = find_byte(rest, b' ')?;
        Some((&rest[..sp], rest[sp + 1..].trim_ascii()))
    })
}

/// The `alias` line starting at `off`.
pub(crate) fn alias_line_at(text: &[u8], off: u32) -> Option<(&[u8], &[u8])> {
    let rest = text.get(off as usize..)?;
    let line = &rest[..find_byte(rest, b'\n').unwrap_or(rest.len())];
    alias_lines(line).next()
}

/// `MODULE.alias=PATTERN` records of modules.builtin.modinfo, as
/// (pattern, module).
pub(crate) fn builtin_alias_records(data: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    records(data, 0).filter_map(|rec| {
        let dot = rec.windows(7).position(|w| w == b".alias=")?;
        let module = &rec[..dot];
        (!module.contains(&b'=')).then_some((&rec[dot + 7..], module))
    })
}

pub(crate) fn into_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}
