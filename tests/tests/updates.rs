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
//! are refused and reported; a v5 pushed by `nodistro update --to` is
//! installed, tried and blessed (another key's push refused).

use nodistro_tests::ab::{self, expect, expect_reboot, Keys, WAIT};
use nodistro_tests::qemu::{Guest, Outcome};
use nodistro_tests::{ed25519_keys, release_bin, require_program, wait_until, TempDir};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

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
            .args(["-m", "http.server", &port.to_string()])
            .args(["--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3 -m http.server");
        wait_until(Duration::from_secs(20), "http.server listening", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
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
    keys: Keys,
    other_key: PathBuf,
    port: u16,
}

impl Release {
    fn new() -> Release {
        let dir = TempDir::new("updates");
        let keys = Keys::new(dir.path());
        let (other_key, _) = ed25519_keys(dir.path(), "stranger");
        std::fs::create_dir_all(dir.path().join("rel")).expect("mkdir rel");
        Release {
            dir,
            keys,
            other_key,
            port: nodistro_tests::qemu::free_port(),
        }
    }

    /// update-app VERSION [crash] in `format`.
    fn build(&self, version: u64, format: &str, app_args: &[&str]) -> PathBuf {
        let config = [
            "update.interval=3",
            "update.trial=8",
            "update.listen=8081",
            "init.on_exit=restart",
        ];
        ab::build_update_app(
            self.dir.path(),
            &self.keys,
            self.port,
            version,
            format,
            app_args,
            &config,
        )
    }

    fn publish(&self, image: &Path, version: u64, key: &Path) {
        ab::publish(image, version, key, &self.dir.path().join("rel"));
    }
}

fn boot(disk: &Path, vars: &Path) -> Guest {
    ab::boot(disk, vars, &[PUSH_PORT])
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
    r.publish(&v2, 2, &r.keys.release);
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
    r.publish(&v3, 3, &r.keys.release);
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
    r.publish(&v1_uki, 1, &r.keys.release);
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
    let o = push(&r.keys.release);
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
