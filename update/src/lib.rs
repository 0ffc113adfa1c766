//! Signed A/B updates (issue 24).
//!
//! A `--format disk` image holds two UKI slots on its ESP; a release is a
//! UKI and a [`core::manifest`] signed with an ed25519 key whose public half
//! the image carries ([`KEY_FILE`]). The `update` helper, started by init:
//! - at start, reads the firmware's variables and says what this boot is
//!   ([`core::slots::classify`]): it marks a trial boot for init, records a
//!   failed trial, or makes the slots' boot entries on the first boot;
//!   then reports ready ([`nodistro_common::UPDATE_READY_WORD`]);
//! - blesses a trial boot after `update.trial` seconds (BootOrder);
//! - every `update.interval`, pulls `update.url`'s manifest and installs a
//!   newer release into the inactive slot ([`pull`]), sets BootNext, and
//!   asks init to reboot.
//!
//! `core/` is sans-IO; `efivars`, `esp`, `fetch` are the IO; `boot`,
//! `pull` the steps.

pub mod boot;
pub mod core;
pub mod efivars;
pub mod esp;
pub mod fetch;
#[doc(hidden)]
pub mod fuzzing;
pub mod pull;
pub mod push;
pub mod resolve;
pub mod settings;

use nodistro_common::timeline::log;

/// The image file holding the trust root (an SPKI PEM).
pub const KEY_FILE: &str = "/etc/nodistro/update.pub";

#[derive(argh::FromArgs)]
/// Pull signed releases into the inactive A/B slot and bless or roll back
/// trial boots; init starts it when the image was built with --update-key.
struct Args {}

fn idle() -> ! {
    loop {
        std::thread::park();
    }
}

/// `update`: never returns while it runs as init's helper (a helper that
/// exits is restarted); returns 2 on a usage error.
pub fn main_with_args(args: Vec<std::ffi::OsString>) -> i32 {
    let _: Args = match nodistro_common::cli::parse("update", args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let mut ready = nodistro_common::sys::Notifier::from_env().unwrap_or_else(|e| {
        log("update", &format!("{e}"));
        nodistro_common::sys::Notifier::none()
    });
    let (cfg, _, warnings) = nodistro_common::Config::load_system(&[]);
    let key_pem = std::fs::read_to_string(KEY_FILE).unwrap_or_default();
    let settings = match settings::from_config(&cfg, &key_pem) {
        Ok((s, warn)) => {
            for w in warnings.iter().chain(&warn) {
                log("update", w);
            }
            s
        }
        Err(e) => {
            log("update", &format!("{e}: updates are off"));
            ready.notify(nodistro_common::UPDATE_READY_WORD);
            idle();
        }
    };
    if let Err(why) = efivars::ensure_mounted(|_| {}) {
        log("update", &format!("{why}: A/B updates are off"));
        ready.notify(nodistro_common::UPDATE_READY_WORD);
        idle();
    }
    let facts = efivars::facts();
    let kind = core::slots::classify(&facts);
    boot::before_app(&kind, &facts);
    ready.notify(nodistro_common::UPDATE_READY_WORD);
    boot::after_ready(&kind, &facts, &settings);
    run_checks(&settings);
}

/// SIGINT to init: its reboot (Ctrl-Alt-Del), with the app stopped and the
/// disks unmounted first.
fn reboot() -> ! {
    let _ = rustix::process::kill_process(rustix::process::Pid::INIT, rustix::process::Signal::INT);
    idle();
}

/// Pull `update.url` every `update.interval`, and take pushes
/// (`update.listen`) in between; each outcome is said once.
fn run_checks(s: &settings::Settings) -> ! {
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(port) = s.listen {
        match push::listen(port, tx) {
            Ok(()) => log(
                "update",
                &format!("taking pushed releases on port {port} (nodistro update --to)"),
            ),
            Err(e) => log(
                "update",
                &format!("cannot listen on port {port} for pushed releases: {e}"),
            ),
        }
    } else {
        drop(tx);
    }
    let mut last: Option<String> = None;
    let mut next = std::time::Instant::now();
    loop {
        if let Some(url) = &s.url {
            if std::time::Instant::now() >= next {
                // Re-read: blessing or adopting changed the variables.
                let c = pull::check(s, &efivars::facts(), url);
                if last.as_deref() != Some(c.report.as_str()) || c.installed {
                    log("update", &c.report);
                }
                if c.installed {
                    reboot();
                }
                last = Some(c.report);
                next = std::time::Instant::now() + s.interval;
            }
        }
        let wait = if s.url.is_some() {
            next.saturating_duration_since(std::time::Instant::now())
        } else {
            std::time::Duration::from_secs(86400)
        };
        match rx.recv_timeout(wait) {
            Ok(p) => {
                log(
                    "update",
                    &format!("release pushed from {}", p.url.display()),
                );
                let c = pull::check(s, &efivars::facts(), &p.url);
                log("update", &c.report);
                push::answer(p, c.installed, &c.report);
                if c.installed {
                    reboot();
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) if s.url.is_none() => idle(),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(wait);
            }
        }
    }
}
