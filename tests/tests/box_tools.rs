//! nodistro-box's tools follow its Cargo features, it lists them
//! (`--list`), and `nodistro build` links exactly the tools the box it is
//! given holds, refusing (one line) a box without init and an
//! `init.helpers` entry the box lacks.

use nodistro_tests::{release_bin, TempDir};
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
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "init\nmodload\nnetcfg\nlogfwd\n"
    );

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
