//! nodistro-box's tools follow its Cargo features, it lists them
//! (`--list`), and `nodistro build` links exactly the tools the box it is
//! given holds, refusing (one line) a box without init and an
//! `init.helpers` entry the box lacks.

use nodistro_tests::{release_bin, release_dir, workspace_root, TempDir};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn run(cmd: &Path, args: &[&str]) -> Output {
    match Command::new(cmd).args(args).output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run {}: {e}", cmd.display()),
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// multicall/Cargo.toml's default features, one a line: the tools a
/// default box lists, in its table's order (the features' order).
fn default_tools() -> String {
    let manifest = workspace_root().join("multicall/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("read multicall/Cargo.toml");
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("default = ["))
        .expect("a default feature list");
    line.trim_end_matches(']')
        .split(',')
        .map(|f| format!("{}\n", f.trim().trim_matches('"')))
        .collect()
}

/// The tools the box under test must list: those of the features it was
/// built with when scripts/build-box.sh recorded them next to it
/// (`nodistro-box.features`: the default and libc-free boxes), else
/// multicall's default features (the static glibc box).
fn expected_tools(box_path: &Path) -> String {
    let recorded = box_path.with_file_name("nodistro-box.features");
    match std::fs::read_to_string(&recorded) {
        Ok(list) => list.trim().split(',').map(|f| format!("{f}\n")).collect(),
        Err(_) => default_tools(),
    }
}

/// A tools directory whose nodistro-box (a stand-in script) lists `tools`.
fn fake_box(dir: &Path, tools: &[&str]) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let path = dir.join("nodistro-box");
    let body: String = tools.iter().map(|t| format!("echo {t}\n")).collect();
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn the_box_lists_its_tools_and_build_links_only_those() {
    let full = release_bin("nodistro-box");
    let o = run(&full, &["--list"]);
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout), expected_tools(&full));

    let nodistro = release_bin("nodistro");
    let app = release_bin("demo-app");
    let tmp = TempDir::new("box-tools");
    let small = tmp.path().join("small");
    fake_box(&small, &["init", "netcfg"]);
    let img = tmp.path().join("img.cpio");
    let build = |tools: &Path, extra: &[&str]| {
        let mut args = vec![
            "build",
            "--app",
            s(&app),
            "--compression",
            "none",
            "-o",
            s(&img),
            "--tools-dir",
            s(tools),
        ];
        args.extend_from_slice(extra);
        run(&nodistro, &args)
    };
    let o = build(&small, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ls = String::from_utf8_lossy(&run(&nodistro, &["ls", s(&img)]).stdout).into_owned();
    let has = |p: &str| ls.lines().any(|l| l.split_whitespace().any(|w| w == p));
    for p in ["bin/init", "bin/netcfg", "bin/nodistro-box", "init"] {
        assert!(has(p), "{p} missing:\n{ls}");
    }
    for p in ["bin/modload", "bin/logfwd"] {
        assert!(!has(p), "{p} linked but the box lacks it:\n{ls}");
    }

    // Refused at build time with one line naming what is wrong.
    let no_init = tmp.path().join("no-init");
    fake_box(&no_init, &["netcfg", "logfwd"]);
    let cases: [(&Path, &[&str], &str); 2] = [
        (&no_init, &[], "holds no init (tools: netcfg,logfwd)"),
        (
            &small,
            &["--config", "init.helpers=netcfg,logfwd"],
            "init.helpers names \"logfwd\"",
        ),
    ];
    for (tools, extra, want) in cases {
        let o = build(tools, extra);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "should fail: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(err.contains(want), "expected {want:?} in {err}");
    }
}

/// The box under test (the default one, static musl from
/// `scripts/build-box.sh`, or the libc-free one CI's second pass names with
/// NODISTRO_TOOLS_DIR) carries no part of glibc, which the static glibc box
/// of `cargo build --release` does (its version tags and messages).
#[test]
fn the_box_under_test_links_no_glibc() {
    let glibc_marks = |p: &Path| {
        let bytes = std::fs::read(p).expect("read box");
        [&b"GLIBC_"[..], b"glibc"]
            .iter()
            .filter(|m| bytes.windows(m.len()).any(|w| w == **m))
            .count()
    };
    let under_test = release_bin("nodistro-box");
    assert_eq!(
        glibc_marks(&under_test),
        0,
        "{} holds glibc",
        under_test.display()
    );
    // The check can fail: the static glibc box (built with the workspace).
    release_bin("nodistro");
    assert_eq!(glibc_marks(&release_dir().join("nodistro-box")), 2);
    let o = run(&under_test, &["--list"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        expected_tools(&under_test)
    );
}

/// libc-free/Cargo.toml repeats multicall's tool features (it builds the
/// same main.rs): a tool added to one must be added to the other.
#[test]
fn the_libc_free_manifest_has_the_same_tool_features() {
    let features = |path: &str| {
        let text = std::fs::read_to_string(workspace_root().join(path)).expect("read manifest");
        let start = text.find("[features]").expect("a [features] table");
        let table = &text[start..];
        let end = table[1..].find("\n[").map_or(table.len(), |i| i + 1);
        table[..end]
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        features("libc-free/Cargo.toml"),
        features("multicall/Cargo.toml"),
        "libc-free/Cargo.toml's [features] differ from multicall/Cargo.toml's"
    );
}

/// An unknown tool name given to scripts/build-box.sh is refused at build
/// time, before anything is compiled, by one line naming it (cargo's
/// "does not contain this feature"), in every linking: static musl (the
/// default), static glibc, libc-free.
#[test]
fn an_unknown_tool_name_is_refused_at_build_time() {
    let tmp = TempDir::new("box-unknown-tool");
    let script = workspace_root().join("scripts/build-box.sh");
    for switch in [None, Some("--glibc"), Some("--libc-free")] {
        let mut cmd = Command::new("bash");
        cmd.arg(&script);
        if let Some(s) = switch {
            cmd.arg(s);
        }
        if switch != Some("--glibc") {
            cmd.env("BOX_TARGET_DIR", tmp.path());
        }
        let o = cmd
            .args(["--tools", "init,nosuchtool"])
            .output()
            .expect("run build-box.sh");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "nosuchtool accepted: {err}");
        let naming: Vec<&str> = err.lines().filter(|l| l.contains("nosuchtool")).collect();
        assert_eq!(naming.len(), 1, "one line naming the tool: {err}");
        assert!(naming[0].contains("does not contain this feature"), "{err}");
    }
}

/// The static glibc box (`cargo build --release`, `scripts/build-box.sh
/// --glibc`), no longer the default, still boots an image: init starts the
/// app as its `--user` (whose name the app finds in /etc/passwd) and
/// powers off at the power button. CI's passes run on the default and
/// libc-free boxes; this keeps the third linking booted.
#[test]
fn the_static_glibc_box_boots_and_switches_user() {
    use nodistro_tests::qemu::{build_image, BootOpts, Guest, Nic, Outcome};
    use std::time::Duration;
    let app = release_bin("whoami-app").display().to_string();
    let glibc = release_dir();
    let img = build_image(&[
        "--app",
        &app,
        "--user",
        "app:1000:1000",
        "--tools-dir",
        s(&glibc),
    ]);
    let mut g = Guest::boot(BootOpts::new(img.path()).nic(Nic::None));
    g.expect_line(
        "whoami: uid=1000 gid=1000 name=app",
        Duration::from_secs(90),
    );
    assert_eq!(
        g.power_button(Duration::from_secs(30)),
        Outcome::PoweredOff,
        "{}",
        g.console_tail(2000)
    );
}
