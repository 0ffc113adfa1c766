//! `nodistro build --allow-dynamic` without booting: the image of a
//! program from Debian's archive (coreutils' `id`, which needs libselinux
//! and libpcre2) runs under chroot with the host's own ld.so reading the
//! image's /etc/ld.so.cache (LD_DEBUG shows every library found through
//! it) and looks `nobody` up by name with no NSS module; `nodistro ls`
//! shows the symlinks as `a -> b`; and the bad inputs (a library that
//! cannot be found, a loop of symlinks, a library of another
//! architecture) are one line each with nothing left behind.

use nodistro_tests::{names_containing, nodistro, require_program, require_root, TempDir};
use std::path::{Path, PathBuf};
use std::process::Command;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// Run gcc with `args` in `dir`; panics with its message.
fn gcc(dir: &Path, args: &[&str]) {
    let gcc = require_program("gcc", "gcc");
    let o = Command::new(gcc)
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run gcc");
    assert!(
        o.status.success(),
        "gcc {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// In `dir`: libdep.so (SONAME libdep.so.1) and `app` linked to it with
/// RUNPATH `dir`.
fn app_with_own_library(dir: &Path) -> PathBuf {
    std::fs::write(dir.join("dep.c"), "int dep(void) { return 7; }\n").expect("dep.c");
    std::fs::write(
        dir.join("app.c"),
        "int dep(void);\nint main(void) { return dep() == 7 ? 0 : 1; }\n",
    )
    .expect("app.c");
    gcc(
        dir,
        &[
            "-shared",
            "-fPIC",
            "-Wl,-soname,libdep.so.1",
            "dep.c",
            "-o",
            "libdep.so.1",
        ],
    );
    let runpath = format!("-Wl,-rpath,{}", dir.display());
    gcc(
        dir,
        &["app.c", "-o", "app", "-L.", "-l:libdep.so.1", &runpath],
    );
    dir.join("app")
}

/// `nodistro build --app APP --allow-dynamic -o OUT` must fail in one line
/// holding each of `needles`, and leave nothing named like OUT.
fn refused(tmp: &Path, app: &Path, needles: &[&str]) {
    let out = tmp.join("out.img");
    let o = nodistro(&[
        "build",
        "--app",
        s(app),
        "--allow-dynamic",
        "--drivers",
        "none",
        "-o",
        s(&out),
    ]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "should fail:\n{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line:\n{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} missing in: {err}");
    }
    let left = names_containing(tmp, "out.img");
    assert!(left.is_empty(), "left {left:?}");
}

#[test]
fn debian_id_runs_from_the_image_through_its_ld_so_cache() {
    require_root();
    require_program("cpio", "cpio");
    let tmp = TempDir::new("dyn-id");
    let img = tmp.path().join("id.img");
    let o = nodistro(&[
        "build",
        "--app",
        "/usr/bin/id",
        "--allow-dynamic",
        "--drivers",
        "none",
        "-o",
        s(&img),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("/app/id got its interpreter /lib64/ld-linux-x86-64.so.2 and 3 libraries"),
        "{err}"
    );
    let list = String::from_utf8_lossy(&nodistro(&["ls", s(&img)]).stdout).into_owned();
    for l in [
        "lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        " lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        " lib/x86_64-linux-gnu/libselinux.so.1",
        "lib/x86_64-linux-gnu/libpcre2-8.so.0 -> libpcre2-8.so.0.",
        " etc/ld.so.cache",
    ] {
        assert!(list.contains(l), "{l:?} missing:\n{list}");
    }
    // No NSS module: files and dns are inside glibc 2.36's libc.so.6.
    assert!(!list.contains("libnss"), "{list}");
    let root = tmp.path().join("root");
    std::fs::create_dir_all(&root).expect("root dir");
    let x = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "gzip -dc '{}' | (cd '{}' && cpio -idm --quiet)",
            img.display(),
            root.display()
        ))
        .status()
        .expect("cpio");
    assert!(x.success());
    let run = Command::new("chroot")
        .arg(&root)
        .args(["/app/id", "nobody"])
        .env("LD_DEBUG", "libs")
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("chroot");
    let out = String::from_utf8_lossy(&run.stdout);
    let debug = String::from_utf8_lossy(&run.stderr);
    assert_eq!(
        out.trim(),
        "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)",
        "{debug}"
    );
    // Every library came from the image's cache, none from a search of
    // the directories, and nothing was loaded for the user lookup.
    let finds = debug.matches("find library=").count();
    assert!(finds >= 3, "{debug}");
    assert_eq!(
        debug.matches("search cache=/etc/ld.so.cache").count(),
        finds,
        "{debug}"
    );
    assert!(!debug.contains("search path="), "{debug}");
    assert!(!debug.contains("libnss"), "{debug}");
}

#[test]
fn a_missing_library_is_one_line_naming_it_and_who_needs_it() {
    let tmp = TempDir::new("dyn-missing");
    let app = app_with_own_library(tmp.path());
    std::fs::remove_file(tmp.path().join("libdep.so.1")).expect("rm");
    let dir = tmp.path().display().to_string();
    refused(
        tmp.path(),
        &app,
        &[
            "libdep.so.1, needed by /app/app, is not found",
            &format!("RUNPATH {dir}"),
            "/etc/ld.so.cache, /lib/x86_64-linux-gnu, /usr/lib/x86_64-linux-gnu, /lib, /usr/lib",
            "install the package",
        ],
    );
    // Without --allow-dynamic: still refused, saying why the flag would
    // not help.
    let out = tmp.path().join("out.img");
    let o = nodistro(&["build", "--app", s(&app), "-o", s(&out)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("could not pack what it needs") && err.contains("libdep.so.1"),
        "{err}"
    );
    assert!(names_containing(tmp.path(), "out.img").is_empty());
}

#[test]
fn a_loop_of_symlinks_is_one_line() {
    let tmp = TempDir::new("dyn-loop");
    let app = app_with_own_library(tmp.path());
    let d = tmp.path();
    std::fs::remove_file(d.join("libdep.so.1")).expect("rm");
    std::os::unix::fs::symlink("libdep.so.2", d.join("libdep.so.1")).expect("link");
    std::os::unix::fs::symlink("libdep.so.1", d.join("libdep.so.2")).expect("link");
    // ld.so gives up on it too.
    let run = Command::new(&app).output().expect("run app");
    assert!(!run.status.success());
    let dir = d.display();
    refused(
        d,
        &app,
        &[
            "a loop of symlinks",
            &format!("{dir}/libdep.so.1 -> {dir}/libdep.so.2 -> {dir}/libdep.so.1"),
        ],
    );
}

#[test]
fn a_library_of_another_architecture_is_skipped_like_ld_so_does() {
    let tmp = TempDir::new("dyn-arch");
    let d = tmp.path();
    let app = app_with_own_library(d);
    // An aarch64 libz.so.1 first in the RUNPATH: the machine field of a
    // real library changed (EM_AARCH64 = 183).
    let mut z = std::fs::read("/lib/x86_64-linux-gnu/libz.so.1").expect("zlib1g");
    z[18] = 183;
    std::fs::write(d.join("libz.so.1"), &z).expect("write");
    std::fs::write(
        d.join("z.c"),
        "#include <zlib.h>\nint main(void) { return zlibVersion()[0] == '1' ? 0 : 1; }\n",
    )
    .expect("z.c");
    let runpath = format!("-Wl,-rpath,{}", d.display());
    gcc(d, &["z.c", "-o", "zapp", "-lz", &runpath]);
    // The host's ld.so skips it and runs the program with the real one.
    let run = Command::new(d.join("zapp")).output().expect("run zapp");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let out = d.join("z.img");
    let o = nodistro(&[
        "build",
        "--app",
        s(&d.join("zapp")),
        "--allow-dynamic",
        "--drivers",
        "none",
        "-o",
        s(&out),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "libz.so.1 for /app/zapp: skipped {}/libz.so.1 (ELF 64-bit little-endian, machine 183, not x86-64), as ld.so does; took /lib/x86_64-linux-gnu/libz.so.1",
            d.display()
        )),
        "{err}"
    );
    let list = String::from_utf8_lossy(&nodistro(&["ls", s(&out)]).stdout).into_owned();
    assert!(
        list.contains("lib/x86_64-linux-gnu/libz.so.1 -> libz.so.1."),
        "{list}"
    );
    // Only the other architecture's: not found, and it says what it skipped.
    std::fs::copy(d.join("libz.so.1"), d.join("libdep.so.1")).expect("copy");
    refused(
        d,
        &app,
        &[
            "libdep.so.1, needed by /app/app, is not found",
            "skipped",
            "machine 183",
        ],
    );
    let _ = app;
}
