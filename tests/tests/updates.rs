//! Signed A/B updates with rollback (issue 24), end to end: plain QEMU
//! with OVMF's Secure Boot build and the snakeoil keys, one UEFI variable
//! store and one disk across every boot, releases published by `nodistro
//! publish` into a directory Python's http.server serves (the real static
//! server), pulled by the device over QEMU's user network.
//!
//! v1 boots from the disk and sets up its boot entries; v2 is installed
//! into slot B, tried, blessed, and /data keeps v1's record; v3 (whose app
//! crashes) is tried once and the firmware falls back to v2, and v3 is
//! never installed again; a v4 signed by another key and a replayed v1
//! are refused and reported.

use nodistro_packaging::qemu::image::SNAKEOIL_CERT;
use nodistro_tests::qemu::{BootOpts, Guest, Outcome};
use nodistro_tests::{ed25519_keys, release_bin, require_program, snakeoil_plain_key, TempDir};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const EPOCH: &str = "1700000000";
/// A TCG boot through OVMF with Secure Boot takes 20-40 s on a loaded
/// machine; each wait below is generous.
const WAIT: Duration = Duration::from_secs(300);
/// The guest's update.listen port (`nodistro update --to`).
const PUSH_PORT: u16 = 8081;

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Python's http.server on 127.0.0.1:port serving `dir` (the guest sees
/// the host as 10.0.2.2); killed when dropped.
struct Server(Child);

impl Server {
    fn start(dir: &Path, port: u16) -> Server {
        let child = Command::new(require_program("python3", "python3"))
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3 -m http.server");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "http.server did not listen"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Server(child)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Release {
    dir: TempDir,
    key: PathBuf,
    public: PathBuf,
    other_key: PathBuf,
    sign_key: PathBuf,
    port: u16,
}

impl Release {
    fn new() -> Release {
        let dir = TempDir::new("updates");
        let (key, public) = ed25519_keys(dir.path(), "release");
        let (other_key, _) = ed25519_keys(dir.path(), "stranger");
        let sign_key = snakeoil_plain_key(dir.path());
        std::fs::create_dir_all(dir.path().join("rel")).expect("mkdir rel");
        Release {
            dir,
            key,
            public,
            other_key,
            sign_key,
            port: nodistro_tests::qemu::free_port(),
        }
    }

    /// `nodistro build` of update-app VERSION [crash] in `format`.
    fn build(&self, version: u64, format: &str, app_args: &[&str]) -> PathBuf {
        let out = self.dir.path().join(format!(
            "v{version}.{}",
            if format == "disk" { "img" } else { "efi" }
        ));
        let url = format!("update.url=http://10.0.2.2:{}/", self.port);
        let v = version.to_string();
        let mut args: Vec<String> = vec![
            "build".into(),
            "--app".into(),
            release_bin("update-app").display().to_string(),
            "--arg".into(),
            v.clone(),
        ];
        for a in app_args {
            args.extend(["--arg".into(), a.to_string()]);
        }
        for c in [
            url.as_str(),
            "update.interval=3",
            "update.trial=8",
            "update.listen=8081",
            "init.on_exit=restart",
        ] {
            args.extend(["--config".into(), c.into()]);
        }
        args.extend([
            "--format".into(),
            format.into(),
            "--sign-key".into(),
            self.sign_key.display().to_string(),
            "--sign-cert".into(),
            SNAKEOIL_CERT.into(),
            "--update-key".into(),
            self.public.display().to_string(),
            "--update-version".into(),
            v,
            "-o".into(),
            out.display().to_string(),
        ]);
        // The releases mount the disk's data partition too.
        args.extend(["--data-size".into(), "32M".into()]);
        let o = Command::new(release_bin("nodistro"))
            .args(&args)
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .output()
            .expect("run nodistro build");
        assert!(o.status.success(), "nodistro {args:?}: {}", text(&o));
        out
    }

    /// `nodistro publish` of `image` as `version` into the served directory.
    fn publish(&self, image: &Path, version: u64, key: &Path) {
        let o = Command::new(release_bin("nodistro"))
            .arg("publish")
            .arg("--key")
            .arg(key)
            .arg("--image")
            .arg(image)
            .args(["--version", &version.to_string(), "-o"])
            .arg(self.dir.path().join("rel"))
            .output()
            .expect("run nodistro publish");
        assert!(
            o.status.success(),
            "nodistro publish v{version}: {}",
            text(&o)
        );
    }
}

fn boot(disk: &Path, vars: &Path) -> Guest {
    let o = BootOpts::image(disk)
        .secure_boot()
        .forward(PUSH_PORT)
        .timeout(Duration::from_secs(900));
    Guest::boot(o.efi_vars(vars).memory_mb(512))
}

fn expect(g: &Guest, needle: &str) {
    if let Err(e) = g.wait_for(needle, WAIT) {
        panic!(
            "waiting for {needle:?}: {e}\n--- console tail ---\n{}",
            g.console_tail(60)
        );
    }
}

fn expect_reboot(g: &mut Guest, what: &str) {
    let out = g.wait_exit(WAIT);
    assert_eq!(
        out,
        Outcome::Rebooted,
        "{what}: {out:?}\n{}",
        g.console_tail(40)
    );
}

#[test]
fn v2_installed_and_kept_v3_rolled_back_v4_and_replay_refused() {
    let r = Release::new();
    let disk = r.build(1, "disk", &[]);
    let v2 = r.build(2, "uki", &[]);
    let v3 = r.build(3, "uki", &["crash"]);
    let v4 = r.build(4, "uki", &[]);
    let v1_uki = r.build(1, "uki", &[]);
    let v5 = r.build(5, "uki", &[]);
    r.publish(&v2, 2, &r.key);
    let _server = Server::start(&r.dir.path().join("rel"), r.port);
    let vars = r.dir.path().join("efi-vars.fd");

    // Boot 1: the factory image through the removable-media path.
    let mut g = boot(&disk, &vars);
    expect(&g, "update: boot entries for the A/B slots");
    expect(&g, "UPDATE-APP version 1 history 1");
    expect(&g, "update: version 2 installed in slot B");
    expect_reboot(&mut g, "after installing v2");

    // Boot 2: v2's trial, blessed; /data still holds v1's record.
    let mut g = boot(&disk, &vars);
    expect(&g, "update: trial boot of version 2 in slot B");
    expect(&g, "UPDATE-APP version 2 history 1,2");
    expect(&g, "update: version 2 in slot B blessed");
    r.publish(&v3, 3, &r.key);
    expect(&g, "update: version 3 installed in slot A");
    expect_reboot(&mut g, "after installing v3");

    // Boot 3: v3's app crashes during its trial: init reboots.
    let mut g = boot(&disk, &vars);
    expect(&g, "update: trial boot of version 3 in slot A");
    expect(&g, "UPDATE-APP crashing");
    expect(&g, "during the trial boot of an update: rebooting");
    expect_reboot(&mut g, "after v3's crash");

    // Boot 4: the firmware went back to v2; v3 is not tried again, v4
    // (another key) and a replayed v1 are refused.
    let mut g = boot(&disk, &vars);
    expect(&g, "update: version 3 in slot A failed its trial boot; the firmware went back to slot B (version 2)");
    expect(&g, "UPDATE-APP version 2 history 1,2,3,2");
    expect(
        &g,
        "update: version 3 failed its trial boot here before: not installed again",
    );
    r.publish(&v4, 4, &r.other_key);
    expect(&g, "does not match the update key baked into this image");
    r.publish(&v1_uki, 1, &r.key);
    expect(&g, "update: refused version 1: this machine runs version 2");
    let console = g.console();
    assert!(
        !console.contains("UPDATE-APP version 4"),
        "v4 ran:\n{console}"
    );

    // A push from a development machine (nodistro update --to), checked
    // like a pull: another key's is refused, ours installed.
    let to = format!("http://127.0.0.1:{}", g.host_port(PUSH_PORT));
    let push = |key: &Path| {
        Command::new(release_bin("nodistro"))
            .args(["update", "--to", &to, "--key"])
            .arg(key)
            .arg("--image")
            .arg(&v5)
            .args(["--version", "5"])
            .output()
            .expect("run nodistro update")
    };
    let o = push(&r.other_key);
    assert!(
        !o.status.success() && text(&o).contains("does not match the update key"),
        "a push signed by another key: {}",
        text(&o)
    );
    let o = push(&r.key);
    assert!(
        o.status.success() && text(&o).contains("version 5 installed in slot A"),
        "nodistro update --to: {}",
        text(&o)
    );
    expect_reboot(&mut g, "after the pushed v5");

    // Boot 5: the pushed release's trial, blessed.
    let mut g = boot(&disk, &vars);
    expect(&g, "update: trial boot of version 5 in slot A");
    expect(&g, "UPDATE-APP version 5 history 1,2,3,2,5");
    expect(&g, "update: version 5 in slot A blessed");
    let out = g.power_button(WAIT);
    assert_eq!(out, Outcome::PoweredOff, "{}", g.console_tail(30));
}
