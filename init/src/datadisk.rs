//! The IO around [`crate::mounts`]: wait for each data disk, probe its
//! superblock, have modload load the filesystem when the kernel lacks it,
//! mount it (a failure reported with the kernel's own log lines), and at
//! shutdown sync and unmount it after everything else has stopped.

use crate::mounts::{kmsg_text, MountEntry, Source};
use nodistro_common::blkid::{self, Probe};
use nodistro_common::timeline::log;
use rustix::fs::{Mode, OFlags};
use rustix::mount::{MountFlags, UnmountFlags};
use std::time::{Duration, Instant};

/// A filesystem init mounted.
#[derive(Debug, Clone)]
pub struct Mounted {
    pub target: String,
    pub device: String,
}

/// The first bytes of a block device, for [`blkid::probe`].
pub fn read_head(dev: &str) -> Option<Vec<u8>> {
    read_prefix(dev, blkid::PROBE_BYTES)
}

pub use nodistro_common::sys::read_prefix;

/// Every block device with a size, as (/dev path, probe result).
pub fn scan_devices() -> Vec<(String, Option<Probe>)> {
    let Ok(dir) = std::fs::read_dir("/sys/class/block") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let size = std::fs::read_to_string(e.path().join("size")).unwrap_or_default();
        if name.starts_with("loop") || name.starts_with("ram") || size.trim() == "0" {
            continue;
        }
        let dev = format!("/dev/{name}");
        let probe = read_head(&dev).and_then(|h| blkid::probe(&h));
        out.push((dev, probe));
    }
    out
}

/// The device an entry names, if present now, with its probe.
fn find(source: &Source) -> Option<(String, Option<Probe>)> {
    match source {
        Source::Path(p) => {
            let probe = read_head(p).and_then(|h| blkid::probe(&h));
            rustix::fs::stat(p.as_str())
                .ok()
                .map(|_| (p.clone(), probe))
        }
        Source::Label(l) => scan_devices()
            .into_iter()
            .find(|(_, p)| p.as_ref().and_then(|p| p.label.as_deref()) == Some(l)),
        Source::Uuid(u) => scan_devices().into_iter().find(|(_, p)| {
            p.as_ref()
                .and_then(|p| p.uuid.as_deref())
                .is_some_and(|id| id.eq_ignore_ascii_case(u))
        }),
    }
}

/// Ask modload to load filesystem `t` ([`nodistro_common::fsmodule`]),
/// its child's signals unblocked (init blocks them all for its signalfd).
pub fn load_filesystem(t: &str) -> Result<(), String> {
    nodistro_common::fsmodule::load_filesystem(t, crate::sys::unblock_signals_in_child)
}

/// The kernel's log records since `kmsg` was opened (at its end): up to
/// three messages, for a failed mount.
fn kernel_reason(kmsg: Option<&std::os::fd::OwnedFd>) -> String {
    let Some(fd) = kmsg else {
        return String::new();
    };
    let mut lines = Vec::new();
    let mut buf = [0u8; 1024];
    for _ in 0..32 {
        match rustix::io::read(fd, &mut buf) {
            Ok(n) if n > 0 => {
                if let Some(t) = kmsg_text(&buf[..n]) {
                    lines.push(t);
                }
            }
            Err(rustix::io::Errno::PIPE) => continue, // overwritten records
            _ => break,
        }
    }
    let n = lines.len();
    let last: Vec<String> = lines.into_iter().skip(n.saturating_sub(3)).collect();
    if last.is_empty() {
        String::new()
    } else {
        format!("; kernel: {}", last.join("; "))
    }
}

/// Mount one entry on `dev`; the error is a console line.
fn mount_one(e: &MountEntry, dev: &str, probe: Option<&Probe>) -> Result<String, String> {
    let fstype = match (&e.fstype, probe) {
        (Some(t), _) => t.clone(),
        (None, Some(p)) => p.fstype.mount_type().to_string(),
        (None, None) => {
            return Err(format!(
                "no ext4, xfs, btrfs, vfat or iso9660 filesystem on {dev} (unformatted or corrupt superblock; give FSTYPE if it is another kind)"
            ))
        }
    };
    load_filesystem(&fstype)?;
    if let Err(err) = std::fs::create_dir_all(&e.target) {
        return Err(format!("cannot create the mount point {}: {err}", e.target));
    }
    let kmsg = rustix::fs::open(
        "/dev/kmsg",
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok();
    if let Some(k) = &kmsg {
        let _ = rustix::fs::seek(k, rustix::fs::SeekFrom::End(0));
    }
    let data = std::ffi::CString::new(e.data.as_str()).unwrap_or_default();
    match rustix::mount::mount(
        dev,
        e.target.as_str(),
        fstype.as_str(),
        e.flags,
        data.as_c_str(),
    ) {
        Ok(()) => Ok(fstype),
        Err(err) => Err(format!(
            "cannot mount {dev} ({fstype}) on {}: {err}{}",
            e.target,
            kernel_reason(kmsg.as_ref())
        )),
    }
}

/// Mount every entry not mounted yet, waiting up to `deadline` for their
/// devices. Optional entries are tried once (they land in `given_up` when
/// they fail); required ones at every call. Returns the required entries
/// that are still missing.
pub fn mount_pending(
    entries: &[MountEntry],
    done: &mut Vec<Mounted>,
    given_up: &mut Vec<String>,
    deadline: Instant,
) -> Vec<String> {
    let mut missing = Vec::new();
    for e in entries {
        if done.iter().any(|m| m.target == e.target) || given_up.contains(&e.target) {
            continue;
        }
        let t0 = Instant::now();
        let found = loop {
            if let Some(f) = find(&e.source) {
                break Some(f);
            }
            if Instant::now() >= deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let res = match &found {
            None => Err(format!(
                "{} did not appear within init.mount_timeout; not mounting {}",
                e.source, e.target
            )),
            Some((dev, probe)) => mount_one(e, dev, probe.as_ref()),
        };
        match res {
            Ok(fstype) => {
                let dev = found.map(|f| f.0).unwrap_or_default();
                let via = match &e.source {
                    Source::Path(_) => String::new(),
                    s => format!(" ({s})"),
                };
                log(
                    "init",
                    &format!(
                        "mounted {dev}{via} on {} ({fstype}) in {} ms",
                        e.target,
                        t0.elapsed().as_millis()
                    ),
                );
                done.push(Mounted {
                    target: e.target.clone(),
                    device: dev,
                });
            }
            Err(msg) => {
                let tail = if e.required {
                    "; it is required: the app does not start without it"
                } else {
                    "; going on without it"
                };
                log("init", &format!("{msg}{tail}"));
                if e.required {
                    missing.push(e.target.clone());
                } else {
                    given_up.push(e.target.clone());
                }
            }
        }
    }
    missing
}

/// Sync and unmount the data disks, last mounted first. Called after every
/// process has been killed. A busy filesystem is made read-only and
/// detached, so its data is on disk either way.
pub fn unmount_all(mounted: &[Mounted]) {
    if mounted.is_empty() {
        return;
    }
    // Killed processes may still hold files: reap them first (up to 1 s).
    for _ in 0..100 {
        match rustix::process::waitpid(None, rustix::process::WaitOptions::NOHANG) {
            Err(_) => break,
            Ok(Some(_)) => continue,
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    rustix::fs::sync();
    for m in mounted.iter().rev() {
        match rustix::mount::unmount(m.target.as_str(), UnmountFlags::empty()) {
            Ok(()) => log("init", &format!("unmounted {} ({})", m.target, m.device)),
            Err(e) => {
                let ro = rustix::mount::mount_remount(m.target.as_str(), MountFlags::RDONLY, c"");
                let _ = rustix::mount::unmount(m.target.as_str(), UnmountFlags::DETACH);
                log(
                    "init",
                    &format!(
                        "cannot unmount {} ({e}); {} and detached",
                        m.target,
                        if ro.is_ok() {
                            "made read-only"
                        } else {
                            "synced"
                        }
                    ),
                );
            }
        }
    }
}
