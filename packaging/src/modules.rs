//! Kernel modules for the image: chosen as all, by name or by the modaliases
//! of a target machine, closed over dependencies and softdeps with
//! `nodistro_modload::tree` (the same index code the target runs), placed
//! under /lib/modules/<version>/ with kmod's text index files regenerated
//! for the subset, plus the firmware files the modules declare.
//!
//! A module's declared firmware is read from its `.modinfo` section with a
//! few positioned reads (ELF header, section table, the section), so the
//! module's bytes are still read only once, when the archive is written.

use crate::image::{Image, ImageError, Node, Source};
use nodistro_modload::tree::{ModuleTree, TreeError};
use std::collections::BTreeSet;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const TOOL: &str = "nodistro build";

/// Which modules the user asked for.
#[derive(Debug, Clone, Default)]
pub struct ModuleSelection {
    pub all: bool,
    pub names: Vec<String>,
    /// Modules wanted when the kernel has them (a named selection such as
    /// `--drivers vm`): built-in ones need nothing, missing ones are
    /// skipped with one line.
    pub optional: Vec<String>,
    /// Modaliases to match (`--drivers host`), besides the file's.
    pub aliases: Vec<String>,
    pub modaliases: Option<PathBuf>,
    pub kernel_version: Option<String>,
    pub modules_dir: Option<PathBuf>,
    /// Where firmware files are looked up (default /lib/firmware).
    pub firmware_dir: Option<PathBuf>,
}

impl ModuleSelection {
    /// Whether any module is wanted.
    pub fn is_empty(&self) -> bool {
        !self.all
            && self.names.is_empty()
            && self.optional.is_empty()
            && self.aliases.is_empty()
            && self.modaliases.is_none()
    }
}

/// Errors selecting modules.
#[derive(Debug, thiserror::Error)]
pub enum ModulesError {
    #[error("no kernel modules found under /lib/modules: install the kernel (apt-get install linux-image-amd64) or give --modules-dir")]
    NoKernel,
    #[error("the newest kernel /boot/vmlinuz-{0} has no modules in /lib/modules/{0} (with modules.dep): install its modules package, or choose a kernel with --kernel-version")]
    NoTreeFor(String),
    #[error("cannot list /lib/modules")]
    ListKernels(#[source] std::io::Error),
    #[error("{} is not a usable module tree: it needs depmod's modules.dep (run `depmod -b ROOT VERSION`, or point --modules-dir at a /lib/modules/<version> directory)", .dir.display())]
    NoModulesDep {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot tell the kernel version of {}: give --kernel-version", .0.display())]
    NoVersion(PathBuf),
    #[error("module {name} is not in {} (neither a module name nor an alias there); check the name with `modinfo -k {version} {name}`", .dir.display())]
    UnknownModule {
        name: String,
        dir: PathBuf,
        version: String,
    },
    #[error("cannot read the modaliases file {}", .0.display())]
    Modaliases(PathBuf, #[source] std::io::Error),
    #[error("the dependencies in {} are inconsistent", .0.display())]
    Closure(PathBuf, #[source] TreeError),
    #[error("cannot add modules to the image")]
    Image(#[source] ImageError),
}

/// Compare kernel versions piecewise: digit runs as numbers.
fn version_key(v: &str) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let mut rest = v;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let (num, tail) = rest.split_at(digits);
        let text_len = tail.len() - tail.trim_start_matches(|c: char| !c.is_ascii_digit()).len();
        let (text, tail) = tail.split_at(text_len);
        out.push((num.parse().unwrap_or(0), text.to_string()));
        rest = tail;
    }
    out
}

/// The newest kernel version among `names`.
pub fn newest_version<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    names.into_iter().max_by_key(|n| version_key(n))
}

/// The tree directory and the kernel version it is for.
pub fn locate(sel: &ModuleSelection) -> Result<(PathBuf, String), ModulesError> {
    match (&sel.modules_dir, &sel.kernel_version) {
        (Some(dir), Some(v)) => Ok((dir.clone(), v.clone())),
        (Some(dir), None) => {
            let v = std::fs::canonicalize(dir)
                .ok()
                .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
                .ok_or_else(|| ModulesError::NoVersion(dir.clone()))?;
            Ok((dir.clone(), v))
        }
        (None, Some(v)) => Ok((Path::new("/lib/modules").join(v), v.clone())),
        (None, None) => {
            let boot: Vec<String> = std::fs::read_dir("/boot")
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect();
            let trees: Vec<String> = std::fs::read_dir("/lib/modules")
                .map_err(ModulesError::ListKernels)?
                .filter_map(|e| e.ok())
                .filter(|e| e.path().join("modules.dep").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            let v = choose_kernel(&boot, &trees)?.release;
            Ok((Path::new("/lib/modules").join(&v), v))
        }
    }
}

/// The kernel whose modules an image gets when none is named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelChoice {
    pub release: String,
    /// Whether it is a /boot/vmlinuz-* (else only a modules tree).
    pub from_boot: bool,
    /// The other candidates (other versions and flavours).
    pub others: Vec<String>,
}

impl KernelChoice {
    /// The line `nodistro build` prints.
    pub fn describe(&self) -> String {
        let what = if self.from_boot {
            format!(
                "modules of kernel {r} (/boot/vmlinuz-{r}, /lib/modules/{r})",
                r = self.release
            )
        } else {
            format!(
                "modules of kernel {r} (/lib/modules/{r}; no /boot/vmlinuz-* here)",
                r = self.release
            )
        };
        if self.others.is_empty() {
            format!("{what}; another with --kernel-version")
        } else {
            format!(
                "{what}, the newest of {} (also {}); another with --kernel-version",
                self.others.len() + 1,
                self.others.join(", ")
            )
        }
    }
}

/// Pick the newest `/boot/vmlinuz-*` by version order (flavours of one
/// version compare by their suffix, as `sort -V` does) whose modules tree
/// is among `trees`; without any vmlinuz, the newest tree.
pub fn choose_kernel(boot: &[String], trees: &[String]) -> Result<KernelChoice, ModulesError> {
    let mut kernels: Vec<&str> = boot
        .iter()
        .filter_map(|n| n.strip_prefix("vmlinuz-"))
        .collect();
    if kernels.is_empty() {
        let release = newest_version(trees.iter().map(String::as_str))
            .ok_or(ModulesError::NoKernel)?
            .to_string();
        let others = trees.iter().filter(|t| **t != release).cloned().collect();
        return Ok(KernelChoice {
            release,
            from_boot: false,
            others,
        });
    }
    kernels.sort_by_key(|k| std::cmp::Reverse(version_key(k)));
    let release = kernels[0].to_string();
    if !trees.contains(&release) {
        return Err(ModulesError::NoTreeFor(release));
    }
    Ok(KernelChoice {
        others: kernels[1..].iter().map(|k| k.to_string()).collect(),
        release,
        from_boot: true,
    })
}

/// A compressed module's bytes, decompressed (bounded); `None` for a plain
/// `.ko`.
fn unpack(
    src: &Path,
    rel: &str,
) -> Option<Result<Vec<u8>, nodistro_modload::decompress::DecompressError>> {
    use nodistro_modload::decompress::{decode, Compression, DecompressError, MAX_MODULE_SIZE};
    let comp = Compression::of(rel)?;
    Some(match std::fs::read(src) {
        Ok(raw) => decode(comp, &raw, MAX_MODULE_SIZE),
        Err(e) => Err(DecompressError::Corrupt {
            algo: comp.name(),
            source: Box::new(e),
        }),
    })
}

/// The firmware names a module file declares (`firmware=` in `.modinfo`),
/// read without reading the whole file (a compressed module is unpacked in
/// memory first). Files that are not ELF modules give `None`.
pub fn declared_firmware(path: &Path) -> Option<Vec<String>> {
    use goblin::container::{Container, Ctx, Endian};
    use nodistro_modload::decompress::{decode, Compression, MAX_MODULE_SIZE};
    if let Some(comp) = path.to_str().and_then(Compression::of) {
        // A compressed module has no section table to seek in: unpack it
        // (bounded) with modload's decoders.
        let raw = std::fs::read(path).ok()?;
        let ko = decode(comp, &raw, MAX_MODULE_SIZE).ok()?;
        return nodistro_modload::modinfo::modinfo(&ko)
            .ok()
            .map(|m| m.firmware);
    }
    use goblin::elf::section_header::SectionHeader;
    let f = File::open(path).ok()?;
    let mut head = [0u8; 64];
    f.read_exact_at(&mut head, 0).ok()?;
    let header = goblin::elf::Elf::parse_header(&head).ok()?;
    if header.e_ident[4] != goblin::elf::header::ELFCLASS64 || header.e_shentsize as usize != 64 {
        return None;
    }
    let ctx = Ctx::new(Container::Big, Endian::Little);
    let count = header.e_shnum as usize;
    let mut table = vec![0u8; count * 64];
    f.read_exact_at(&mut table, header.e_shoff).ok()?;
    let sections = SectionHeader::parse_from(&table, 0, count, ctx).ok()?;
    let strtab = sections.get(header.e_shstrndx as usize)?;
    let mut names = vec![0u8; usize::try_from(strtab.sh_size).ok()?.min(1 << 20)];
    f.read_exact_at(&mut names, strtab.sh_offset).ok()?;
    let modinfo = sections.iter().find(|s| {
        let start = s.sh_name;
        names
            .get(start..)
            .and_then(|n| n.split(|&b| b == 0).next())
            .is_some_and(|n| n == b".modinfo")
    })?;
    let mut data = vec![0u8; usize::try_from(modinfo.sh_size).ok()?.min(1 << 20)];
    f.read_exact_at(&mut data, modinfo.sh_offset).ok()?;
    Some(nodistro_modload::modinfo::parse_modinfo(&data).firmware)
}

/// Module names the user's selection names (before the closure).
fn requested(
    tree: &ModuleTree,
    sel: &ModuleSelection,
    dir: &Path,
    version: &str,
    notes: &mut Vec<String>,
) -> Result<Vec<String>, ModulesError> {
    let mut wanted: Vec<String> = Vec::new();
    if sel.all {
        wanted.extend(tree.module_names().map(String::from));
    }
    for name in &sel.names {
        let found = tree.resolve_alias(name);
        if found.is_empty() {
            return Err(ModulesError::UnknownModule {
                name: name.clone(),
                dir: dir.to_path_buf(),
                version: version.to_string(),
            });
        }
        wanted.extend(found);
    }
    let (mut builtin, mut missing) = (0, Vec::new());
    for name in &sel.optional {
        let found = tree.resolve_alias(name);
        if found.is_empty() {
            missing.push(name.as_str());
        } else if found.iter().all(|n| tree.module_path(n).is_none()) {
            builtin += 1;
        }
        wanted.extend(found);
    }
    if !sel.optional.is_empty() {
        let skipped = if missing.is_empty() {
            String::new()
        } else {
            format!("; not in this kernel, skipped: {}", missing.join(", "))
        };
        notes.push(format!(
            "{} named drivers for {version}: {builtin} built in{skipped}",
            sel.optional.len()
        ));
    }
    if !sel.aliases.is_empty() {
        let aliases: Vec<&str> = sel.aliases.iter().map(String::as_str).collect();
        let found = tree.lookup_many(&aliases);
        let matched = found.iter().filter(|f| f.is_some()).count();
        wanted.extend(found.into_iter().flatten().flat_map(|(_, names)| names));
        notes.push(format!(
            "{} modaliases of this machine: {matched} matched a module or built-in driver",
            aliases.len()
        ));
    }
    if let Some(file) = &sel.modaliases {
        let text =
            std::fs::read_to_string(file).map_err(|e| ModulesError::Modaliases(file.clone(), e))?;
        let aliases: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        let found = tree.lookup_many(&aliases);
        let unmatched = found.iter().filter(|f| f.is_none()).count();
        wanted.extend(found.into_iter().flatten().flat_map(|(_, names)| names));
        notes.push(format!(
            "{} modaliases from {}: {} matched a module or built-in driver, {unmatched} matched none (devices without a driver are normal)",
            aliases.len(),
            file.display(),
            aliases.len() - unmatched
        ));
    }
    Ok(wanted)
}

/// Add the selected modules (with dependencies, firmware and index files)
/// to the image; returns how many module files went in, and what to tell
/// the user once the build succeeded (which kernel, what was skipped).
pub fn add_modules(
    img: &mut Image,
    sel: &ModuleSelection,
) -> Result<(usize, Vec<String>), ModulesError> {
    if sel.is_empty() {
        return Ok((0, Vec::new()));
    }
    let mut notes = Vec::new();
    let (tree, dir, version) = open_tree(sel, &mut notes)?;
    let wanted = requested(&tree, sel, &dir, &version, &mut notes)?;
    let order = tree
        .closure(&wanted)
        .map_err(|e| ModulesError::Closure(dir.clone(), e))?;
    let packed = add_module_files(img, &tree, &dir, &version, &order)?;
    add_indexes(img, &tree, &dir, &version, &packed)?;
    add_firmware(img, sel, &packed.firmware)?;
    Ok((packed.subset.len(), notes))
}

/// The modules tree to take modules from (depmod's index checked to be
/// there), its directory and kernel version; a note says which kernel's
/// when it was chosen here.
fn open_tree(
    sel: &ModuleSelection,
    notes: &mut Vec<String>,
) -> Result<(ModuleTree, PathBuf, String), ModulesError> {
    let (dir, version) = locate(sel)?;
    // Which kernel's modules these are, said once the selection worked.
    let choice = (sel.modules_dir.is_none() && sel.kernel_version.is_none()).then(|| {
        let names = |d: &str| -> Vec<String> {
            std::fs::read_dir(d)
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        };
        choose_kernel(&names("/boot"), std::slice::from_ref(&version))
            .map(|c| c.describe())
            .unwrap_or_default()
    });
    // modload can fall back to reading every module's .modinfo, but an
    // image's index must come from depmod's: refuse a tree without it.
    if let Err(source) = std::fs::metadata(dir.join("modules.dep")) {
        return Err(ModulesError::NoModulesDep { dir, source });
    }
    let tree = ModuleTree::open(&dir).map_err(|e| match e {
        TreeError::Read { source, .. } => ModulesError::NoModulesDep {
            dir: dir.clone(),
            source,
        },
        other => ModulesError::Closure(dir.clone(), other),
    })?;
    for w in tree.warnings() {
        eprintln!("{TOOL}: warning: {w}");
    }
    if let Some(line) = choice.filter(|l| !l.is_empty()) {
        notes.push(line);
    }
    Ok((tree, dir, version))
}

/// What [`add_module_files`] packed.
struct Packed {
    /// The modules' names.
    subset: BTreeSet<String>,
    /// Their paths in the tree as built (`.ko`).
    paths: BTreeSet<String>,
    /// The firmware files they declare.
    firmware: BTreeSet<String>,
    /// The tree's paths of the compressed ones stored uncompressed.
    unpacked: BTreeSet<String>,
}

/// A path of the modules tree of `version` in the image.
fn in_image(version: &str, p: &str) -> String {
    format!("lib/modules/{version}/{p}")
}

/// The module files of `order` (built-in ones have none) into the image.
fn add_module_files(
    img: &mut Image,
    tree: &ModuleTree,
    dir: &Path,
    version: &str,
    order: &[String],
) -> Result<Packed, ModulesError> {
    let img_err = ModulesError::Image;
    let mut packed = Packed {
        subset: BTreeSet::new(),
        paths: BTreeSet::new(),
        firmware: BTreeSet::new(),
        // Compressed modules are stored uncompressed: the initramfs is
        // compressed as a whole (a module compressed inside it only
        // compresses worse), and the kernel then needs no decompression
        // support and nodistro-box no decoders. modules.dep names them as
        // stored.
        unpacked: BTreeSet::new(),
    };
    for name in order {
        let Some(rel) = tree.module_path(name) else {
            continue; // built in: nothing to ship
        };
        let src = dir.join(rel);
        // modules.order names modules as built (`.ko`), whatever suffix
        // compression gave the file.
        let built = [".gz", ".xz", ".zst"]
            .iter()
            .find_map(|ext| rel.strip_suffix(ext))
            .unwrap_or(rel);
        match unpack(&src, rel) {
            Some(Ok(ko)) => {
                img.add(
                    &in_image(version, built),
                    Node::File {
                        source: Source::Bytes(ko),
                        mode: 0o644,
                    },
                )
                .map_err(img_err)?;
                packed.unpacked.insert(rel.to_string());
            }
            Some(Err(e)) => {
                // Packed as it is: the boot reports it again, the rest loads.
                eprintln!(
                    "{TOOL}: warning: cannot decompress {}: {e}; packed compressed",
                    src.display()
                );
                img.add_file(&in_image(version, rel), &src)
                    .map_err(img_err)?;
            }
            None => img
                .add_file(&in_image(version, rel), &src)
                .map_err(img_err)?,
        }
        packed
            .firmware
            .extend(declared_firmware(&src).unwrap_or_default());
        packed.subset.insert(name.clone());
        packed.paths.insert(built.to_string());
    }
    Ok(packed)
}

/// modules.order and depmod's index files for the packed subset.
fn add_indexes(
    img: &mut Image,
    tree: &ModuleTree,
    dir: &Path,
    version: &str,
    packed: &Packed,
) -> Result<(), ModulesError> {
    let img_err = ModulesError::Image;
    // modules.order (depmod reads it to order modules.dep) for the subset.
    if let Ok(order_text) = std::fs::read_to_string(dir.join("modules.order")) {
        let kept: String = order_text
            .lines()
            .filter(|l| packed.paths.contains(l.trim()))
            .map(|l| format!("{l}\n"))
            .collect();
        img.add(
            &in_image(version, "modules.order"),
            Node::File {
                source: Source::Bytes(kept.into_bytes()),
                mode: 0o644,
            },
        )
        .map_err(img_err)?;
    }
    for (file, content) in tree.write_subset_index(&packed.subset, &packed.unpacked) {
        if file == "modules.builtin.modinfo" && content.is_empty() {
            continue;
        }
        // modload writes every index in the tree's own order (kmod honours
        // only a module's first softdep line, so that order matters).
        img.add(
            &in_image(version, &file),
            Node::File {
                source: Source::Bytes(content),
                mode: 0o644,
            },
        )
        .map_err(img_err)?;
    }
    Ok(())
}

/// The firmware files the modules declare, from `--firmware-dir` (one
/// line says how many are missing).
fn add_firmware(
    img: &mut Image,
    sel: &ModuleSelection,
    firmware: &BTreeSet<String>,
) -> Result<(), ModulesError> {
    let fw_dir = sel
        .firmware_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("/lib/firmware"));
    let mut missing = 0;
    for name in firmware {
        let found = ["", ".xz", ".zst"]
            .iter()
            .map(|ext| (format!("{name}{ext}"), fw_dir.join(format!("{name}{ext}"))))
            .find(|(_, p)| p.is_file());
        match found {
            Some((rel, path)) => {
                let dest = format!("lib/firmware/{rel}");
                if !img.contains(&dest) {
                    img.add_file(&dest, &path).map_err(ModulesError::Image)?;
                }
            }
            None => missing += 1,
        }
    }
    if missing > 0 {
        eprintln!(
            "{TOOL}: {missing} of {} firmware files the modules declare are not in {} (install the firmware package if the hardware needs them)",
            firmware.len(),
            fw_dir.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_kernel_version() {
        assert_eq!(
            newest_version(["6.1.0-9-amd64", "6.1.0-56-amd64", "5.10.0-30-amd64"]),
            Some("6.1.0-56-amd64")
        );
        assert_eq!(newest_version(["6.10.1", "6.9.12"]), Some("6.10.1"));
        assert_eq!(newest_version(Vec::<&str>::new()), None);
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn kernel_choice_is_the_newest_vmlinuz_with_its_tree() {
        let boot = strings(&[
            "config-6.1.0-57-amd64",
            "vmlinuz-6.1.0-9-amd64",
            "vmlinuz-6.1.0-57-amd64",
            "System.map-6.1.0-99-amd64",
        ]);
        let trees = strings(&["6.1.0-57-amd64", "6.1.0-9-amd64", "6.1.0-99-amd64"]);
        let c = choose_kernel(&boot, &trees).expect("choice");
        assert_eq!(c.release, "6.1.0-57-amd64");
        assert!(c.from_boot);
        assert_eq!(c.others, vec!["6.1.0-9-amd64"]);
        let line = c.describe();
        assert!(line.contains("/boot/vmlinuz-6.1.0-57-amd64") && line.contains("newest of 2"));
        assert!(line.contains("--kernel-version"), "{line}");
    }

    #[test]
    fn flavours_of_one_version_pick_like_sort_v_and_say_so() {
        let boot = strings(&["vmlinuz-6.1.0-57-amd64", "vmlinuz-6.1.0-57-cloud-amd64"]);
        let trees = strings(&["6.1.0-57-amd64", "6.1.0-57-cloud-amd64"]);
        let c = choose_kernel(&boot, &trees).expect("choice");
        assert_eq!(c.release, "6.1.0-57-cloud-amd64");
        assert!(
            c.describe().contains("also 6.1.0-57-amd64"),
            "{}",
            c.describe()
        );
    }

    #[test]
    fn kernel_choice_without_boot_or_tree() {
        let c = choose_kernel(&[], &strings(&["6.1.0-1", "6.2.0-1"])).expect("tree only");
        assert_eq!((c.release.as_str(), c.from_boot), ("6.2.0-1", false));
        assert!(matches!(
            choose_kernel(&[], &[]),
            Err(ModulesError::NoKernel)
        ));
        let e = choose_kernel(&strings(&["vmlinuz-6.3"]), &strings(&["6.2"]))
            .expect_err("no tree for the newest vmlinuz");
        assert!(e.to_string().contains("/lib/modules/6.3"), "{e}");
    }

    #[test]
    fn firmware_from_the_modinfo_section() {
        let dir = Path::new("/lib/modules");
        let Some(v) = std::fs::read_dir(dir)
            .ok()
            .and_then(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name()).max())
        else {
            panic!("no kernel modules: install linux-image-amd64 (scripts/setup.sh does)");
        };
        let r8169 = dir
            .join(v)
            .join("kernel/drivers/net/ethernet/realtek/r8169.ko");
        let fw = declared_firmware(&r8169).expect("r8169 is an ELF module");
        assert!(fw.iter().any(|f| f.starts_with("rtl_nic/")), "{fw:?}");
        assert_eq!(declared_firmware(Path::new("/etc/hostname")), None);
        // The same module gzip-compressed declares the same firmware.
        let tmp = std::env::temp_dir().join(format!("nodistro-fw-{}.ko.gz", std::process::id()));
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&tmp).expect("temp file"),
            flate2::Compression::fast(),
        );
        std::io::Write::write_all(&mut gz, &std::fs::read(&r8169).expect("read r8169"))
            .expect("compress");
        gz.finish().expect("finish");
        let from_gz = declared_firmware(&tmp);
        let _ = std::fs::remove_file(&tmp);
        assert_eq!(from_gz.as_ref(), Some(&fw));
    }
}
