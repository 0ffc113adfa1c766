//! The bring-up switches' IO: the timeline file the tools copy their lines
//! to, and the bring-up report. What `init.debug` and `init.break` ask for
//! is `core::debug` (sans-IO), re-exported here.

pub use crate::core::debug::{DebugPlan, CONSOLE};

/// Create the file the tools copy their timeline lines to (best effort).
pub fn keep_timeline() {
    let path = std::path::Path::new(nodistro_common::timeline::TIMELINE_FILE);
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::File::create(path);
}

/// Print the bring-up report on the console: `console --report`, reaped
/// by the loop like any orphan.
pub fn spawn_report() {
    let mut cmd = std::process::Command::new(format!("/bin/{CONSOLE}"));
    cmd.arg("--report").stdin(std::process::Stdio::null());
    crate::sys::unblock_signals_in_child(&mut cmd);
    if let Err(e) = cmd.spawn() {
        nodistro_common::timeline::log("init", &format!("cannot run the bring-up report: {e}"));
    }
}
