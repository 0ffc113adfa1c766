//! The index files of an image holding a subset of a tree's modules (what
//! `nodistro build` writes), and the precompiled index of a whole tree.

use crate::fnmatch::normalize_name;
use crate::textfiles::{alias_lines, builtin_alias_records};
use crate::tree::ModuleTree;
use std::collections::BTreeSet;

impl ModuleTree {
    /// The precompiled alias index of this tree (see [`crate::index`]).
    pub fn build_index(&self) -> Vec<u8> {
        crate::index::build(
            alias_lines(&self.alias_text).map(|(p, m)| {
                (
                    String::from_utf8_lossy(p).into_owned(),
                    String::from_utf8_lossy(m).into_owned(),
                )
            }),
            self.alias_text.len(),
            &self.dep_text,
        )
    }

    /// Index files for an image holding only `subset` (module names): the
    /// lines of modules.dep, modules.alias and modules.softdep that concern
    /// those modules, and every built-in module (so that the target knows
    /// they are satisfied). Returns (file name, content).
    pub fn write_subset_index(&self, subset: &BTreeSet<String>) -> Vec<(String, Vec<u8>)> {
        let subset: BTreeSet<String> = subset.iter().map(|n| normalize_name(n)).collect();
        let mut dep = String::new();
        let d = self.deps();
        for m in d.modules.iter().filter(|m| subset.contains(d.mod_name(m))) {
            dep.push_str(self.text(m.path));
            dep.push(':');
            for d in self.text(m.deps).split_whitespace() {
                dep.push(' ');
                dep.push_str(d);
            }
            dep.push('\n');
        }
        let mut alias = String::from("# Aliases extracted from modules themselves.\n");
        for (pat, module) in alias_lines(&self.alias_text) {
            let module = String::from_utf8_lossy(module);
            if subset.contains(&normalize_name(&module)) {
                let pat = String::from_utf8_lossy(pat);
                alias.push_str(&format!("alias {pat} {module}\n"));
            }
        }
        let mut softdep = String::from("# Soft dependencies extracted from modules themselves.\n");
        for name in self.softdep_order.iter().filter(|n| subset.contains(*n)) {
            softdep.push_str(&self.softdeps[name].line);
            softdep.push('\n');
        }
        let mut builtin = String::new();
        for name in &self.builtin_order {
            builtin.push_str(&self.builtin[name]);
            builtin.push('\n');
        }
        let mut modinfo = Vec::new();
        for (pat, module) in builtin_alias_records(&self.builtin_modinfo) {
            for part in [module, b".alias=", pat, b"\0"] {
                modinfo.extend_from_slice(part);
            }
        }
        let idx = crate::index::build(
            alias_lines(alias.as_bytes()).map(|(p, m)| {
                (
                    String::from_utf8_lossy(p).into_owned(),
                    String::from_utf8_lossy(m).into_owned(),
                )
            }),
            alias.len(),
            &dep,
        );
        vec![
            ("modules.dep".into(), dep.into_bytes()),
            ("modules.alias".into(), alias.into_bytes()),
            (crate::index::FILE.into(), idx),
            ("modules.softdep".into(), softdep.into_bytes()),
            ("modules.builtin".into(), builtin.into_bytes()),
            ("modules.builtin.modinfo".into(), modinfo),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::fixture::tree;
    use std::collections::HashMap;

    #[test]
    fn subset_index_round_trips() {
        let t = tree();
        let set: BTreeSet<String> = t
            .closure(&["ext4".into()])
            .expect("closure")
            .into_iter()
            .collect();
        let files: HashMap<String, String> = t
            .write_subset_index(&set)
            .into_iter()
            .map(|(n, c)| (n, String::from_utf8_lossy(&c).into_owned()))
            .collect();
        let sub = ModuleTree::from_texts(
            &files["modules.dep"],
            &files["modules.alias"],
            &files["modules.softdep"],
            &files["modules.builtin"],
            files["modules.builtin.modinfo"].as_bytes(),
        );
        assert_eq!(sub.module_names().count(), 4);
        assert_eq!(sub.resolve_alias("fs-ext4"), ["ext4"]);
        assert!(sub.resolve_alias("virtio:d00000001v00001AF4").is_empty());
        assert_eq!(
            sub.closure(&["ext4".into()]).expect("closure"),
            ["jbd2", "crc32c_intel", "crc32c_generic", "ext4"]
        );
        assert!(sub.is_builtin("virtio_pci_builtin"));
        // The same files on disk, with the precompiled index.
        let dir = std::env::temp_dir().join(format!("modload-subset-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        for (name, content) in t.write_subset_index(&set) {
            std::fs::write(dir.join(name), content).expect("write");
        }
        let disk = ModuleTree::open(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        let disk = disk.expect("open");
        assert!(disk.has_index());
        assert_eq!(disk.resolve_alias("fs-ext4"), ["ext4"]);
        assert_eq!(
            disk.resolve_alias("crypto-crc32c"),
            ["crc32c_intel", "crc32c_generic"]
        );
        assert!(disk.resolve_alias("virtio:d00000001v00001AF4").is_empty());
        assert_eq!(
            sub.resolve_alias("pci:v00001AF4d00001000sv0sd0bc0sc0i0"),
            ["virtio_pci_builtin"]
        );
    }
}
