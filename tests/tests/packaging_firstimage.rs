//! `nodistro build` for a first image: the files every image carries, the
//! default driver selection and its alternatives, `--user` and `--ca-certs`
//! (read back with `nodistro ls` and GNU cpio), and each bad value of the
//! new options refused in one line naming the thing and the fix, with no
//! archive left behind.

use nodistro_tests::{
    build_argv, names_containing, nodistro, release_bin, require_program, TempDir,
};
use std::path::{Path, PathBuf};
use std::process::Command;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// `nodistro build --app <demo-app> ARGS -o <dir>/<name>`, which must
/// succeed: the image and what `nodistro ls` lists in it.
fn build_and_list(dir: &Path, name: &str, args: &[&str]) -> (PathBuf, String) {
    let img = dir.join(name);
    let app = release_bin("demo-app");
    let mut all = vec!["build", "--app", s(&app)];
    all.extend_from_slice(args);
    all.extend(["-o", s(&img)]);
    let o = nodistro(&all);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let list = String::from_utf8_lossy(&nodistro(&["ls", s(&img)]).stdout).into_owned();
    (img, list)
}

/// Extract `member` of the gzip archive with GNU cpio.
fn member(img: &Path, member: &str) -> String {
    require_program("cpio", "cpio");
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "gzip -dc '{}' | cpio -i --quiet --to-stdout '{member}'",
            img.display()
        ))
        .output()
        .expect("run cpio");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn default_image_has_the_etc_files_vm_drivers_and_user() {
    let tmp = TempDir::new("first-etc");
    let app = release_bin("demo-app");
    let img = tmp.path().join("img.cpio.gz");
    let o = nodistro(&[
        "build",
        "--app",
        s(&app),
        "--user",
        "web:2000",
        "--ca-certs",
        "-o",
        s(&img),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    // The kernel whose modules are used is named, with its /boot file.
    assert!(
        err.contains("modules of kernel ") && err.contains("/boot/vmlinuz-"),
        "{err}"
    );
    assert!(err.contains("named drivers for"), "{err}");
    let passwd = member(&img, "etc/passwd");
    assert!(passwd.contains("nobody:x:65534:65534:"), "{passwd}");
    assert!(passwd.contains("web:x:2000:2000:"), "{passwd}");
    assert!(member(&img, "etc/group").contains("nogroup:x:65534:"));
    let hosts = member(&img, "etc/hosts");
    assert!(hosts.contains("127.0.0.1\tlocalhost") && hosts.contains("::1\tlocalhost"));
    assert!(hosts.contains("127.0.1.1\tnodistro"), "{hosts}");
    assert!(member(&img, "etc/nsswitch.conf").contains("hosts: files dns"));
    assert!(member(&img, "etc/os-release").contains("ID=nodistro"));
    let conf = member(&img, "etc/nodistro.conf");
    assert!(
        conf.contains("init.uid=2000") && conf.contains("init.gid=2000"),
        "{conf}"
    );
    let ca = member(&img, "etc/ssl/certs/ca-certificates.crt");
    assert_eq!(
        ca.as_bytes(),
        std::fs::read("/etc/ssl/certs/ca-certificates.crt").expect("host bundle")
    );
    let list = String::from_utf8_lossy(&nodistro(&["ls", s(&img)]).stdout).into_owned();
    for m in [
        "virtio_net.ko",
        "virtio_pci.ko",
        "virtio_mmio.ko",
        "e1000.ko",
        "evdev.ko",
    ] {
        assert!(list.contains(m), "{m} missing:\n{list}");
    }
    // --drivers none: no modules at all; the etc files are still there.
    let (none, list) = build_and_list(tmp.path(), "none.cpio.gz", &["--drivers", "none"]);
    assert!(!list.contains(".ko"), "{list}");
    assert!(list.contains("etc/passwd"), "{list}");
    assert!(
        std::fs::metadata(&none).expect("none").len() < std::fs::metadata(&img).expect("vm").len()
    );
    // --module alone replaces the default selection (as before).
    let (_, list) = build_and_list(tmp.path(), "one.cpio.gz", &["--module", "e1000"]);
    assert!(
        list.contains("e1000.ko") && !list.contains("virtio_net.ko"),
        "{list}"
    );
}

#[test]
fn bad_first_image_options_are_one_line_and_leave_nothing() {
    let tmp = TempDir::new("first-bad");
    let app = release_bin("demo-app");
    let out = tmp.path().join("out.img");
    let o = s(&out);
    let not_pem = tmp.path().join("notpem.crt");
    std::fs::write(&not_pem, "hello\n").expect("write");
    let app_and = |more| build_argv(s(&app), o, more);
    let cases: Vec<(Vec<&str>, &[&str])> = vec![
        (
            app_and(&["--drivers", "cloud"]),
            &["\"cloud\"", "vm", "--module"],
        ),
        (
            app_and(&["--user", "Bad Name"]),
            &["--user \"Bad Name\"", "e.g. --user app:1000:1000"],
        ),
        (
            app_and(&["--user", "app:70000"]),
            &["uid \"70000\"", "1 to 65533"],
        ),
        (
            app_and(&["--user", "app:1000:0"]),
            &["gid \"0\"", "1 to 65533"],
        ),
        (
            app_and(&["--ca-certs", "/nonexistent/ca.pem"]),
            &["--ca-certs /nonexistent/ca.pem: not found", "PEM"],
        ),
        (
            app_and(&["--ca-certs", s(&not_pem)]),
            &["holds no PEM certificate", "notpem.crt"],
        ),
        (
            vec!["run", "--initrd", o, "--machine", "isapc2"],
            &["unknown machine \"isapc2\"", "pc, q35 or microvm"],
        ),
        (
            vec![
                "run",
                "--initrd",
                o,
                "--machine",
                "microvm",
                "--nic",
                "e1000",
            ],
            &["--nic e1000 needs PCI", "--nic virtio"],
        ),
    ];
    for (args, needles) in cases {
        let out_ = nodistro(&args);
        let err = String::from_utf8_lossy(&out_.stderr).into_owned();
        assert!(!out_.status.success(), "{args:?} should fail:\n{err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: one line:\n{err}");
        for n in needles {
            assert!(err.contains(n), "{args:?}: {n:?} missing in: {err}");
        }
        let left = names_containing(tmp.path(), "out");
        assert!(left.is_empty(), "{args:?} left {left:?}");
    }
}
