//! One resolv.conf for the whole machine: [`Resolv`] is the run's one
//! registry (the merge is `core::resolv`), which writes the file
//! atomically when its text changes and logs what it wrote.

use crate::core::resolv::Registry;
pub use crate::core::resolv::{Entry, Source};
use nodistro_common::timeline::log;
use std::io;
use std::path::Path;
use std::sync::Mutex;

/// The run's registry: every interface thread publishes to it, and it
/// writes the file.
#[derive(Debug, Default)]
pub struct Resolv(Mutex<Registry>);

impl Resolv {
    /// Record what `iface`'s `source` says and rewrite `path` if the merge
    /// changed.
    pub fn publish(
        &self,
        path: &Path,
        iface: &str,
        source: Source,
        entry: Entry,
    ) -> io::Result<()> {
        let mut reg = self.0.lock().unwrap_or_else(|p| p.into_inner());
        reg.set(iface, source, entry);
        let (m, note) = reg.pending();
        if let Some(n) = note {
            log("netcfg", &n);
        }
        let Some(m) = m else { return Ok(()) };
        match nodistro_common::atomic_file::write_atomic(path, m.text.as_bytes()) {
            Ok(()) => {
                let s: Vec<String> = m.servers.iter().map(|s| s.to_string()).collect();
                let s = if s.is_empty() {
                    "none".into()
                } else {
                    s.join(" ")
                };
                let mut line = format!("{}: nameserver {s}", path.display());
                if !m.domains.is_empty() {
                    line += &format!(" search {}", m.domains.join(" "));
                }
                log("netcfg", &line);
                Ok(())
            }
            Err(e) => {
                reg.write_failed();
                Err(e)
            }
        }
    }

    /// `iface`'s `source` has nothing to say any more.
    pub fn withdraw(&self, path: &Path, iface: &str, source: Source) {
        if let Err(e) = self.publish(path, iface, source, Entry::default()) {
            log("netcfg", &format!("cannot write {}: {e}", path.display()));
        }
    }
}
