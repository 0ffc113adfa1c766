//! `nodistro run` as a user runs it: a child process whose console
//! (stdout) and messages (stderr) are captured as they come, that can be
//! sent signals, and whose QEMU can be found. Dropping it SIGKILLs the
//! runner, and its QEMU dies with it (PR_SET_PDEATHSIG), so a failing
//! test leaves no QEMU behind.

use crate::{release_bin, ChildGuard};
use std::io::Read;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Buf = Arc<Mutex<Vec<u8>>>;

pub struct Runner {
    child: ChildGuard,
    out: Buf,
    err: Buf,
    /// The threads reading stdout and stderr, done at their EOF.
    pumps: Vec<std::thread::JoinHandle<()>>,
}

fn pump(mut from: impl Read + Send + 'static) -> (Buf, std::thread::JoinHandle<()>) {
    let buf: Buf = Arc::default();
    let to = buf.clone();
    let handle = std::thread::spawn(move || {
        let mut b = [0u8; 8192];
        while let Ok(n) = from.read(&mut b) {
            if n == 0 {
                break;
            }
            to.lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(&b[..n]);
        }
    });
    (buf, handle)
}

fn text(b: &Buf) -> String {
    String::from_utf8_lossy(&b.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
}

impl Runner {
    /// Start `nodistro run --initrd IMG ARGS`.
    pub fn start(initrd: &Path, args: &[&str]) -> Runner {
        let mut child = Command::new(release_bin("nodistro"))
            .arg("run")
            .arg("--initrd")
            .arg(initrd)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start nodistro run: {e}"));
        let (out, p1) = pump(child.stdout.take().expect("stdout pipe"));
        let (err, p2) = pump(child.stderr.take().expect("stderr pipe"));
        Runner {
            child: ChildGuard(child),
            out,
            err,
            pumps: vec![p1, p2],
        }
    }

    pub fn console(&self) -> String {
        text(&self.out)
    }

    pub fn messages(&self) -> String {
        text(&self.err)
    }

    /// Wait for `needle` on the console; panics with both streams after
    /// `limit`.
    pub fn wait_console(&self, needle: &str, limit: Duration) {
        let seen = crate::poll_until(limit, Duration::from_millis(50), || {
            self.console().contains(needle)
        });
        assert!(
            seen,
            "{needle:?} not on the console within {limit:?}:\n{}\n{}",
            self.console(),
            self.messages()
        );
    }

    pub fn signal(&self, sig: rustix::process::Signal) {
        self.child.signal(sig);
    }

    /// Wait up to `limit` for the runner to exit.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let child = &mut self.child.0;
        let st = crate::poll_for(limit, Duration::from_millis(50), || {
            child.try_wait().ok().flatten()
        });
        let st = st.unwrap_or_else(|| {
            panic!(
                "nodistro run still running after {limit:?}:\n{}",
                self.messages()
            )
        });
        // Its last lines may still be in the pipes: read to their end (a
        // QEMU holding them dies with the runner).
        let pumps = &self.pumps;
        crate::poll_until(Duration::from_secs(10), Duration::from_millis(20), || {
            pumps.iter().all(|p| p.is_finished())
        });
        st
    }

    /// The pid of the runner's QEMU (its child named qemu-system-*).
    pub fn qemu_pid(&self) -> Option<i32> {
        let pid = self.child.0.id();
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
        for t in tasks.flatten() {
            let kids = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            for k in kids
                .split_whitespace()
                .filter_map(|k| k.parse::<i32>().ok())
            {
                if process_name(k).is_some_and(|n| n.starts_with("qemu-system")) {
                    return Some(k);
                }
            }
        }
        None
    }
}

/// The command name of process `pid`, if it exists (a zombie counts as
/// gone: it holds no port and no CPU).
pub fn process_name(pid: i32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.split_once(" (")?;
    let (name, rest) = rest.rsplit_once(") ")?;
    (!rest.starts_with('Z')).then(|| name.to_string())
}

/// Wait up to `limit` for process `pid` to be gone.
pub fn gone_within(pid: i32, limit: Duration) -> bool {
    crate::poll_until(limit, Duration::from_millis(50), || {
        process_name(pid).is_none()
    })
}
