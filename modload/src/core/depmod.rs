//! depmod's binary indexes made from the text files, as depmod makes them
//! (the same keys, values and priorities, so kmod's own tools agree with
//! modload on a tree nodistro wrote): `nodistro build` writes them for an
//! image's subset and `modload index` for a whole tree; and the text
//! files themselves for a tree known only by its modules' `.modinfo`.

use crate::core::fnmatch::{name_of_path, normalize_alias, normalize_name};
use crate::core::hash::FxMap;
use crate::core::kmodbin::write;
use crate::core::modinfo::ModInfo;
use crate::core::textfiles::{alias_lines, builtin_alias_records};
use std::collections::HashMap;

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

/// The text files depmod would write for modules known by their own
/// `.modinfo`: modules.dep, modules.alias and modules.softdep.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ModinfoTexts {
    pub dep: String,
    pub alias: String,
    pub softdep: String,
    /// A dependency that is not among the modules, one line each.
    pub warnings: Vec<String>,
}

/// [`ModinfoTexts`] of `infos` (module path relative to the tree, its
/// modinfo), in their order; `dir` names the tree in the warnings.
pub fn texts_from_modinfo(infos: &[(String, ModInfo)], dir: &str) -> ModinfoTexts {
    let path_of: HashMap<String, &str> = infos
        .iter()
        .map(|(rel, _)| (name_of_path(rel), rel.as_str()))
        .collect();
    let mut t = ModinfoTexts::default();
    for (rel, info) in infos {
        let name = name_of_path(rel);
        t.dep.push_str(rel);
        t.dep.push(':');
        // Direct dependencies, the one loaded first last (depmod's order).
        for d in info.depends.iter().rev() {
            match path_of.get(&normalize_name(d)) {
                Some(p) => {
                    t.dep.push(' ');
                    t.dep.push_str(p);
                }
                None => t
                    .warnings
                    .push(format!("{rel}: depends on {d}, which is not in {dir}")),
            }
        }
        t.dep.push('\n');
        for a in &info.alias {
            t.alias.push_str(&format!("alias {a} {name}\n"));
        }
        for sd in &info.softdep {
            t.softdep.push_str(&format!("softdep {name} {sd}\n"));
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modinfo_gives_depmods_text_files() {
        let info = |depends: &[&str], alias: &[&str], softdep: &[&str]| ModInfo {
            depends: depends.iter().map(|s| s.to_string()).collect(),
            alias: alias.iter().map(|s| s.to_string()).collect(),
            softdep: softdep.iter().map(|s| s.to_string()).collect(),
            ..ModInfo::default()
        };
        let infos = vec![
            ("k/virtio.ko".to_string(), info(&[], &[], &[])),
            ("k/crc-x.ko.xz".to_string(), info(&[], &["crc"], &[])),
            (
                "k/virtio_net.ko".to_string(),
                info(
                    &["virtio", "crc_x", "gone"],
                    &["virtio:d1v*"],
                    &["pre: crc"],
                ),
            ),
        ];
        let t = texts_from_modinfo(&infos, "/lib/modules/x");
        assert_eq!(
            t.dep,
            "k/virtio.ko:\nk/crc-x.ko.xz:\nk/virtio_net.ko: k/crc-x.ko.xz k/virtio.ko\n"
        );
        assert_eq!(t.alias, "alias crc crc_x\nalias virtio:d1v* virtio_net\n");
        assert_eq!(t.softdep, "softdep virtio_net pre: crc\n");
        assert_eq!(
            t.warnings,
            ["k/virtio_net.ko: depends on gone, which is not in /lib/modules/x"]
        );
    }
}
