//! One check of `update.url`: the signed manifest, the decision, and an
//! install into the inactive slot that is never booted half-written: the
//! slot leaves BootOrder first, the image lands under a temporary name and
//! is renamed only after its size and SHA-256 match, and BootNext points
//! at it last.

use crate::core::efi;
use crate::core::http::Url;
use crate::core::layout::{Slot, SLOT_DIR};
use crate::core::manifest::{self, hex, Manifest};
use crate::core::slots::{self, Facts, Offer};
use crate::efivars;
use crate::esp;
use crate::fetch;
use crate::settings::Settings;
use nodistro_common::timeline::log;
use std::path::Path;
use std::time::Duration;

fn say(msg: &str) {
    log("update", msg);
}

/// The machine's architecture as manifests name it.
pub const ARCH: &str = std::env::consts::ARCH;

/// What one check came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// A release was installed: reboot next.
    pub installed: bool,
    /// The line that says so (or why not).
    pub report: String,
}

/// Check the manifest at `url` once (the image beside it).
pub fn check(s: &Settings, f: &Facts, url: &Url) -> Checked {
    let no = |report: String| Checked {
        installed: false,
        report,
    };
    let text = match fetch::get_small(url, manifest::MAX_BYTES as u64) {
        Ok(t) => t,
        Err(e) => return no(format!("no release check: {e}")),
    };
    let m = match manifest::parse_verified(&text, &s.key) {
        Ok(m) => m,
        Err(e) => return no(format!("release at {} refused: {e}", url.display())),
    };
    let (booted, running) = crate::boot::running(f, s);
    match slots::judge(&m, ARCH, booted, running, &f.state) {
        Offer::Install { slot, version } => {
            say(&format!(
                "version {version} offered at {} (running {running}): installing it into slot {}",
                url.display(),
                slot.name()
            ));
            match install(f, &m, slot, &url.sibling(&m.image)) {
                Ok(report) => Checked {
                    installed: true,
                    report,
                },
                Err(e) => no(format!(
                    "version {version} not installed: {e}; slot {} keeps booting",
                    booted.name()
                )),
            }
        }
        Offer::Running(v) => no(format!("up to date: the server offers version {v}, which runs")),
        Offer::Older { offered, running } => no(format!("refused version {offered}: this machine runs version {running}, and versions only go up (an old or replayed manifest)")),
        Offer::Failed(v) => no(format!("version {v} failed its trial boot here before: not installed again")),
        Offer::WrongArch(a) => no(format!("refused version {}: it is for {a}, this machine is {ARCH}", m.version)),
    }
}

fn install(f: &Facts, m: &Manifest, slot: Slot, image: &Url) -> Result<String, String> {
    let esp = esp::find(Duration::from_secs(10)).ok_or("no EFI System Partition found")?;
    // The slot is out of the boot path before it is touched.
    let order: Vec<u16> = efivars::boot_order()
        .into_iter()
        .filter(|&n| Some(n) != f.entry(slot))
        .collect();
    let mut st = f.state.clone();
    st.set_version(slot, None);
    if st.trying == Some(slot) {
        st.trying = None;
    }
    efivars::set_boot_order(&order)
        .and_then(|()| efivars::set_state(&st))
        .map_err(|e| format!("cannot update the firmware's variables: {e}"))?;
    {
        let mounted = esp::Mounted::new(&esp, |_| {})?;
        write_slot(&mounted.root, m, slot, image)?;
    }
    let n = f.entry(slot).unwrap_or_else(efivars::free_number);
    let opt = efi::encode_load_option(
        &efivars::description(slot),
        &esp.prefix,
        &esp.partition,
        &slot.efi_path(),
    );
    st.set_version(slot, Some(m.version));
    st.trying = Some(slot);
    efivars::write(&efi::var_file(&efi::boot_var(n), efi::GLOBAL), &opt)
        .and_then(|()| efivars::set_state(&st))
        .and_then(|()| efivars::set_boot_next(n))
        .map_err(|e| format!("cannot point the firmware at slot {}: {e}", slot.name()))?;
    Ok(format!("version {} installed in slot {} (Boot{n:04X}, {} bytes, sha256 verified); rebooting into it for a trial boot", m.version, slot.name(), m.size))
}

/// Download into `SLOT.new`, check it, rename it over the slot's file.
fn write_slot(root: &Path, m: &Manifest, slot: Slot, url: &Url) -> Result<(), String> {
    let dir = root.join(SLOT_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let target = dir.join(slot.file());
    let temp = dir.join(format!("{}.new", slot.name()));
    // The old image and any half download from an interrupted try go first.
    let _ = std::fs::remove_file(&temp);
    let _ = std::fs::remove_file(&target);
    let free = rustix::fs::statvfs(root)
        .map(|v| v.f_bavail * v.f_frsize)
        .unwrap_or(u64::MAX);
    if free < m.size {
        return Err(format!("the ESP is full: {free} bytes free, version {} needs {} (build the disk with a larger --slot-size)", m.version, m.size));
    }
    let result = (|| {
        let mut file = std::fs::File::create(&temp)
            .map_err(|e| format!("cannot create {}: {e}", temp.display()))?;
        let sha = fetch::get_into(url, m.size, &mut file).map_err(|e| e.to_string())?;
        if sha != m.sha256 {
            return Err(format!(
                "{}: sha256 {} is not the manifest's {}",
                url.display(),
                hex(&sha),
                hex(&m.sha256)
            ));
        }
        file.sync_all()
            .map_err(|e| format!("cannot write {}: {e}", temp.display()))?;
        std::fs::rename(&temp, &target).map_err(|e| {
            format!(
                "cannot rename {} to {}: {e}",
                temp.display(),
                target.display()
            )
        })?;
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| format!("cannot sync {}: {e}", dir.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}
