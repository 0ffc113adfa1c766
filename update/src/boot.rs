//! What the `update` tool does about this boot as it starts: a trial is
//! marked for init and blessed after `update.trial` seconds; a failed trial
//! is recorded (its version never comes back); an untracked boot (the
//! first) gets the slots' boot entries.

use crate::core::efi;
use crate::core::layout::Slot;
use crate::core::slots::{self, Boot, Facts};
use crate::efivars;
use crate::esp;
use crate::settings::Settings;
use nodistro_common::timeline::log;
use std::time::Duration;

fn say(msg: &str) {
    log("update", msg);
}

/// The slot running now and its version.
pub fn running(f: &Facts, s: &Settings) -> (Slot, u64) {
    let slot = f.booted().or(f.state.default).unwrap_or(Slot::A);
    let version = f.state.version(slot).unwrap_or(s.version);
    (slot, version)
}

/// Act on `boot` before the app starts (trial mark, rollback record).
pub fn before_app(boot: &Boot, f: &Facts) {
    match *boot {
        Boot::Trial(slot) => {
            let v = f.state.version(slot).unwrap_or(0);
            if let Err(e) = std::fs::create_dir_all(nodistro_common::protocol::init::RUN_DIR)
                .and_then(|()| {
                    std::fs::write(
                        nodistro_common::TRIAL_FILE,
                        format!("{} {v}\n", slot.name()),
                    )
                })
            {
                say(&format!(
                    "cannot mark the trial boot ({e}): a failing app will not roll back"
                ));
            }
            say(&format!("trial boot of version {v} in slot {}: it becomes the default once the app has run for update.trial seconds; a crash, failed health check or watchdog reset goes back to the previous slot", slot.name()));
        }
        Boot::RolledBack { failed, now } => rolled_back(f, failed, now),
        Boot::Normal(slot) => say(&format!(
            "running version {} from slot {}",
            f.state.version(slot).map_or("?".into(), |v| v.to_string()),
            slot.name()
        )),
        Boot::Untracked => {}
    }
}

fn rolled_back(f: &Facts, failed: Slot, now: Option<Slot>) {
    let v = f.state.version(failed);
    let st = slots::after_rollback(&f.state, failed);
    let back = st.default.unwrap_or(failed.other());
    let order: Vec<u16> = efivars::boot_order()
        .into_iter()
        .filter(|&n| Some(n) != f.entry(failed))
        .collect();
    let order = slots::boot_order(&order, f.entry(back), None);
    let res = efivars::set_state(&st).and_then(|()| efivars::set_boot_order(&order));
    let vs = v.map_or("?".into(), |v| v.to_string());
    say(&format!(
        "version {vs} in slot {} failed its trial boot; the firmware went back to slot {} (version {}); version {vs} will not be installed again",
        failed.name(),
        now.unwrap_or(back).name(),
        st.version(back).map_or("?".into(), |v| v.to_string())
    ));
    if let Err(e) = res {
        say(&format!(
            "cannot record the rollback in the firmware's variables: {e}"
        ));
    }
}

/// After `before_app`: bless a trial once it lasted, or set up the boot
/// entries on an untracked boot.
pub fn after_ready(boot: &Boot, f: &Facts, s: &Settings) {
    match *boot {
        Boot::Trial(slot) => {
            std::thread::sleep(s.trial);
            bless(f, slot);
        }
        Boot::Untracked => adopt(f, s),
        _ => {}
    }
}

fn bless(f: &Facts, slot: Slot) {
    let st = slots::after_bless(&f.state, slot);
    let order = slots::boot_order(&efivars::boot_order(), f.entry(slot), f.entry(slot.other()));
    match efivars::set_boot_order(&order).and_then(|()| efivars::set_state(&st)) {
        Ok(()) => {
            let _ = std::fs::remove_file(nodistro_common::TRIAL_FILE);
            say(&format!(
                "version {} in slot {} blessed: the app ran its trial; it is now the default (BootOrder {})",
                st.version(slot).map_or("?".into(), |v| v.to_string()),
                slot.name(),
                order.iter().map(|n| format!("{n:04X}")).collect::<Vec<_>>().join(",")
            ));
        }
        Err(e) => say(&format!(
            "cannot bless slot {}: {e}; the next boot goes back",
            slot.name()
        )),
    }
}

/// The first boot (through the removable-media path) or lost entries: make
/// a boot entry for each slot that holds a version, the default first.
fn adopt(f: &Facts, s: &Settings) {
    let Some(esp) = esp::find(Duration::from_secs(60)) else {
        say("no disk with an EFI System Partition: the A/B slots are not set up (boot the --format disk image)");
        return;
    };
    let mut st = f.state.clone();
    if st.default.is_none() {
        st.default = Some(Slot::A);
        st.set_version(Slot::A, Some(s.version));
    }
    let default = st.default.unwrap_or(Slot::A);
    let mut entries = f.entries;
    let mut made = Vec::new();
    for slot in [default, default.other()] {
        if st.version(slot).is_none() {
            continue;
        }
        let i = usize::from(slot == Slot::B);
        let n = entries[i].unwrap_or_else(efivars::free_number);
        let opt = efi::encode_load_option(
            &efivars::description(slot),
            &esp.prefix,
            &esp.partition,
            &slot.efi_path(),
        );
        if let Err(e) = efivars::write(&efi::var_file(&efi::boot_var(n), efi::GLOBAL), &opt) {
            say(&format!(
                "cannot write boot entry Boot{n:04X} for slot {}: {e}",
                slot.name()
            ));
            return;
        }
        entries[i] = Some(n);
        made.push(format!(
            "Boot{n:04X} slot {} (version {})",
            slot.name(),
            st.version(slot).unwrap_or(0)
        ));
    }
    let other =
        entries[usize::from(default == Slot::A)].filter(|_| st.version(default.other()).is_some());
    let order = slots::boot_order(
        &efivars::boot_order(),
        entries[usize::from(default == Slot::B)],
        other,
    );
    match efivars::set_boot_order(&order).and_then(|()| efivars::set_state(&st)) {
        Ok(()) => say(&format!(
            "boot entries for the A/B slots on {}: {}, default slot {}",
            esp.device,
            made.join(", "),
            default.name()
        )),
        Err(e) => say(&format!("cannot set BootOrder: {e}")),
    }
}
