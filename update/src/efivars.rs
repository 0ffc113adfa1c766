//! The firmware's variables through efivarfs: mounted (its module loaded
//! by modload) when the machine was booted by UEFI, read, and written with
//! one write(2) each (efivarfs sets a variable per write). Variables the
//! kernel does not know are immutable files: the flag is cleared first.

use crate::core::efi::{self, LoadOption, GLOBAL, NODISTRO};
use crate::core::layout::Slot;
use crate::core::slots::{Facts, State, STATE_VAR};
use rustix::fs::{IFlags, Mode, OFlags};
use std::io;

pub const DIR: &str = "/sys/firmware/efi/efivars";

/// Mount efivarfs unless it is; `Err` says why there are no variables.
pub fn ensure_mounted(prepare: fn(&mut std::process::Command)) -> Result<(), String> {
    if !std::path::Path::new("/sys/firmware/efi").exists() {
        return Err("this machine was not booted by UEFI (no /sys/firmware/efi)".into());
    }
    if read(&efi::var_file("BootCurrent", GLOBAL)).is_some() || has_entries() {
        return Ok(());
    }
    nodistro_common::fsmodule::load_filesystem("efivarfs", prepare)?;
    match rustix::mount::mount(
        "efivarfs",
        DIR,
        "efivarfs",
        rustix::mount::MountFlags::NOSUID
            | rustix::mount::MountFlags::NODEV
            | rustix::mount::MountFlags::NOEXEC,
        None,
    ) {
        Ok(()) | Err(rustix::io::Errno::BUSY) => Ok(()),
        Err(e) => Err(format!("cannot mount efivarfs on {DIR}: {e}")),
    }
}

fn has_entries() -> bool {
    std::fs::read_dir(DIR).is_ok_and(|mut d| d.next().is_some())
}

/// A variable's data (without its attributes), by efivarfs file name.
pub fn read(file: &str) -> Option<Vec<u8>> {
    let bytes = std::fs::read(format!("{DIR}/{file}")).ok()?;
    efi::data(&bytes).map(<[u8]>::to_vec)
}

/// Set a variable (non-volatile, boot and runtime access).
pub fn write(file: &str, data: &[u8]) -> io::Result<()> {
    let path = format!("{DIR}/{file}");
    clear_immutable(&path);
    let fd = rustix::fs::open(
        &path,
        OFlags::WRONLY | OFlags::CREATE | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )?;
    let bytes = efi::with_attributes(efi::ATTR_NV_BS_RT, data);
    let n = rustix::io::write(&fd, &bytes)?;
    if n != bytes.len() {
        return Err(io::Error::other(format!("{file}: short write")));
    }
    Ok(())
}

/// Delete a variable (gone already is fine).
pub fn remove(file: &str) -> io::Result<()> {
    let path = format!("{DIR}/{file}");
    clear_immutable(&path);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn clear_immutable(path: &str) {
    let Ok(fd) = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) else {
        return;
    };
    if let Ok(flags) = rustix::fs::ioctl_getflags(&fd) {
        if flags.contains(IFlags::IMMUTABLE) {
            let _ = rustix::fs::ioctl_setflags(&fd, flags - IFlags::IMMUTABLE);
        }
    }
}

/// Every `Boot####` entry: (number, decoded option).
pub fn boot_entries() -> Vec<(u16, LoadOption)> {
    let Ok(dir) = std::fs::read_dir(DIR) else {
        return Vec::new();
    };
    let mut out: Vec<(u16, LoadOption)> = dir
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let n = efi::boot_number(&name)?;
            Some((n, efi::decode_load_option(&read(&name)?)?))
        })
        .collect();
    out.sort_by_key(|(n, _)| *n);
    out
}

/// The description of slot `s`'s entry.
pub fn description(s: Slot) -> String {
    format!("nodistro {}", s.name())
}

/// The entry numbers of the slots: the option named after the slot whose
/// file is the slot's.
pub fn slot_entries(entries: &[(u16, LoadOption)]) -> [Option<u16>; 2] {
    [Slot::A, Slot::B].map(|s| {
        entries
            .iter()
            .find(|(_, o)| {
                o.description == description(s)
                    && o.file
                        .as_deref()
                        .is_some_and(|f| f.eq_ignore_ascii_case(&s.efi_path()))
            })
            .map(|(n, _)| *n)
    })
}

pub fn boot_order() -> Vec<u16> {
    read(&efi::var_file("BootOrder", GLOBAL)).map_or_else(Vec::new, |d| efi::u16_list(&d))
}

pub fn set_boot_order(order: &[u16]) -> io::Result<()> {
    write(&efi::var_file("BootOrder", GLOBAL), &efi::u16_bytes(order))
}

pub fn set_boot_next(n: u16) -> io::Result<()> {
    write(&efi::var_file("BootNext", GLOBAL), &n.to_le_bytes())
}

pub fn state() -> State {
    read(&efi::var_file(STATE_VAR, NODISTRO)).map_or_else(State::default, |d| State::parse(&d))
}

pub fn set_state(st: &State) -> io::Result<()> {
    write(&efi::var_file(STATE_VAR, NODISTRO), st.render().as_bytes())
}

/// What the variables say about this boot.
pub fn facts() -> Facts {
    let current = read(&efi::var_file("BootCurrent", GLOBAL))
        .and_then(|d| efi::u16_list(&d).first().copied());
    Facts {
        current,
        entries: slot_entries(&boot_entries()),
        state: state(),
    }
}

/// A free `Boot####` number (none of efivarfs' `Boot####` files uses it).
pub fn free_number() -> u16 {
    let used: Vec<u16> = std::fs::read_dir(DIR)
        .map(|d| {
            d.flatten()
                .filter_map(|e| efi::boot_number(&e.file_name().to_string_lossy()))
                .collect()
        })
        .unwrap_or_default();
    (0..u16::MAX)
        .find(|n| !used.contains(n))
        .unwrap_or(u16::MAX)
}
