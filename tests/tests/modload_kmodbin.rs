//! modload's reader and writer of kmod's binary indexes against the files
//! depmod wrote for the Debian kernel (linux-image-amd64): every entry reads
//! back, the entries agree with the text files, and writing them again gives
//! depmod's bytes.

use nodistro_modload::fnmatch::normalize_alias;
use nodistro_modload::kmodbin::{write, Trie};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn debian_tree() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/lib/modules")
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    let v = p.file_name().map(|n| n.to_string_lossy().into_owned());
                    v.is_some_and(|v| v.starts_with("6.1.0-") && v.ends_with("-amd64"))
                        && p.join("modules.alias.bin").is_file()
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!("no Debian 6.1 module tree with depmod's .bin files in /lib/modules: install linux-image-amd64 (scripts/setup.sh does)")
    })
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_index_reads_back_and_rewrites_to_depmods_bytes() {
    let dir = debian_tree();
    for name in [
        "modules.alias.bin",
        "modules.dep.bin",
        "modules.symbols.bin",
        "modules.builtin.bin",
        "modules.builtin.alias.bin",
    ] {
        let data = read(&dir, name);
        let t = Trie::open(&data).unwrap_or_else(|e| panic!("{name}: {e}"));
        let entries = t.entries().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!entries.is_empty(), "{name}: no entries");
        // depmod inserts values in module order; feeding them back in
        // reverse file order reproduces its ties.
        let again = write(
            entries
                .iter()
                .rev()
                .map(|(k, v)| (k.as_slice(), v.value, v.priority)),
        );
        assert!(
            again == data,
            "{name}: rewritten {} bytes, depmod wrote {} (first difference at {:?})",
            again.len(),
            data.len(),
            again.iter().zip(&data).position(|(a, b)| a != b)
        );
    }
}

#[test]
fn the_alias_index_holds_what_modules_alias_lists() {
    let dir = debian_tree();
    let data = read(&dir, "modules.alias.bin");
    let t = Trie::open(&data).expect("open");
    let bin: BTreeSet<(String, String)> = t
        .entries()
        .expect("entries")
        .into_iter()
        .map(|(k, v)| {
            (
                String::from_utf8_lossy(&k).into_owned(),
                String::from_utf8_lossy(v.value).into_owned(),
            )
        })
        .collect();
    let text = String::from_utf8(read(&dir, "modules.alias")).expect("utf-8");
    let listed: BTreeSet<(String, String)> = text
        .lines()
        .filter_map(|l| {
            let mut w = l.strip_prefix("alias ")?.split(' ');
            let (p, m) = (w.next()?, w.next()?);
            Some((normalize_alias(p)?, m.to_string()))
        })
        .collect();
    assert_eq!(bin.len(), listed.len());
    assert!(bin == listed, "the .bin and the text disagree");
    // And modules.dep.bin's keys are modules.dep's module names.
    let data = read(&dir, "modules.dep.bin");
    let t = Trie::open(&data).expect("open");
    let names: BTreeSet<String> = t
        .entries()
        .expect("entries")
        .into_iter()
        .map(|(k, _)| String::from_utf8_lossy(&k).into_owned())
        .collect();
    let dep = String::from_utf8(read(&dir, "modules.dep")).expect("utf-8");
    let listed: BTreeSet<String> = dep
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(p, _)| nodistro_modload::fnmatch::name_of_path(p))
        .collect();
    assert_eq!(names, listed);
}

/// What `nodistro build` and `modload index` write is what depmod wrote:
/// the five indexes made from the Debian tree's text files, byte for byte.
#[test]
fn indexes_made_from_the_text_files_are_depmods() {
    let dir = debian_tree();
    let dep = String::from_utf8(read(&dir, "modules.dep")).expect("utf-8");
    let (alias, symbols) = (read(&dir, "modules.alias"), read(&dir, "modules.symbols"));
    let builtin = String::from_utf8(read(&dir, "modules.builtin")).expect("utf-8");
    let modinfo = read(&dir, "modules.builtin.modinfo");
    let files = nodistro_modload::depmod::index_files(&nodistro_modload::depmod::Texts {
        dep: &dep,
        alias: &alias,
        symbols: &symbols,
        builtin: &builtin,
        builtin_modinfo: &modinfo,
    });
    assert_eq!(files.len(), 5);
    let mut differ = Vec::new();
    for (name, ours) in files {
        let theirs = read(&dir, name);
        if ours != theirs {
            // Say which entries differ, for the report.
            let t = Trie::open(&theirs)
                .expect("depmod's")
                .entries()
                .expect("entries");
            let o = Trie::open(&ours).expect("ours").entries().expect("entries");
            let diff: Vec<String> = t
                .iter()
                .zip(&o)
                .filter(|(a, b)| a != b)
                .take(3)
                .map(|(a, b)| format!("depmod {a:?} / ours {b:?}"))
                .collect();
            differ.push(format!(
                "{name}: {} entries vs {}: {diff:?}",
                t.len(),
                o.len()
            ));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
