//! `nodistro build` and `nodistro ls` against GNU cpio, gzip and zstd: the
//! archives list and extract with the standard tools, contents and modes
//! match, rebuilds are byte-identical, SOURCE_DATE_EPOCH is honoured, and
//! bad input fails with a clear message and no partial output.

use nodistro_packaging::cpio;
use nodistro_tests::{
    build_argv, names_containing, release_bin, require_program, require_root, TempDir,
};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn nodistro(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(release_bin("nodistro"));
    cmd.args(args).env_remove("SOURCE_DATE_EPOCH");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    match cmd.output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run nodistro: {e}"),
    }
}

fn ok(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        o.status.success(),
        "nodistro failed: {}\nstdout: {}\nstderr: {err}",
        o.status,
        String::from_utf8_lossy(&o.stdout)
    );
    err
}

fn failed(o: &Output) -> String {
    nodistro_tests::one_line_failure(o, &[])
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// A small input tree for --file: a file, an executable, a symlink, a
/// nested directory.
fn extra_tree(dir: &Path) -> PathBuf {
    let root = dir.join("extra");
    let sub = root.join("sub");
    std::fs::create_dir_all(&sub).expect("mkdir");
    std::fs::write(root.join("ca.pem"), "-----BEGIN CERTIFICATE-----\n").expect("write");
    std::fs::write(sub.join("tool"), "#!/app/demo-app\n").expect("write");
    std::fs::set_permissions(sub.join("tool"), std::fs::Permissions::from_mode(0o700))
        .expect("chmod");
    std::os::unix::fs::symlink("../ca.pem", sub.join("link")).expect("symlink");
    root
}

fn build_args<'a>(app: &'a str, out: &'a str, extra: &'a str) -> Vec<&'a str> {
    vec![
        "build",
        "--app",
        app,
        "-o",
        out,
        "--arg",
        "--port",
        "--arg",
        "8080",
        "--env",
        "GREETING=hello world",
        "--hostname",
        "box1",
        "--config",
        "logfwd.remote=udp://10.0.2.2:514",
        "--file",
        extra,
    ]
}

fn run_pipe(shell: &str, dir: &Path) -> Output {
    let out = Command::new("sh")
        .arg("-c")
        .arg(shell)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => o,
        Ok(o) => panic!(
            "`{shell}` failed: {}\n{}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("cannot run `{shell}`: {e}"),
    }
}

#[test]
fn gnu_cpio_lists_and_extracts_every_compression() {
    require_root();
    require_program("cpio", "cpio");
    require_program("gzip", "gzip");
    require_program("zstd", "zstd");
    let tmp = TempDir::new("pack-cpio");
    let app = release_bin("demo-app");
    let boxbin = release_bin("nodistro-box");
    let extra = extra_tree(tmp.path());
    let file_arg = format!("{}:/etc/extra", s(&extra));
    for (kind, cat) in [("gzip", "gzip -dc"), ("zstd", "zstd -dc"), ("none", "cat")] {
        let out = tmp.path().join(format!("img-{kind}"));
        let mut args = build_args(s(&app), s(&out), &file_arg);
        args.extend(["--compression", kind]);
        ok(&nodistro(&args, &[]));

        // GNU cpio's listing equals ours.
        let listing = run_pipe(&format!("{cat} {} | cpio -t --quiet", s(&out)), tmp.path());
        let theirs: Vec<String> = String::from_utf8_lossy(&listing.stdout)
            .lines()
            .map(String::from)
            .collect();
        let ours = nodistro(&["ls", s(&out)], &[]);
        ok(&ours);
        let ours_text = String::from_utf8_lossy(&ours.stdout).into_owned();
        let ours_names: Vec<String> = ours_text
            .lines()
            .map(|l| {
                let path = l.split_whitespace().nth(2).expect("path column");
                path.to_string()
            })
            .collect();
        assert_eq!(theirs, ours_names, "{kind}: cpio -t vs nodistro ls");
        for want in [
            "init",
            "bin/nodistro-box",
            "bin/init",
            "bin/modload",
            "bin/netcfg",
            "bin/logfwd",
            "app/demo-app",
            "etc/nodistro.conf",
            "dev/console",
            "etc/extra/sub/link",
            "proc",
            "sys",
            "run",
            "tmp",
        ] {
            assert!(theirs.iter().any(|n| n == want), "{kind}: {want} missing");
        }
        assert!(ours_text.contains("crw-------        5,1 dev/console"));
        assert!(ours_text.contains("lrwxrwxrwx         16 init -> bin/nodistro-box"));

        // GNU cpio extracts it; contents, modes, links and the device match.
        let root = tmp.path().join(format!("root-{kind}"));
        std::fs::create_dir(&root).expect("mkdir");
        run_pipe(
            &format!(
                "{cat} {} | cpio -idm --quiet --no-absolute-filenames",
                s(&out)
            ),
            &root,
        );
        let same = |inside: &str, host: &Path| {
            let a = std::fs::read(root.join(inside)).expect("extracted file");
            let b = std::fs::read(host).expect("source file");
            assert!(a == b, "{kind}: {inside} differs from {}", host.display());
        };
        same("app/demo-app", &app);
        same("bin/nodistro-box", &boxbin);
        same("etc/extra/ca.pem", &extra.join("ca.pem"));
        let mode = |p: &str| {
            std::fs::symlink_metadata(root.join(p))
                .expect("extracted entry")
                .permissions()
                .mode()
                & 0o7777
        };
        assert_eq!(mode("app/demo-app"), 0o755);
        assert_eq!(mode("bin/nodistro-box"), 0o755);
        assert_eq!(mode("etc/nodistro.conf"), 0o644);
        assert_eq!(mode("etc/extra/ca.pem"), 0o644);
        assert_eq!(mode("etc/extra/sub/tool"), 0o755);
        assert_eq!(mode("tmp"), 0o1777);
        assert_eq!(mode("dev/console"), 0o600);
        for t in ["init", "modload", "netcfg", "logfwd"] {
            let target = std::fs::read_link(root.join("bin").join(t)).expect("symlink");
            assert_eq!(target, Path::new("nodistro-box"));
        }
        assert_eq!(
            std::fs::read_link(root.join("init")).expect("symlink"),
            Path::new("bin/nodistro-box")
        );
        assert_eq!(
            std::fs::read_link(root.join("etc/extra/sub/link")).expect("symlink"),
            Path::new("../ca.pem")
        );
        let console = std::fs::symlink_metadata(root.join("dev/console")).expect("console");
        assert!(console.file_type().is_char_device());
        assert_eq!(console.rdev(), rustix::fs::makedev(5, 1));
        let conf = std::fs::read_to_string(root.join("etc/nodistro.conf")).expect("conf");
        let (cfg, warnings) = nodistro_common::Config::parse(&conf);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(cfg.get("init.app"), Some("/app/demo-app"));
        assert_eq!(
            cfg.get_all("init.arg").collect::<Vec<_>>(),
            ["--port", "8080"]
        );
        assert_eq!(
            cfg.get_all("init.env").collect::<Vec<_>>(),
            ["GREETING=hello world"]
        );
        assert_eq!(cfg.get("hostname"), Some("box1"));
        assert_eq!(cfg.get("logfwd.remote"), Some("udp://10.0.2.2:514"));
    }
}

fn headers(path: &Path) -> Vec<cpio::ReadEntry> {
    match nodistro_packaging::ls::list(&path.to_path_buf()) {
        Ok(e) => e,
        Err(e) => panic!("{}", nodistro_common::report::chain(&e)),
    }
}

#[test]
fn rebuilds_are_byte_identical_and_honour_source_date_epoch() {
    require_program("cpio", "cpio");
    require_program("taskset", "util-linux");
    let tmp = TempDir::new("pack-repro");
    let app = release_bin("demo-app");
    let extra = extra_tree(tmp.path());
    let file_arg = format!("{}:/etc/extra", s(&extra));
    for kind in ["gzip", "zstd", "none"] {
        let a = tmp.path().join(format!("a-{kind}"));
        let b = tmp.path().join(format!("b-{kind}"));
        let c = tmp.path().join(format!("c-{kind}"));
        let mut args = build_args(s(&app), s(&a), &file_arg);
        args.extend(["--compression", kind]);
        ok(&nodistro(&args, &[]));
        // The second build on one core: the bytes must not depend on the
        // number of compression threads.
        let mut args = build_args(s(&app), s(&b), &file_arg);
        args.extend(["--compression", kind]);
        let one_core = Command::new("taskset")
            .args(["-c", "0"])
            .arg(release_bin("nodistro"))
            .args(&args)
            .env_remove("SOURCE_DATE_EPOCH")
            .output();
        match one_core {
            Ok(o) => {
                ok(&o);
            }
            Err(e) => panic!("cannot run taskset: {e}"),
        }
        // The sources' own timestamps change between builds: nothing of
        // them may leak into the archive.
        std::fs::write(extra.join("ca.pem"), "-----BEGIN CERTIFICATE-----\n").expect("touch");
        let mut args = build_args(s(&app), s(&c), &file_arg);
        args.extend(["--compression", kind]);
        ok(&nodistro(&args, &[("SOURCE_DATE_EPOCH", "1700000000")]));
        let (ba, bb, bc) = (
            std::fs::read(&a).expect("a"),
            std::fs::read(&b).expect("b"),
            std::fs::read(&c).expect("c"),
        );
        assert!(ba == bb, "{kind}: two builds of the same inputs differ");
        assert!(ba != bc, "{kind}: SOURCE_DATE_EPOCH changed nothing");
        let ha = headers(&a);
        let hc = headers(&c);
        assert_eq!(ha.len(), hc.len());
        for (x, y) in ha.iter().zip(&hc) {
            assert_eq!(x.header.mtime, 0, "{kind}: {}", x.header.name);
            assert_eq!(y.header.mtime, 1_700_000_000, "{kind}: {}", y.header.name);
            assert_eq!((x.header.uid, x.header.gid), (0, 0));
            assert_eq!(x.header.name, y.header.name);
            assert_eq!(x.header.ino, y.header.ino);
        }
        let mut names: Vec<&str> = ha.iter().map(|e| e.header.name.as_str()).collect();
        let unsorted = names.clone();
        names.sort_unstable();
        assert_eq!(names, unsorted, "{kind}: entries not sorted");
    }
    // GNU cpio restores SOURCE_DATE_EPOCH as the files' mtime.
    let root = tmp.path().join("root");
    std::fs::create_dir(&root).expect("mkdir");
    run_pipe(
        &format!(
            "cpio -idm --quiet --no-absolute-filenames < {}",
            s(&tmp.path().join("c-none"))
        ),
        &root,
    );
    let m = std::fs::metadata(root.join("app/demo-app")).expect("extracted");
    assert_eq!(m.mtime(), 1_700_000_000);
}

/// What a build aimed at `<dir>/out.img` left in `dir`.
fn leftovers(dir: &Path) -> Vec<String> {
    names_containing(dir, "out")
}

#[test]
fn bad_input_is_one_clear_line_and_leaves_no_output() {
    let tmp = TempDir::new("pack-bad");
    let app = release_bin("demo-app");
    let out = tmp.path().join("out.img");
    let o = s(&out);
    let app_and = |more| build_argv(s(&app), o, more);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["build", "--app", "/nonexistent/app", "-o", o],
            "app /nonexistent/app not found",
        ),
        (
            vec!["build", "--app", "/bin/ls", "-o", o],
            "is dynamically linked",
        ),
        (
            app_and(&["--file", "nocolon"]),
            "--file \"nocolon\" is not SRC:DEST",
        ),
        (
            app_and(&["--file", "/nonexistent/x:/etc/x"]),
            "cannot read /nonexistent/x",
        ),
        (
            app_and(&["--file", "/etc/hostname:/app/demo-app"]),
            "/app/demo-app is given twice",
        ),
        (app_and(&["--config", "bad key=1"]), "not a plain name"),
        (app_and(&["--env", "NOEQUALS"]), "NAME=value"),
        (app_and(&["--level", "12"]), "--level 12 is out of range"),
        (
            app_and(&["--tools-dir", "/nonexistent"]),
            "nodistro-box not found in /nonexistent",
        ),
        (
            vec!["build", "--app", s(&app), "-o", "/nonexistent/dir/out.img"],
            "cannot create the output /nonexistent/dir/out.img",
        ),
        (
            vec!["build", "--app", s(&app), "-o", "/dev/null"],
            "output /dev/null exists and is not a regular file",
        ),
        (
            app_and(&["--module", "no_such_module_x"]),
            "module no_such_module_x is not in /lib/modules/",
        ),
    ];
    for (args, want) in cases {
        let err = failed(&nodistro(&args, &[]));
        assert!(err.contains(want), "{args:?}: expected {want:?} in: {err}");
        assert!(err.starts_with("nodistro build: error: "), "{err}");
        assert!(
            leftovers(tmp.path()).is_empty(),
            "{args:?} left output behind"
        );
    }
    // Values the command-line parser refuses: one line, exit 2.
    for (flag, value, want) in [
        ("--modules", "some", "is not none or all"),
        ("--compression", "xz", "use gzip, zstd or none"),
    ] {
        let o = nodistro(&["build", "--app", s(&app), "-o", o, flag, value], &[]);
        let err = failed(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(want) && err.contains(flag), "{err}");
    }
    // A module tree without modules.dep.
    let empty = tmp.path().join("6.1.0-empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let err = failed(&nodistro(
        &[
            "build",
            "--app",
            s(&app),
            "-o",
            o,
            "--modules",
            "all",
            "--modules-dir",
            s(&empty),
        ],
        &[],
    ));
    assert!(
        err.contains("is not a usable module tree") && err.contains("depmod"),
        "{err}"
    );
    assert!(leftovers(tmp.path()).is_empty());
    // A full disk mid-archive: the error names the output, nothing is left.
    require_root();
    let small = tmp.path().join("small");
    std::fs::create_dir(&small).expect("mkdir");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "nodistro-pack-test"])
        .arg(&small)
        .status();
    assert!(
        matches!(mounted, Ok(st) if st.success()),
        "cannot mount a tmpfs"
    );
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _guard = Unmount(&small);
    let full = small.join("out.img");
    let err = failed(&nodistro(&["build", "--app", s(&app), "-o", s(&full)], &[]));
    assert!(
        err.contains("cannot write the output") && err.contains("No space left"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&small).expect("readdir").count(), 0);
    drop(_guard);
    // A bad SOURCE_DATE_EPOCH is refused, not silently replaced.
    let err = failed(&nodistro(
        &["build", "--app", s(&app), "-o", o],
        &[("SOURCE_DATE_EPOCH", "yesterday")],
    ));
    assert!(err.contains("SOURCE_DATE_EPOCH=\"yesterday\""), "{err}");
    // --allow-dynamic packs a dynamic app with its interpreter and
    // libraries, and says so (tests/tests/dynamic_apps.rs boots them).
    let o2 = nodistro(
        &["build", "--app", "/bin/ls", "-o", o, "--allow-dynamic"],
        &[],
    );
    let err = ok(&o2);
    assert!(
        err.contains("dynamic: /app/ls got its interpreter /lib64/ld-linux-x86-64.so.2 and ")
            && err.contains("dynamic: + /lib/x86_64-linux-gnu/libc.so.6 "),
        "{err}"
    );
    assert!(out.is_file());
    // An existing output is replaced only by a complete archive: a failing
    // build leaves the old one untouched.
    let before = std::fs::read(&out).expect("output");
    failed(&nodistro(
        &["build", "--app", "/nonexistent/app", "-o", o],
        &[],
    ));
    assert!(std::fs::read(&out).expect("output") == before);
    assert_eq!(leftovers(tmp.path()), ["out.img"]);
}

#[test]
fn ls_reports_damaged_and_foreign_archives() {
    let tmp = TempDir::new("pack-ls");
    let app = release_bin("demo-app");
    let out = tmp.path().join("img.gz");
    ok(&nodistro(&["build", "--app", s(&app), "-o", s(&out)], &[]));
    let bytes = std::fs::read(&out).expect("image");
    let cut = tmp.path().join("cut.gz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let err = failed(&nodistro(&["ls", s(&cut)], &[]));
    assert!(err.starts_with("nodistro ls: error: "), "{err}");
    assert!(err.contains("cut.gz"), "{err}");
    let xz = tmp.path().join("x.xz");
    std::fs::write(&xz, b"\xfd7zXZ\0\0\0").expect("write");
    let err = failed(&nodistro(&["ls", s(&xz)], &[]));
    assert!(err.contains("xz-compressed"), "{err}");
    let err = failed(&nodistro(&["ls", "/nonexistent/img"], &[]));
    assert!(err.contains("cannot open /nonexistent/img"), "{err}");
}
