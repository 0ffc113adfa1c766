//! Compressed modules in the Debian kernel under QEMU (TCG): a copy of the
//! Debian modules tree in which virtio_net is `.ko.xz` (kbuild's options),
//! virtio_pci `.ko.zst` and net_failover `.ko.gz`, modules.dep rewritten to
//! name them (the host's depmod cannot read gzip: kmod is built -ZLIB),
//! packed by `nodistro build --modules-dir`. Linux 6.1 has no
//! MODULE_INIT_COMPRESSED_FILE and nodistro-box has no decoders (they are
//! the standalone modload's): `nodistro build` stores the three
//! decompressed, modules.dep naming them as stored, and coldplug loads all
//! three. A truncated one cannot be decompressed: the build packs it as it
//! is and at boot it fails alone, named, with the reason.

use nodistro_tests::qemu::{build_image, kernel_release, BootOpts, Guest, Image};
use nodistro_tests::{release_bin, require_program, run_ok, TempDir};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// (module file in the Debian tree, compressor command, suffix)
const COMPRESSED: &[(&str, &[&str], &str)] = &[
    (
        "kernel/drivers/net/virtio_net.ko",
        &["xz", "--check=crc32", "--lzma2=dict=1MiB", "-c"],
        ".xz",
    ),
    (
        "kernel/drivers/virtio/virtio_pci.ko",
        &["zstd", "-q", "-c"],
        ".zst",
    ),
    (
        "kernel/drivers/net/net_failover.ko",
        &["gzip", "-9", "-c"],
        ".gz",
    ),
];

fn compress(src: &Path, cmd: &[&str], dest: &Path) {
    let (prog, args) = cmd.split_first().expect("a command");
    let out = run_ok(
        Command::new(require_program(prog, prog))
            .args(args)
            .arg(src),
    );
    std::fs::write(dest, &out.stdout).unwrap_or_else(|e| panic!("{}: {e}", dest.display()));
}

/// A modules tree `<tmp>/<release>` holding the modules virtio_pci and
/// virtio_net need (three of them compressed) and Debian's index files with
/// modules.dep naming the compressed files. `damage` truncates one
/// compressed file to half.
fn compressed_tree(damage: Option<&str>) -> (TempDir, PathBuf) {
    let release = kernel_release();
    let src = Path::new("/lib/modules").join(&release);
    let tmp = TempDir::new("modload-compressed");
    let dir = tmp.path().join(&release);
    let dep_text = std::fs::read_to_string(src.join("modules.dep")).unwrap_or_else(|e| {
        panic!(
            "{}/modules.dep: {e} (install linux-image-amd64)",
            src.display()
        )
    });
    let renamed = |p: &str| -> String {
        match COMPRESSED.iter().find(|(f, _, _)| *f == p) {
            Some((_, _, ext)) => format!("{p}{ext}"),
            None => p.to_string(),
        }
    };
    // The files the two modules need: their modules.dep lines.
    let mut needed: Vec<String> = Vec::new();
    for line in dep_text.lines() {
        let Some((module, deps)) = line.split_once(':') else {
            continue;
        };
        if module.ends_with("/virtio_net.ko") || module.ends_with("/virtio_pci.ko") {
            needed.push(module.to_string());
            needed.extend(deps.split_whitespace().map(String::from));
        }
    }
    needed.sort();
    needed.dedup();
    assert!(needed.len() >= 7, "{needed:?}");
    for rel in &needed {
        let from = src.join(rel);
        let to = dir.join(renamed(rel));
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        match COMPRESSED.iter().find(|(f, _, _)| f == rel) {
            Some((_, cmd, _)) => compress(&from, cmd, &to),
            None => {
                std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
            }
        }
    }
    for (f, _, _) in COMPRESSED {
        assert!(needed.iter().any(|n| n == f), "{f} not needed: {needed:?}");
    }
    let dep: String = dep_text
        .lines()
        .map(|line| {
            let words: Vec<String> = line
                .split_whitespace()
                .map(|w| match w.strip_suffix(':') {
                    Some(m) => format!("{}:", renamed(m)),
                    None => renamed(w),
                })
                .collect();
            format!("{}\n", words.join(" "))
        })
        .collect();
    std::fs::write(dir.join("modules.dep"), dep).expect("write modules.dep");
    for f in [
        "modules.alias",
        "modules.softdep",
        "modules.builtin",
        "modules.builtin.modinfo",
        "modules.order",
        "modules.symbols",
        "modules.devname",
    ] {
        if src.join(f).is_file() {
            std::fs::copy(src.join(f), dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        }
    }
    if let Some(rel) = damage {
        let p = dir.join(rel);
        let bytes = std::fs::read(&p).expect("read");
        std::fs::write(&p, &bytes[..bytes.len() / 2]).expect("truncate");
    }
    (tmp, dir)
}

fn image(dir: &Path) -> Image {
    let app = release_bin("demo-app");
    build_image(&[
        "--app",
        app.to_str().expect("utf-8 path"),
        "--modules-dir",
        dir.to_str().expect("utf-8 path"),
        "--module",
        "virtio_pci",
        "--module",
        "virtio_net",
        "--config",
        "init.helpers=modload",
    ])
}

fn line_of<'a>(console: &'a str, needle: &str) -> &'a str {
    let at = console
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not on the console:\n{console}"));
    console[at..].lines().next().unwrap_or_default()
}

/// Every module file of the image, from `nodistro ls`.
fn image_modules(img: &Image) -> String {
    let out = Command::new(release_bin("nodistro"))
        .arg("ls")
        .arg(img.path())
        .output()
        .expect("run nodistro ls");
    assert!(out.status.success(), "nodistro ls: {}", out.status);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn coldplug_loads_xz_zstd_and_gzip_modules() {
    let (_tmp, dir) = compressed_tree(None);
    let img = image(&dir);
    let listing = image_modules(&img);
    for (f, _, ext) in COMPRESSED {
        assert!(
            listing.lines().any(|l| l.ends_with(f)) && !listing.contains(&format!("{f}{ext}")),
            "{f} not packed decompressed:\n{listing}"
        );
    }
    let g = Guest::boot(BootOpts::new(img.path()).timeout(Duration::from_secs(150)));
    g.expect_line("init: modload: coldplug-done", Duration::from_secs(90));
    let c = g.console();
    assert!(!c.contains("modload: cannot load"), "{c}");
    // Stored decompressed: loaded like the plain ones, with no
    // decompression note.
    for name in ["virtio_pci", "net_failover", "virtio_net", "virtio_ring"] {
        let line = line_of(&c, &format!("modload: loaded {name} in "));
        // A kernel line may land right after it on the serial console
        // ("... in 27 ms[    2.323164] tsc: ..."): look before its stamp.
        let own = line.split("[ ").next().unwrap_or(line);
        assert!(own.ends_with(" ms"), "{line}");
    }
    let summary = line_of(&c, "modload: coldplug: ");
    assert!(summary.contains(" 0 failed"), "{summary}");
    // The image's precompiled index was current and used.
    assert!(!c.contains("does not match modules.alias"), "{c}");
}

#[test]
fn a_truncated_compressed_module_fails_alone_with_its_name() {
    let (_tmp, dir) = compressed_tree(Some("kernel/drivers/net/virtio_net.ko.xz"));
    let img = image(&dir);
    let g = Guest::boot(BootOpts::new(img.path()).timeout(Duration::from_secs(150)));
    g.expect_line("init: modload: coldplug-done", Duration::from_secs(90));
    let c = g.console();
    let line = line_of(&c, "modload: cannot load virtio_net: cannot decompress ");
    assert!(
        line.contains("virtio_net.ko.xz: this nodistro-box has no xz decoder"),
        "{line}"
    );
    // The other compressed modules still loaded.
    for name in ["virtio_pci", "net_failover"] {
        assert!(c.contains(&format!("modload: loaded {name} in ")), "{c}");
    }
    let summary = line_of(&c, "modload: coldplug: ");
    assert!(summary.contains(" 1 failed"), "{summary}");
}
