//! The appliance's state features, as the supervisor's event loop sees
//! them: data disks mounted before the app starts (and unmounted by
//! [`crate::vm::end`]), health checks of the running app and the hardware
//! watchdog, pet while the machine is healthy, and per-instance settings
//! read before the app's first start. One value
//! built from the configuration and handed to [`crate::supervise::run`] in
//! the [`crate::supervise::Plan`]; the loop calls [`Appliance::before_app`]
//! before each start of the app and [`Appliance::tick`] on every turn.

use crate::datadisk::{self, Mounted};
use crate::health::{self, Monitor, Verdict};
use crate::mounts::{self, MountEntry};
use crate::watchdog;
use nodistro_common::timeline::log;
use nodistro_common::Config;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// What the state features need from the loop.
#[derive(Debug, Default)]
pub struct Appliance {
    mounts: Vec<MountEntry>,
    mount_timeout: Duration,
    /// Shared with the caller of the loop, which unmounts them at the end.
    mounted: Rc<RefCell<Vec<Mounted>>>,
    /// Optional data disks that failed (tried once).
    mounts_given_up: Vec<String>,
    health: Option<Monitor>,
    /// The app's pid as last seen by [`Appliance::tick`].
    app_seen: Option<i32>,
    /// A SIGKILL due for this pid at this time (stopped for failing its
    /// health checks, it did not end on SIGTERM).
    kill_at: Option<(i32, Duration)>,
    grace: Duration,
    unhealthy_reported: bool,
    watchdog: watchdog::State,
    /// Per-instance settings still to read (machine mode, first start).
    instance_pending: bool,
    metadata: Option<std::net::SocketAddr>,
    metadata_timeout: Duration,
}

/// A signal for the loop to send: (pid, signal).
pub type Kill = (i32, i32);

impl Appliance {
    /// From the merged configuration; warnings for the console. `grace` is
    /// `init.grace` (SIGTERM to SIGKILL).
    pub fn from_config(cfg: &Config, grace: Duration) -> (Self, Vec<String>) {
        let (mounts, mount_timeout, mut warn) = mounts::from_config(cfg);
        let (health, w) = health::from_config(cfg);
        warn.extend(w);
        let (wd, w) = watchdog::from_config(cfg);
        warn.extend(w);
        let (metadata, metadata_timeout, w) = crate::metadata::from_config(cfg);
        warn.extend(w);
        if let Some(h) = &health {
            log(
                "init",
                &format!(
                    "health check {} every {} ms, {} failures stop the app",
                    h.check,
                    h.interval.as_millis(),
                    h.failures
                ),
            );
        }
        (
            Appliance {
                mounts,
                mount_timeout,
                health: health.map(Monitor::new),
                grace,
                watchdog: watchdog::State::new(wd),
                instance_pending: true,
                metadata,
                metadata_timeout,
                ..Default::default()
            },
            warn,
        )
    }

    /// The filesystems mounted so far (filled while the loop runs).
    pub fn mounted(&self) -> Rc<RefCell<Vec<Mounted>>> {
        self.mounted.clone()
    }

    /// Before each start of the app: the first time, read the per-instance
    /// settings; then mount the data disks not mounted yet. Returns the
    /// helpers to restart for their new configuration. An error (a
    /// required disk is missing) is why the app cannot start.
    pub fn before_app(&mut self) -> Result<Vec<&'static str>, String> {
        self.watchdog.pet_now();
        let mut restart = Vec::new();
        if std::mem::take(&mut self.instance_pending) {
            let sources = crate::metadata::gather(self.metadata, self.metadata_timeout);
            restart = crate::metadata::apply(&sources);
            self.watchdog.pet_now();
        }
        if self.mounts.is_empty() {
            return Ok(restart);
        }
        let deadline = Instant::now() + self.mount_timeout;
        let missing = datadisk::mount_pending(
            &self.mounts,
            &mut self.mounted.borrow_mut(),
            &mut self.mounts_given_up,
            deadline,
        );
        if missing.is_empty() {
            Ok(restart)
        } else {
            Err(format!("required mount {} is missing", missing.join(", ")))
        }
    }

    /// Whether the machine is healthy: no health checks, or the app has
    /// not failed them start after start beyond `init.health_restarts`.
    pub fn healthy(&self) -> bool {
        self.health.as_ref().is_none_or(Monitor::healthy)
    }

    /// The earliest time [`Appliance::tick`] has something to do.
    pub fn next_deadline(&self) -> Option<Duration> {
        [
            self.health.as_ref().and_then(Monitor::next_check),
            self.kill_at.map(|(_, t)| t),
            self.watchdog.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// One turn of the loop at `now` (time since the loop began), with the
    /// app's pid (`None` when it is not running or init is stopping).
    /// Returns the signals to send.
    pub fn tick(&mut self, now: Duration, app: Option<i32>) -> Vec<Kill> {
        let mut kills = Vec::new();
        if app != self.app_seen {
            self.app_seen = app;
            if let Some(m) = &mut self.health {
                match app {
                    Some(_) => m.app_started(now),
                    None => m.app_stopped(),
                }
            }
            if self.kill_at.is_some_and(|(pid, _)| Some(pid) != app) {
                self.kill_at = None;
            }
        }
        if let (Some((pid, t)), Some(_)) = (self.kill_at, app) {
            if now >= t {
                log(
                    "init",
                    &format!("app (pid {pid}) did not stop on SIGTERM; SIGKILL"),
                );
                kills.push((pid, nodistro_common::signal::SIGKILL));
                self.kill_at = None;
            }
        }
        let due = self
            .health
            .as_ref()
            .and_then(Monitor::next_check)
            .is_some_and(|t| now >= t);
        if let (true, Some(pid), Some(m)) = (due, app, &mut self.health) {
            let t0 = Instant::now();
            let res = crate::checks::run(&m.spec.check, m.spec.timeout);
            let was_healthy = m.healthy();
            let verdict = m.result(res.is_ok(), now + t0.elapsed());
            let check = m.spec.check.to_string();
            let why = res.err().unwrap_or_default();
            match verdict {
                Verdict::Pass => {
                    if !was_healthy {
                        report(&format!(
                            "health check {check} passes again: the machine is healthy"
                        ));
                        self.unhealthy_reported = false;
                    }
                }
                Verdict::Failed(n) => report(&format!(
                    "health check {check} failed ({why}): {n} of {} in a row",
                    m.spec.failures
                )),
                Verdict::Restart => {
                    report(&format!(
                        "health check {check} failed {} times in a row ({why}): stopping the app (pid {pid}); init.on_exit applies",
                        m.spec.failures
                    ));
                    kills.push((pid, nodistro_common::signal::SIGTERM));
                    self.kill_at = Some((pid, now + self.grace));
                }
            }
        }
        if !self.healthy() && !self.unhealthy_reported {
            self.unhealthy_reported = true;
            if let Some(m) = &self.health {
                report(&format!(
                    "the app failed its health checks {} starts in a row (init.health_restarts): the machine is unhealthy",
                    m.spec.restarts + 1
                ));
            }
        }
        let healthy = self.healthy();
        self.watchdog.tick(now, healthy);
        kills
    }

    /// The loop is over (clean shutdown): disarm the watchdog.
    pub fn finish(&mut self) {
        self.watchdog.disarm();
    }
}

/// A console line that also goes to the system log (/dev/log, which
/// logfwd forwards to the remote and echoes on the console), at warning
/// severity.
fn report(msg: &str) {
    log("init", msg);
    if let Ok(s) = std::os::unix::net::UnixDatagram::unbound() {
        // RFC 5424, facility daemon (3), severity warning (4): <28>; no
        // timestamp (the receiver stamps it), app init, pid 1.
        let _ = s.send_to(
            format!("<28>1 - - init 1 - - {msg}").as_bytes(),
            nodistro_common::protocol::logfwd::SYSLOG_SOCKET,
        );
    }
}
