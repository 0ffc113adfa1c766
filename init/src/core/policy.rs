//! The supervisor, sans-IO: a state machine fed events (a child exited, a
//! readiness line arrived, a signal, the clock moved) and emitting actions
//! (spawn, signal a pid, log, finish). Time is a `Duration` since an
//! arbitrary origin, so tests drive it with a fake clock.
//!
//! Start order: helpers in list order. Sequential (`init.sequential=on`):
//! a helper with a readiness word is waited for (up to its timeout) before
//! the next one starts. Overlapped (the default, see [`crate::startorder`]):
//! every helper starts at once, in list order. Either way the app starts
//! once every helper with a readiness word is ready or past its timeout.
//! Shutdown order: the app (SIGTERM, SIGKILL after the grace period), then
//! the helpers in reverse start order (same), then [`Action::Finish`].

use crate::core::config::OnExit;
pub use crate::core::signals::Halt;
use crate::core::signals::{default_forward, signal_action, signal_name, SigAction, SignalSet};
use nodistro_common::protocol::ready;
use nodistro_common::signal;
use std::fmt;
use std::time::Duration;

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Code(i32),
    Signal(i32),
}

impl Status {
    /// The shell's convention: the exit code, or 128+N for signal N.
    pub fn code(self) -> i32 {
        match self {
            Status::Code(c) => c,
            Status::Signal(s) => 128 + s,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Code(c) => write!(f, "exit status {c}"),
            Status::Signal(s) => match signal_name(*s) {
                Some(n) => write!(f, "killed by signal {s} ({n})"),
                None => write!(f, "killed by signal {s}"),
            },
        }
    }
}

/// Who a spawn is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    App,
    Helper(usize),
}

/// What the IO shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start this process, then call [`Supervisor::spawned`] or
    /// [`Supervisor::spawn_failed`].
    Spawn(Target),
    /// Send signal `sig` to `pid`.
    Kill { pid: i32, sig: i32 },
    /// A console line.
    Log(String),
    /// Everything is stopped: power off / reboot, or exit with `code`.
    Finish { halt: Halt, code: i32 },
}

/// Exponential backoff: `base`, 2×, 4× ... up to `max`; a run that lasted
/// `reset_after` or more starts the series again.
#[derive(Debug, Clone)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    pub reset_after: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration, reset_after: Duration) -> Self {
        Backoff {
            base,
            max,
            reset_after,
            failures: 0,
        }
    }

    /// Delay before the next start, given how long the last run lasted.
    pub fn next_delay(&mut self, ran_for: Duration) -> Duration {
        if ran_for >= self.reset_after {
            self.failures = 0;
        }
        let d = self.base.saturating_mul(1 << self.failures.min(16));
        self.failures += 1;
        d.min(self.max)
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(
            Duration::from_millis(100),
            Duration::from_secs(30),
            Duration::from_secs(10),
        )
    }
}

/// A helper to supervise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelperSpec {
    pub name: String,
    /// A readiness line starting with this word lets the start go on.
    pub ready_word: Option<String>,
    pub ready_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    Idle,
    Running { pid: i32, since: Duration },
    RestartAt(Duration),
    Exited(Status),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Next helper to start; the helpers being waited for and until when.
    Starting {
        next: usize,
        waiting: Vec<(usize, Duration)>,
    },
    Running,
    Stopping {
        app_stage: bool,
        deadline: Duration,
        killed: bool,
    },
    Finished,
}

/// How long to wait after SIGKILL before giving up on a process.
const KILL_WAIT: Duration = Duration::from_secs(2);

/// The supervisor state.
#[derive(Debug)]
pub struct Supervisor {
    helpers: Vec<(HelperSpec, Run, Backoff)>,
    has_app: bool,
    app: Run,
    app_backoff: Backoff,
    on_exit: OnExit,
    grace: Duration,
    phase: Phase,
    halt: Halt,
    exit_code: i32,
    /// A forwarded SIGTERM/SIGINT/SIGQUIT asked the app to stop: its exit
    /// then ends init whatever the policy (`docker stop` with restart).
    stop_forwarded: bool,
    /// Signals for the app; `None`: [`default_forward`] of the mode.
    forward: Option<SignalSet>,
    /// The debug console's helper index: its lines are commands.
    control: Option<usize>,
    /// Start positions to pause before (a helper index; the helper count
    /// is "before the app"), and whether the boot is paused now.
    breaks: Vec<usize>,
    paused: bool,
    /// Start every helper at once instead of one after the other.
    overlap: bool,
    /// This boot is the trial of a fresh update ([`Supervisor::set_trial`]).
    trial: bool,
    out: Vec<Action>,
}

impl Supervisor {
    pub fn new(helpers: Vec<HelperSpec>, has_app: bool, on_exit: OnExit, grace: Duration) -> Self {
        Self::with_backoff(helpers, has_app, on_exit, grace, Backoff::default())
    }

    pub fn with_backoff(
        helpers: Vec<HelperSpec>,
        has_app: bool,
        on_exit: OnExit,
        grace: Duration,
        backoff: Backoff,
    ) -> Self {
        Supervisor {
            helpers: helpers
                .into_iter()
                .map(|h| (h, Run::Idle, backoff.clone()))
                .collect(),
            has_app,
            app: Run::Idle,
            app_backoff: backoff,
            on_exit,
            grace,
            phase: Phase::Starting {
                next: 0,
                waiting: Vec::new(),
            },
            halt: Halt::PowerOff,
            exit_code: 0,
            stop_forwarded: false,
            forward: None,
            control: None,
            breaks: Vec::new(),
            paused: false,
            overlap: false,
            trial: false,
            out: Vec::new(),
        }
    }

    /// Helper `console` is the debug console: its readiness lines
    /// `continue`, `poweroff`, `reboot` are commands. The start pauses
    /// before each position in `breaks` until `continue`.
    pub fn set_control(&mut self, console: usize, breaks: Vec<usize>) {
        self.control = Some(console);
        self.breaks = breaks;
    }

    /// Start every helper at once (true) or each after the previous one's
    /// readiness (false, the default here; `init.sequential=on`).
    pub fn set_overlap(&mut self, overlap: bool) {
        self.overlap = overlap;
    }

    /// Whether the start is paused at a stop point.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Choose the signals passed to the app (`init.forward`).
    pub fn set_forward(&mut self, forward: Option<SignalSet>) {
        self.forward = forward;
    }

    /// Actions emitted so far, in order.
    pub fn drain(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.out)
    }

    pub fn app_pid(&self) -> Option<i32> {
        match self.app {
            Run::Running { pid, .. } => Some(pid),
            _ => None,
        }
    }

    /// The pid of the running helper called `name`.
    pub fn helper_pid(&self, name: &str) -> Option<i32> {
        self.helpers.iter().find_map(|h| match h.1 {
            Run::Running { pid, .. } if h.0.name == name => Some(pid),
            _ => None,
        })
    }

    pub fn is_stopping(&self) -> bool {
        matches!(self.phase, Phase::Stopping { .. } | Phase::Finished)
    }

    fn log(&mut self, msg: String) {
        self.out.push(Action::Log(msg));
    }

    fn name(&self, t: Target) -> String {
        match t {
            Target::App => "app".into(),
            Target::Helper(i) => self.helpers[i].0.name.clone(),
        }
    }

    /// Begin: start the first helpers (or the app).
    pub fn start(&mut self, now: Duration) {
        self.advance(now);
    }

    fn advance(&mut self, now: Duration) {
        while let Phase::Starting { next, waiting } = &self.phase {
            let next = *next;
            if self.paused {
                return;
            }
            // Sequential: nothing starts while a helper is awaited. The app
            // (next == len) always waits for every helper, and so does a
            // stop point (`init.break=network` shows the links coldplug
            // made, before DHCP).
            let at_break = self.breaks.contains(&next);
            let blocked =
                !waiting.is_empty() && (!self.overlap || next == self.helpers.len() || at_break);
            if blocked {
                return;
            }
            if let Some(k) = self.breaks.iter().position(|b| *b == next) {
                self.breaks.remove(k);
                self.paused = true;
                let what = match self.helpers.get(next) {
                    Some(h) => h.0.name.clone(),
                    None => "app".into(),
                };
                self.log(format!(
                    "boot paused before {what} (init.break); type continue on the console"
                ));
                return;
            }
            if next == self.helpers.len() {
                self.phase = Phase::Running;
                if self.has_app {
                    self.out.push(Action::Spawn(Target::App));
                } else {
                    self.log("no app configured (init.app); idling".into());
                }
                return;
            }
            let spec = &self.helpers[next].0;
            let wait = spec
                .ready_word
                .as_ref()
                .map(|_| (next, now + spec.ready_timeout));
            if let Phase::Starting { next: n, waiting } = &mut self.phase {
                *n = next + 1;
                waiting.extend(wait);
            }
            self.out.push(Action::Spawn(Target::Helper(next)));
        }
    }

    /// Stop waiting for helper `i` (ready, timed out or failed to start);
    /// true if it was awaited.
    fn settle(&mut self, i: usize) -> bool {
        match &mut self.phase {
            Phase::Starting { waiting, .. } => {
                let before = waiting.len();
                waiting.retain(|(w, _)| *w != i);
                waiting.len() != before
            }
            _ => false,
        }
    }

    /// The shell started `t` as `pid`.
    pub fn spawned(&mut self, t: Target, pid: i32, now: Duration) {
        let run = Run::Running { pid, since: now };
        match t {
            Target::App => self.app = run,
            Target::Helper(i) => self.helpers[i].1 = run,
        }
    }

    /// The shell could not start `t` (the reason is already on the console).
    /// Treated as an immediate exit with status 127.
    pub fn spawn_failed(&mut self, t: Target, now: Duration) {
        if let Target::Helper(i) = t {
            if self.settle(i) {
                self.log(format!("not waiting for {}", self.helpers[i].0.name));
            }
        }
        self.spawned(t, 0, now);
        self.ended(t, Status::Code(127), now);
        self.advance(now);
    }

    /// A readiness line from helper `i`.
    pub fn ready_line(&mut self, i: usize, line: &str, now: Duration) {
        if self.control == Some(i) {
            match line.split_whitespace().next() {
                Some(ready::CONTINUE) if self.paused => {
                    self.paused = false;
                    self.log("boot resumed".into());
                    self.advance(now);
                }
                Some(ready::CONTINUE) => self.log("continue: the boot is not paused".into()),
                Some(ready::POWEROFF) => self.shutdown(Halt::PowerOff, now),
                Some(ready::REBOOT) => self.shutdown(Halt::Reboot, now),
                _ => {}
            }
            return;
        }
        let word = self.helpers.get(i).and_then(|h| h.0.ready_word.as_deref());
        if self.waiting_for(i) && word.is_some_and(|wd| line.split_whitespace().next() == Some(wd))
        {
            self.settle(i);
            self.advance(now);
        }
    }

    /// Whether the start sequence (helpers, then the app) is still going.
    pub fn is_starting(&self) -> bool {
        matches!(self.phase, Phase::Starting { .. })
    }

    /// Whether helper `i` was started and is no longer waited for (ready,
    /// past its timeout, or failed to start).
    pub fn settled(&self, i: usize) -> bool {
        match &self.phase {
            Phase::Starting { next, waiting } => *next > i && !waiting.iter().any(|(w, _)| *w == i),
            _ => true,
        }
    }

    /// Whether the start sequence is waiting for helper `i`'s readiness.
    pub fn waiting_for(&self, i: usize) -> bool {
        match &self.phase {
            Phase::Starting { waiting, .. } => waiting.iter().any(|(w, _)| *w == i),
            _ => false,
        }
    }

    /// Whether this boot is the trial of a fresh update (the `update` tool's
    /// [`nodistro_common::TRIAL_FILE`]): an app that ends then reboots the
    /// machine whatever `init.on_exit` says, so the firmware falls back.
    pub fn set_trial(&mut self, on: bool) {
        self.trial = on;
    }

    /// A child was reaped. Returns false for a pid that is neither the app
    /// nor a helper (an orphan re-parented to init).
    pub fn exited(&mut self, pid: i32, status: Status, now: Duration) -> bool {
        let target = if self.app_pid() == Some(pid) {
            Target::App
        } else if let Some(i) = self
            .helpers
            .iter()
            .position(|h| matches!(h.1, Run::Running { pid: p, .. } if p == pid))
        {
            Target::Helper(i)
        } else {
            return false;
        };
        self.log(format!("{} (pid {pid}) ended: {status}", self.name(target)));
        self.ended(target, status, now);
        true
    }

    fn ended(&mut self, t: Target, status: Status, now: Duration) {
        let since = match t {
            Target::App => self.app,
            Target::Helper(i) => self.helpers[i].1,
        };
        let ran_for = match since {
            Run::Running { since, .. } => now.saturating_sub(since),
            _ => Duration::ZERO,
        };
        let stopping = self.is_stopping();
        match t {
            Target::App => {
                self.app = Run::Exited(status);
                self.exit_code = status.code();
                if stopping {
                } else if self.trial {
                    self.log(format!(
                        "the app ended ({status}) during the trial boot of an update: rebooting, the firmware goes back to the previous slot"
                    ));
                    self.shutdown(Halt::Reboot, now);
                } else if self.stop_forwarded {
                    self.shutdown(Halt::PowerOff, now);
                } else {
                    match self.on_exit {
                        OnExit::PowerOff => self.shutdown(Halt::PowerOff, now),
                        OnExit::Reboot => self.shutdown(Halt::Reboot, now),
                        OnExit::Stay => {
                            self.log("init.on_exit=stay: staying up without the app".into())
                        }
                        OnExit::Restart => {
                            let d = self.app_backoff.next_delay(ran_for);
                            self.log(format!("restarting app in {} ms", d.as_millis()));
                            self.app = Run::RestartAt(now + d);
                        }
                    }
                }
            }
            Target::Helper(i) => {
                if stopping {
                    self.helpers[i].1 = Run::Exited(status);
                } else {
                    let d = self.helpers[i].2.next_delay(ran_for);
                    self.log(format!(
                        "restarting {} in {} ms",
                        self.helpers[i].0.name,
                        d.as_millis()
                    ));
                    self.helpers[i].1 = Run::RestartAt(now + d);
                }
            }
        }
        self.check_stopped(now);
    }

    /// A signal sent to init (see [`signal_action`]).
    pub fn signal(&mut self, vm: bool, sig: i32, now: Duration) {
        let app = self.app_pid();
        let forward = self.forward.unwrap_or_else(|| default_forward(vm));
        match (signal_action(vm, sig, app.is_some(), forward), app) {
            (SigAction::Forward, Some(pid)) => {
                self.out.push(Action::Kill { pid, sig });
                self.stop_forwarded |=
                    matches!(sig, signal::SIGTERM | signal::SIGINT | signal::SIGQUIT);
            }
            (SigAction::Shutdown(h), _) => {
                let name = signal_name(sig).unwrap_or("signal");
                self.log(format!("{name} ({sig}): shutting down"));
                self.shutdown(h, now);
            }
            _ => {}
        }
    }

    /// Stop everything, then finish with `halt` (ignored if already stopping).
    pub fn shutdown(&mut self, halt: Halt, now: Duration) {
        if self.is_stopping() {
            return;
        }
        self.halt = halt;
        let what = match halt {
            Halt::PowerOff => "power-off",
            Halt::Reboot => "reboot",
        };
        self.log(format!("shutdown ({what}): stopping the app"));
        if let Run::RestartAt(_) | Run::Idle = self.app {
            self.app = Run::Exited(Status::Code(self.exit_code));
        }
        match self.app_pid() {
            Some(pid) => {
                self.out.push(Action::Kill {
                    pid,
                    sig: signal::SIGTERM,
                });
                self.phase = Phase::Stopping {
                    app_stage: true,
                    deadline: now + self.grace,
                    killed: false,
                };
            }
            None => self.stop_helpers(now),
        }
    }

    fn stop_helpers(&mut self, now: Duration) {
        self.log("stopping the helpers".into());
        let mut pids = Vec::new();
        for h in self.helpers.iter_mut().rev() {
            match h.1 {
                Run::Running { pid, .. } => pids.push((pid, h.0.name.clone())),
                Run::Idle | Run::RestartAt(_) => h.1 = Run::Exited(Status::Code(0)),
                Run::Exited(_) => {}
            }
        }
        for (pid, name) in pids {
            // One line each, in the order sent (reverse start order).
            self.log(format!("SIGTERM to {name}"));
            self.out.push(Action::Kill {
                pid,
                sig: signal::SIGTERM,
            });
        }
        self.phase = Phase::Stopping {
            app_stage: false,
            deadline: now + self.grace,
            killed: false,
        };
        self.check_stopped(now);
    }

    fn check_stopped(&mut self, now: Duration) {
        let Phase::Stopping { app_stage, .. } = self.phase else {
            return;
        };
        if app_stage {
            if self.app_pid().is_none() {
                self.stop_helpers(now);
            }
        } else if !self
            .helpers
            .iter()
            .any(|h| matches!(h.1, Run::Running { .. }))
        {
            self.phase = Phase::Finished;
            self.out.push(Action::Finish {
                halt: self.halt,
                code: self.exit_code,
            });
        }
    }

    /// The earliest time [`Supervisor::tick`] has something to do.
    pub fn next_deadline(&self) -> Option<Duration> {
        let mut d: Option<Duration> = None;
        let mut add = |t: Duration| d = Some(d.map_or(t, |x| x.min(t)));
        match &self.phase {
            Phase::Starting { waiting, .. } => {
                for (_, t) in waiting {
                    add(*t);
                }
            }
            Phase::Stopping { deadline, .. } => add(*deadline),
            _ => {}
        }
        if !self.is_stopping() {
            for h in &self.helpers {
                if let Run::RestartAt(t) = h.1 {
                    add(t);
                }
            }
            if let Run::RestartAt(t) = self.app {
                add(t);
            }
        }
        d
    }

    /// The clock moved: timeouts, restarts, grace periods.
    pub fn tick(&mut self, now: Duration) {
        match self.phase.clone() {
            Phase::Starting { waiting, .. } if waiting.iter().any(|(_, t)| now >= *t) => {
                for (w, _) in waiting.into_iter().filter(|(_, t)| now >= *t) {
                    self.log(format!(
                        "{} not ready after {} ms; going on without it",
                        self.helpers[w].0.name,
                        self.helpers[w].0.ready_timeout.as_millis()
                    ));
                    self.settle(w);
                }
                self.advance(now);
            }
            Phase::Stopping {
                app_stage,
                deadline,
                killed,
            } if now >= deadline => {
                if killed {
                    self.log("processes still there after SIGKILL; going on".into());
                    if app_stage {
                        self.app = Run::Exited(Status::Signal(signal::SIGKILL));
                        self.stop_helpers(now);
                    } else {
                        for h in &mut self.helpers {
                            h.1 = Run::Exited(Status::Signal(signal::SIGKILL));
                        }
                        self.check_stopped(now);
                    }
                    return;
                }
                let mut pids = Vec::new();
                if app_stage {
                    pids.extend(self.app_pid());
                } else {
                    pids.extend(self.helpers.iter().filter_map(|h| match h.1 {
                        Run::Running { pid, .. } => Some(pid),
                        _ => None,
                    }));
                }
                self.log(format!(
                    "grace period over: SIGKILL to {}",
                    if app_stage { "the app" } else { "the helpers" }
                ));
                for pid in pids {
                    self.out.push(Action::Kill {
                        pid,
                        sig: signal::SIGKILL,
                    });
                }
                self.phase = Phase::Stopping {
                    app_stage,
                    deadline: now + KILL_WAIT,
                    killed: true,
                };
            }
            _ => {}
        }
        if self.is_stopping() {
            return;
        }
        for i in 0..self.helpers.len() {
            if matches!(self.helpers[i].1, Run::RestartAt(t) if now >= t) {
                self.helpers[i].1 = Run::Idle;
                self.out.push(Action::Spawn(Target::Helper(i)));
            }
        }
        if matches!(self.app, Run::RestartAt(t) if now >= t) {
            self.app = Run::Idle;
            self.out.push(Action::Spawn(Target::App));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A machine's supervisor (app, power off on exit) over these helpers.
    fn machine(helpers: &[(&str, Option<&str>)]) -> Supervisor {
        let specs = helpers.iter().map(|(n, w)| helper(n, *w)).collect();
        Supervisor::new(specs, true, OnExit::PowerOff, ms(500))
    }

    fn helper(name: &str, word: Option<&str>) -> HelperSpec {
        HelperSpec {
            name: name.into(),
            ready_word: word.map(Into::into),
            ready_timeout: ms(1000),
        }
    }

    fn spawns(a: &[Action]) -> Vec<Target> {
        a.iter()
            .filter_map(|a| match a {
                Action::Spawn(t) => Some(*t),
                _ => None,
            })
            .collect()
    }

    fn kills(a: &[Action]) -> Vec<(i32, i32)> {
        a.iter()
            .filter_map(|a| match a {
                Action::Kill { pid, sig } => Some((*pid, *sig)),
                _ => None,
            })
            .collect()
    }

    fn finish(a: &[Action]) -> Option<(Halt, i32)> {
        a.iter().find_map(|a| match a {
            Action::Finish { halt, code } => Some((*halt, *code)),
            _ => None,
        })
    }

    fn three() -> Supervisor {
        machine(&[
            ("modload", Some("coldplug-done")),
            ("logfwd", None),
            ("netcfg", Some("online")),
        ])
    }

    #[test]
    fn an_app_ending_in_a_trial_boot_reboots_whatever_on_exit_says() {
        for trial in [false, true] {
            let specs = vec![helper("update", Some("checked"))];
            let mut s = Supervisor::new(specs, true, OnExit::Restart, ms(500));
            s.start(ms(0));
            assert_eq!(spawns(&s.drain()), [Target::Helper(0)]);
            s.spawned(Target::Helper(0), 10, ms(1));
            s.ready_line(0, "checked", ms(2));
            assert_eq!(spawns(&s.drain()), [Target::App]);
            s.spawned(Target::App, 20, ms(3));
            s.set_trial(trial);
            s.exited(20, Status::Code(3), ms(10));
            let a = s.drain();
            if trial {
                // The helper is stopped, then the machine reboots.
                assert_eq!(kills(&a), [(10, signal::SIGTERM)], "{a:?}");
                s.exited(10, Status::Signal(15), ms(20));
                assert_eq!(finish(&s.drain()), Some((Halt::Reboot, 3)));
            } else {
                assert!(kills(&a).is_empty() && finish(&a).is_none(), "{a:?}");
            }
        }
    }

    #[test]
    fn start_order_waits_for_readiness_words() {
        let mut s = three();
        s.start(ms(0));
        assert_eq!(spawns(&s.drain()), [Target::Helper(0)]);
        s.spawned(Target::Helper(0), 10, ms(1));
        s.ready_line(0, "something-else", ms(5));
        assert!(s.drain().is_empty());
        s.ready_line(0, "coldplug-done", ms(50));
        assert_eq!(spawns(&s.drain()), [Target::Helper(1), Target::Helper(2)]);
        s.spawned(Target::Helper(1), 11, ms(51));
        s.spawned(Target::Helper(2), 12, ms(52));
        assert!(s.waiting_for(2) && !s.waiting_for(0));
        s.ready_line(2, "online eth0 10.0.2.15/24", ms(300));
        assert_eq!(spawns(&s.drain()), [Target::App]);
    }

    /// The overlapped start (issue 16): logfwd, modload and netcfg at
    /// once, in that order; the app after both readiness words, whichever
    /// comes first.
    fn overlapped() -> Supervisor {
        let mut s = machine(&[
            ("logfwd", None),
            ("modload", Some("coldplug-done")),
            ("netcfg", Some("online")),
        ]);
        s.set_overlap(true);
        s
    }

    #[test]
    fn overlapped_start_waits_for_every_word_before_the_app() {
        for netcfg_first in [false, true] {
            let mut s = overlapped();
            s.start(ms(0));
            assert_eq!(
                spawns(&s.drain()),
                [Target::Helper(0), Target::Helper(1), Target::Helper(2)]
            );
            for (i, pid) in [(0, 10), (1, 11), (2, 12)] {
                s.spawned(Target::Helper(i), pid, ms(1));
            }
            assert!(s.waiting_for(1) && s.waiting_for(2) && !s.waiting_for(0));
            assert!(s.settled(0) && !s.settled(1) && !s.settled(2));
            let (first, second) = if netcfg_first {
                ((2, "online eth0 10.0.2.15/24"), (1, "coldplug-done"))
            } else {
                ((1, "coldplug-done"), (2, "online eth0 10.0.2.15/24"))
            };
            s.ready_line(first.0, "noise", ms(10));
            s.ready_line(first.0, first.1, ms(300));
            assert!(spawns(&s.drain()).is_empty(), "one word is not enough");
            assert!(s.settled(first.0));
            // A word from the wrong helper does not count.
            s.ready_line(first.0, second.1, ms(310));
            assert!(spawns(&s.drain()).is_empty());
            s.ready_line(second.0, second.1, ms(350));
            assert_eq!(spawns(&s.drain()), [Target::App]);
            assert_eq!(s.next_deadline(), None);
        }
    }

    #[test]
    fn overlapped_timeouts_count_from_each_start_with_one_line_each() {
        let mut s = overlapped();
        s.start(ms(0));
        s.drain();
        assert_eq!(s.next_deadline(), Some(ms(1000)));
        s.ready_line(1, "coldplug-done", ms(400));
        assert!(s.drain().is_empty());
        s.tick(ms(999));
        assert!(s.drain().is_empty());
        s.tick(ms(1000));
        let a = s.drain();
        let lines: Vec<&Action> = a.iter().filter(|a| matches!(a, Action::Log(_))).collect();
        assert_eq!(
            lines,
            [&Action::Log(
                "netcfg not ready after 1000 ms; going on without it".into()
            )]
        );
        assert_eq!(spawns(&a), [Target::App]);
        // Both silent: both lines on the same tick, then the app once.
        let mut s = overlapped();
        s.start(ms(0));
        s.drain();
        s.tick(ms(1000));
        let a = s.drain();
        assert_eq!(
            a.iter()
                .filter(|a| matches!(a, Action::Log(m) if m.contains("not ready after")))
                .count(),
            2
        );
        assert_eq!(spawns(&a), [Target::App]);
        assert!(s.settled(1) && s.settled(2));
    }

    #[test]
    fn overlapped_spawn_failure_and_restart_keep_the_wait_right() {
        let mut s = overlapped();
        s.start(ms(0));
        s.drain();
        s.spawned(Target::Helper(0), 10, ms(0));
        s.spawn_failed(Target::Helper(1), ms(0));
        let a = s.drain();
        assert!(a.contains(&Action::Log("not waiting for modload".into())));
        assert!(spawns(&a).is_empty(), "netcfg still awaited");
        assert!(s.settled(1));
        // netcfg dies before its word: restarted, still awaited.
        s.spawned(Target::Helper(2), 12, ms(0));
        s.exited(12, Status::Code(1), ms(50));
        s.drain();
        s.tick(ms(150));
        // Both come back (a failed start counts as an exit), not awaited.
        assert_eq!(spawns(&s.drain()), [Target::Helper(1), Target::Helper(2)]);
        assert!(!s.waiting_for(1));
        s.spawned(Target::Helper(2), 13, ms(150));
        assert!(s.waiting_for(2));
        s.ready_line(2, "online none (ip=off)", ms(200));
        assert_eq!(spawns(&s.drain()), [Target::App]);
    }

    #[test]
    fn overlapped_stop_points() {
        // init.break=network: modload runs, netcfg waits for continue.
        let mut s = machine(&[
            ("console", None),
            ("logfwd", None),
            ("modload", Some("coldplug-done")),
            ("netcfg", Some("online")),
        ]);
        s.set_overlap(true);
        s.set_control(0, vec![3, 4]);
        s.start(ms(0));
        let a = s.drain();
        assert_eq!(
            spawns(&a),
            [Target::Helper(0), Target::Helper(1), Target::Helper(2)]
        );
        // The stop point waits for the drivers first, then pauses.
        assert!(!s.is_paused());
        s.ready_line(2, "coldplug-done", ms(300));
        assert!(s.is_paused());
        assert!(spawns(&s.drain()).is_empty());
        s.ready_line(0, "continue", ms(5000));
        assert_eq!(spawns(&s.drain()), [Target::Helper(3)]);
        // The app's stop point comes after the readiness words.
        assert!(!s.is_paused());
        s.ready_line(3, "online eth0", ms(5100));
        assert!(s.is_paused(), "paused before the app");
        assert!(spawns(&s.drain()).is_empty());
        s.ready_line(0, "continue", ms(6000));
        assert_eq!(spawns(&s.drain()), [Target::App]);
    }

    #[test]
    fn stop_points_pause_until_the_console_says_continue() {
        let mut s = machine(&[
            ("console", None),
            ("modload", Some("coldplug-done")),
            ("netcfg", Some("online")),
        ]);
        s.set_control(0, vec![2, 3]);
        s.start(ms(0));
        assert_eq!(spawns(&s.drain()), [Target::Helper(0), Target::Helper(1)]);
        s.spawned(Target::Helper(0), 10, ms(1));
        s.spawned(Target::Helper(1), 11, ms(1));
        s.ready_line(1, "coldplug-done", ms(50));
        let a = s.drain();
        assert!(spawns(&a).is_empty(), "paused before netcfg: {a:?}");
        assert!(s.is_paused());
        assert!(a.contains(&Action::Log(
            "boot paused before netcfg (init.break); type continue on the console".into()
        )));
        assert_eq!(s.next_deadline(), None, "a pause has no timeout");
        s.ready_line(1, "continue", ms(60));
        assert!(spawns(&s.drain()).is_empty(), "only the console resumes");
        s.ready_line(0, "continue", ms(5000));
        assert_eq!(spawns(&s.drain()), [Target::Helper(2)]);
        s.spawned(Target::Helper(2), 12, ms(5001));
        s.ready_line(2, "online eth0", ms(5100));
        assert!(spawns(&s.drain()).is_empty(), "paused before the app");
        s.ready_line(0, "continue", ms(6000));
        assert_eq!(spawns(&s.drain()), [Target::App]);
        s.ready_line(0, "continue", ms(6001));
        assert_eq!(
            s.drain(),
            [Action::Log("continue: the boot is not paused".into())]
        );
        s.spawned(Target::App, 20, ms(6002));
        s.ready_line(0, "reboot", ms(7000));
        assert_eq!(kills(&s.drain()), [(20, signal::SIGTERM)]);
        assert!(s.is_stopping());
    }

    #[test]
    fn readiness_timeout_goes_on() {
        let mut s = three();
        s.start(ms(0));
        s.drain();
        s.spawned(Target::Helper(0), 10, ms(0));
        assert_eq!(s.next_deadline(), Some(ms(1000)));
        s.tick(ms(999));
        assert!(s.drain().is_empty());
        s.tick(ms(1000));
        let a = s.drain();
        assert!(matches!(&a[0], Action::Log(m) if m.contains("modload not ready")));
        assert_eq!(spawns(&a), [Target::Helper(1), Target::Helper(2)]);
    }

    #[test]
    fn helper_restarts_with_growing_backoff_and_reset() {
        let mut s = Supervisor::new(
            vec![helper("logfwd", None)],
            false,
            OnExit::PowerOff,
            ms(500),
        );
        s.start(ms(0));
        assert_eq!(spawns(&s.drain()), [Target::Helper(0)]);
        let mut now = ms(0);
        let mut delays = Vec::new();
        for pid in 1..=5 {
            s.spawned(Target::Helper(0), pid, now);
            now += ms(10);
            assert!(s.exited(pid, Status::Code(1), now));
            s.drain();
            let at = s.next_deadline().expect("restart scheduled");
            delays.push((at - now).as_millis());
            s.tick(at - ms(1));
            assert!(spawns(&s.drain()).is_empty());
            now = at;
            s.tick(now);
            assert_eq!(spawns(&s.drain()), [Target::Helper(0)]);
        }
        assert_eq!(delays, [100, 200, 400, 800, 1600]);
        // A long run resets the series.
        s.spawned(Target::Helper(0), 9, now);
        now += Duration::from_secs(60);
        s.exited(9, Status::Signal(9), now);
        assert_eq!(s.next_deadline(), Some(now + ms(100)));
    }

    #[test]
    fn configured_forward_set_reaches_the_app() {
        use nodistro_common::signal::*;
        let mut s = Supervisor::new(vec![], true, OnExit::Stay, ms(500));
        s.set_forward(Some(SignalSet::of(&[SIGUSR2])));
        s.start(ms(0));
        assert_eq!(
            spawns(&s.drain()),
            [Target::App],
            "no helpers: the app at once"
        );
        s.spawned(Target::App, 42, ms(0));
        s.signal(true, SIGUSR2, ms(1));
        assert_eq!(kills(&s.drain()), [(42, SIGUSR2)]);
        // Outside the configured set: not the app's (SIGUSR1 is, by default).
        s.signal(true, SIGUSR1, ms(2));
        assert!(kills(&s.drain()).is_empty());
    }

    #[test]
    fn status_codes_and_text() {
        assert_eq!(Status::Signal(9).code(), 137);
        assert_eq!(Status::Code(3).code(), 3);
        assert_eq!(
            Status::Signal(15).to_string(),
            "killed by signal 15 (SIGTERM)"
        );
        assert_eq!(Status::Signal(64).to_string(), "killed by signal 64");
    }

    #[test]
    fn forwarded_sigterm_ends_init_even_with_the_restart_policy() {
        let mut s = Supervisor::new(vec![], true, OnExit::Restart, ms(500));
        s.start(ms(0));
        s.spawned(Target::App, 20, ms(0));
        s.drain();
        s.signal(false, signal::SIGUSR1, ms(1));
        assert_eq!(kills(&s.drain()), [(20, signal::SIGUSR1)]);
        s.signal(false, signal::SIGTERM, ms(2));
        assert_eq!(kills(&s.drain()), [(20, signal::SIGTERM)]);
        s.exited(20, Status::Code(0), ms(3));
        assert_eq!(finish(&s.drain()), Some((Halt::PowerOff, 0)));
        // On a machine SIGTERM is a shutdown request; SIGINT a reboot.
        let mut s = Supervisor::new(vec![], true, OnExit::Restart, ms(500));
        s.start(ms(0));
        s.spawned(Target::App, 20, ms(0));
        s.drain();
        s.signal(true, signal::SIGINT, ms(1));
        assert_eq!(kills(&s.drain()), [(20, signal::SIGTERM)]);
        s.exited(20, Status::Signal(15), ms(3));
        assert_eq!(finish(&s.drain()), Some((Halt::Reboot, 143)));
    }

    #[test]
    fn backoff_is_capped() {
        let mut b = Backoff::default();
        let last = (0..30).map(|_| b.next_delay(ms(0))).last();
        assert_eq!(last, Some(Duration::from_secs(30)));
    }

    #[test]
    fn app_exit_powers_off_after_stopping_helpers_in_reverse() {
        let mut s = three();
        s.start(ms(0));
        s.spawned(Target::Helper(0), 10, ms(0));
        s.ready_line(0, "coldplug-done", ms(1));
        s.spawned(Target::Helper(1), 11, ms(1));
        s.spawned(Target::Helper(2), 12, ms(1));
        s.ready_line(2, "online x", ms(2));
        s.spawned(Target::App, 20, ms(2));
        s.drain();
        assert!(
            !s.exited(99, Status::Code(0), ms(3)),
            "orphans are not ours"
        );
        s.exited(20, Status::Code(3), ms(10));
        let a = s.drain();
        assert_eq!(
            kills(&a),
            [
                (12, signal::SIGTERM),
                (11, signal::SIGTERM),
                (10, signal::SIGTERM)
            ]
        );
        assert_eq!(finish(&a), None);
        s.exited(12, Status::Signal(15), ms(11));
        s.exited(11, Status::Code(0), ms(11));
        assert_eq!(finish(&s.drain()), None);
        // modload ignores SIGTERM: SIGKILL after the grace period.
        s.tick(ms(509));
        assert!(kills(&s.drain()).is_empty());
        s.tick(ms(510));
        assert_eq!(kills(&s.drain()), [(10, signal::SIGKILL)]);
        s.exited(10, Status::Signal(9), ms(512));
        assert_eq!(finish(&s.drain()), Some((Halt::PowerOff, 3)));
    }

    #[test]
    fn shutdown_request_stops_app_first_then_helpers() {
        let mut s = Supervisor::new(vec![helper("logfwd", None)], true, OnExit::Restart, ms(500));
        s.start(ms(0));
        s.spawned(Target::Helper(0), 10, ms(0));
        s.spawned(Target::App, 20, ms(0));
        s.drain();
        s.shutdown(Halt::Reboot, ms(100));
        assert_eq!(kills(&s.drain()), [(20, signal::SIGTERM)]);
        // Restart policy does not apply while stopping; a helper that dies
        // now is not restarted either.
        s.exited(20, Status::Signal(15), ms(150));
        let a = s.drain();
        assert_eq!(kills(&a), [(10, signal::SIGTERM)]);
        assert!(spawns(&a).is_empty());
        s.exited(10, Status::Code(0), ms(160));
        assert_eq!(finish(&s.drain()), Some((Halt::Reboot, 143)));
        assert_eq!(s.next_deadline(), None);
    }

    #[test]
    fn app_ignoring_sigterm_is_killed_after_grace() {
        let mut s = Supervisor::new(vec![], true, OnExit::PowerOff, ms(500));
        s.start(ms(0));
        s.spawned(Target::App, 20, ms(0));
        s.drain();
        s.shutdown(Halt::PowerOff, ms(0));
        s.drain();
        s.tick(ms(500));
        assert_eq!(kills(&s.drain()), [(20, signal::SIGKILL)]);
        s.exited(20, Status::Signal(9), ms(501));
        assert_eq!(finish(&s.drain()), Some((Halt::PowerOff, 137)));
    }

    #[test]
    fn restart_and_stay_policies() {
        let mut s = Supervisor::new(vec![], true, OnExit::Restart, ms(500));
        s.start(ms(0));
        s.drain();
        s.spawned(Target::App, 20, ms(0));
        s.exited(20, Status::Code(1), ms(5));
        assert_eq!(finish(&s.drain()), None);
        s.tick(ms(105));
        assert_eq!(spawns(&s.drain()), [Target::App]);

        let mut s = Supervisor::new(vec![], true, OnExit::Stay, ms(500));
        s.start(ms(0));
        s.spawned(Target::App, 20, ms(0));
        s.exited(20, Status::Code(1), ms(5));
        s.drain();
        assert_eq!(s.next_deadline(), None);
        s.shutdown(Halt::PowerOff, ms(10));
        assert_eq!(finish(&s.drain()), Some((Halt::PowerOff, 1)));
    }

    #[test]
    fn spawn_failure_counts_as_127_and_does_not_block_the_start() {
        let mut s = three();
        s.start(ms(0));
        s.drain();
        s.spawn_failed(Target::Helper(0), ms(0));
        let a = s.drain();
        assert_eq!(spawns(&a), [Target::Helper(1), Target::Helper(2)]);
        assert!(s.next_deadline().is_some());
    }
}
