//! `kill` and `run PATH ARGS` (a program on the console, Ctrl-C kills it).

use super::Console;
use std::time::Duration;

impl Console {
    pub(super) fn kill(&self, sig: i32, pid: i32) {
        let (Some(p), Some(s)) = (
            rustix::process::Pid::from_raw(pid),
            rustix::process::Signal::from_named_raw(sig),
        ) else {
            self.out(&format!("error: signal {sig} cannot be sent from here\n"));
            return;
        };
        if let Err(e) = rustix::process::kill_process(p, s) {
            self.out(&format!("error: kill {pid}: {e}\n"));
        }
    }

    pub(super) fn run_program(&self, path: &str, args: &[String]) {
        let out = match rustix::io::dup(&self.fd) {
            Ok(o) => o,
            Err(e) => {
                self.out(&format!("error: {e}\n"));
                return;
            }
        };
        let err = rustix::io::dup(&self.fd).ok();
        let mut cmd = std::process::Command::new(path);
        cmd.args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::from(out));
        if let Some(e) = err {
            cmd.stderr(std::process::Stdio::from(e));
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                self.out(&format!("error: cannot run {path}: {e}\n"));
                return;
            }
        };
        self.out(&format!("[pid {}; Ctrl-C kills it]\n", child.id()));
        loop {
            match child.try_wait() {
                Ok(Some(st)) => {
                    self.out(&format!("[{path}: {st}]\n"));
                    return;
                }
                Ok(None) => {}
                Err(e) => {
                    self.out(&format!("error: {e}\n"));
                    return;
                }
            }
            if self.interrupted(Duration::from_millis(100)) {
                let _ = child.kill();
                let _ = child.wait();
                self.out("[killed]\n");
                return;
            }
        }
    }
}
