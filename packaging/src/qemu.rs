//! `nodistro run` and the one QEMU launcher everything uses (the `run`
//! command, `nodistro demo` and the end-to-end test harness).
//!
//! - [`QemuSpec`] turns options into a qemu-system-x86_64 command line
//!   (TCG unless KVM is asked for, serial console on stdio, `-no-reboot`,
//!   user-mode networking with host forwards, an HMP monitor on a unix
//!   socket).
//! - [`ConsoleWatch`] is the sans-IO part: fed console bytes, it notices the
//!   kernel's "Power down", "Restarting system" and "Kernel panic" lines, so
//!   a clean power-off can be told from a panic (both end QEMU with status 0
//!   under `-no-reboot panic=-1`).
//! - [`Vm`] runs QEMU, captures the console into a buffer (optionally echoed
//!   live), waits for text, talks to the monitor, and kills QEMU on drop.

pub mod http;

use argh::FromArgs;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Kernel arguments every boot gets: the console on the first serial port
/// (QEMU's stdio) and an immediate reboot on panic, which `-no-reboot`
/// turns into QEMU exiting instead of hanging.
pub const BASE_APPEND: &str = "console=ttyS0 panic=-1";

/// The emulated network card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nic {
    Virtio,
    E1000,
    None,
}

impl std::str::FromStr for Nic {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "virtio" | "virtio-net" => Ok(Nic::Virtio),
            "e1000" => Ok(Nic::E1000),
            "none" => Ok(Nic::None),
            _ => Err(format!("unknown NIC {s:?}: use virtio, e1000 or none")),
        }
    }
}

/// QEMU's accelerator. KVM hangs on the machines this was built on: TCG is
/// the default and KVM an explicit choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    Tcg,
    Kvm,
}

impl std::str::FromStr for Accel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "tcg" => Ok(Accel::Tcg),
            "kvm" => Ok(Accel::Kvm),
            _ => Err(format!("unknown accelerator {s:?}: use tcg or kvm")),
        }
    }
}

/// A host port forwarded to a guest TCP port (host side on 127.0.0.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forward {
    pub host: u16,
    pub guest: u16,
    /// The guest address to reach (default: QEMU's first DHCP address,
    /// 10.0.2.15); for a guest configured with a static `ip=`.
    pub guest_addr: Option<std::net::Ipv4Addr>,
}

impl std::str::FromStr for Forward {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("bad forward {s:?}: use HOSTPORT:GUESTPORT, e.g. 8080:8080");
        let (h, g) = s.split_once(':').ok_or_else(bad)?;
        Ok(Forward {
            host: h.parse().map_err(|_| bad())?,
            guest: g.parse().map_err(|_| bad())?,
            guest_addr: None,
        })
    }
}

/// Everything that goes on QEMU's command line.
#[derive(Debug, Clone)]
pub struct QemuSpec {
    /// The QEMU binary (`qemu-system-x86_64`).
    pub qemu: PathBuf,
    /// What QEMU loads with `-kernel` (a bzImage or an uncompressed vmlinux).
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    /// Arguments after [`BASE_APPEND`].
    pub append: Vec<String>,
    pub memory_mb: u32,
    pub nic: Nic,
    pub forwards: Vec<Forward>,
    pub accel: Accel,
    /// Path of the HMP monitor's unix socket.
    pub monitor: Option<PathBuf>,
}

impl QemuSpec {
    /// Defaults: TCG, 256 MB, virtio NIC, no forwards, no monitor.
    pub fn new(kernel: PathBuf, initrd: PathBuf) -> Self {
        QemuSpec {
            qemu: PathBuf::from("qemu-system-x86_64"),
            kernel,
            initrd,
            append: Vec::new(),
            memory_mb: 256,
            nic: Nic::Virtio,
            forwards: Vec::new(),
            accel: Accel::Tcg,
            monitor: None,
        }
    }

    /// The full kernel command line.
    pub fn append_line(&self) -> String {
        let mut line = BASE_APPEND.to_string();
        for a in &self.append {
            line.push(' ');
            line.push_str(a);
        }
        line
    }

    /// QEMU's arguments (without the program name).
    pub fn args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = Vec::new();
        let mut push = |s: &str| a.push(s.into());
        push("-nodefaults");
        push("-no-user-config");
        push("-display");
        push("none");
        push("-accel");
        push(match self.accel {
            Accel::Tcg => "tcg",
            Accel::Kvm => "kvm",
        });
        push("-m");
        push(&self.memory_mb.to_string());
        push("-no-reboot");
        // The serial console on stdio; Ctrl-C in a terminal ends QEMU.
        push("-chardev");
        push("stdio,id=console,signal=on");
        push("-serial");
        push("chardev:console");
        match self.nic {
            Nic::None => {
                push("-nic");
                push("none");
            }
            nic => {
                let model = if nic == Nic::Virtio {
                    "virtio-net-pci"
                } else {
                    "e1000"
                };
                let mut opt = format!("user,model={model}");
                for f in &self.forwards {
                    let to = f.guest_addr.map(|a| a.to_string()).unwrap_or_default();
                    opt.push_str(&format!(
                        ",hostfwd=tcp:127.0.0.1:{}-{to}:{}",
                        f.host, f.guest
                    ));
                }
                push("-nic");
                push(&opt);
            }
        }
        if let Some(m) = &self.monitor {
            push("-monitor");
            let mut opt = OsString::from("unix:");
            opt.push(escape_commas(m));
            opt.push(",server=on,wait=off");
            a.push(opt);
        }
        a.push("-kernel".into());
        a.push(escape_commas(&self.kernel));
        a.push("-initrd".into());
        a.push(escape_commas(&self.initrd));
        a.push("-append".into());
        a.push(self.append_line().into());
        a
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.qemu);
        c.args(self.args());
        c
    }
}

/// QEMU option values use `,` as a separator; a literal comma is doubled.
fn escape_commas(p: &Path) -> OsString {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let mut out = Vec::new();
    for &b in p.as_os_str().as_bytes() {
        out.push(b);
        if b == b',' {
            out.push(b',');
        }
    }
    OsString::from_vec(out)
}

/// What the kernel said about how it stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsoleWatch {
    carry: Vec<u8>,
    pub powered_off: bool,
    pub restarted: bool,
    pub halted: bool,
    pub panicked: bool,
}

const PANIC: &[u8] = b"Kernel panic - not syncing";
const POWER_DOWN: &[u8] = b"reboot: Power down";
const RESTART: &[u8] = b"reboot: Restarting system";
const HALT: &[u8] = b"reboot: System halted";

impl ConsoleWatch {
    /// Feed console bytes; needles split across chunks are still seen.
    pub fn feed(&mut self, chunk: &[u8]) {
        let keep = PANIC.len().max(RESTART.len());
        self.carry.extend_from_slice(chunk);
        let hay = &self.carry;
        let has = |n: &[u8]| hay.windows(n.len()).any(|w| w == n);
        self.panicked |= has(PANIC);
        self.powered_off |= has(POWER_DOWN);
        self.restarted |= has(RESTART);
        self.halted |= has(HALT);
        if self.carry.len() > keep {
            let cut = self.carry.len() - keep;
            self.carry.drain(..cut);
        }
    }
}

/// How a QEMU run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The guest powered off (the kernel printed "reboot: Power down").
    PoweredOff,
    /// The kernel panicked.
    Panicked,
    /// The guest rebooted (QEMU stops instead, `-no-reboot`).
    Rebooted,
    /// The guest halted without powering off (QEMU was then stopped).
    Halted,
    /// QEMU ended without the guest saying why (a signal, `quit`).
    Stopped,
    /// QEMU itself failed (bad option, missing file: see its stderr).
    QemuFailed(Option<i32>),
    /// The timeout passed; QEMU was killed.
    TimedOut,
}

impl Outcome {
    pub fn classify(status: ExitStatus, watch: &ConsoleWatch) -> Outcome {
        if watch.panicked {
            Outcome::Panicked
        } else if !status.success() {
            Outcome::QemuFailed(status.code())
        } else if watch.powered_off {
            Outcome::PoweredOff
        } else if watch.restarted {
            Outcome::Rebooted
        } else if watch.halted {
            Outcome::Halted
        } else {
            Outcome::Stopped
        }
    }

    /// The exit code of `nodistro run`: 0 only for a clean power-off.
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::PoweredOff => 0,
            Outcome::QemuFailed(_) => 1,
            Outcome::Panicked => 3,
            Outcome::Rebooted => 4,
            Outcome::Halted | Outcome::Stopped => 5,
            Outcome::TimedOut => 124,
        }
    }

    /// One line for a person.
    pub fn describe(self) -> String {
        match self {
            Outcome::PoweredOff => "the guest powered off cleanly".into(),
            Outcome::Panicked => "the guest kernel panicked (see the console above)".into(),
            Outcome::Rebooted => "the guest rebooted; QEMU stopped (-no-reboot)".into(),
            Outcome::Halted => "the guest halted without powering off".into(),
            Outcome::Stopped => "QEMU stopped without the guest powering off".into(),
            Outcome::QemuFailed(c) => format!(
                "qemu-system-x86_64 failed (exit status {}); see its message above",
                c.map_or("signal".to_string(), |c| c.to_string())
            ),
            Outcome::TimedOut => "the timeout passed; QEMU was killed".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VmError {
    #[error("cannot start {}: install qemu-system-x86 (apt-get install qemu-system-x86)", .0.display())]
    Spawn(PathBuf, #[source] std::io::Error),
    #[error("cannot talk to the QEMU monitor at {}", .0.display())]
    Monitor(PathBuf, #[source] std::io::Error),
    #[error("this VM has no monitor socket")]
    NoMonitor,
}

/// The console text so far and what the watcher saw.
#[derive(Default)]
struct ConsoleState {
    text: Vec<u8>,
    watch: ConsoleWatch,
    /// Both of QEMU's output pipes are closed.
    closed: u8,
    /// Bytes dropped from the front of `text` (see [`CONSOLE_CAP`]), so
    /// offsets stay absolute.
    dropped: usize,
}

type Shared = Arc<(Mutex<ConsoleState>, Condvar)>;

/// Keep at most this much console text (the oldest half goes first).
const CONSOLE_CAP: usize = 16 << 20;

/// A running QEMU.
pub struct Vm {
    child: Child,
    state: Shared,
    monitor: Option<PathBuf>,
    outcome: Option<Outcome>,
}

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, ConsoleState> {
    // A reader thread cannot panic while holding the lock in practice;
    // if it did, the data is still usable.
    s.0.lock().unwrap_or_else(|p| p.into_inner())
}

impl Vm {
    /// Start QEMU. Its stdin is inherited when `interactive` (the console
    /// takes keyboard input), null otherwise. With `echo`, console output is
    /// also copied live to this process's stdout (and QEMU's stderr to
    /// stderr).
    pub fn spawn(spec: &QemuSpec, interactive: bool, echo: bool) -> Result<Vm, VmError> {
        if let Some(m) = &spec.monitor {
            remove_socket(m);
        }
        let mut cmd = spec.command();
        cmd.stdin(if interactive {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| VmError::Spawn(spec.qemu.clone(), e))?;
        let state: Shared = Arc::default();
        if let Some(out) = child.stdout.take() {
            pump(out, state.clone(), echo, true);
        }
        if let Some(err) = child.stderr.take() {
            pump(err, state.clone(), echo, false);
        }
        Ok(Vm {
            child,
            state,
            monitor: spec.monitor.clone(),
            outcome: None,
        })
    }

    /// The console so far (QEMU's own stderr lines included).
    pub fn console(&self) -> String {
        String::from_utf8_lossy(&lock(&self.state).text).into_owned()
    }

    /// The last `n` bytes of the console, for error messages.
    pub fn console_tail(&self, n: usize) -> String {
        let st = lock(&self.state);
        let start = st.text.len().saturating_sub(n);
        String::from_utf8_lossy(&st.text[start..]).into_owned()
    }

    /// How many console bytes have arrived so far: an offset for
    /// [`Vm::wait_for_from`].
    pub fn console_len(&self) -> usize {
        let st = lock(&self.state);
        st.dropped + st.text.len()
    }

    /// Wait until `needle` is on the console. The error says why not
    /// (timeout or QEMU gone) and carries the console's tail.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> Result<(), String> {
        self.wait_for_from(0, needle, timeout)
    }

    /// [`Vm::wait_for`], looking only at what arrived after `offset` (a
    /// [`Vm::console_len`] taken earlier).
    pub fn wait_for_from(
        &self,
        offset: usize,
        needle: &str,
        timeout: Duration,
    ) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let n = needle.as_bytes();
        if n.is_empty() {
            return Ok(());
        }
        let mut st = lock(&self.state);
        loop {
            let from = offset.saturating_sub(st.dropped).min(st.text.len());
            if st.text[from..].windows(n.len()).any(|w| w == n) {
                return Ok(());
            }
            let why = if st.closed >= 2 {
                "QEMU exited first"
            } else if Instant::now() >= deadline {
                "timed out"
            } else {
                let left = deadline.saturating_duration_since(Instant::now());
                st = self
                    .state
                    .1
                    .wait_timeout(st, left.min(Duration::from_millis(200)))
                    .map(|(g, _)| g)
                    .unwrap_or_else(|p| p.into_inner().0);
                continue;
            };
            let start = st.text.len().saturating_sub(3000);
            return Err(format!(
                "{needle:?} did not appear on the console after {:.1} s ({why}); console tail:\n{}",
                timeout.as_secs_f64(),
                String::from_utf8_lossy(&st.text[start..])
            ));
        }
    }

    /// Send one HMP command (`system_powerdown`, `info network`) and return
    /// its output. Retries the connection for a few seconds while QEMU
    /// creates the socket.
    pub fn monitor(&self, command: &str) -> Result<String, VmError> {
        let path = self.monitor.as_ref().ok_or(VmError::NoMonitor)?;
        let err = |e| VmError::Monitor(path.clone(), e);
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut sock = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(e) if Instant::now() >= deadline => return Err(err(e)),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        sock.set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(err)?;
        let mut got = Vec::new();
        read_until_prompts(&mut sock, &mut got, 1).map_err(err)?;
        let banner = got.len();
        sock.write_all(format!("{command}\n").as_bytes())
            .map_err(err)?;
        read_until_prompts(&mut sock, &mut got, 2).map_err(err)?;
        Ok(clean_hmp(&got[banner..], command))
    }

    /// Whether QEMU has exited (without waiting).
    pub fn try_outcome(&mut self) -> Option<Outcome> {
        if self.outcome.is_none() {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.outcome = Some(self.classify(status));
            }
        }
        self.outcome
    }

    fn classify(&self, status: ExitStatus) -> Outcome {
        // Let the reader threads drain the pipes so the last console lines
        // (the "Power down" one) are seen.
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut st = lock(&self.state);
        while st.closed < 2 && Instant::now() < deadline {
            st = self
                .state
                .1
                .wait_timeout(st, Duration::from_millis(50))
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        Outcome::classify(status, &st.watch)
    }

    /// Wait for QEMU to exit; after `timeout` (if any), kill it and return
    /// [`Outcome::TimedOut`].
    pub fn wait_exit(&mut self, timeout: Option<Duration>) -> Outcome {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if let Some(o) = self.try_outcome() {
                return o;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                self.kill();
                self.outcome = Some(Outcome::TimedOut);
                return Outcome::TimedOut;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kill QEMU (no-op when it has exited).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// QEMU's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        self.kill();
        if let Some(m) = &self.monitor {
            remove_socket(m);
        }
    }
}

/// Remove a stale monitor socket; never anything that is not a socket.
fn remove_socket(path: &Path) {
    use std::os::unix::fs::FileTypeExt;
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        let _ = std::fs::remove_file(path);
    }
}

/// Copy one of QEMU's pipes into the shared console, optionally echoing.
fn pump(mut from: impl Read + Send + 'static, state: Shared, echo: bool, is_stdout: bool) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let chunk = &buf[..n];
            if echo {
                // A closed stdout must not stop the capture.
                let _ = if is_stdout {
                    let mut o = std::io::stdout().lock();
                    o.write_all(chunk).and_then(|()| o.flush())
                } else {
                    std::io::stderr().lock().write_all(chunk)
                };
            }
            let mut st = lock(&state);
            if is_stdout {
                st.watch.feed(chunk);
            }
            st.text.extend_from_slice(chunk);
            if st.text.len() > CONSOLE_CAP {
                st.text.drain(..CONSOLE_CAP / 2);
                st.dropped += CONSOLE_CAP / 2;
            }
            drop(st);
            state.1.notify_all();
        }
        lock(&state).closed += 1;
        state.1.notify_all();
    });
}

/// Read from the monitor until `count` prompts `(qemu) ` have arrived.
fn read_until_prompts(
    sock: &mut UnixStream,
    got: &mut Vec<u8>,
    count: usize,
) -> std::io::Result<()> {
    let prompt = b"(qemu) ";
    let mut buf = [0u8; 4096];
    while got.windows(prompt.len()).filter(|w| w == prompt).count() < count {
        let n = sock.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        got.extend_from_slice(&buf[..n]);
    }
    Ok(())
}

/// HMP output without terminal escapes, the echoed command and the prompt.
fn clean_hmp(raw: &[u8], command: &str) -> String {
    let mut out = String::new();
    let text = String::from_utf8_lossy(raw);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ params final-byte
            if chars.peek() == Some(&'[') {
                chars.next();
                for f in chars.by_ref() {
                    if f.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else if c != '\r' {
            out.push(c);
        }
    }
    out.lines()
        .filter(|l| !l.starts_with("(qemu)") && l.trim() != command)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A fresh path for a monitor socket in the temporary directory.
pub fn temp_monitor_path(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("nodistro-{tag}-{}-{n}.monitor", std::process::id()))
}

/// boot a kernel and initramfs under QEMU (serial console on stdio)
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "run")]
pub struct RunArgs {
    /// the kernel (default: the newest /boot/vmlinuz-*); an xz bzImage is
    /// booted from a cached uncompressed copy, much faster under TCG
    #[argh(option)]
    pub kernel: Option<PathBuf>,
    /// the initramfs to boot
    #[argh(option)]
    pub initrd: PathBuf,
    /// boot the kernel file exactly as given (no uncompressed cache)
    #[argh(switch)]
    pub raw_kernel: bool,
    /// extra kernel command-line argument (repeatable); always present:
    /// "console=ttyS0 panic=-1"
    #[argh(option)]
    pub append: Vec<String>,
    /// guest memory in MB (default 256)
    #[argh(option, default = "256")]
    pub memory: u32,
    /// network card: virtio (default), e1000 or none
    #[argh(option, default = "Nic::Virtio")]
    pub nic: Nic,
    /// forward host 127.0.0.1:HOST to guest TCP port GUEST (repeatable)
    #[argh(option)]
    pub forward: Vec<Forward>,
    /// accelerator: tcg (default) or kvm
    #[argh(option, default = "Accel::Tcg")]
    pub accel: Accel,
    /// kill QEMU after this many seconds and exit 124
    #[argh(option)]
    pub timeout: Option<u64>,
    /// path of the HMP monitor socket (default: a temporary path);
    /// e.g. `echo system_powerdown | socat - UNIX-CONNECT:PATH`
    #[argh(option)]
    pub monitor: Option<PathBuf>,
}

/// The kernel QEMU should load for `given` (default: the newest in /boot).
pub fn resolve_kernel(
    given: Option<&Path>,
    raw: bool,
) -> Result<PathBuf, crate::kernel::KernelError> {
    let vmlinuz = match given {
        Some(k) => k.to_path_buf(),
        None => crate::kernel::find_kernel()?,
    };
    if raw {
        Ok(vmlinuz)
    } else {
        crate::kernel::boot_kernel(&vmlinuz)
    }
}

/// Run the subcommand; returns the exit code (0: clean power-off).
pub fn main(args: RunArgs) -> i32 {
    use nodistro_common::report::fail;
    let kernel = match resolve_kernel(args.kernel.as_deref(), args.raw_kernel) {
        Ok(k) => k,
        Err(e) => return fail("nodistro run", &e, 1),
    };
    if !args.initrd.is_file() {
        eprintln!(
            "nodistro run: error: initramfs {} not found: build one with `nodistro build`",
            args.initrd.display()
        );
        return 1;
    }
    let mut spec = QemuSpec::new(kernel, args.initrd);
    spec.append = args.append;
    spec.memory_mb = args.memory;
    spec.nic = args.nic;
    spec.forwards = args.forward;
    spec.accel = args.accel;
    if let Some(m) = &args.monitor {
        use std::os::unix::fs::FileTypeExt;
        // QEMU unlinks the path before it binds: never let it take a file.
        if std::fs::symlink_metadata(m).is_ok_and(|md| !md.file_type().is_socket()) {
            eprintln!(
                "nodistro run: error: --monitor {} exists and is not a socket; choose a new path",
                m.display()
            );
            return 2;
        }
    }
    spec.monitor = Some(args.monitor.unwrap_or_else(|| temp_monitor_path("run")));
    let mut vm = match Vm::spawn(&spec, true, true) {
        Ok(vm) => vm,
        Err(e) => return fail("nodistro run", &e, 1),
    };
    let outcome = vm.wait_exit(args.timeout.map(Duration::from_secs));
    eprintln!("nodistro run: {}", outcome.describe());
    outcome.exit_code()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> QemuSpec {
        QemuSpec::new("/k/vmlinux".into(), "/i/init,rd.cpio".into())
    }

    fn joined(s: &QemuSpec) -> String {
        s.args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn command_line_defaults() {
        let line = joined(&spec());
        assert!(line.contains("-accel tcg"), "{line}");
        assert!(line.contains("-no-reboot"));
        assert!(line.contains("-m 256"));
        assert!(line.contains("-serial chardev:console"));
        assert!(line.contains("-nic user,model=virtio-net-pci "));
        assert!(line.contains("-kernel /k/vmlinux"));
        assert!(line.contains("-initrd /i/init,,rd.cpio"), "commas doubled");
        assert!(line.ends_with("-append console=ttyS0 panic=-1"));
        assert!(!line.contains("-monitor"));
    }

    #[test]
    fn command_line_options() {
        let mut s = spec();
        s.nic = Nic::E1000;
        s.accel = Accel::Kvm;
        s.memory_mb = 512;
        s.forwards = vec![
            "8080:80".parse().expect("forward"),
            Forward {
                host: 1,
                guest: 2,
                guest_addr: Some([10, 0, 2, 77].into()),
            },
        ];
        s.append = vec!["ip=dhcp".into(), "init.on_exit=reboot".into()];
        s.monitor = Some("/run/m.sock".into());
        let line = joined(&s);
        assert!(line.contains("-accel kvm"));
        assert!(line.contains("-m 512"));
        assert!(line.contains(
            "-nic user,model=e1000,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=tcp:127.0.0.1:1-10.0.2.77:2 "
        ));
        assert!(line.contains("-monitor unix:/run/m.sock,server=on,wait=off"));
        assert!(line.ends_with("console=ttyS0 panic=-1 ip=dhcp init.on_exit=reboot"));
        s.nic = Nic::None;
        assert!(joined(&s).contains("-nic none"));
    }

    #[test]
    fn parse_options() {
        assert_eq!("e1000".parse(), Ok(Nic::E1000));
        assert!("rtl8139".parse::<Nic>().is_err());
        assert_eq!("kvm".parse(), Ok(Accel::Kvm));
        assert_eq!(
            "1:2".parse(),
            Ok(Forward {
                host: 1,
                guest: 2,
                guest_addr: None
            })
        );
        assert!("8080".parse::<Forward>().is_err());
        assert!("a:1".parse::<Forward>().is_err());
        assert!("70000:1".parse::<Forward>().is_err());
    }

    #[test]
    fn watch_sees_split_needles() {
        let mut w = ConsoleWatch::default();
        w.feed(b"[    3.1] reboot: Pow");
        assert!(!w.powered_off);
        w.feed(b"er down\r\n");
        assert!(w.powered_off && !w.panicked);
        let mut w = ConsoleWatch::default();
        for b in b"x Kernel panic - not syncing: Attempted to kill init!" {
            w.feed(&[*b]);
        }
        assert!(w.panicked);
        let mut w = ConsoleWatch::default();
        w.feed(b"reboot: Restarting system\n");
        assert!(w.restarted && !w.powered_off);
    }

    #[test]
    fn outcome_from_status_and_console() {
        use std::os::unix::process::ExitStatusExt;
        let ok = ExitStatus::from_raw(0);
        let bad = ExitStatus::from_raw(1 << 8);
        let mut w = ConsoleWatch::default();
        assert_eq!(Outcome::classify(ok, &w), Outcome::Stopped);
        assert_eq!(Outcome::classify(bad, &w), Outcome::QemuFailed(Some(1)));
        w.feed(b"reboot: Power down\n");
        assert_eq!(Outcome::classify(ok, &w), Outcome::PoweredOff);
        assert_eq!(Outcome::PoweredOff.exit_code(), 0);
        w.feed(b"Kernel panic - not syncing: x\nreboot: Restarting system\n");
        assert_eq!(Outcome::classify(ok, &w), Outcome::Panicked);
        assert_ne!(Outcome::Panicked.exit_code(), 0);
        assert_eq!(Outcome::TimedOut.exit_code(), 124);
    }

    /// The capture machinery on a stand-in for QEMU: `echo` prints the
    /// arguments it gets and exits.
    #[test]
    fn vm_captures_waits_and_classifies() {
        let mut s = spec();
        s.qemu = "echo".into();
        let mut vm = Vm::spawn(&s, false, false).expect("spawn echo");
        vm.wait_for("-no-reboot", Duration::from_secs(10))
            .expect("the line echo printed");
        assert_eq!(
            vm.wait_exit(Some(Duration::from_secs(10))),
            Outcome::Stopped
        );
        let len = vm.console_len();
        assert!(vm.console().contains("-append console=ttyS0 panic=-1"));
        let err = vm
            .wait_for_from(len, "-no-reboot", Duration::from_secs(10))
            .expect_err("nothing after the end");
        assert!(err.contains("QEMU exited first"), "{err}");
        assert!(vm.monitor("info status").is_err(), "no monitor configured");
        let mut bad = spec();
        bad.qemu = "/nonexistent/qemu-system-x86_64".into();
        let e = Vm::spawn(&bad, false, false).err().expect("spawn fails");
        assert!(e.to_string().contains("qemu-system-x86"), "{e}");
    }

    #[test]
    fn hmp_output_is_cleaned() {
        let raw = b"system_powerdown\r\n\x1b[K(qemu) ";
        assert_eq!(clean_hmp(raw, "system_powerdown"), "");
        let raw = b"info status\r\nVM status: running\r\n(qemu) ";
        assert_eq!(clean_hmp(raw, "info status"), "VM status: running");
    }
}
