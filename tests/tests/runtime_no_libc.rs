//! The runtime crates call no C library directly: system calls go through
//! rustix or a named raw-syscall wrapper (nodistro_common::syscall), so the
//! box links against any libc, or none (the libc-free build, whose c-scape
//! lacks signalfd and syscall(SYS_finit_module)). Checked on the source
//! tree: no `libc` dependency in their Cargo.toml, no `libc::` or
//! `extern "C"` in their sources.

use nodistro_tests::workspace_root;
use std::path::Path;

const RUNTIME: [&str; 7] = [
    "common",
    "init",
    "modload",
    "netcfg",
    "logfwd",
    "console",
    "multicall",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn runtime_crates_do_not_use_libc() {
    let root = workspace_root();
    let mut bad = Vec::new();
    for krate in RUNTIME {
        let manifest = root.join(krate).join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).expect("read Cargo.toml");
        if text.lines().any(|l| l.trim_start().starts_with("libc")) {
            bad.push(format!("{}: depends on libc", manifest.display()));
        }
        let mut files = Vec::new();
        rust_files(&root.join(krate).join("src"), &mut files);
        assert!(!files.is_empty(), "no sources under {krate}/src");
        for f in files {
            let src = std::fs::read_to_string(&f).expect("read source");
            for (i, line) in src.lines().enumerate() {
                if line.contains("libc::") || line.contains("extern \"C\"") {
                    bad.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "runtime code calling libc (use rustix or nodistro_common::syscall):\n{}",
        bad.join("\n")
    );
}
