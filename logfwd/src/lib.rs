//! logfwd: collects kernel (/dev/kmsg), syslog (/dev/log) and app
//! (stdout/stderr pipes) records and forwards them to the console, a
//! bounded ring and a remote syslog server (UDP, or TCP with RFC 6587
//! octet counting), never blocking the producers on a sink that is down or
//! stuck; a remote that delivers but is slower than them pushes back
//! (their pipe and socket are left unread for a while) instead of dropping.
//!
//! Sans-IO core ([`core`], its own directory): [`core::kmsg`],
//! [`core::syslog`], [`core::lines`] parse the producers,
//! [`core::record`] is what flows, [`core::format`] the console and
//! RFC 5424/3164 lines and RFC 6587 framing, [`core::queue`] the bounded
//! queue and ring, [`core::options`] the settings, [`core::stall`] when to
//! say a server stopped reading, [`core::position`] the kernel position's
//! file text and when to save it. IO shell: [`inherited`] (init's fds),
//! [`run`] (the poll loop over the sources; `read`, the sources' readers),
//! [`sink`] (one thread per sink: `encoding`, `transport`, `udp`, `tcp`),
//! [`clock`], [`state`] (the kernel position's file across restarts),
//! [`recent`] (the console's socket), [`error`].

pub mod clock;
pub mod core;
pub mod error;
pub mod fuzzing;
pub mod inherited;
pub mod recent;
pub mod run;
pub mod sink;
pub mod state;

use nodistro_common::{report, sys::Notifier, timeline, Config};
use std::ffi::OsString;

/// Entry point shared by the standalone binary and the multicall binary.
/// `args[0]` is the program name. Returns the process exit code.
pub fn main_with_args(args: Vec<OsString>) -> i32 {
    let parsed: crate::core::options::Args = match nodistro_common::cli::parse("logfwd", args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let config_path = parsed
        .config
        .as_ref()
        .map_or(nodistro_common::CONFIG_PATH.to_string(), |p| {
            p.display().to_string()
        });
    let (cfg, _, warnings) = Config::load_from(&config_path, "/proc/cmdline", &[]);
    for w in warnings {
        timeline::log("logfwd", &w);
    }
    let (opts, warnings) = match crate::core::options::Options::resolve(&parsed, &cfg) {
        Ok(o) => o,
        Err(e) => return report::fail("logfwd", &e, 2),
    };
    for w in warnings {
        timeline::log("logfwd", &w);
    }
    // Inherited fds first, while this is the only thread (see Inherited).
    let mut notifier = match Notifier::from_env() {
        Ok(n) => n,
        Err(e) => return report::fail("logfwd", &e, 1),
    };
    let inherited = match inherited::Inherited::take() {
        Ok(i) => i,
        Err(e) => return report::fail("logfwd", &e, 1),
    };
    match run::run(opts, inherited, &mut notifier) {
        Ok(()) => 0,
        Err(e) => report::fail("logfwd", &e, 1),
    }
}
