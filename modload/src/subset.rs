//! The index files of an image holding a subset of a tree's modules (what
//! `nodistro build` writes: kmod's text files and, made from them as depmod
//! makes them, its binary indexes), and the binary indexes of a whole tree.

use crate::core::fnmatch::normalize_name;
use crate::core::textfiles::{alias_lines, builtin_alias_records};
use crate::tree::ModuleTree;
use std::collections::BTreeSet;

/// `header`, then the `alias KEY MODULE` lines of `text` (modules.alias
/// or modules.symbols) whose module is in `subset`.
fn alias_subset(header: &str, text: &[u8], subset: &BTreeSet<String>) -> String {
    let mut out = String::from(header);
    for (key, module) in alias_lines(text) {
        let module = String::from_utf8_lossy(module);
        if subset.contains(&normalize_name(&module)) {
            let key = String::from_utf8_lossy(key);
            out.push_str(&format!("alias {key} {module}\n"));
        }
    }
    out
}

impl ModuleTree {
    /// depmod's binary indexes for this whole tree, made from its text
    /// files (what `modload index` writes).
    pub fn kmod_index_files(&self) -> Vec<(&'static str, Vec<u8>)> {
        crate::core::depmod::index_files(&crate::core::depmod::Texts {
            dep: self.dep_text(),
            alias: self.alias_text(),
            symbols: self.symbols_text(),
            builtin: &self.builtin_text(),
            builtin_modinfo: self.builtin_modinfo(),
        })
    }

    /// Index files for an image holding only `subset` (module names): the
    /// lines of modules.dep, modules.alias, modules.symbols and
    /// modules.softdep that concern those modules, every built-in module (so
    /// that the target knows they are satisfied), and depmod's binary
    /// indexes of those. Module files whose path is in `unpacked` (a
    /// `.ko.gz`, `.ko.xz` or `.ko.zst` the image holds decompressed) are
    /// named without the compression suffix. Returns (file name, content).
    pub fn write_subset_index(
        &self,
        subset: &BTreeSet<String>,
        unpacked: &BTreeSet<String>,
    ) -> Vec<(String, Vec<u8>)> {
        let subset: BTreeSet<String> = subset.iter().map(|n| normalize_name(n)).collect();
        let stored = |p: &str| -> String {
            let plain = [".gz", ".xz", ".zst"]
                .iter()
                .find_map(|ext| p.strip_suffix(ext))
                .filter(|_| unpacked.contains(p));
            plain.unwrap_or(p).to_string()
        };
        let mut dep = String::new();
        let d = self.deps();
        for m in d.modules.iter().filter(|m| subset.contains(d.mod_name(m))) {
            dep.push_str(&stored(self.text(m.path)));
            dep.push(':');
            for d in self.text(m.deps).split_whitespace() {
                dep.push(' ');
                dep.push_str(&stored(d));
            }
            dep.push('\n');
        }
        let alias = alias_subset(
            "# Aliases extracted from modules themselves.\n",
            self.alias_text(),
            &subset,
        );
        let mut softdep = String::from("# Soft dependencies extracted from modules themselves.\n");
        for name in self.softdep_order.iter().filter(|n| subset.contains(*n)) {
            softdep.push_str(&self.softdeps[name].line);
            softdep.push('\n');
        }
        let builtin = self.builtin_text();
        let mut modinfo = Vec::new();
        for (pat, module) in builtin_alias_records(self.builtin_modinfo()) {
            for part in [module, b".alias=", pat, b"\0"] {
                modinfo.extend_from_slice(part);
            }
        }
        let symbols = alias_subset(
            "# Aliases for symbols, used by symbol_request().\n",
            self.symbols_text(),
            &subset,
        );
        let bins = crate::core::depmod::index_files(&crate::core::depmod::Texts {
            dep: &dep,
            alias: alias.as_bytes(),
            symbols: symbols.as_bytes(),
            builtin: &builtin,
            builtin_modinfo: &modinfo,
        });
        let mut files: Vec<(String, Vec<u8>)> = vec![
            ("modules.dep".into(), dep.into_bytes()),
            ("modules.alias".into(), alias.into_bytes()),
            ("modules.symbols".into(), symbols.into_bytes()),
            ("modules.softdep".into(), softdep.into_bytes()),
            ("modules.builtin".into(), builtin.into_bytes()),
            ("modules.builtin.modinfo".into(), modinfo),
        ];
        files.extend(bins.into_iter().map(|(n, c)| (n.to_string(), c)));
        files
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::fixture::tree;
    use std::collections::HashMap;

    #[test]
    fn unpacked_modules_are_named_as_stored() {
        let t = tree();
        let set: BTreeSet<String> = ["e1000".to_string()].into();
        let xz = "kernel/drivers/net/ethernet/intel/e1000/e1000.ko.xz";
        let dep = |unpacked: &BTreeSet<String>| {
            let files = t.write_subset_index(&set, unpacked);
            let (_, dep) = files
                .into_iter()
                .find(|(n, _)| n == "modules.dep")
                .expect("modules.dep");
            String::from_utf8_lossy(&dep).into_owned()
        };
        assert!(dep(&BTreeSet::new()).contains(&format!("{xz}:")));
        let plain = dep(&[xz.to_string()].into());
        assert!(plain.contains("intel/e1000/e1000.ko:"), "{plain}");
        assert!(!plain.contains(".ko.xz"), "{plain}");
    }

    #[test]
    fn subset_index_round_trips() {
        let t = tree();
        let set: BTreeSet<String> = t
            .closure(&["ext4".into()])
            .expect("closure")
            .into_iter()
            .collect();
        let files: HashMap<String, String> = t
            .write_subset_index(&set, &BTreeSet::new())
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
        for (name, content) in t.write_subset_index(&set, &BTreeSet::new()) {
            std::fs::write(dir.join(name), content).expect("write");
        }
        let disk = ModuleTree::open(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        let disk = disk.expect("open");
        assert!(disk.uses_bins(), "{:?}", disk.warnings());
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
