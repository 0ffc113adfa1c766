//! The IO shell around [`crate::policy::Supervisor`]: spawns processes,
//! reaps every child (orphans included), reads signals from a signalfd,
//! readiness lines from the helpers' pipes (split by
//! `core::readiness`) and key presses from power buttons (`buttons`), and
//! feeds all of it to the state machine.

use crate::buttons;
use crate::core::readiness::LineBuf;
use crate::policy::{Action, Halt, HelperSpec, Status, Supervisor, Target};
use nodistro_common::signal;
use nodistro_common::timeline::{log, since_boot_ms};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::pipe::{pipe_with, PipeFlags};
use rustix::process::{Pid, Signal, WaitOptions};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long init waits for a helper it restarts for a new configuration
/// before the app starts (logfwd flushes what it holds, then exits).
const RESTART_FOR_CONFIG_WAIT: Duration = Duration::from_secs(2);

/// How to start one helper.
#[derive(Debug, Clone)]
pub struct HelperCmd {
    pub spec: HelperSpec,
    pub path: PathBuf,
    pub args: Vec<String>,
}

/// How to start the app.
#[derive(Debug, Clone, Default)]
pub struct AppCmd {
    pub path: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub workdir: String,
    pub uid: u32,
    pub gid: u32,
}

/// Everything the loop runs.
pub struct Plan {
    pub helpers: Vec<HelperCmd>,
    pub app: Option<AppCmd>,
    pub on_exit: crate::config::OnExit,
    pub grace: Duration,
    /// PID 1 of a machine (power button, VM signal meanings).
    pub vm: bool,
    /// Signals for the app (`init.forward`); `None`: the mode's default.
    pub forward: Option<crate::signals::SignalSet>,
    /// Start the helpers at once (see [`crate::startorder`]).
    pub overlap: bool,
    /// Tell netcfg when the drivers are settled
    /// ([`crate::startorder::COLDPLUG_FILE`]).
    pub coldplug_mark: bool,
    /// Boot timeline: ms since boot when the mounts were done.
    pub mounts_ms: Option<u64>,
    /// The debug console, stop points, the bring-up report.
    pub debug: crate::debug::DebugPlan,
    /// Data disks (and the other appliance features).
    pub appliance: crate::appliance::Appliance,
}

/// How long init looks for a power button device.
const BUTTON_SEARCH: Duration = Duration::from_secs(60);

/// A helper's readiness pipe and the partial line read so far.
struct ReadyPipe {
    fd: OwnedFd,
    lines: LineBuf,
}

/// The app's stdout and stderr pipes, both ends kept by init.
struct AppPipes {
    out: (OwnedFd, OwnedFd),
    err: (OwnedFd, OwnedFd),
}

fn inheritable(fd: &OwnedFd) -> std::io::Result<OwnedFd> {
    // dup(2) never sets FD_CLOEXEC: the copy survives exec in the child.
    Ok(rustix::io::dup(fd)?)
}

struct Shell {
    plan: Plan,
    sup: Supervisor,
    origin: Instant,
    ready: Vec<Option<ReadyPipe>>,
    app_pipes: Option<AppPipes>,
    buttons: Vec<OwnedFd>,
    /// (started, ready) in ms since boot, per helper, for the summary.
    stamps: Vec<(Option<u64>, Option<u64>)>,
    summary_done: bool,
    /// modload's index while the coldplug mark is still to be written.
    coldplug: Option<usize>,
    /// Helpers started at [`crate::startorder::BOOT_NICE`], set back to 0
    /// once the start is over.
    niced: Vec<i32>,
}

/// Run until the supervisor finishes; returns how to end and the exit code.
pub fn run(plan: Plan, sigfd: &OwnedFd) -> (Halt, i32) {
    let specs = plan.helpers.iter().map(|h| h.spec.clone()).collect();
    let mut sup = Supervisor::new(specs, plan.app.is_some(), plan.on_exit, plan.grace);
    sup.set_forward(plan.forward);
    sup.set_overlap(plan.overlap);
    if let Some(c) = plan.debug.console {
        sup.set_control(c, plan.debug.breaks.clone());
    }
    let app_pipes = if plan.app.is_some() && plan.helpers.iter().any(|h| h.spec.name == "logfwd") {
        let mk = || {
            let (r, w) = pipe_with(PipeFlags::CLOEXEC)?;
            // A bigger buffer rides out a logfwd restart; best effort.
            let _ = rustix::pipe::fcntl_setpipe_size(&r, 1 << 20);
            Ok::<_, rustix::io::Errno>((r, w))
        };
        match (mk(), mk()) {
            (Ok(out), Ok(err)) => Some(AppPipes { out, err }),
            (Err(e), _) | (_, Err(e)) => {
                log(
                    "init",
                    &format!(
                        "cannot create the app's output pipes ({e}); the app writes to the console"
                    ),
                );
                None
            }
        }
    } else {
        None
    };
    let n = plan.helpers.len();
    let coldplug = plan
        .helpers
        .iter()
        .position(|h| h.spec.name == "modload")
        .filter(|_| plan.coldplug_mark);
    if coldplug.is_some() {
        // A mark left by an earlier init (a switch_root) must not count.
        let _ = std::fs::remove_file(crate::startorder::COLDPLUG_FILE);
    }
    let mut sh = Shell {
        plan,
        sup,
        origin: Instant::now(),
        ready: (0..n).map(|_| None).collect(),
        app_pipes,
        buttons: Vec::new(),
        stamps: vec![(None, None); n],
        summary_done: false,
        coldplug,
        niced: Vec::new(),
    };
    let now = sh.now();
    sh.sup.start(now);
    loop {
        if let Some(end) = sh.act() {
            sh.plan.appliance.finish();
            return end;
        }
        sh.mark_coldplug();
        if !sh.niced.is_empty() && !sh.sup.is_starting() {
            for pid in std::mem::take(&mut sh.niced) {
                crate::sys::renice_threads(pid, 0);
            }
        }
        sh.appliance_tick();
        sh.wait(sigfd);
        let now = sh.now();
        sh.sup.tick(now);
    }
}

impl Shell {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    /// Once modload's coldplug is done (or no longer waited for), create
    /// the file netcfg watches (see [`crate::startorder`]).
    fn mark_coldplug(&mut self) {
        let Some(m) = self.coldplug else { return };
        if !self.sup.settled(m) {
            return;
        }
        self.coldplug = None;
        let path = std::path::Path::new(crate::startorder::COLDPLUG_FILE);
        let made = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::File::create(path).map(drop));
        if let Err(e) = made {
            log(
                "init",
                &format!(
                    "cannot create {} ({e}); netcfg waits for an interface instead",
                    path.display()
                ),
            );
        }
    }

    /// Health checks (and the other appliance features) on this turn.
    fn appliance_tick(&mut self) {
        let app = self.sup.app_pid().filter(|_| !self.sup.is_stopping());
        let now = self.now();
        for (pid, sig) in self.plan.appliance.tick(now, app) {
            if let (Some(p), Some(s)) = (Pid::from_raw(pid), Signal::from_named_raw(sig)) {
                let _ = rustix::process::kill_process(p, s);
            }
        }
    }

    /// Carry out pending actions; `Some` when finished.
    fn act(&mut self) -> Option<(Halt, i32)> {
        loop {
            let actions = self.sup.drain();
            if actions.is_empty() {
                return None;
            }
            for a in actions {
                match a {
                    Action::Log(m) => log("init", &m),
                    Action::Kill { pid, sig } => {
                        if let (Some(p), Some(s)) =
                            (Pid::from_raw(pid), Signal::from_named_raw(sig))
                        {
                            let _ = rustix::process::kill_process(p, s);
                        }
                    }
                    Action::Finish { halt, code } => return Some((halt, code)),
                    Action::Spawn(t) => {
                        let now = self.now();
                        match self.spawn(t) {
                            Ok(pid) => self.sup.spawned(t, pid, now),
                            Err(e) => {
                                let what = match t {
                                    Target::App => self
                                        .plan
                                        .app
                                        .as_ref()
                                        .map(|a| a.path.clone())
                                        .unwrap_or_default(),
                                    Target::Helper(i) => {
                                        self.plan.helpers[i].path.display().to_string()
                                    }
                                };
                                let why = crate::execfail::diagnose(Path::new(&what), &e);
                                log("init", &why);
                                self.sup.spawn_failed(t, now);
                            }
                        }
                    }
                }
            }
        }
    }

    fn spawn(&mut self, t: Target) -> std::io::Result<i32> {
        match t {
            Target::Helper(i) => self.spawn_helper(i),
            Target::App => self.spawn_app(),
        }
    }

    fn spawn_helper(&mut self, i: usize) -> std::io::Result<i32> {
        let h = &self.plan.helpers[i];
        let mut cmd = Command::new(&h.path);
        cmd.arg0(&h.spec.name).args(&h.args).stdin(Stdio::null());
        let (r, w) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
        let w = inheritable(&w)?;
        cmd.env(nodistro_common::READY_FD_ENV, w.as_raw_fd().to_string());
        if h.spec.name == "netcfg" && self.plan.coldplug_mark {
            cmd.env(
                nodistro_common::COLDPLUG_FILE_ENV,
                crate::startorder::COLDPLUG_FILE,
            );
        }
        // Copies of the app's read ends for logfwd; dropped after the spawn.
        let mut keep = vec![w];
        if let (Some(p), Some(app)) = (&self.app_pipes, &self.plan.app) {
            if h.spec.name == "logfwd" {
                let (o, e) = (inheritable(&p.out.0)?, inheritable(&p.err.0)?);
                cmd.env(
                    nodistro_common::APP_STDOUT_FD_ENV,
                    o.as_raw_fd().to_string(),
                )
                .env(
                    nodistro_common::APP_STDERR_FD_ENV,
                    e.as_raw_fd().to_string(),
                )
                .env(nodistro_common::APP_NAME_ENV, app_name(&app.path));
                keep.extend([o, e]);
            }
        }
        log("init", &format!("starting {}", h.spec.name));
        if h.spec.name == "logfwd" {
            // A TERM before logfwd reads its signalfd (an app that ends at
            // once, a shutdown right after the start) waits for it: it
            // then delivers what the app wrote instead of dying with it.
            crate::sys::signal_mask_in_child(&mut cmd, &[nodistro_common::signal::SIGTERM]);
        } else {
            crate::sys::unblock_signals_in_child(&mut cmd);
        }
        let nice = self.sup.is_starting()
            && crate::startorder::nice_while_starting(&h.spec.name, self.plan.overlap);
        if nice {
            crate::sys::nice_in_child(&mut cmd, crate::startorder::BOOT_NICE);
        }
        let child = cmd.spawn()?;
        if nice {
            self.niced.push(child.id() as i32);
        }
        drop(keep);
        self.ready[i] = Some(ReadyPipe {
            fd: r,
            lines: LineBuf::default(),
        });
        self.stamps[i].0.get_or_insert(since_boot_ms());
        Ok(child.id() as i32)
    }

    /// Restart helper `name` for its new configuration before the app
    /// starts: stop it, wait (bounded) for it to end, and start it again at
    /// once, so the app's first lines are read by the helper with the new
    /// settings (a logfwd still on its old settings would have read them
    /// and sent them to the old place). A helper that does not end in time
    /// is left to the supervisor, which restarts it when it does.
    fn restart_for_config(&mut self, name: &str) {
        let Some(pid) = self.sup.helper_pid(name) else {
            return;
        };
        let Some(p) = Pid::from_raw(pid) else { return };
        log(
            "init",
            &format!("restarting {name} for its new configuration"),
        );
        let _ = rustix::process::kill_process(p, Signal::TERM);
        let deadline = Instant::now() + RESTART_FOR_CONFIG_WAIT;
        let status = loop {
            match rustix::process::waitpid(Some(p), WaitOptions::NOHANG) {
                Ok(Some((_, st))) => break st,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                _ => return,
            }
        };
        let Some(status) = ended(status) else { return };
        let now = self.now();
        self.sup.exited(pid, status, now);
        let Some(i) = self.plan.helpers.iter().position(|h| h.spec.name == name) else {
            return;
        };
        match self.spawn_helper(i) {
            Ok(new) => self.sup.spawned(Target::Helper(i), new, now),
            // The supervisor's restart (already scheduled) tries again.
            Err(e) => log("init", &format!("cannot restart {name} at once: {e}")),
        }
    }

    fn spawn_app(&mut self) -> std::io::Result<i32> {
        if self.plan.app.is_some() {
            let restart = self
                .plan
                .appliance
                .before_app()
                .map_err(std::io::Error::other)?;
            for name in restart {
                self.restart_for_config(name);
            }
        }
        let Some(app) = &self.plan.app else {
            return Err(std::io::Error::other("no app"));
        };
        let mut cmd = Command::new(&app.path);
        cmd.args(&app.args)
            .envs(app.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&app.workdir);
        crate::sys::set_ids_in_child(&mut cmd, app.uid, app.gid);
        if let Some(p) = &self.app_pipes {
            // Close-on-exec copies: std dup2()s them onto 1 and 2.
            cmd.stdout(Stdio::from(p.out.1.try_clone()?))
                .stderr(Stdio::from(p.err.1.try_clone()?));
        }
        crate::sys::unblock_signals_in_child(&mut cmd);
        let child = cmd.spawn()?;
        let pid = child.id() as i32;
        let at = since_boot_ms();
        log("init", &format!("app {} started (pid {pid})", app.path));
        if !self.summary_done && self.plan.vm {
            self.summary_done = true;
            self.summary(at);
            if self.plan.debug.report {
                crate::debug::spawn_report();
            }
        }
        Ok(pid)
    }

    fn summary(&self, app_at: u64) {
        let mut parts = Vec::new();
        if let Some(m) = self.plan.mounts_ms {
            parts.push(format!("mounts {m} ms"));
        }
        for (h, (start, ready)) in self.plan.helpers.iter().zip(&self.stamps) {
            let label = match h.spec.name.as_str() {
                "netcfg" => "network",
                n => n,
            };
            match (start, ready, &h.spec.ready_word) {
                (Some(s), Some(r), _) => parts.push(format!("{label} {} ms", r.saturating_sub(*s))),
                (Some(_), None, Some(_)) => parts.push(format!("{label} not ready")),
                _ => {}
            }
        }
        parts.push(format!(
            "app started at {}.{:03} s",
            app_at / 1000,
            app_at % 1000
        ));
        log("init", &format!("boot summary: {}", parts.join(", ")));
    }

    /// Wait for a signal, a readiness line, a key press or the next deadline.
    fn wait(&mut self, sigfd: &OwnedFd) {
        // The power button's event device appears only once modload has
        // loaded `button` and `evdev`, maybe after coldplug; a press before
        // init holds the device is lost. Look again every 100 ms for the
        // first 10 s (the boot), then every second up to a minute.
        let rescan = self.plan.vm && self.buttons.is_empty() && self.now() < BUTTON_SEARCH;
        if rescan {
            buttons::scan(&mut self.buttons);
        }
        let mut deadline = self.sup.next_deadline();
        if let Some(t) = self.plan.appliance.next_deadline() {
            deadline = Some(deadline.map_or(t, |d| d.min(t)));
        }
        if rescan && self.buttons.is_empty() {
            let every = if self.now() < Duration::from_secs(10) {
                Duration::from_millis(100)
            } else {
                Duration::from_secs(1)
            };
            let t = self.now() + every;
            deadline = Some(deadline.map_or(t, |d| d.min(t)));
        }
        let timeout = deadline.map(|d| {
            let left = d.saturating_sub(self.now());
            Timespec {
                tv_sec: left.as_secs() as i64,
                tv_nsec: i64::from(left.subsec_nanos()),
            }
        });
        let ready_idx: Vec<usize> = (0..self.ready.len())
            .filter(|i| self.ready[*i].is_some())
            .collect();
        let (sig_ready, pipes_ready, buttons_ready) = {
            let mut fds = vec![PollFd::new(sigfd, PollFlags::IN)];
            for i in &ready_idx {
                if let Some(p) = &self.ready[*i] {
                    fds.push(PollFd::new(&p.fd, PollFlags::IN));
                }
            }
            for b in &self.buttons {
                fds.push(PollFd::new(b, PollFlags::IN));
            }
            if poll(&mut fds, timeout.as_ref()).is_err() {
                return;
            }
            let hit: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
            let nb = ready_idx.len();
            (hit[0], hit[1..1 + nb].to_vec(), hit[1 + nb..].to_vec())
        };
        if sig_ready {
            self.on_signals(sigfd);
        }
        for (k, i) in ready_idx.into_iter().enumerate() {
            if pipes_ready[k] {
                self.read_ready(i);
            }
        }
        let pressed = buttons_ready
            .iter()
            .zip(&self.buttons)
            .any(|(hit, fd)| *hit && buttons::power_key_pressed(fd));
        if pressed {
            log("init", "power button pressed");
            let now = self.now();
            self.sup.shutdown(Halt::PowerOff, now);
        }
    }

    fn on_signals(&mut self, sigfd: &OwnedFd) {
        for sig in nodistro_common::sys::read_signals(sigfd) {
            let now = self.now();
            if sig == signal::SIGCHLD {
                self.reap(now);
                continue;
            }
            self.sup.signal(self.plan.vm, sig, now);
        }
        // A SIGCHLD may have been merged with another signal: reap anyway.
        let now = self.now();
        self.reap(now);
    }

    fn reap(&mut self, now: Duration) {
        while let Ok(Some((pid, st))) = rustix::process::waitpid(None, WaitOptions::NOHANG) {
            let Some(status) = ended(st) else { continue };
            self.sup
                .set_trial(std::path::Path::new(nodistro_common::TRIAL_FILE).exists());
            self.sup.exited(pid.as_raw_nonzero().get(), status, now);
        }
    }

    fn read_ready(&mut self, i: usize) {
        let Some(p) = &mut self.ready[i] else { return };
        let mut chunk = [0u8; 512];
        let mut eof = false;
        let mut lines = Vec::new();
        loop {
            match rustix::io::read(&p.fd, &mut chunk) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => lines.extend(p.lines.push(&chunk[..n.min(chunk.len())])),
                Err(_) => break,
            }
        }
        if eof {
            self.ready[i] = None;
        }
        let name = self.plan.helpers[i].spec.name.clone();
        for line in lines {
            let waited = self.sup.waiting_for(i);
            log("init", &format!("{name}: {line}"));
            let now = self.now();
            self.sup.ready_line(i, &line, now);
            if waited && !self.sup.waiting_for(i) {
                self.stamps[i].1 = Some(since_boot_ms());
            }
        }
    }
}

/// The app's name for log records: its file name.
fn app_name(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_string()
}

/// How a reaped child ended; `None` for a stop or continue report.
fn ended(st: rustix::process::WaitStatus) -> Option<Status> {
    match (st.exit_status(), st.terminating_signal()) {
        (Some(c), _) => Some(Status::Code(c)),
        (_, Some(s)) => Some(Status::Signal(s)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_name_is_the_file_name() {
        assert_eq!(app_name("/app/demo-app"), "demo-app");
        assert_eq!(app_name("demo"), "demo");
    }
}
