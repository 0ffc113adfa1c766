//! modload: kernel module loading driven by device modaliases, with kmod's
//! lookup rules and no kmod, shell or udev in the image.
//!
//! - [`core`]: the sans-IO codecs, in their own directory: `modinfo`,
//!   `fnmatch`, `kmodbin`, `depmod`, `decompress`, `textfiles`, `depindex`,
//!   `hash`, `queries` (re-exported at the crate root by their old names).
//! - [`tree`]: the module index of a `/lib/modules/<version>` directory
//!   (opening it, module paths and dependencies); around it, one concern a
//!   file: `textfiles` (records of kmod's text files), `depindex`
//!   (modules.dep parsed), `hash` (the name hash), `queries` (a batch of
//!   aliases sorted for prefix search), `lookup` (kmod's lookup rules),
//!   `plan` (dependency closure in load order), `modinfo_scan` (a tree
//!   without depmod's files), `subset` (an image's index files).
//! - [`modinfo`]: a module's own `.modinfo` section.
//! - [`fnmatch`]: kmod's pattern matching and name normalisation.
//! - [`kmodbin`]: kmod's binary index format (depmod's `modules.*.bin`
//!   tries), read and written; `bins` opens a tree's indexes (a missing,
//!   stale, corrupt or foreign one: the text files, with one line saying
//!   why); [`depmod`] makes them from the text files as depmod does.
//! - [`coldplug`]: the devices in /sys, blacklist, alias resolution.
//! - [`load`]: finit_module, parameters, parallel loading.
//! - [`uevent`]: hotplug events.
//! - [`probe`]: `modprobe NAME PARAM=VALUE` and alias matches for the
//!   debug console (a thin entry point over the tree and the loader).
//! - `cli`: the entry point, which tree (the running kernel's), the exit
//!   codes (options in `args`, errors in `error`); `session`: a run over
//!   an open tree (show-depends, coldplug rounds, the uevent watch, the
//!   lines it logs).
//!
//! Configuration (`/etc/nodistro.conf`, overridden by the kernel command
//! line): `modprobe.blacklist=a,b` and `modload.blacklist=a,b` (kmod's
//! blacklist: alias matches only), `<module>.<param>=<value>` (module
//! parameters, `-` and `_` alike in the module name). kmod's own
//! `/etc/modprobe.d/*.conf` and `/lib/modprobe.d/*.conf` (under `--root`)
//! are read too ([`modprobe_d`]): options (before the command line's),
//! blacklist, alias, softdep.
//!
//! Exit codes: 0 done, 1 a module failed to load (or an alias matched
//! nothing, for `show-depends`) or the tree cannot be used, 2 bad usage.
//! Top-level options go before a subcommand (`modload --root R show-depends ALIAS`).

mod args;
mod bins;
mod cli;
pub mod coldplug;
pub mod core;
mod error;
pub mod fuzzing;
pub mod load;
mod lookup;
mod modinfo_scan;
pub mod modprobe_d;
mod plan;
pub mod probe;
mod session;
mod subset;
mod sys;
#[cfg(test)]
mod testutil;
pub mod tree;
pub mod uevent;

// The codecs' paths before they moved into core/ (packaging and the
// tests use them).
pub use crate::core::{decompress, depmod, fnmatch, kmodbin, modinfo};
pub use cli::main_with_args;
pub use error::Error;
pub use modinfo::{modinfo, ModInfo, ModinfoError};
pub use tree::{ModuleTree, TreeError};
