//! modload's command-line options.

use argh::FromArgs;
use std::path::PathBuf;

#[derive(FromArgs)]
/// Load the kernel modules the devices present need (coldplug), then exit,
/// or with --watch keep loading drivers for devices that appear later.
pub(crate) struct Args {
    /// after coldplug, report `coldplug-done` to init and load drivers for
    /// devices the kernel announces (uevents)
    #[argh(switch)]
    pub(crate) watch: bool,
    /// print what coldplug would load, in order, one module path a line
    /// (`builtin NAME` for built-in ones); load nothing
    #[argh(switch)]
    pub(crate) dry_run: bool,
    /// root directory holding lib/modules (default /)
    #[argh(option, default = "PathBuf::from(\"/\")")]
    pub(crate) root: PathBuf,
    /// kernel version of the modules tree (default: the running kernel)
    #[argh(option)]
    pub(crate) kernel_version: Option<String>,
    /// sysfs to scan (default /sys)
    #[argh(option, default = "PathBuf::from(\"/sys\")")]
    pub(crate) sysfs: PathBuf,
    /// read aliases from this file (one a line) instead of scanning sysfs
    #[argh(option)]
    pub(crate) modaliases: Option<PathBuf>,
    /// configuration file (default /etc/nodistro.conf)
    #[argh(option, default = "PathBuf::from(nodistro_common::CONFIG_PATH)")]
    pub(crate) config: PathBuf,
    /// kernel command line file (default /proc/cmdline)
    #[argh(option, default = "PathBuf::from(\"/proc/cmdline\")")]
    pub(crate) cmdline: PathBuf,
    /// modules loaded at the same time (default 4)
    #[argh(option, default = "4")]
    pub(crate) workers: usize,
    #[argh(subcommand)]
    pub(crate) cmd: Option<Cmd>,
}

#[derive(FromArgs)]
#[argh(subcommand)]
pub(crate) enum Cmd {
    ShowDepends(ShowDepends),
}

#[derive(FromArgs)]
/// Print the modules the given aliases or module names need, in load order,
/// one path a line (like modprobe --show-depends); load nothing.
#[argh(subcommand, name = "show-depends")]
pub(crate) struct ShowDepends {
    #[argh(positional)]
    pub(crate) aliases: Vec<String>,
}
