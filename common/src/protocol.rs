//! Every contract between the tools, in one place: the readiness words a
//! helper writes to init, the environment init hands down, the files one
//! tool writes and another reads (with the configuration keys that move
//! them), and the configuration keys more than one crate reads. A tool
//! that writes one of these and a tool that reads it name the same
//! constant, so a changed default or key cannot leave one of them behind
//! (the debug console read `/run/netcfg` whatever `netcfg.lease_dir` said).
//!
//! Sans-IO: constants, and paths computed from a [`Config`].

use crate::Config;
use std::path::{Path, PathBuf};

/// Where the packager writes the configuration and where the tools read it.
pub const CONFIG_PATH: &str = "/etc/nodistro.conf";
/// The multicall binary's file name in the image.
pub const MULTICALL_NAME: &str = "nodistro-box";

/// Environment variables init sets for the processes it starts.
pub mod env {
    /// The fd a helper writes its readiness lines to.
    pub const READY_FD: &str = "NODISTRO_READY_FD";
    /// The fd carrying the app's stdout (read end), for logfwd.
    pub const APP_STDOUT_FD: &str = "NODISTRO_APP_STDOUT_FD";
    /// The fd carrying the app's stderr (read end), for logfwd.
    pub const APP_STDERR_FD: &str = "NODISTRO_APP_STDERR_FD";
    /// The app's name (for log records).
    pub const APP_NAME: &str = "NODISTRO_APP_NAME";
    /// A file that exists once the drivers are settled (modload's coldplug
    /// is done, or init stopped waiting for it). init gives it to netcfg
    /// when both start together (the overlapped boot).
    pub const COLDPLUG_FILE: &str = "NODISTRO_COLDPLUG_FILE";
}

/// Readiness lines: one line per event on the fd named by [`env::READY_FD`].
/// init waits for a helper's word at the start of a line.
pub mod ready {
    /// modload: every device present has its driver (the coldplug loop is
    /// done).
    pub const COLDPLUG_DONE: &str = "coldplug-done";
    /// netcfg: `online IFACE ADDR/PFX`, or `online none (WHY)`.
    pub const ONLINE: &str = "online";
    /// logfwd: its inputs are open and its sinks started.
    pub const READY: &str = "ready";
    /// The debug console: resume a boot paused at `init.break`.
    pub const CONTINUE: &str = "continue";
    /// The debug console: power the machine off.
    pub const POWEROFF: &str = "poweroff";
    /// The debug console: reboot the machine.
    pub const REBOOT: &str = "reboot";
    /// The update tool knows what this boot is (and marked a trial,
    /// [`crate::protocol::update::TRIAL_FILE`]): the app starts after it.
    pub const CHECKED: &str = "checked";

    /// netcfg's line for an address: `online IFACE ADDR/PFX`.
    #[inline]
    pub fn online(iface: &str, addr: impl std::fmt::Display, prefix: u8) -> String {
        format!("{ONLINE} {iface} {addr}/{prefix}")
    }

    /// netcfg's line when `ip=off`: no address to wait for.
    pub const ONLINE_NONE_IP_OFF: &str = "online none (ip=off)";
    /// netcfg's line when no interface is there and nothing asked for one.
    pub const ONLINE_NONE_NO_IFACE: &str = "online none (no network interface; ip= not set)";
}

/// init's files under `/run/nodistro`.
pub mod init {
    /// init's run-time directory.
    pub const RUN_DIR: &str = "/run/nodistro";
    /// Created by init once the drivers are settled; its path is given to
    /// netcfg in [`super::env::COLDPLUG_FILE`].
    pub const COLDPLUG_FILE: &str = "/run/nodistro/coldplug-done";
    /// A copy of every timeline line of this boot, for the debug console's
    /// `timeline` and `report` (init creates it only when the console is on).
    pub const TIMELINE_FILE: &str = "/run/nodistro/timeline";
}

/// Configuration keys read by more than one crate (each crate's own keys
/// stay with its options).
pub mod keys {
    /// The kernel's `ip=` (netcfg; init's metadata restarts netcfg on it).
    pub const IP: &str = "ip";
    /// The host name (init sets it; netcfg sends it to the DHCP server).
    pub const HOSTNAME: &str = "hostname";
    /// NTP servers (netcfg).
    pub const NTP: &str = "ntp";
    /// Read by netcfg: the readiness line waits for the first time sync.
    pub const INIT_WAIT_TIME: &str = "init.wait_time";
    /// logfwd's remote (init's metadata may set it).
    pub const LOGFWD_REMOTE: &str = "logfwd.remote";
}

/// What netcfg publishes (in its lease directory) and reads back.
pub mod netcfg {
    use super::*;

    /// The key moving the lease directory.
    pub const LEASE_DIR_KEY: &str = "netcfg.lease_dir";
    /// The lease directory when the key is absent.
    pub const LEASE_DIR_DEFAULT: &str = "/run/netcfg";
    /// The key moving resolv.conf.
    pub const RESOLV_CONF_KEY: &str = "netcfg.resolv_conf";
    /// Where DNS servers go when the key is absent.
    pub const RESOLV_CONF_DEFAULT: &str = "/etc/resolv.conf";
    /// `IFACE.state` in the lease directory: the DHCP state, for the
    /// console's `net`.
    pub const STATE_SUFFIX: &str = ".state";
    /// The console's `dhcp renew IFACE` writes IFACE here (in the lease
    /// directory) and sends netcfg SIGUSR1.
    pub const RENEW_FILE: &str = "renew";

    /// The lease directory `cfg` names.
    pub fn lease_dir(cfg: &Config) -> PathBuf {
        PathBuf::from(cfg.get(LEASE_DIR_KEY).unwrap_or(LEASE_DIR_DEFAULT))
    }

    /// The resolv.conf `cfg` names.
    pub fn resolv_conf(cfg: &Config) -> PathBuf {
        PathBuf::from(cfg.get(RESOLV_CONF_KEY).unwrap_or(RESOLV_CONF_DEFAULT))
    }

    /// `dir/IFACE.state`.
    pub fn state_file(dir: &Path, iface: &str) -> PathBuf {
        dir.join(format!("{iface}{STATE_SUFFIX}"))
    }

    /// The interface a state file's name is about.
    pub fn state_file_iface(file_name: &str) -> Option<&str> {
        file_name.strip_suffix(STATE_SUFFIX)
    }

    /// `dir/renew`.
    pub fn renew_file(dir: &Path) -> PathBuf {
        dir.join(RENEW_FILE)
    }
}

/// What logfwd keeps (in its state directory) and offers.
/// The update tool's contract with init (signed A/B updates).
pub mod update {
    /// Present while this boot is the trial of a fresh update (the `update`
    /// tool makes it, and removes it once the slot is blessed): init then
    /// reboots instead of restarting a failed app, so the firmware goes
    /// back to the previous slot.
    pub const TRIAL_FILE: &str = "/run/nodistro/update-trial";
    /// Where the update tool mounts the ESP while it writes a slot (under
    /// init's run directory, so every path there is named here).
    pub const ESP_MOUNT: &str = "/run/nodistro/esp";
}

pub mod logfwd {
    use super::*;

    /// The key moving the state directory.
    pub const STATE_DIR_KEY: &str = "logfwd.state_dir";
    /// The state directory when the key is absent or empty.
    pub const STATE_DIR_DEFAULT: &str = "/run/logfwd";
    /// The boot id and last kernel record handed to the sinks.
    pub const KMSG_SEQ_FILE: &str = "kmsg.seq";
    /// The unix stream socket answering every connection with the recent
    /// records (the console's `log`).
    pub const RECENT_SOCKET: &str = "recent.sock";
    /// The syslog socket logfwd binds.
    pub const SYSLOG_SOCKET: &str = "/dev/log";

    /// The state directory `cfg` names (an empty value is the default).
    pub fn state_dir(cfg: &Config) -> PathBuf {
        PathBuf::from(
            cfg.get(STATE_DIR_KEY)
                .filter(|v| !v.trim().is_empty())
                .unwrap_or(STATE_DIR_DEFAULT),
        )
    }

    /// `dir/recent.sock`.
    pub fn recent_socket(dir: &Path) -> PathBuf {
        dir.join(RECENT_SOCKET)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_keys() {
        let (c, _) = Config::parse("");
        assert_eq!(netcfg::lease_dir(&c), Path::new("/run/netcfg"));
        assert_eq!(logfwd::state_dir(&c), Path::new("/run/logfwd"));
        assert_eq!(netcfg::resolv_conf(&c), Path::new("/etc/resolv.conf"));
        let (c, _) = Config::parse(
            "netcfg.lease_dir=/var/netcfg\nlogfwd.state_dir=/var/logfwd\nnetcfg.resolv_conf=/run/resolv.conf\n",
        );
        assert_eq!(netcfg::lease_dir(&c), Path::new("/var/netcfg"));
        assert_eq!(logfwd::state_dir(&c), Path::new("/var/logfwd"));
        assert_eq!(netcfg::resolv_conf(&c), Path::new("/run/resolv.conf"));
        assert_eq!(
            logfwd::recent_socket(&logfwd::state_dir(&c)),
            Path::new("/var/logfwd/recent.sock")
        );
        assert_eq!(
            netcfg::state_file(Path::new("/var/netcfg"), "eth0"),
            Path::new("/var/netcfg/eth0.state")
        );
        assert_eq!(netcfg::state_file_iface("eth0.state"), Some("eth0"));
        assert_eq!(netcfg::state_file_iface("eth0.lease"), None);
    }

    #[test]
    fn online_lines() {
        assert_eq!(
            ready::online("eth0", "10.0.2.15", 24),
            "online eth0 10.0.2.15/24"
        );
        for none in [ready::ONLINE_NONE_IP_OFF, ready::ONLINE_NONE_NO_IFACE] {
            assert!(none.starts_with(&format!("{} none (", ready::ONLINE)));
        }
    }
}
