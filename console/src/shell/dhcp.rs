//! `dhcp-renew IFACE`: signal netcfg and wait for the new lease.

use super::Console;
use crate::gather;
use std::time::{Duration, Instant};

impl Console {
    pub(super) fn dhcp_renew(&self, iface: &str) {
        let state = self.paths.dhcp_state(iface);
        let before = gather::text(&state);
        if before.is_empty() {
            self.out(&format!(
                "error: netcfg runs no DHCP on {iface:?} (see net)\n"
            ));
            return;
        }
        let Some(pid) = gather::processes()
            .into_iter()
            .find(|p| {
                p.command
                    .split_whitespace()
                    .next()
                    .is_some_and(|c| c.ends_with("netcfg"))
            })
            .map(|p| p.pid)
        else {
            self.out("error: netcfg is not running (see ps)\n");
            return;
        };
        // netcfg reads the interface from this file on SIGUSR1.
        let _ = std::fs::write(self.paths.dhcp_renew(), iface);
        if let Some(p) = rustix::process::Pid::from_raw(pid) {
            if let Err(e) = rustix::process::kill_process(p, rustix::process::Signal::USR1) {
                self.out(&format!("error: cannot signal netcfg: {e}\n"));
                return;
            }
        }
        self.out(&format!("asked netcfg (pid {pid}) to renew {iface}\n"));
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.interrupted(Duration::from_millis(100)) {
                return;
            }
            let now = gather::text(&state);
            if now != before && now.contains("state=bound") {
                self.out(&format!(
                    "{iface}: {}\n",
                    crate::core::net::dhcp_line(&now, nodistro_common::timeline::since_boot_ms())
                ));
                return;
            }
        }
        self.out(&format!(
            "{iface}: no new lease within 5 s (see net, dmesg)\n"
        ));
    }
}
