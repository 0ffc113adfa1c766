//! Issue 25, OCI in and out.
//!
//! In: an OCI image layout made here (two layers, a whiteout, an opaque
//! directory, `bin -> usr/bin` as Debian's images have it, all five config
//! fields), its layers applied by `nodistro build --from-oci` exactly as
//! umoci unpacks them (the peer), the same image as an oci-archive and a
//! docker save archive (both written by skopeo) giving the same bytes, and
//! the app booted under QEMU seeing its Entrypoint, Cmd, Env, WorkingDir
//! and User. Bad images: one line each, no output written.
//!
//! Out: `nodistro build --format oci` loaded and run by podman (runc), init
//! in container mode running the app with logfwd, skopeo reading the
//! archive's config.

use nodistro_tests::qemu::{build_image_logged, kernel_release, BootOpts, Guest, Nic, Outcome};
use nodistro_tests::{release_bin, require_program, run_ok, workspace_root, TempDir};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn sha(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// tests/c/ocienv.c built with gcc (dynamic unless `static_`).
fn ocienv(dir: &Path, static_: bool) -> PathBuf {
    let gcc = require_program("gcc", "gcc");
    let out = dir.join(if static_ { "ocienv-static" } else { "ocienv" });
    let mut cmd = Command::new(gcc);
    cmd.args(["-O2", "-Wall"])
        .arg(workspace_root().join("tests/c/ocienv.c"))
        .arg("-o")
        .arg(&out);
    if static_ {
        cmd.arg("-static");
    }
    run_ok(&mut cmd);
    out
}

/// One layer entry.
enum E<'a> {
    Dir(&'a str),
    /// A directory owned by (uid, gid).
    OwnedDir(&'a str, u64, u64),
    File(&'a str, &'a [u8], u32),
    Link(&'a str, &'a str),
}

/// Put `name` into the header as it is (the tar crate refuses `..` and
/// absolute names, which the bad-input cases need).
fn raw_name(h: &mut tar::Header, name: &str) {
    let field = &mut h.as_old_mut().name;
    field.fill(0);
    field[..name.len()].copy_from_slice(name.as_bytes());
    h.set_cksum();
}

fn layer_tar(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_700_000_000);
        match e {
            E::Dir(p) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                raw_name(&mut h, p);
                b.append(&h, std::io::empty()).expect("dir");
            }
            E::OwnedDir(p, uid, gid) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                h.set_uid(*uid);
                h.set_gid(*gid);
                raw_name(&mut h, p);
                b.append(&h, std::io::empty()).expect("dir");
            }
            E::File(p, data, mode) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_size(data.len() as u64);
                raw_name(&mut h, p);
                b.append(&h, *data).expect("file");
            }
            E::Link(p, target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, p, target).expect("link");
            }
        }
    }
    b.into_inner().expect("tar")
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

/// Write an OCI image layout into `dir`: `layers` (tar, gzip it?) bottom
/// first, the config's `config` object, `arch`.
fn write_layout(dir: &Path, layers: &[(Vec<u8>, bool)], config: serde_json::Value, arch: &str) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("blobs");
    let put = |data: &[u8]| {
        let d = sha(data);
        std::fs::write(blobs.join(&d), data).expect("blob");
        (format!("sha256:{d}"), data.len())
    };
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for (tar, gz) in layers {
        diff_ids.push(format!("sha256:{}", sha(tar)));
        let (blob, media) = if *gz {
            (gzip(tar), "application/vnd.oci.image.layer.v1.tar+gzip")
        } else {
            (tar.clone(), "application/vnd.oci.image.layer.v1.tar")
        };
        let (digest, size) = put(&blob);
        descs.push(json!({"mediaType": media, "digest": digest, "size": size}));
    }
    let cfg = serde_json::to_vec(&json!({
        "architecture": arch, "os": "linux", "config": config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .expect("json");
    let (cdigest, csize) = put(&cfg);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": cdigest, "size": csize},
        "layers": descs,
    }))
    .expect("json");
    let (mdigest, msize) = put(&manifest);
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": mdigest, "size": msize,
                       "annotations": {"org.opencontainers.image.ref.name": "latest"}}],
    });
    std::fs::write(dir.join("index.json"), index.to_string()).expect("index");
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).expect("layout");
}

/// The host's glibc loader and libc, as a Debian image's layer holds them.
fn host_glibc() -> (Vec<u8>, Vec<u8>) {
    let ld = std::fs::read("/lib64/ld-linux-x86-64.so.2").expect("the host's ld.so");
    let libc = std::fs::read("/lib/x86_64-linux-gnu/libc.so.6").expect("the host's libc");
    (ld, libc)
}

/// The test image: a Debian-like base layer (merged /usr, glibc, a user)
/// with the app, and an upper layer that whites out, makes a directory
/// opaque and replaces a file.
fn test_layout(dir: &Path, app: &[u8]) {
    let (ld, libc) = host_glibc();
    let lower = layer_tar(&[
        E::Dir("usr/"),
        E::Dir("usr/bin/"),
        E::Dir("usr/lib/x86_64-linux-gnu/"),
        E::Dir("usr/lib64/"),
        E::Link("bin", "usr/bin"),
        E::Link("lib", "usr/lib"),
        E::Link("lib64", "usr/lib64"),
        E::File("usr/lib64/ld-linux-x86-64.so.2", &ld, 0o755),
        E::File("usr/lib/x86_64-linux-gnu/libc.so.6", &libc, 0o755),
        E::File("usr/bin/ocienv", app, 0o755),
        E::File(
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\napp:x:1001:1002:app:/srv:/bin/false\n",
            0o644,
        ),
        E::File("etc/group", b"root:x:0:\napp:x:1002:\n", 0o644),
        E::File("etc/motd", b"v1\n", 0o644),
        E::OwnedDir("srv/", 1001, 1002),
        E::File("srv/old.txt", b"still here\n", 0o644),
        E::Dir("data/cache/"),
        E::File("data/cache/a", b"lower\n", 0o644),
    ]);
    let upper = layer_tar(&[
        E::File("srv/.wh.old.txt", b"", 0o644),
        E::File("data/cache/.wh..wh..opq", b"", 0o644),
        E::File("data/cache/b", b"upper\n", 0o644),
        E::File("etc/motd", b"v2\n", 0o644),
    ]);
    write_layout(
        dir,
        &[(lower, true), (upper, false)],
        json!({
            "Entrypoint": ["ocienv", "--from-entrypoint"],
            "Cmd": ["cmd-arg"],
            "Env": ["PATH=/usr/local/bin:/usr/bin", "GREETING=hello-oci"],
            "WorkingDir": "/srv",
            "User": "app",
        }),
        "amd64",
    );
}

/// What a tree holds, for comparing: path -> "dir", "link TARGET" or
/// "file SHA".
fn tree_of_dir(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        names.sort();
        for n in names {
            let p = dir.join(&n);
            let rel = p
                .strip_prefix(root)
                .expect("inside")
                .to_string_lossy()
                .into_owned();
            let m = std::fs::symlink_metadata(&p).expect("stat");
            if m.file_type().is_symlink() {
                let t = std::fs::read_link(&p).expect("readlink");
                out.insert(rel, format!("link {}", t.display()));
            } else if m.is_dir() {
                out.insert(rel, "dir".into());
                walk(root, &p, out);
            } else {
                out.insert(
                    rel,
                    format!("file {}", sha(&std::fs::read(&p).expect("read"))),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn tree_of_loaded(path: &Path) -> BTreeMap<String, String> {
    use nodistro_packaging::image::{Node, Source};
    let loaded = nodistro_packaging::oci::load(path).expect("load");
    loaded
        .rootfs
        .nodes()
        .iter()
        .map(|(p, n)| {
            let v = match n {
                Node::Dir { .. } => "dir".to_string(),
                Node::Symlink { target } => format!("link {target}"),
                Node::File {
                    source: Source::Bytes(b),
                    ..
                } => format!("file {}", sha(b)),
                other => format!("{other:?}"),
            };
            (p.clone(), v)
        })
        .collect()
}

#[test]
fn layers_apply_as_umoci_unpacks_them() {
    let umoci = require_program("umoci", "umoci");
    let t = TempDir::new("oci-umoci");
    let layout = t.path().join("layout");
    test_layout(
        &layout,
        &std::fs::read(ocienv(t.path(), false)).expect("app"),
    );
    let bundle = t.path().join("bundle");
    run_ok(
        Command::new(umoci)
            .args(["unpack", "--rootless", "--image"])
            .arg(format!("{}:latest", layout.display()))
            .arg(&bundle),
    );
    let theirs = tree_of_dir(&bundle.join("rootfs"));
    let ours = tree_of_loaded(&layout);
    assert_eq!(ours, theirs, "nodistro's rootfs differs from umoci's");
    assert!(!ours.contains_key("srv/old.txt"));
    assert!(ours.contains_key("data/cache/b") && !ours.contains_key("data/cache/a"));
}

#[test]
fn layout_oci_archive_and_docker_save_give_the_same_image() {
    let skopeo = require_program("skopeo", "skopeo");
    let t = TempDir::new("oci-forms");
    let layout = t.path().join("layout");
    test_layout(
        &layout,
        &std::fs::read(ocienv(t.path(), false)).expect("app"),
    );
    let src = format!("oci:{}:latest", layout.display());
    let archive = t.path().join("image.oci.tar");
    let docker = t.path().join("image.docker.tar");
    for dest in [
        format!("oci-archive:{}:latest", archive.display()),
        format!("docker-archive:{}:ocienv:latest", docker.display()),
    ] {
        run_ok(Command::new(&skopeo).args(["--insecure-policy", "copy", &src, &dest]));
    }
    let mut images = Vec::new();
    for from in [&layout, &archive, &docker] {
        let from = from.to_str().expect("utf-8");
        let (img, log) = build_image_logged(&["--from-oci", from, "--drivers", "none"]);
        assert!(log.contains("2 layers"), "{log}");
        images.push(std::fs::read(img.path()).expect("image"));
    }
    assert!(
        images[0] == images[1],
        "oci-archive differs from the layout"
    );
    assert!(
        images[0] == images[2],
        "docker save differs from the layout"
    );
}

#[test]
fn oci_image_boots_and_the_app_sees_its_config() {
    let t = TempDir::new("oci-boot");
    let layout = t.path().join("layout");
    test_layout(
        &layout,
        &std::fs::read(ocienv(t.path(), false)).expect("app"),
    );
    let release = kernel_release();
    let (img, log) = build_image_logged(&[
        "--from-oci",
        layout.to_str().expect("utf-8"),
        "--kernel-version",
        &release,
    ]);
    assert!(
        log.contains("runs /usr/bin/ocienv --from-entrypoint cmd-arg"),
        "{log}"
    );
    let mut g = Guest::boot(BootOpts::new(img.path()).nic(Nic::None));
    let line = "argv=/usr/bin/ocienv|--from-entrypoint|cmd-arg cwd=/srv uid=1001 gid=1002 \
                GREETING=hello-oci old=absent motd=v2 cache=b, write=ok end";
    g.expect_line(line, Duration::from_secs(120));
    assert_eq!(
        g.wait_exit(Duration::from_secs(60)),
        Outcome::PoweredOff,
        "{}",
        g.console_tail(2000)
    );
}

/// `nodistro build --from-oci` of a layout whose parts `change` spoils:
/// fails with one line holding `needle`, writes nothing.
fn refused(t: &TempDir, name: &str, needle: &str, make: impl FnOnce(&Path)) {
    let layout = t.path().join(name);
    make(&layout);
    let out = t.path().join(format!("{name}.img"));
    let o = Command::new(release_bin("nodistro"))
        .args(["build", "--drivers", "none", "--from-oci"])
        .arg(&layout)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("run nodistro");
    eprintln!("{name}");
    nodistro_tests::one_line_failure(&o, &[needle]);
    assert_eq!(o.status.code(), Some(1), "{name}");
    assert!(!out.exists(), "{name}: output written");
    let leftovers: Vec<_> = std::fs::read_dir(t.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{name}: {leftovers:?}");
}

#[test]
fn bad_images_get_one_line_and_no_output() {
    let t = TempDir::new("oci-bad");
    let app = std::fs::read(ocienv(t.path(), true)).expect("app");
    let cfg = || json!({"Entrypoint": ["/app"]});
    let one = |extra: E| {
        layer_tar(&[
            E::File("app", &app, 0o755),
            E::File("etc/passwd", b"root:x:0:0::/:\n", 0o644),
            extra,
        ])
    };
    refused(&t, "dotdot", "leads out of the image's root", |d| {
        write_layout(
            d,
            &[(one(E::File("a/../../escape", b"x", 0o644)), true)],
            cfg(),
            "amd64",
        )
    });
    refused(&t, "absolute", "is an absolute path", |d| {
        write_layout(d, &[(one(E::Dir("/etc/x/")), true)], cfg(), "amd64")
    });
    refused(
        &t,
        "ghost",
        "names user \"ghost\", which is not in the image's /etc/passwd",
        |d| {
            write_layout(
                d,
                &[(one(E::Dir("x/")), true)],
                json!({"Entrypoint": ["/app"], "User": "ghost"}),
                "amd64",
            )
        },
    );
    refused(&t, "arm", "is for linux/arm64, not linux/amd64", |d| {
        write_layout(d, &[(one(E::Dir("x/")), true)], cfg(), "arm64")
    });
    refused(&t, "nothing", "neither Entrypoint nor Cmd", |d| {
        write_layout(d, &[(one(E::Dir("x/")), true)], json!({}), "amd64")
    });
    refused(&t, "notinpath", "which is not in the image's PATH", |d| {
        write_layout(
            d,
            &[(one(E::Dir("x/")), true)],
            json!({"Cmd": ["nginx"]}),
            "amd64",
        )
    });
    refused(&t, "corrupt", "corrupt or tampered", |d| {
        write_layout(d, &[(one(E::Dir("x/")), false)], cfg(), "amd64");
        // Flip one byte of the layer blob (the largest blob).
        let blobs = d.join("blobs/sha256");
        let big = std::fs::read_dir(&blobs)
            .expect("blobs")
            .filter_map(|e| e.ok())
            .max_by_key(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
            .expect("a blob");
        let mut b = std::fs::read(big.path()).expect("blob");
        b[600] ^= 1;
        std::fs::write(big.path(), b).expect("write");
    });
    refused(&t, "empty", "not an image", |d| {
        std::fs::create_dir_all(d).expect("dir")
    });
    // A whiteout of a file no lower layer has: a note, and the build goes on.
    let layout = t.path().join("whiteout");
    write_layout(
        &layout,
        &[
            (one(E::Dir("x/")), true),
            (layer_tar(&[E::File("x/.wh.nothing", b"", 0o644)]), true),
        ],
        cfg(),
        "amd64",
    );
    let (_, log) = build_image_logged(&[
        "--from-oci",
        layout.to_str().expect("utf-8"),
        "--drivers",
        "none",
    ]);
    assert!(
        log.contains("layer 2: whiteout of /x/nothing, which no lower layer has; ignored"),
        "{log}"
    );
}

/// podman with this machine's limits: its own storage under `root`, runc
/// (crun refuses hybrid cgroups), no network, the machine's open-file limit.
fn podman(root: &Path) -> Command {
    let mut c = Command::new(require_program("podman", "podman"));
    c.arg("--root")
        .arg(root.join("storage"))
        .arg("--runroot")
        .arg(root.join("run"))
        .args([
            "--storage-driver",
            "vfs",
            "--cgroup-manager",
            "cgroupfs",
            "--runtime",
            "runc",
        ]);
    c
}

#[test]
fn oci_format_runs_under_podman_with_init_and_logfwd() {
    require_program("runc", "runc");
    let skopeo = require_program("skopeo", "skopeo");
    let t = TempDir::new("oci-podman");
    let app = ocienv(t.path(), true);
    let out = t.path().join("ocienv.oci.tar");
    let build = |out: &Path| {
        let o = Command::new(release_bin("nodistro"))
            .args(["build", "--format", "oci", "--app"])
            .arg(&app)
            .args([
                "--arg",
                "one",
                "--env",
                "GREETING=from-flags",
                "--user",
                "svc:4321:4322",
            ])
            .arg("-o")
            .arg(out)
            .output()
            .expect("run nodistro");
        let log = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{log}");
        log
    };
    let log = build(&out);
    assert!(log.contains("entrypoint /init --namespace"), "{log}");
    let again = t.path().join("again.oci.tar");
    build(&again);
    assert!(
        std::fs::read(&out).expect("a") == std::fs::read(&again).expect("b"),
        "--format oci is not reproducible"
    );
    let inspect = run_ok(
        Command::new(skopeo)
            .args(["inspect", "--config"])
            .arg(format!("oci-archive:{}", out.display())),
    );
    let cfg: serde_json::Value = serde_json::from_slice(&inspect.stdout).expect("config json");
    assert_eq!(cfg["config"]["Entrypoint"][0], "/init", "{cfg}");
    assert!(
        cfg["config"]["Entrypoint"]
            .to_string()
            .contains("logfwd=/bin/logfwd"),
        "{cfg}"
    );

    let loaded = run_ok(podman(t.path()).arg("load").arg("-i").arg(&out));
    let text = String::from_utf8_lossy(&loaded.stdout);
    let name = text
        .lines()
        .find_map(|l| l.strip_prefix("Loaded image: "))
        .or_else(|| {
            text.lines()
                .find_map(|l| l.strip_prefix("Loaded image(s): "))
        })
        .unwrap_or_else(|| panic!("podman load said: {text}"))
        .trim()
        .to_string();
    let run = podman(t.path())
        .args(["run", "--rm", "--network", "none"])
        .args([
            "--ulimit",
            "nofile=4096:4096",
            "--ulimit",
            "nproc=4096:4096",
        ])
        .arg(&name)
        .output()
        .expect("podman run");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stdout}{stderr}");
    let all = format!("{stdout}{stderr}");
    assert!(
        all.contains("argv=/app/ocienv-static|one cwd=/ uid=4321 gid=4322 GREETING=from-flags"),
        "{all}"
    );
    // init ran as the container's PID 1 and logfwd carried the app's line.
    assert!(all.contains("init: "), "{all}");
    assert!(all.contains("logfwd"), "{all}");
}
