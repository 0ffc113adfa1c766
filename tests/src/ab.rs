//! The A/B update tests' plumbing (issue 24): releases of `update-app`
//! built, signed for Secure Boot and for the update tool, and a disk booted
//! again and again with one UEFI variable store.

use crate::qemu::{BootOpts, Guest, Outcome};
use crate::{ed25519_keys, release_bin, snakeoil_plain_key};
use nodistro_packaging::qemu::image::SNAKEOIL_CERT;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A TCG boot through OVMF with Secure Boot takes 20-40 s on a loaded
/// machine; each wait is generous.
pub const WAIT: Duration = Duration::from_secs(300);
const EPOCH: &str = "1700000000";

/// The keys of a release line: the ed25519 pair the update tool trusts
/// and the snakeoil key Secure Boot trusts.
pub struct Keys {
    pub release: PathBuf,
    pub public: PathBuf,
    pub sign_key: PathBuf,
}

impl Keys {
    pub fn new(dir: &Path) -> Keys {
        let (release, public) = ed25519_keys(dir, "release");
        Keys {
            release,
            public,
            sign_key: snakeoil_plain_key(dir),
        }
    }
}

/// `nodistro build` of `update-app VERSION APP_ARGS...` in `format` (disk:
/// the factory image; uki: a release), pulling from the host's `port`,
/// with `config` lines; every build mounts the disk's data partition.
pub fn build_update_app(
    dir: &Path,
    keys: &Keys,
    port: u16,
    version: u64,
    format: &str,
    app_args: &[&str],
    config: &[&str],
) -> PathBuf {
    let ext = if format == "disk" { "img" } else { "efi" };
    let out = dir.join(format!("v{version}{}.{ext}", app_args.join("-")));
    let v = version.to_string();
    let url = format!("update.url=http://10.0.2.2:{port}/");
    let mut cmd = Command::new(release_bin("nodistro"));
    cmd.arg("build")
        .arg("--app")
        .arg(release_bin("update-app"))
        .args(["--arg", &v]);
    for a in app_args {
        cmd.args(["--arg", a]);
    }
    for c in std::iter::once(url.as_str()).chain(config.iter().copied()) {
        cmd.args(["--config", c]);
    }
    cmd.args(["--format", format, "--sign-key"])
        .arg(&keys.sign_key)
        .args(["--sign-cert", SNAKEOIL_CERT, "--update-key"])
        .arg(&keys.public)
        .args(["--update-version", &v, "--data-size", "32M", "-o"])
        .arg(&out)
        .env("SOURCE_DATE_EPOCH", EPOCH);
    let o = cmd.output().expect("run nodistro build");
    assert!(
        o.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// `nodistro publish` of `image` as `version` into `to`, signed by `key`.
pub fn publish(image: &Path, version: u64, key: &Path, to: &Path) {
    let o = Command::new(release_bin("nodistro"))
        .arg("publish")
        .arg("--key")
        .arg(key)
        .arg("--image")
        .arg(image)
        .args(["--version", &version.to_string(), "-o"])
        .arg(to)
        .output()
        .expect("run nodistro publish");
    assert!(
        o.status.success(),
        "nodistro publish v{version}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Boot `disk` under Secure Boot with the variable store `vars`
/// (`forwards`: guest ports).
pub fn boot(disk: &Path, vars: &Path, forwards: &[u16]) -> Guest {
    let mut o = BootOpts::image(disk)
        .secure_boot()
        .efi_vars(vars)
        .memory_mb(512)
        .timeout(Duration::from_secs(900));
    for &p in forwards {
        o = o.forward(p);
    }
    Guest::boot(o)
}

/// Wait for `needle` on the console, or panic with the console's tail.
pub fn expect(g: &Guest, needle: &str) {
    if let Err(e) = g.wait_for(needle, WAIT) {
        panic!(
            "waiting for {needle:?}: {e}\n--- console tail ---\n{}",
            g.console_tail(60)
        );
    }
}

/// Wait for the guest to reboot (QEMU stops: `-no-reboot`).
pub fn expect_reboot(g: &mut Guest, what: &str) {
    let out = g.wait_exit(WAIT);
    assert_eq!(
        out,
        Outcome::Rebooted,
        "{what}: {out:?}\n{}",
        g.console_tail(40)
    );
}
