//! Shared harness for the end-to-end tests in `tests/tests/`.
//!
//! Engineers add their own modules here (`pub mod qemu;`, `pub mod netns;`
//! ...); this file holds what every test needs: where the workspace and the
//! release binaries are, and clear failures when a prerequisite is missing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The workspace root (the directory holding the top-level Cargo.toml).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// Where `cargo build --release` puts binaries.
pub fn release_dir() -> PathBuf {
    workspace_root().join("target/x86_64-unknown-linux-gnu/release")
}

/// Environment variable naming a directory that holds the nodistro-box under
/// test (and links init, modload, ... to it), e.g. the libc-free box from
/// `scripts/build-box.sh --libc-free`. Unset: the default box, the static
/// musl one of `scripts/build-box.sh` ([`tools_dir`]). `nodistro build`
/// packs the box from there too.
pub const TOOLS_DIR_ENV: &str = "NODISTRO_TOOLS_DIR";

/// The directory of the box under test: [`TOOLS_DIR_ENV`], else the
/// default box's, which `scripts/build-box.sh` (no switch) builds or
/// freshens once per test process (a no-op when fresh, as in CI where
/// scripts/test.sh builds it first) and prints; `nodistro build` with
/// neither `--tools-dir` nor the variable packs the box from there
/// (`target/x86_64-unknown-linux-musl/release`).
pub fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(TOOLS_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| build_box(&[]))
        .clone()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Run `scripts/build-box.sh ARGS` and take the directory it prints last.
pub fn build_box(args: &[&str]) -> Result<PathBuf, String> {
    let root = workspace_root();
    let out = Command::new("bash")
        .arg(root.join("scripts/build-box.sh"))
        .args(args)
        .current_dir(&root)
        .output()
        .map_err(|e| format!("cannot run scripts/build-box.sh: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    match text.lines().last() {
        Some(dir) if out.status.success() => Ok(root.join(dir.trim())),
        _ => Err(format!(
            "scripts/build-box.sh {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .rev()
                .take(15)
                .collect::<Vec<_>>()
                .join("\n")
        )),
    }
}

/// Run `cmd` to the end; panics, naming the command and quoting its
/// stderr, if it cannot start or exits unsuccessfully. Its output.
pub fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The names of the entries of `dir` that contain `part` (e.g. what a
/// failed build left beside its output).
pub fn names_containing(dir: &Path, part: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(part))
        .collect()
}

/// `nodistro build --app APP -o OUT` and `more` arguments, as an argv
/// (the tables of refused options build on it).
pub fn build_argv<'a>(app: &'a str, out: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["build", "--app", app, "-o", out];
    v.extend_from_slice(more);
    v
}

/// Run the release `nodistro ARGS` and capture its output.
/// A command that must fail with one stderr line holding every one of
/// `needles` (the project's rule for bad input); returns that line.
pub fn one_line_failure(o: &std::process::Output, needles: &[&str]) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "it should have failed:\n{err}");
    assert_eq!(
        err.trim().lines().count(),
        1,
        "one-line error expected:\n{err}"
    );
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err}");
    }
    err
}

/// `nodistro build` of the release demo-app with `nodistro demo`'s modules
/// and `extra`, at SOURCE_DATE_EPOCH=`epoch`.
pub fn build_demo_app(extra: &[&str], epoch: &str) -> std::process::Output {
    let mut cmd = Command::new(release_bin("nodistro"));
    cmd.arg("build").arg("--app").arg(release_bin("demo-app"));
    for m in nodistro_packaging::demo::DEMO_MODULES {
        cmd.args(["--module", m]);
    }
    cmd.args(extra)
        .env("SOURCE_DATE_EPOCH", epoch)
        .output()
        .unwrap_or_else(|e| panic!("cannot run nodistro build: {e}"))
}

pub fn nodistro(args: &[&str]) -> std::process::Output {
    Command::new(release_bin("nodistro"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run nodistro: {e}"))
}

/// Path of a release binary of this workspace (`nodistro`, `nodistro-box`,
/// `demo-app`, `modload`, ...), building the workspace's release binaries once
/// per test process if needed (a no-op when they are fresh, as in CI where
/// scripts/test.sh builds them first). What the box under test's directory
/// ([`tools_dir`]) holds (the box and its tool links) comes from there; the
/// static glibc box of `cargo build --release` is `release_dir()`'s.
pub fn release_bin(name: &str) -> PathBuf {
    let path = tools_dir().join(name);
    if path.exists() {
        return path;
    }
    assert!(
        name != "nodistro-box",
        "{} is missing: {TOOLS_DIR_ENV} must name the directory scripts/build-box.sh printed",
        path.display()
    );
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(workspace_root())
            .args(["build", "--release", "--workspace", "--bins"])
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("cargo build --release failed: {status}"))
        }
    });
    if let Err(e) = built {
        panic!("{e}");
    }
    let path = release_dir().join(name);
    assert!(
        path.is_file(),
        "release binary {} is missing after the build",
        path.display()
    );
    path
}

/// Fail the test with a clear message if `program` is not on PATH.
/// `package` names the Debian package that provides it (scripts/setup.sh
/// installs it).
pub fn require_program(program: &str, package: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .chain(["/usr/sbin".into(), "/sbin".into()])
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    });
    match found {
        Some(p) => p,
        None => panic!(
            "{program} is not installed: install the Debian package {package} (scripts/setup.sh does)"
        ),
    }
}

/// Fail unless running as root (network namespaces, QEMU, module trees).
pub fn require_root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test needs root (network namespaces, mounts); CI runs as root"
    );
}

/// A fresh temporary directory removed on drop, named after the test.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("nodistro-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        if let Err(e) = std::fs::create_dir_all(&path) {
            panic!("cannot create {}: {e}", path.display());
        }
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
pub mod ab;
pub mod logfwd;
pub mod netns;
pub mod qemu;
pub mod runner;
pub mod stats;

/// A free loopback port for both TCP and UDP (bound and released: QEMU's
/// forward or the server under test takes it next). The one free-port
/// helper (`qemu::free_port` and `logfwd::free_port` are this).
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let Ok(t) = std::net::TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(addr) = t.local_addr() else { continue };
        if std::net::UdpSocket::bind(addr).is_ok() {
            return addr.port();
        }
    }
    panic!("no free loopback port for both TCP and UDP on 127.0.0.1");
}

/// Poll `cond` every 20 ms until it holds; panic with `what` after
/// `limit`. For events a test cannot be told about (a file's content).
pub fn wait_until(limit: Duration, what: &str, cond: impl FnMut() -> bool) {
    assert!(
        poll_until(limit, Duration::from_millis(20), cond),
        "{what} within {limit:?}"
    );
}

/// Poll `cond` every `every` until it holds (true) or `limit` has passed
/// (false, after one last look). The one wait loop: [`wait_until`] when
/// a miss fails the test, [`poll_for`] when the wait yields a value.
pub fn poll_until(limit: Duration, every: Duration, mut cond: impl FnMut() -> bool) -> bool {
    poll_for(limit, every, || cond().then_some(())).is_some()
}

/// Poll `f` every `every` until it gives a value; None once `limit` has
/// passed (after one last look).
pub fn poll_for<T>(
    limit: Duration,
    every: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> Option<T> {
    let end = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(every.min(end.saturating_duration_since(Instant::now())));
    }
}

/// A child process (a server, a tool under test) killed with SIGKILL and
/// reaped on drop, so a failing test leaves nothing running.
pub struct ChildGuard(pub Child);

impl ChildGuard {
    pub fn pid(&self) -> rustix::process::Pid {
        rustix::process::Pid::from_child(&self.0)
    }

    pub fn signal(&self, sig: rustix::process::Signal) {
        let _ = rustix::process::kill_process(self.pid(), sig);
    }

    /// Send SIGTERM and wait up to `limit` for the exit; returns whether it
    /// exited in time.
    pub fn terminate(&mut self, limit: Duration) -> bool {
        self.signal(rustix::process::Signal::TERM);
        poll_until(limit, Duration::from_millis(20), || {
            matches!(self.0.try_wait(), Ok(Some(_)))
        })
    }

    /// Still running?
    pub fn alive(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// OVMF's snakeoil signing key without its passphrase, in `dir` (osslsigncode
/// and sbsign would ask for the passphrase).
pub fn snakeoil_plain_key(dir: &Path) -> PathBuf {
    use nodistro_packaging::qemu::image::{SNAKEOIL_KEY, SNAKEOIL_PASSPHRASE};
    let plain = dir.join("snakeoil.key");
    let out = Command::new(require_program("openssl", "openssl"))
        .args(["pkey", "-in", SNAKEOIL_KEY, "-passin"])
        .arg(format!("pass:{SNAKEOIL_PASSPHRASE}"))
        .arg("-out")
        .arg(&plain)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl pkey: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    plain
}

/// A fresh ed25519 key pair made by openssl, as `nodistro publish --key`
/// and `nodistro build --update-key` take them: (private PEM, public PEM).
pub fn ed25519_keys(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let openssl = require_program("openssl", "openssl");
    let key = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub.pem"));
    for args in [
        vec!["genpkey", "-algorithm", "ed25519", "-out"],
        vec!["pkey", "-pubout", "-in"],
    ] {
        let mut cmd = Command::new(&openssl);
        cmd.args(&args).arg(&key);
        if args[0] == "pkey" {
            cmd.arg("-out").arg(&public);
        }
        let out = cmd.output().expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (key, public)
}
