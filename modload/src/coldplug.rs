//! Finding the devices present: `modalias` files (or `MODALIAS=` in
//! `uevent`) of `/sys/bus/*/devices/*` and `/sys/class/input/input*`, far
//! cheaper than walking all of /sys; and turning their aliases into modules with kmod's blacklist rule.

use crate::core::fnmatch::normalize_name;
use crate::tree::ModuleTree;
use nodistro_common::{Cmdline, Config};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// A device with a modalias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// `/sys/bus/<bus>/devices/<name>`.
    pub path: PathBuf,
    pub alias: String,
}

/// `MODALIAS=` of a uevent file's text.
pub fn modalias_of_uevent(text: &str) -> Option<&str> {
    text.lines()
        .find_map(|l| l.strip_prefix("MODALIAS="))
        .map(str::trim)
        .filter(|a| !a.is_empty())
}

fn read_opt(path: &Path, warn: &mut dyn FnMut(String)) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(s) => Some(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            warn(format!("cannot read {}: {e}; skipping it", path.display()));
            None
        }
    }
}

const NO_MODALIAS: &[&str] = &[
    "memory",
    "node",
    "clockevents",
    "clocksource",
    "event_source",
    "machinecheck",
    "workqueue",
];

/// Every device under `sysfs/bus/*/devices/` with a modalias, sorted by
/// path. Unreadable entries are reported through `warn` and skipped.
pub fn scan(sysfs: &Path, warn: &mut dyn FnMut(String)) -> Vec<Device> {
    let mut out = Vec::new();
    let buses = match std::fs::read_dir(sysfs.join("bus")) {
        Ok(d) => d,
        Err(e) => {
            warn(format!(
                "cannot list {}: {e} (is sysfs mounted?)",
                sysfs.join("bus").display()
            ));
            return out;
        }
    };
    for bus in buses.flatten() {
        // Buses whose devices never carry a modalias (a machine with much
        // memory has thousands of memory blocks).
        if NO_MODALIAS.iter().any(|b| bus.file_name() == *b) {
            continue;
        }
        let Ok(devs) = std::fs::read_dir(bus.path().join("devices")) else {
            continue;
        };
        // Devices of one bus without a modalias file either all carry
        // MODALIAS= in their uevent (cpu) or none does (memory, usb devices
        // as opposed to interfaces): read uevent files only while it pays.
        let mut uevent_has_alias = None;
        for dev in devs.flatten() {
            let path = dev.path();
            let alias = match read_opt(&path.join("modalias"), warn) {
                Some(a) => Some(a.trim().to_string()),
                None if uevent_has_alias == Some(false) => None,
                None => {
                    let a = read_opt(&path.join("uevent"), warn)
                        .and_then(|u| modalias_of_uevent(&u).map(str::to_string));
                    uevent_has_alias = Some(a.is_some());
                    a
                }
            };
            if let Some(alias) = alias.filter(|a| !a.is_empty()) {
                out.push(Device { path, alias });
            }
        }
    }
    // Input devices are a class, not a bus: one a kernel builds in from
    // the start (the ACPI power button of arm64's Debian kernel on virt
    // under UEFI) sends no uevent after modload starts, so its handler
    // (evdev) is found here or never.
    if let Ok(inputs) = std::fs::read_dir(sysfs.join("class/input")) {
        for dev in inputs.flatten() {
            if !dev.file_name().to_string_lossy().starts_with("input") {
                continue;
            }
            let path = dev.path();
            if let Some(alias) = read_opt(&path.join("modalias"), warn)
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
            {
                out.push(Device { path, alias });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Whether a driver is bound to the device (then an unmatched alias is fine:
/// the driver is built in).
pub fn has_driver(dev: &Path) -> bool {
    dev.join("driver").symlink_metadata().is_ok()
}

/// Module names never loaded for an alias match (kmod's `blacklist`): from
/// `modprobe.blacklist=a,b` (kernel command line, repeatable) and
/// `modload.blacklist=a,b` (configuration).
#[derive(Debug, Default, Clone)]
pub struct Blacklist(HashSet<String>);

impl Blacklist {
    pub fn new<'a>(lists: impl IntoIterator<Item = &'a str>) -> Self {
        Blacklist(
            lists
                .into_iter()
                .flat_map(|l| l.split(','))
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(normalize_name)
                .collect(),
        )
    }

    pub fn from_config(cfg: &Config, cmdline: &Cmdline) -> Self {
        Self::new(
            cmdline
                .get_all("modprobe.blacklist")
                .chain(cfg.get_all("modprobe.blacklist"))
                .chain(cfg.get_all("modload.blacklist")),
        )
    }

    /// The same list plus `names` (modprobe.d's `blacklist` lines).
    pub fn with<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Self {
        self.0.extend(names.into_iter().map(normalize_name));
        self
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains(&normalize_name(name))
    }
}

/// Modules for a list of aliases.
#[derive(Debug, Default)]
pub struct Resolution {
    /// Module names in first-seen order, without duplicates.
    pub modules: Vec<String>,
    /// Aliases that matched no module.
    pub unmatched: Vec<String>,
    /// (alias, module) matches dropped by the blacklist.
    pub blacklisted: Vec<(String, String)>,
}

/// Resolve aliases (or module names) like `modprobe -a`: the blacklist
/// filters alias matches only; a module named directly is kept. With
/// `blacklist_names` it filters names too (`modprobe -b`).
pub fn resolve<'a>(
    tree: &ModuleTree,
    aliases: impl IntoIterator<Item = &'a str>,
    blacklist: &Blacklist,
    blacklist_names: bool,
) -> Resolution {
    let mut res = Resolution::default();
    let mut seen_alias = HashSet::new();
    let aliases: Vec<&str> = aliases
        .into_iter()
        .filter(|a| seen_alias.insert(*a))
        .collect();
    let mut seen_mod = HashSet::new();
    for (alias, found) in aliases.iter().zip(tree.lookup_many(&aliases)) {
        let Some((kind, names)) = found else {
            res.unmatched.push(alias.to_string());
            continue;
        };
        for n in names {
            if (kind.is_alias() || blacklist_names) && blacklist.contains(&n) {
                res.blacklisted.push((alias.to_string(), n));
            } else if seen_mod.insert(n.clone()) {
                res.modules.push(n);
            }
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Tmp(PathBuf);
    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn scans_modalias_and_uevent_files() {
        let root = std::env::temp_dir().join(format!("modload-scan-{}", std::process::id()));
        let _t = Tmp(root.clone());
        let dev = |p: &str, file: &str, text: &str| {
            let d = root.join(p);
            std::fs::create_dir_all(&d).expect("mkdir");
            std::fs::write(d.join(file), text).expect("write");
        };
        dev(
            "bus/pci/devices/0000:00:03.0",
            "modalias",
            "pci:v00001AF4d00001000\n",
        );
        dev(
            "bus/cpu/devices/cpu0",
            "uevent",
            "DRIVER=x\nMODALIAS=cpu:type:x86,ven0000\n",
        );
        dev(
            "bus/cpu/devices/cpu1",
            "uevent",
            "MODALIAS=cpu:type:x86,ven0000\n",
        );
        dev(
            "class/input/input0",
            "modalias",
            "input:b0019v0000p0001e0000-e0,1,k74,ramlsfw\n",
        );
        std::fs::create_dir_all(root.join("class/input/event0")).expect("mkdir");
        dev("bus/memory/devices/memory0", "uevent", "DEVTYPE=memory\n");
        dev("bus/memory/devices/memory1", "uevent", "DEVTYPE=memory\n");
        // A directory where a file should be: read fails, reported, skipped.
        std::fs::create_dir_all(root.join("bus/usb/devices/1-1/modalias")).expect("mkdir");
        std::fs::create_dir_all(root.join("bus/pci/devices/0000:00:03.0/driver")).expect("mkdir");
        let mut warnings = Vec::new();
        let devs = scan(&root, &mut |w| warnings.push(w));
        let got: Vec<_> = devs.iter().map(|d| d.alias.as_str()).collect();
        assert_eq!(
            got,
            [
                "cpu:type:x86,ven0000",
                "cpu:type:x86,ven0000",
                "pci:v00001AF4d00001000",
                "input:b0019v0000p0001e0000-e0,1,k74,ramlsfw"
            ]
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("1-1/modalias"));
        assert!(has_driver(&devs[2].path));
        assert!(!has_driver(&devs[0].path));
        let mut w = Vec::new();
        assert!(scan(&root.join("nosuch"), &mut |x| w.push(x)).is_empty());
        assert!(w[0].contains("is sysfs mounted"));
    }

    #[test]
    fn blacklist_filters_alias_matches_only() {
        let tree = ModuleTree::from_texts(
            "a.ko:\nb.ko:\nc-d.ko:\n",
            "alias x:* a\nalias x:1 b\nalias y c_d\n",
            "",
            "",
            b"",
        );
        let bl = Blacklist::new(["a,c-d", " "]);
        let r = resolve(&tree, ["x:1", "y", "a", "zz", "x:1"], &bl, false);
        assert_eq!(r.modules, ["b", "a"]);
        assert_eq!(r.unmatched, ["zz"]);
        assert_eq!(
            r.blacklisted,
            [("x:1".into(), "a".into()), ("y".into(), "c_d".into())]
        );
        let r = resolve(&tree, ["a", "b"], &bl, true);
        assert_eq!(r.modules, ["b"]);
        let cfg = Config::from_entries([("modload.blacklist", "b")]);
        let bl = Blacklist::from_config(&cfg, &Cmdline::parse("modprobe.blacklist=a"));
        assert!(bl.contains("a") && bl.contains("b") && !bl.contains("c"));
    }
}
