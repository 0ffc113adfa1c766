//! `nodistro build -f nodistro.toml`: a build file covering most keys gives
//! the same bytes as the same settings written as flags (an initramfs and
//! a disk image), paths in it are relative to its directory whatever the
//! working directory, flags override it (single values replaced, lists
//! extended, read back with GNU cpio), the repository's example builds,
//! and bad files fail in one line naming the file, the line and the key,
//! with nothing written.

use nodistro_packaging::kernel;
use nodistro_tests::{release_bin, require_program, workspace_root, TempDir};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn nodistro(cwd: &Path, args: &[&str]) -> Output {
    Command::new(release_bin("nodistro"))
        .args(args)
        .current_dir(cwd)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap_or_else(|e| panic!("cannot run nodistro: {e}"))
}

fn ok(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "nodistro failed: {}\n{err}", o.status);
    err
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// The tools the images pack (the libc-free box when the suite runs with
/// it).
fn tools_dir() -> PathBuf {
    let b = release_bin("nodistro-box");
    b.parent().expect("box directory").to_path_buf()
}

/// The newest kernel and its release (the modules come from it).
fn kernel() -> (PathBuf, String) {
    let k = kernel::find_kernel().expect("a /boot/vmlinuz-* (linux-image-amd64)");
    let r = kernel::release_of(&k).expect("vmlinuz-RELEASE");
    (k, r)
}

/// A project directory: the app in bin/, a config file, a web tree and a
/// modaliases file, to be named by relative paths.
fn project(dir: &Path) {
    std::fs::create_dir_all(dir.join("bin")).expect("mkdir");
    std::fs::copy(release_bin("demo-app"), dir.join("bin/demo-app")).expect("copy app");
    std::fs::write(dir.join("app.conf"), "listen = 8081\n").expect("write");
    std::fs::create_dir_all(dir.join("www/css")).expect("mkdir");
    std::fs::write(dir.join("www/index.html"), "<h1>hi</h1>\n").expect("write");
    std::fs::write(dir.join("www/css/site.css"), "h1 {}\n").expect("write");
    // e1000's PCI id, as the target's /sys would say it.
    std::fs::write(
        dir.join("target.modaliases"),
        "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00\n",
    )
    .expect("write");
}

/// One member of an archive, with GNU cpio (`cat` is its decompressor).
fn member(img: &Path, cat: &str, name: &str) -> String {
    require_program("cpio", "cpio");
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{cat} '{}' | cpio -i --quiet --to-stdout '{name}'",
            img.display()
        ))
        .output()
        .expect("run cpio");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn listing(img: &Path) -> String {
    let o = nodistro(Path::new("/"), &["ls", s(img)]);
    ok(&o);
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_file_and_its_flags_give_the_same_initramfs() {
    require_program("zstd", "zstd");
    let tmp = TempDir::new("buildfile-same");
    let p = tmp.path().join("proj");
    project(&p);
    let (_, release) = kernel();
    let tools = tools_dir();
    let file = format!(
        r#"# every kind of key: strings, paths, an integer, switches, lists, tables
app = "bin/demo-app"
output = "out/from-file.cpio.zst"
args = ["--port", "8081", "--message", "from a build file"]
hostname = "filehost"
user = "web:2000"
ca-certs = true
console = true
allow-dynamic = false
compression = "zstd"
level = 5
modules = ["virtio_net"]
modaliases = "target.modaliases"
kernel-version = "{release}"
modules-dir = "/lib/modules/{release}"
firmware-dir = "/lib/firmware"
tools-dir = "{tools}"
env = ["GREETING=hello world", "MODE=file"]

[files]
"/etc/app/app.conf" = "app.conf"
"/srv/www" = "www"

[config]
init.on_exit = "reboot"
logfwd.remote = "udp://10.0.2.2:514"
init.net_timeout = 20
"#,
        tools = tools.display()
    );
    std::fs::write(p.join("nodistro.toml"), file).expect("write");
    std::fs::create_dir_all(p.join("out")).expect("mkdir");

    // From another working directory: the file's paths are its own.
    let toml = p.join("nodistro.toml");
    ok(&nodistro(Path::new("/"), &["build", "-f", s(&toml)]));
    let from_file = p.join("out/from-file.cpio.zst");

    let from_flags = tmp.path().join("from-flags.cpio.zst");
    let (app, conf, www, aliases) = (
        p.join("bin/demo-app"),
        format!("{}:/etc/app/app.conf", s(&p.join("app.conf"))),
        format!("{}:/srv/www", s(&p.join("www"))),
        p.join("target.modaliases"),
    );
    let modules_dir = format!("/lib/modules/{release}");
    ok(&nodistro(
        tmp.path(),
        &[
            "build",
            "--app",
            s(&app),
            "-o",
            s(&from_flags),
            "--arg",
            "--port",
            "--arg",
            "8081",
            "--arg",
            "--message",
            "--arg",
            "from a build file",
            "--hostname",
            "filehost",
            "--user",
            "web:2000",
            "--ca-certs",
            "--console",
            "--compression",
            "zstd",
            "--level",
            "5",
            "--module",
            "virtio_net",
            "--modaliases",
            s(&aliases),
            "--kernel-version",
            &release,
            "--modules-dir",
            &modules_dir,
            "--firmware-dir",
            "/lib/firmware",
            "--tools-dir",
            s(&tools),
            "--env",
            "GREETING=hello world",
            "--env",
            "MODE=file",
            "--file",
            &conf,
            "--file",
            &www,
            "--config",
            "init.on_exit=reboot",
            "--config",
            "logfwd.remote=udp://10.0.2.2:514",
            "--config",
            "init.net_timeout=20",
        ],
    ));
    let a = std::fs::read(&from_file).expect("image from the file");
    let b = std::fs::read(&from_flags).expect("image from the flags");
    assert!(
        a == b,
        "the file and the flags gave different images ({} and {} bytes)",
        a.len(),
        b.len()
    );

    // And the image holds what the file says.
    let cfg = member(&from_file, "zstd -dc", "etc/nodistro.conf");
    for line in [
        "init.app=/app/demo-app",
        "init.uid=2000",
        "init.arg=--port\ninit.arg=8081\ninit.arg=--message\ninit.arg=from a build file\n",
        "init.env=GREETING=hello world\ninit.env=MODE=file\n",
        "hostname=filehost",
        "init.on_exit=reboot\nlogfwd.remote=udp://10.0.2.2:514\ninit.net_timeout=20\n",
    ] {
        assert!(cfg.contains(line), "{line:?} missing from\n{cfg}");
    }
    assert_eq!(
        member(&from_file, "zstd -dc", "etc/app/app.conf"),
        "listen = 8081\n"
    );
    assert_eq!(
        member(&from_file, "zstd -dc", "srv/www/css/site.css"),
        "h1 {}\n"
    );
    assert!(member(&from_file, "zstd -dc", "etc/passwd").contains("web:x:2000:2000"));
    let list = listing(&from_file);
    for want in [
        "bin/console",
        "etc/ssl/certs/ca-certificates.crt",
        "/virtio_net.ko",
        "/e1000.ko",
    ] {
        assert!(list.contains(want), "{want} missing:\n{list}");
    }
}

#[test]
fn a_file_and_its_flags_give_the_same_disk_image() {
    let stub = Path::new("/usr/lib/systemd/boot/efi/linuxx64.efi.stub");
    assert!(
        stub.is_file(),
        "systemd-boot-efi missing (scripts/setup.sh installs it)"
    );
    let tmp = TempDir::new("buildfile-disk");
    let p = tmp.path().join("proj");
    project(&p);
    let (vmlinuz, _) = kernel();
    let tools = tools_dir();
    std::fs::write(
        p.join("nodistro.toml"),
        format!(
            r#"app = "bin/demo-app"
output = "disk.img"
format = "disk"
kernel = "{kernel}"
cmdline = "console=ttyS0,115200 panic=-1 quiet"
data-size = "8M"
efi-stub = "{stub}"
drivers = "none"
compression = "gzip"
level = 1
tools-dir = "{tools}"
"#,
            kernel = vmlinuz.display(),
            stub = stub.display(),
            tools = tools.display()
        ),
    )
    .expect("write");
    // A relative -f: the paths are relative to its directory, not ".".
    ok(&nodistro(
        tmp.path(),
        &["build", "-f", "proj/nodistro.toml"],
    ));
    let flags_img = tmp.path().join("flags.img");
    ok(&nodistro(
        tmp.path(),
        &[
            "build",
            "--app",
            "proj/bin/demo-app",
            "-o",
            s(&flags_img),
            "--format",
            "disk",
            "--kernel",
            s(&vmlinuz),
            "--cmdline",
            "console=ttyS0,115200 panic=-1 quiet",
            "--data-size",
            "8M",
            "--efi-stub",
            s(stub),
            "--drivers",
            "none",
            "--compression",
            "gzip",
            "--level",
            "1",
            "--tools-dir",
            s(&tools),
        ],
    ));
    let a = std::fs::read(p.join("disk.img")).expect("disk from the file");
    let b = std::fs::read(&flags_img).expect("disk from the flags");
    assert!(a.len() > 8 << 20, "{} bytes", a.len());
    assert!(a == b, "the file and the flags gave different disks");
    // The command line is the file's (it sits in the UKI's .cmdline).
    let needle = b"console=ttyS0,115200 panic=-1 quiet";
    assert!(a.windows(needle.len()).any(|w| w == needle));
}

#[test]
fn flags_override_the_file() {
    let tmp = TempDir::new("buildfile-override");
    let p = tmp.path().join("proj");
    project(&p);
    let tools = tools_dir();
    std::fs::write(
        p.join("nodistro.toml"),
        format!(
            r#"app = "bin/demo-app"
output = "from-file.cpio"
hostname = "fromfile"
compression = "gzip"
drivers = "none"
tools-dir = "{}"
args = ["--port", "8081"]

[env]
A = "file"
B = "file"

[config]
init.on_exit = "reboot"
"#,
            tools.display()
        ),
    )
    .expect("write");
    let out = tmp.path().join("cli.cpio");
    let toml = p.join("nodistro.toml");
    let err = ok(&nodistro(
        tmp.path(),
        &[
            "build",
            "--hostname",
            "cli",
            "-f",
            s(&toml),
            "--arg",
            "--message",
            "--arg",
            "from the command line",
            "-o",
            s(&out),
            "--compression",
            "none",
            "--env",
            "B=cli",
            "--config",
            "init.on_exit=poweroff",
        ],
    ));
    assert!(err.contains(s(&out)), "{err}");
    assert!(
        !p.join("from-file.cpio").exists(),
        "-o replaces the file's output"
    );
    let cfg = member(&out, "cat", "etc/nodistro.conf");
    assert!(
        cfg.contains("hostname=cli\n") && !cfg.contains("fromfile"),
        "{cfg}"
    );
    // Lists: the file's first, then the flags'; the last value of a name
    // is the one the app and init see.
    assert!(
        cfg.contains(
            "init.arg=--port\ninit.arg=8081\ninit.arg=--message\ninit.arg=from the command line\n"
        ),
        "{cfg}"
    );
    assert!(
        cfg.contains("init.env=A=file\ninit.env=B=file\ninit.env=B=cli\n"),
        "{cfg}"
    );
    assert!(
        cfg.contains("init.on_exit=reboot\ninit.on_exit=poweroff\n"),
        "{cfg}"
    );
    assert!(member(&out, "cat", "etc/hosts").contains("cli"));
    // --compression none: a bare cpio archive.
    let head = std::fs::read(&out).expect("image");
    assert!(head.starts_with(b"070701"), "not a bare newc archive");

    // The same image from flags alone.
    let flags_out = tmp.path().join("flags.cpio");
    let app = p.join("bin/demo-app");
    ok(&nodistro(
        tmp.path(),
        &[
            "build",
            "--app",
            s(&app),
            "-o",
            s(&flags_out),
            "--hostname",
            "cli",
            "--compression",
            "none",
            "--drivers",
            "none",
            "--tools-dir",
            s(&tools),
            "--arg",
            "--port",
            "--arg",
            "8081",
            "--arg",
            "--message",
            "--arg",
            "from the command line",
            "--env",
            "A=file",
            "--env",
            "B=file",
            "--env",
            "B=cli",
            "--config",
            "init.on_exit=reboot",
            "--config",
            "init.on_exit=poweroff",
        ],
    ));
    assert!(std::fs::read(&flags_out).expect("flags image") == head);
}

#[test]
fn the_example_in_the_repository_builds() {
    let tmp = TempDir::new("buildfile-example");
    let example = workspace_root().join("demo-app/nodistro.toml");
    // The example names ../target/.../demo-app: the release build.
    release_bin("demo-app");
    let out = tmp.path().join("demo.cpio.zst");
    let tools = tools_dir();
    ok(&nodistro(
        tmp.path(),
        &[
            "build",
            "-f",
            s(&example),
            "-o",
            s(&out),
            "--tools-dir",
            s(&tools),
        ],
    ));
    let list = listing(&out);
    for want in [
        "app/demo-app",
        "etc/demo/Cargo.toml",
        "/virtio_net.ko",
        "/e1000.ko",
    ] {
        assert!(list.contains(want), "{want} missing:\n{list}");
    }
    require_program("zstd", "zstd");
    let cfg = member(&out, "zstd -dc", "etc/nodistro.conf");
    assert!(
        cfg.contains("init.arg=--message\ninit.arg=Hello from nodistro.toml\n"),
        "{cfg}"
    );
    assert!(
        cfg.contains("hostname=demo") && cfg.contains("init.on_exit=poweroff"),
        "{cfg}"
    );
}

#[test]
fn bad_build_files_fail_in_one_line_and_write_nothing() {
    let tmp = TempDir::new("buildfile-bad");
    let d = tmp.path();
    std::fs::write(d.join("app"), "").expect("write");
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "unknown.toml",
            "app = \"app\"\n\nhostnme = \"x\"\n",
            &[":3: unknown key \"hostnme\" (did you mean \"hostname\"?)"],
        ),
        (
            "type.toml",
            "app = \"app\"\nlevel = \"9\"\n",
            &[":2: key \"level\": expected an integer, found a string"],
        ),
        (
            "item.toml",
            "app = \"app\"\nargs = [\n  \"-v\",\n  8080,\n]\n",
            &[":4: key \"args[1]\": expected a string, found an integer"],
        ),
        (
            "value.toml",
            "app = \"app\"\ncompression = \"brotli\"\n",
            &[
                ":2: key \"compression\": \"brotli\": unknown compression",
                "use gzip, zstd or none",
            ],
        ),
        (
            "syntax.toml",
            "app = \"app\"\nhostname = \"open\n",
            &[":2: not TOML: "],
        ),
    ];
    for (name, text, wants) in cases {
        let path = d.join(name);
        std::fs::write(&path, text).expect("write");
        let o = nodistro(d, &["build", "-f", s(&path), "-o", "out.img"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{name}: one line expected:\n{err}"
        );
        assert!(
            err.starts_with(&format!("nodistro build: error: {}:", s(&path))),
            "{err}"
        );
        for w in *wants {
            assert!(err.contains(w), "{name}: {w:?} not in {err}");
        }
    }
    let o = nodistro(d, &["build", "-f", "missing.toml"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(
        err.trim(),
        "nodistro build: error: cannot read the build file missing.toml: No such file or directory (os error 2)"
    );
    let names: Vec<String> = std::fs::read_dir(d)
        .expect("read dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with("out")),
        "output written: {names:?}"
    );

    // --help still helps, and names -f.
    let o = nodistro(d, &["build", "-f", "missing.toml", "--help"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("-f, --build-file"));
}
