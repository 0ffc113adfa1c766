//! A running QEMU: console capture, waiting for text, the HMP monitor.

use super::{ConsoleWatch, Outcome, QemuSpec};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

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
    /// QEMU's stdin, the serial console's input (see [`Vm::spawn_with_input`]).
    input: Option<Mutex<ChildStdin>>,
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
    ///
    /// QEMU never reads the terminal itself: it runs in a process group of
    /// its own (so Ctrl-C reaches only this process, see
    /// [`super::host`]), and an interactive console's keys are copied to
    /// its stdin pipe by a thread.
    pub fn spawn(spec: &QemuSpec, interactive: bool, echo: bool) -> Result<Vm, VmError> {
        if !interactive {
            return Self::start(spec, Stdio::null(), echo);
        }
        let mut vm = Self::start(spec, Stdio::piped(), echo)?;
        if let Some(mut to_qemu) = vm.child.stdin.take() {
            std::thread::spawn(move || {
                let mut buf = [0u8; 1024];
                let mut stdin = std::io::stdin().lock();
                loop {
                    match stdin.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if to_qemu.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
        Ok(vm)
    }

    /// Start QEMU with the serial console's input on a pipe: [`Vm::send`]
    /// types on the guest's console.
    pub fn spawn_with_input(spec: &QemuSpec, echo: bool) -> Result<Vm, VmError> {
        let mut vm = Self::start(spec, Stdio::piped(), echo)?;
        vm.input = vm.child.stdin.take().map(Mutex::new);
        Ok(vm)
    }

    /// Type `bytes` on the serial console (a VM from [`Vm::spawn_with_input`]).
    pub fn send(&self, bytes: &[u8]) -> std::io::Result<()> {
        let input = self
            .input
            .as_ref()
            .ok_or_else(|| std::io::Error::other("this VM's console input is not a pipe"))?;
        let mut w = input.lock().unwrap_or_else(|p| p.into_inner());
        w.write_all(bytes)?;
        w.flush()
    }

    fn start(spec: &QemuSpec, stdin: Stdio, echo: bool) -> Result<Vm, VmError> {
        if let Some(m) = &spec.monitor {
            remove_socket(m);
        }
        let mut cmd = if spec.machine == super::Machine::Microvm && spec.tsc_khz.is_none() {
            let mut s = spec.clone();
            s.tsc_khz = std::fs::read_to_string("/proc/cpuinfo")
                .ok()
                .and_then(|t| super::spec::tsc_khz_from_cpuinfo(&t));
            s.command()
        } else {
            spec.command()
        };
        cmd.stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        super::host::set_up_child(&mut cmd);
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
            input: None,
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
    /// UEFI firmware that has nothing left to boot waits for a key
    /// forever: QEMU is killed then ([`Outcome::NoBoot`]).
    pub fn try_outcome(&mut self) -> Option<Outcome> {
        if self.outcome.is_none() {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.outcome = Some(self.classify(status));
            } else if let Some(o) = lock(&self.state).watch.firmware_outcome() {
                self.outcome = Some(o);
            }
            if matches!(self.outcome, Some(Outcome::NoBoot { .. })) {
                self.kill();
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

    /// [`Vm::wait_exit`] that also reads the stop signals on `signals`
    /// ([`super::host::stop_signals`]): the first presses the guest's
    /// power button, and QEMU is killed if it has not exited `grace` later
    /// (or at a second SIGINT): [`Outcome::Killed`]. Each step is said on
    /// stderr.
    pub fn supervise(
        &mut self,
        timeout: Option<Duration>,
        grace: Duration,
        signals: &std::os::fd::OwnedFd,
    ) -> Outcome {
        use crate::core::qemu::stop::{StopAction, StopPolicy};
        let start = Instant::now();
        let mut policy = StopPolicy::new(grace);
        loop {
            if let Some(o) = self.try_outcome() {
                return o;
            }
            let now = start.elapsed();
            let mut actions: Vec<StopAction> = super::host::pending(signals)
                .into_iter()
                .map(|sig| policy.signal(sig, now))
                .collect();
            actions.push(policy.tick(now));
            for a in actions {
                match a {
                    StopAction::None => {}
                    StopAction::PowerDown(sig) => {
                        let name = nodistro_common::signal::name(sig).unwrap_or("a signal");
                        eprintln!(
                            "nodistro run: {name}: pressing the guest's power button; QEMU is killed if it has not powered off in {} s{}",
                            grace.as_secs(),
                            if sig == nodistro_common::signal::SIGINT { " (Ctrl-C again kills it now)" } else { "" }
                        );
                        if let Err(e) = self.monitor("system_powerdown") {
                            eprintln!(
                                "nodistro run: cannot press the power button ({}); waiting out the grace period",
                                nodistro_common::report::chain(&e)
                            );
                        }
                    }
                    StopAction::Kill(sig) => {
                        let name = nodistro_common::signal::name(sig).unwrap_or("a signal");
                        if policy.asked_by() == Some(sig) && sig != nodistro_common::signal::SIGINT
                        {
                            eprintln!("nodistro run: the guest did not power off within {} s of {name}: killing QEMU", grace.as_secs());
                        } else {
                            eprintln!("nodistro run: {name} again: killing QEMU");
                        }
                        // It may have powered off in the meantime.
                        if let Some(o) = self.try_outcome() {
                            return o;
                        }
                        self.kill();
                        self.outcome = Some(Outcome::Killed(sig));
                        return Outcome::Killed(sig);
                    }
                }
            }
            if timeout.is_some_and(|t| start.elapsed() >= t) {
                self.kill();
                self.outcome = Some(Outcome::TimedOut);
                return Outcome::TimedOut;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The app's exit status as init reported it on the console before the
    /// power-off (see [`super::ConsoleWatch::app_status`]).
    pub fn app_status(&self) -> Option<i32> {
        lock(&self.state).watch.app_status
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

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> QemuSpec {
        QemuSpec::new("/k/vmlinux".into(), "/i/init,rd.cpio".into())
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
