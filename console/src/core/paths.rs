//! Where the other tools keep what the console reads, from the same
//! configuration they read (`nodistro_common::protocol`): netcfg's lease
//! directory (`IFACE.state`, `renew`) and resolv.conf, logfwd's state
//! directory (`recent.sock`). Sans-IO.

use nodistro_common::protocol::{logfwd, netcfg};
use nodistro_common::Config;
use std::path::PathBuf;

/// The other tools' files the console reads or writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// netcfg's lease directory (`netcfg.lease_dir`).
    pub lease_dir: PathBuf,
    /// Where netcfg writes DNS servers (`netcfg.resolv_conf`).
    pub resolv_conf: PathBuf,
    /// logfwd's state directory (`logfwd.state_dir`).
    pub logfwd_state_dir: PathBuf,
}

impl Paths {
    /// The paths `cfg` gives the tools.
    pub fn from_config(cfg: &Config) -> Self {
        Paths {
            lease_dir: netcfg::lease_dir(cfg),
            resolv_conf: netcfg::resolv_conf(cfg),
            logfwd_state_dir: logfwd::state_dir(cfg),
        }
    }

    /// netcfg's state file for `iface`.
    pub fn dhcp_state(&self, iface: &str) -> PathBuf {
        netcfg::state_file(&self.lease_dir, iface)
    }

    /// netcfg's renew request file.
    pub fn dhcp_renew(&self) -> PathBuf {
        netcfg::renew_file(&self.lease_dir)
    }

    /// logfwd's socket of recent records.
    pub fn recent_socket(&self) -> PathBuf {
        logfwd::recent_socket(&self.logfwd_state_dir)
    }
}

#[cfg(test)]
mod tests {
    use super::Paths;
    use nodistro_common::Config;
    use std::path::Path;

    #[test]
    fn defaults_are_the_tools_defaults() {
        let p = Paths::from_config(&Config::default());
        assert_eq!(p.dhcp_state("eth0"), Path::new("/run/netcfg/eth0.state"));
        assert_eq!(p.dhcp_renew(), Path::new("/run/netcfg/renew"));
        assert_eq!(p.recent_socket(), Path::new("/run/logfwd/recent.sock"));
        assert_eq!(p.resolv_conf, Path::new("/etc/resolv.conf"));
    }

    /// Issue 27: the console read /run/netcfg and /run/logfwd whatever
    /// `netcfg.lease_dir` and `logfwd.state_dir` said.
    #[test]
    fn the_console_follows_moved_directories() {
        let (cfg, _) = Config::parse(
            "netcfg.lease_dir=/var/lib/netcfg\nlogfwd.state_dir=/var/lib/logfwd\nnetcfg.resolv_conf=/run/resolv.conf\n",
        );
        let p = Paths::from_config(&cfg);
        assert_eq!(
            p.dhcp_state("eth0"),
            Path::new("/var/lib/netcfg/eth0.state")
        );
        assert_eq!(p.dhcp_renew(), Path::new("/var/lib/netcfg/renew"));
        assert_eq!(p.recent_socket(), Path::new("/var/lib/logfwd/recent.sock"));
        assert_eq!(p.resolv_conf, Path::new("/run/resolv.conf"));
    }
}
