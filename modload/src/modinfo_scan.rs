//! A tree without depmod's files: the index built from every module's own
//! `.modinfo` (a walk of the directory).

use crate::core::decompress::{decompress, Compression, DecompressError, MAX_MODULE_SIZE};
use crate::core::depmod::texts_from_modinfo;
use crate::core::modinfo::ModInfo;
use crate::tree::ModuleTree;
use std::path::{Path, PathBuf};

/// A module file's ELF image: decompressed, with the loader's bound, when
/// its name says it is compressed.
fn module_image(rel: &str, data: Vec<u8>) -> Result<Vec<u8>, DecompressError> {
    match Compression::of(rel) {
        Some(c) => decompress(c, &data, MAX_MODULE_SIZE),
        None => Ok(data),
    }
}

/// Every `.ko`, `.ko.gz`, `.ko.xz` and `.ko.zst` file under `dir`, sorted
/// (unreadable directories are skipped).
fn module_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                stack.push(p);
            } else if [".ko", ".ko.gz", ".ko.xz", ".ko.zst"]
                .iter()
                .any(|x| name.ends_with(x))
            {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

/// The `.modinfo` of module file `f` (`rel`: its path in the tree), or the
/// warning saying why it is left out.
fn read_modinfo(f: &Path, rel: &str) -> Result<ModInfo, String> {
    match std::fs::read(f) {
        Err(e) => Err(format!("cannot read {}: {e}; left out", f.display())),
        Ok(d) => module_image(rel, d)
            .map_err(|e| format!("{}: {e}; left out", f.display()))
            .and_then(|d| {
                crate::core::modinfo::modinfo(&d)
                    .map_err(|e| format!("{}: {e}; left out", f.display()))
            }),
    }
}

impl ModuleTree {
    /// A tree without depmod's files: every `.ko`, `.ko.gz`, `.ko.xz` and
    /// `.ko.zst` under `dir` is read (decompressed up to the loader's
    /// 64 MiB bound) and its `.modinfo` (depends, alias, softdep) stands in
    /// for the index files. Slower (each module is read whole); unreadable
    /// modules are listed in the warnings and left out.
    pub fn from_modinfo(dir: &Path) -> ModuleTree {
        let mut warnings = vec![format!(
            "no modules.dep in {}: reading each module's .modinfo instead (slower; run depmod)",
            dir.display()
        )];
        let mut infos = Vec::new();
        for f in &module_files(dir) {
            let rel = f
                .strip_prefix(dir)
                .unwrap_or(f)
                .to_string_lossy()
                .into_owned();
            match read_modinfo(f, &rel) {
                Ok(info) => infos.push((rel, info)),
                Err(w) => warnings.push(w),
            }
        }
        let texts = texts_from_modinfo(&infos, &dir.display().to_string());
        warnings.extend(texts.warnings);
        let builtin = std::fs::read_to_string(dir.join("modules.builtin")).unwrap_or_default();
        let mut t = Self::build(&texts.softdep, &builtin).set_texts(
            texts.dep,
            texts.alias.into_bytes(),
            Vec::new(),
        );
        t.dir = dir.to_path_buf();
        warnings.append(&mut t.warnings);
        t.warnings = warnings;
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_without_depmod_files_is_read_from_modinfo() {
        use crate::core::modinfo::tests::tiny_ko;
        let dir = std::env::temp_dir().join(format!("modload-modinfo-{}", std::process::id()));
        let k = dir.join("kernel/drivers");
        std::fs::create_dir_all(&k).expect("mkdir");
        let ko = |name: &str, info: &str| {
            std::fs::write(k.join(name), tiny_ko(info.replace(';', "\0").as_bytes()))
                .expect("write");
        };
        ko("virtio_ring.ko", "name=virtio_ring;depends=;");
        ko("virtio.ko", "name=virtio;depends=virtio_ring;");
        ko(
            "virtio_net.ko",
            "name=virtio_net;depends=virtio,virtio_ring;alias=virtio:d00000001v*;softdep=pre: crc;",
        );
        ko("crc-x.ko", "name=crc_x;alias=crc;");
        std::fs::write(k.join("broken.ko"), b"not elf").expect("write");
        let t = ModuleTree::open(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        let t = t.expect("open");
        assert_eq!(t.resolve_alias("virtio:d00000001v00001AF4"), ["virtio_net"]);
        assert_eq!(
            t.closure(&["virtio_net".into()]).expect("closure"),
            ["virtio_ring", "virtio", "crc_x", "virtio_net"]
        );
        assert_eq!(t.module_path("virtio"), Some("kernel/drivers/virtio.ko"));
        assert!(
            t.warnings()
                .iter()
                .any(|w| w.contains("broken.ko") && w.contains("not an ELF")),
            "{:?}",
            t.warnings()
        );
    }
}
