//! The boot's start order (sans-IO): in which order the helpers start,
//! whether they overlap, and what the app waits for.
//!
//! Overlapped (the default): `logfwd` first (it needs no driver, and reads
//! /dev/kmsg from the start of the kernel's ring, so it catches every line
//! of the boot), then `modload --watch` and `netcfg` at once: netcfg
//! listens for rtnetlink link notifications while modload's coldplug loads
//! the drivers, and configures each interface the moment it appears. The
//! app starts when every helper with a readiness word has said it (modload
//! `coldplug-done`: the app's disk, its data disks and any device it opens
//! have their drivers; netcfg `online`: the first address, or `online
//! none` when no interface exists once the drivers are settled) or has
//! passed its timeout (`init.modload_timeout`, `init.net_timeout`, each
//! counted from that helper's start; one line says which was not ready).
//!
//! logfwd runs at nice [`BOOT_NICE`] until the start is over (then 0): it
//! reads the kernel's ring from its beginning and the app's pipes are
//! kept by init, so starting it first loses nothing, and at low priority
//! its start-up work fills the idle time of the DHCP exchange instead of
//! delaying the drivers on a one-CPU machine (measured: BENCHMARKS.md).
//!
//! Sequential (`init.sequential=on`): the order before, for comparison and
//! bring-up on odd hardware: modload (waited for), logfwd, netcfg (waited
//! for), the app.

/// The helpers' start order: indices into `names` (given in
/// [`crate::config::HELPERS`] order; other names keep their place).
pub fn arrange(names: &[&str], overlap: bool) -> Vec<usize> {
    let first = |i: &usize| overlap && names[*i] == "logfwd";
    // logfwd to the front, the rest in their order.
    let all = 0..names.len();
    all.clone()
        .filter(first)
        .chain(all.filter(|i| !first(i)))
        .collect()
}

/// logfwd's nice value while the boot starts (overlapped start only).
pub const BOOT_NICE: i32 = 19;

/// Whether helper `name` starts at [`BOOT_NICE`].
pub fn nice_while_starting(name: &str, overlap: bool) -> bool {
    overlap && name == "logfwd"
}

/// Whether netcfg must be told when the drivers are settled: it starts
/// while modload's coldplug still runs, so "no interface yet" does not
/// mean "no interface" until then.
pub fn netcfg_needs_coldplug_mark(names: &[&str], overlap: bool) -> bool {
    overlap && names.contains(&"modload") && names.contains(&"netcfg")
}

/// Where init marks the drivers as settled (see
/// [`nodistro_common::COLDPLUG_FILE_ENV`]).
pub use nodistro_common::protocol::init::COLDPLUG_FILE;

#[cfg(test)]
mod tests {
    use super::*;

    fn names<'a>(all: &[&'a str], order: &[usize]) -> Vec<&'a str> {
        order.iter().map(|i| all[*i]).collect()
    }

    #[test]
    fn overlapped_puts_logfwd_first_and_keeps_the_rest() {
        let all = ["modload", "logfwd", "netcfg"];
        assert_eq!(
            names(&all, &arrange(&all, true)),
            ["logfwd", "modload", "netcfg"]
        );
        assert_eq!(
            names(&all, &arrange(&all, false)),
            ["modload", "logfwd", "netcfg"],
            "sequential: the old order"
        );
        let some = ["modload", "netcfg", "watcher"];
        assert_eq!(
            names(&some, &arrange(&some, true)),
            ["modload", "netcfg", "watcher"]
        );
        assert!(arrange(&[], true).is_empty());
    }

    #[test]
    fn coldplug_mark_only_when_netcfg_overlaps_modload() {
        let all = ["modload", "logfwd", "netcfg"];
        assert!(netcfg_needs_coldplug_mark(&all, true));
        assert!(!netcfg_needs_coldplug_mark(&all, false));
        assert!(!netcfg_needs_coldplug_mark(&["logfwd", "netcfg"], true));
        assert!(!netcfg_needs_coldplug_mark(&["modload", "logfwd"], true));
    }

    #[test]
    fn only_logfwd_is_niced_and_only_when_overlapped() {
        assert!(nice_while_starting("logfwd", true));
        assert!(!nice_while_starting("logfwd", false));
        assert!(!nice_while_starting("netcfg", true));
        assert!(!nice_while_starting("modload", true));
    }
}
