//! depmod's binary indexes made from the text files, as depmod makes them
//! (the same keys, values and priorities, so kmod's own tools agree with
//! modload on a tree nodistro wrote): `nodistro build` writes them for an
//! image's subset and `modload index` for a whole tree.

use crate::core::fnmatch::{name_of_path, normalize_alias};
use crate::core::hash::FxMap;
use crate::core::kmodbin::write;
use crate::core::textfiles::{alias_lines, builtin_alias_records};

/// The text files of a tree (any may be empty).
pub struct Texts<'a> {
    pub dep: &'a str,
    pub alias: &'a [u8],
    pub symbols: &'a [u8],
    pub builtin: &'a str,
    pub builtin_modinfo: &'a [u8],
}

/// (file name, content) of modules.dep.bin, modules.alias.bin,
/// modules.symbols.bin, modules.builtin.bin and modules.builtin.alias.bin.
pub fn index_files(t: &Texts) -> Vec<(&'static str, Vec<u8>)> {
    // depmod's priority of a module is its place in depmod's module order,
    // which is the order of modules.dep.
    let mut prio: FxMap<String, u32> = FxMap::default();
    let mut dep_entries: Vec<(String, &str, u32)> = Vec::new();
    for line in t.dep.lines() {
        let Some((path, _)) = line.split_once(':') else {
            continue;
        };
        if line.starts_with('#') {
            continue;
        }
        let name = name_of_path(path.trim());
        let p = dep_entries.len() as u32;
        prio.entry(name.clone()).or_insert(p);
        dep_entries.push((name, line, p));
    }
    let prio_of = |m: &[u8]| {
        prio.get(String::from_utf8_lossy(m).as_ref())
            .copied()
            .unwrap_or(u32::MAX)
    };
    let dep = write(
        dep_entries
            .iter()
            .map(|(n, l, p)| (n.as_bytes(), l.as_bytes(), *p)),
    );
    let norm = |pairs: &mut dyn Iterator<Item = (&[u8], &[u8])>| -> Vec<(String, Vec<u8>)> {
        pairs
            .filter_map(|(pat, m)| {
                Some((normalize_alias(std::str::from_utf8(pat).ok()?)?, m.to_vec()))
            })
            .collect()
    };
    let aliases = norm(&mut alias_lines(t.alias));
    let alias = write(
        aliases
            .iter()
            .map(|(k, m)| (k.as_bytes(), m.as_slice(), prio_of(m))),
    );
    let symbols: Vec<(&[u8], &[u8])> = alias_lines(t.symbols).collect();
    let symbols = write(symbols.iter().map(|(k, m)| (*k, *m, prio_of(m))));
    let builtin_names: Vec<String> = t
        .builtin
        .lines()
        .filter(|l| l.bytes().next().is_some_and(|b| b.is_ascii_alphabetic()))
        .map(|l| name_of_path(l.trim()))
        .collect();
    let builtin = write(builtin_names.iter().map(|n| (n.as_bytes(), &b""[..], 0)));
    let builtin_aliases = norm(&mut builtin_alias_records(t.builtin_modinfo));
    let builtin_alias = write(
        builtin_aliases
            .iter()
            .map(|(k, m)| (k.as_bytes(), m.as_slice(), 0)),
    );
    vec![
        ("modules.dep.bin", dep),
        ("modules.alias.bin", alias),
        ("modules.symbols.bin", symbols),
        ("modules.builtin.bin", builtin),
        ("modules.builtin.alias.bin", builtin_alias),
    ]
}
