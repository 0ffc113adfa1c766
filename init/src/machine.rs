//! Machine mode: init as the PID 1 of a machine, in steps: reboot on a
//! panic, the kernel's filesystems and the console, the configuration (file
//! and kernel command line), the host name and `lo`, the helpers the image
//! holds, the debug console, then the supervisor until the machine halts.

use crate::appliance::Appliance;
use crate::config::{InitConfig, HELPERS, PLAIN_KEYS};
use crate::helpers::{app_cmd, arrange, helper_cmd};
use crate::supervise::{self, HelperCmd, Plan};
use crate::{debug, vm};
use nodistro_common::timeline::{log, since_boot_ms};
use nodistro_common::Config;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

/// PID 1 of a machine; `kernel_args` are the kernel's bare words for the
/// app. Never returns.
pub fn run(kernel_args: Vec<String>) -> i32 {
    reboot_on_panic();
    let mounts_ms = mount_and_console();
    let (cfg, c) = configuration(&kernel_args);
    let (appliance, warnings) = Appliance::from_config(&cfg, c.grace);
    say(warnings);
    let mounted = appliance.mounted();
    name_the_host(&c);
    let mut helpers = helpers_in_image(&c);
    let coldplug_mark = arrange(&mut helpers, &c);
    if c.sequential {
        log(
            "init",
            "init.sequential=on: starting the helpers one after the other",
        );
    }
    let debug = debug_plan(&c, &mut helpers);
    let app = c.app.clone().map(|p| app_cmd(&c, p, c.args.clone()));
    let sigfd = block_signals();
    let plan = Plan {
        helpers,
        app,
        on_exit: c.on_exit,
        grace: c.grace,
        vm: true,
        forward: c.forward,
        overlap: !c.sequential,
        coldplug_mark,
        mounts_ms: Some(mounts_ms),
        debug,
        appliance,
    };
    let (halt, code) = supervise::run(plan, &sigfd);
    log("init", &format!("all stopped (app status {code})"));
    let data = mounted.borrow().clone();
    vm::end(halt, &data)
}

/// A panic in PID 1 would panic the kernel: say it and reboot instead.
fn reboot_on_panic() {
    std::panic::set_hook(Box::new(|info| {
        log("init", &format!("BUG: init panicked: {info}; rebooting"));
        rustix::fs::sync();
        let _ = rustix::system::reboot(rustix::system::RebootCommand::Restart);
    }));
}

/// The kernel's filesystems, the console as stdio, Ctrl-Alt-Del off;
/// returns how long the mounts took (ms).
fn mount_and_console() -> u64 {
    let t0 = since_boot_ms();
    vm::mount_all();
    debug::keep_timeline();
    vm::console_stdio();
    let mounts_ms = since_boot_ms().saturating_sub(t0);
    log("init", &format!("mounts done in {mounts_ms} ms"));
    vm::cad_off();
    mounts_ms
}

fn say(warnings: Vec<String>) {
    for w in warnings {
        log("init", &w);
    }
}

/// /etc/nodistro.conf with the kernel command line over it, and init's
/// typed part of it; the warnings said.
fn configuration(kernel_args: &[String]) -> (Config, InitConfig) {
    let (cfg, _, warnings) = Config::load_system(PLAIN_KEYS);
    say(warnings);
    let (c, warnings) = InitConfig::from_config(&cfg, kernel_args);
    say(warnings);
    (cfg, c)
}

/// `lo` up, the host name set and kept true in /etc/hosts.
fn name_the_host(c: &InitConfig) {
    vm::lo_up();
    vm::set_hostname(&c.hostname);
    if let Err(e) = nodistro_common::hosts::sync(nodistro_common::hosts::PATH, &c.hostname, false) {
        log(
            "init",
            &format!("cannot update {}: {e}", nodistro_common::hosts::PATH),
        );
    }
    log("init", &format!("host name {}, lo up", c.hostname));
}

/// The helpers wanted (`init.helpers`, else all known) that /bin holds.
fn helpers_in_image(c: &InitConfig) -> Vec<HelperCmd> {
    let wanted: Vec<String> = c
        .helpers
        .clone()
        .unwrap_or_else(|| HELPERS.iter().map(|s| s.to_string()).collect());
    let mut helpers = Vec::new();
    for name in &wanted {
        let path = PathBuf::from("/bin").join(name);
        if path.exists() {
            helpers.push(helper_cmd(name, path, c));
        } else {
            log(
                "init",
                &format!("{name} is not in the image ({}); skipped", path.display()),
            );
        }
    }
    helpers
}

/// With `init.debug=console`: the console first among the helpers (so a
/// stop point before modules has it), its stop points and the report.
fn debug_plan(c: &InitConfig, helpers: &mut Vec<HelperCmd>) -> debug::DebugPlan {
    if !c.debug.console {
        return Default::default();
    }
    let path = PathBuf::from("/bin").join(debug::CONSOLE);
    if !path.exists() {
        log(
            "init",
            &format!(
                "init.debug=console, but {} is not in the image; no console",
                path.display()
            ),
        );
        return Default::default();
    }
    log(
        "init",
        "debug console on the console device (init.debug=console): root for whoever holds it",
    );
    helpers.insert(0, helper_cmd(debug::CONSOLE, path, c));
    let names: Vec<&str> = helpers.iter().map(|h| h.spec.name.as_str()).collect();
    debug::DebugPlan {
        console: Some(0),
        breaks: c.debug.positions(&names),
        report: true,
    }
}

/// The signalfd of the signals init handles; PID 1 cannot go on without
/// it, so it retries each second.
fn block_signals() -> OwnedFd {
    loop {
        match crate::sys::block_signals() {
            Ok(fd) => return fd,
            Err(e) => {
                log(
                    "init",
                    &format!("cannot set up signal handling: {e}; retrying"),
                );
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        }
    }
}
