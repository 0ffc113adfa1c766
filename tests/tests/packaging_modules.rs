//! Kernel modules in `nodistro build` against the real Debian module tree
//! and kmod: the closure equals `modprobe --show-depends` (dependencies and
//! softdeps), the regenerated index files are read by kmod (the binary
//! indexes are depmod's to the byte; modprobe resolves the same closure in
//! the extracted image), modaliases select drivers, firmware follows, and
//! `--modules all` packs every module of modules.dep.

use nodistro_packaging::modules::{locate, ModuleSelection};
use nodistro_tests::{release_bin, require_program, TempDir};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kernel() -> (PathBuf, String) {
    match locate(&ModuleSelection::default()) {
        Ok(k) => k,
        Err(e) => panic!("{}", nodistro_common::report::chain(&e)),
    }
}

fn run(cmd: &mut Command) -> Output {
    match cmd.output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run {cmd:?}: {e}"),
    }
}

fn nodistro(args: &[&str]) -> Output {
    let o = run(Command::new(release_bin("nodistro")).args(args));
    assert!(
        o.status.success(),
        "nodistro {args:?} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Module files `modprobe -d ROOT -S VER --show-depends NAME` would load,
/// relative to the tree.
fn show_depends(root: Option<&Path>, version: &str, name: &str) -> BTreeSet<String> {
    let mut cmd = Command::new("modprobe");
    if let Some(r) = root {
        cmd.arg("-d").arg(r);
    }
    cmd.args(["-S", version, "--show-depends", name]);
    let o = run(&mut cmd);
    assert!(
        o.status.success(),
        "modprobe --show-depends {name}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let marker = format!("/lib/modules/{version}/");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("insmod "))
        .filter_map(|p| p.split_once(&marker).map(|(_, rel)| rel.trim().to_string()))
        .collect()
}

/// Build with `args`, extract with GNU cpio, return the root.
fn build_and_extract(tmp: &Path, tag: &str, args: &[&str]) -> (PathBuf, String) {
    let out = tmp.join(format!("{tag}.cpio"));
    let app = release_bin("demo-app");
    let mut all = vec![
        "build",
        "--app",
        s(&app),
        "-o",
        s(&out),
        "--compression",
        "none",
    ];
    all.extend_from_slice(args);
    let o = nodistro(&all);
    let root = tmp.join(tag);
    std::fs::create_dir(&root).expect("mkdir");
    let x = run(Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cpio -idm --quiet --no-absolute-filenames < {}",
            s(&out)
        ))
        .current_dir(&root));
    assert!(
        x.status.success(),
        "cpio: {}",
        String::from_utf8_lossy(&x.stderr)
    );
    (root, String::from_utf8_lossy(&o.stderr).into_owned())
}

fn ko_files(root: &Path, version: &str) -> BTreeSet<String> {
    let base = root.join("lib/modules").join(version);
    let mut out = BTreeSet::new();
    let mut stack = vec![base.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)
            .expect("readdir")
            .filter_map(|e| e.ok())
        {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "ko") {
                let rel = p.strip_prefix(&base).expect("under base");
                out.insert(rel.to_string_lossy().into_owned());
            }
        }
    }
    out
}

#[test]
fn closure_matches_modprobe_and_kmod_reads_the_index() {
    require_program("modprobe", "kmod");
    require_program("depmod", "kmod");
    require_program("cpio", "cpio");
    let (_, version) = kernel();
    let tmp = TempDir::new("pack-mod");
    let names = ["virtio_net", "ext4", "e1000"];
    let (root, _) = build_and_extract(
        tmp.path(),
        "named",
        &[
            "--module",
            "virtio_net",
            "--module",
            "ext4",
            "--module",
            "e1000",
        ],
    );
    let mut expected = BTreeSet::new();
    for n in names {
        expected.extend(show_depends(None, &version, n));
    }
    assert!(expected.contains("kernel/drivers/virtio/virtio_ring.ko"));
    // ext4's softdep (pre: crc32c) is there too.
    assert!(
        expected.iter().any(|p| p.contains("crc32c")),
        "{expected:?}"
    );
    assert_eq!(ko_files(&root, &version), expected);

    // kmod reads the image's own binary indexes (nodistro writes them, as
    // depmod would): modprobe resolves the same closures in the image.
    let img_dir = root.join("lib/modules").join(&version);
    for n in names {
        assert_eq!(
            show_depends(Some(&root), &version, n),
            show_depends(None, &version, n),
            "{n} inside the image, on nodistro's .bin files"
        );
    }
    // depmod, run on the image's tree, writes the same bytes.
    let bins = [
        "modules.dep.bin",
        "modules.alias.bin",
        "modules.symbols.bin",
        "modules.builtin.bin",
        "modules.builtin.alias.bin",
    ];
    let ours: Vec<Vec<u8>> = bins
        .iter()
        .map(|b| std::fs::read(img_dir.join(b)).unwrap_or_else(|e| panic!("{b} in the image: {e}")))
        .collect();
    let d = run(Command::new("depmod").arg("-b").arg(&root).arg(&version));
    assert!(
        d.status.success(),
        "depmod: {}",
        String::from_utf8_lossy(&d.stderr)
    );
    for (b, ours) in bins.iter().zip(&ours) {
        let theirs = std::fs::read(img_dir.join(b)).expect("depmod's file");
        assert!(
            &theirs == ours,
            "{b}: nodistro wrote {} bytes, depmod {}",
            ours.len(),
            theirs.len()
        );
    }
    // The regenerated modules.dep lists exactly the shipped modules.
    let dep = std::fs::read_to_string(root.join("lib/modules").join(&version).join("modules.dep"))
        .expect("modules.dep in the image");
    let listed: BTreeSet<String> = dep
        .lines()
        .filter_map(|l| l.split_once(':').map(|(m, _)| m.to_string()))
        .collect();
    assert_eq!(listed, expected);
    // modules.alias keeps the aliases of shipped modules only.
    let alias = std::fs::read_to_string(
        root.join("lib/modules")
            .join(&version)
            .join("modules.alias"),
    )
    .expect("modules.alias in the image");
    assert!(alias
        .lines()
        .any(|l| l.starts_with("alias pci:v00008086d0000100E") && l.ends_with(" e1000")));
    assert!(alias.lines().filter(|l| l.starts_with("alias ")).all(|l| {
        let m = l.rsplit(' ').next().unwrap_or_default();
        expected.iter().any(|p| {
            p.replace('-', "_")
                .ends_with(&format!("/{}.ko", m.replace('-', "_")))
        })
    }));
}

#[test]
fn modaliases_select_drivers_and_firmware_follows() {
    require_program("cpio", "cpio");
    let (_, version) = kernel();
    let tmp = TempDir::new("pack-alias");
    // What a QEMU guest with an e1000 and a virtio NIC shows, plus a device
    // without a driver.
    let aliases = tmp.path().join("modaliases");
    std::fs::write(
        &aliases,
        "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00\n\
         virtio:d00000001v00001AF4\n\
         pci:v0000FFFFd0000FFFFsv00000000sd00000000bc00sc00i00\n",
    )
    .expect("write");
    let fw = tmp.path().join("fw");
    std::fs::create_dir_all(fw.join("rtl_nic")).expect("mkdir");
    std::fs::write(fw.join("rtl_nic/rtl8168d-1.fw"), "firmware").expect("write");
    let (root, stderr) = build_and_extract(
        tmp.path(),
        "aliases",
        &[
            "--modaliases",
            s(&aliases),
            "--module",
            "r8169",
            "--firmware-dir",
            s(&fw),
        ],
    );
    let kos = ko_files(&root, &version);
    for want in [
        "kernel/drivers/net/ethernet/intel/e1000/e1000.ko",
        "kernel/drivers/net/virtio_net.ko",
        "kernel/drivers/virtio/virtio_ring.ko",
        "kernel/drivers/net/ethernet/realtek/r8169.ko",
        "kernel/drivers/net/phy/realtek.ko", // r8169's softdep
    ] {
        assert!(kos.contains(want), "{want} missing from {kos:?}");
    }
    assert!(stderr.contains("3 modaliases"), "{stderr}");
    assert!(stderr.contains("1 matched none"), "{stderr}");
    assert_eq!(
        std::fs::read(root.join("lib/firmware/rtl_nic/rtl8168d-1.fw")).expect("firmware"),
        b"firmware"
    );
    assert!(
        stderr.contains("firmware files the modules declare are not in"),
        "{stderr}"
    );
}

#[test]
fn all_modules_are_packed() {
    let (dir, _) = kernel();
    let tmp = TempDir::new("pack-all");
    let out = tmp.path().join("all.zst");
    let app = release_bin("demo-app");
    nodistro(&[
        "build",
        "--app",
        s(&app),
        "-o",
        s(&out),
        "--modules",
        "all",
        "--compression",
        "zstd",
        "--level",
        "1",
    ]);
    let listing = nodistro(&["ls", s(&out)]);
    let shipped: BTreeSet<String> = String::from_utf8_lossy(&listing.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .filter(|p| p.ends_with(".ko"))
        .map(String::from)
        .collect();
    let dep = std::fs::read_to_string(dir.join("modules.dep")).expect("host modules.dep");
    let (_, version) = kernel();
    let all: BTreeSet<String> = dep
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(m, _)| format!("lib/modules/{version}/{m}"))
        .collect();
    assert!(all.len() > 1000, "a Debian kernel has thousands of modules");
    assert_eq!(shipped, all);
}
