//! Data disks, sans-IO: `init.mount=DEVICE:MOUNTPOINT[:FSTYPE[:OPTIONS]]`
//! entries (repeatable) parsed into what to look for and how to mount it,
//! and the kernel log records that explain a failed mount.
//!
//! DEVICE is a path (`/dev/vdb`), `LABEL=name` or `UUID=id` (found by
//! reading superblocks, see [`nodistro_common::blkid`]). FSTYPE is a kernel
//! filesystem name or `auto` (probe). OPTIONS is a comma list: the flags
//! `ro`, `rw`, `nosuid`, `nodev`, `noexec`, `noatime`, `nodiratime`,
//! `relatime`, `strictatime`, `sync`, `dirsync`, `defaults`; `required`
//! (the app does not start without it); everything else goes to the
//! filesystem as its data string (`errors=remount-ro`, `uid=1000`).

use nodistro_common::config::Seconds;
use nodistro_common::Config;
use rustix::mount::MountFlags;
use std::time::Duration;

/// How the device is named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Path(String),
    Label(String),
    Uuid(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Path(p) => f.write_str(p),
            Source::Label(l) => write!(f, "LABEL={l}"),
            Source::Uuid(u) => write!(f, "UUID={u}"),
        }
    }
}

/// One `init.mount` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    pub source: Source,
    pub target: String,
    /// `None`: probe the superblock.
    pub fstype: Option<String>,
    pub flags: MountFlags,
    /// Filesystem-specific options, comma-separated.
    pub data: String,
    pub required: bool,
}

/// Default for `init.mount_timeout`: how long to wait for the devices.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Parse one entry; the error is a console line.
pub fn parse_entry(v: &str) -> Result<MountEntry, String> {
    let bad = |why: &str| {
        format!("init.mount={v:?}: {why} (use DEVICE:MOUNTPOINT[:FSTYPE[:OPTIONS]]); entry ignored")
    };
    let mut parts = v.splitn(4, ':');
    let dev = parts.next().unwrap_or_default().trim();
    let target = parts.next().unwrap_or_default().trim();
    let fstype = parts.next().map(str::trim).filter(|s| !s.is_empty());
    let options = parts.next().unwrap_or_default();
    let source = if let Some(l) = dev.strip_prefix("LABEL=") {
        Source::Label(l.to_string())
    } else if let Some(u) = dev.strip_prefix("UUID=") {
        Source::Uuid(u.to_ascii_lowercase())
    } else if dev.starts_with("/dev/") && dev.len() > 5 && !dev.contains("/../") {
        Source::Path(dev.to_string())
    } else {
        return Err(bad("DEVICE is not /dev/..., LABEL=... or UUID=..."));
    };
    if matches!(&source, Source::Label(s) | Source::Uuid(s) if s.is_empty()) {
        return Err(bad("empty LABEL= or UUID="));
    }
    let api = ["/proc", "/sys", "/dev", "/run", "/tmp"];
    if !target.starts_with('/')
        || target == "/"
        || target.split('/').any(|c| c == "..")
        || api.contains(&target.trim_end_matches('/'))
    {
        return Err(bad(
            "MOUNTPOINT must be an absolute path other than /, /proc, /sys, /dev, /run, /tmp",
        ));
    }
    let fstype = match fstype {
        None | Some("auto") => None,
        Some(t) if t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => Some(t.to_string()),
        Some(_) => return Err(bad("FSTYPE is not a filesystem name")),
    };
    let mut flags = MountFlags::empty();
    let mut data = Vec::new();
    let mut required = false;
    for o in options.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        match o {
            "required" => required = true,
            "defaults" | "rw" | "auto" => {}
            "ro" => flags |= MountFlags::RDONLY,
            "nosuid" => flags |= MountFlags::NOSUID,
            "nodev" => flags |= MountFlags::NODEV,
            "noexec" => flags |= MountFlags::NOEXEC,
            "noatime" => flags |= MountFlags::NOATIME,
            "nodiratime" => flags |= MountFlags::NODIRATIME,
            "relatime" => flags |= MountFlags::RELATIME,
            "strictatime" => flags |= MountFlags::STRICTATIME,
            "sync" => flags |= MountFlags::SYNCHRONOUS,
            "dirsync" => flags |= MountFlags::DIRSYNC,
            other => data.push(other),
        }
    }
    Ok(MountEntry {
        source,
        target: target.trim_end_matches('/').to_string(),
        fstype,
        flags,
        data: data.join(","),
        required,
    })
}

/// Every `init.mount` entry and `init.mount_timeout`; bad entries become
/// warnings.
pub fn from_config(cfg: &Config) -> (Vec<MountEntry>, Duration, Vec<String>) {
    let mut warn = Vec::new();
    let mut entries: Vec<MountEntry> = Vec::new();
    for v in cfg.get_all("init.mount") {
        match parse_entry(v) {
            Ok(e) if entries.iter().any(|o| o.target == e.target) => warn.push(format!(
                "init.mount={v:?}: {} is already a mount point; entry ignored",
                e.target
            )),
            Ok(e) => {
                // Parents before children (/data before /data/logs), else
                // in the given order; no sort: its code costs kilobytes.
                let depth = |t: &str| t.bytes().filter(|b| *b == b'/').count();
                let at = entries
                    .iter()
                    .position(|o| depth(&o.target) > depth(&e.target))
                    .unwrap_or(entries.len());
                entries.insert(at, e);
            }
            Err(w) => warn.push(w),
        }
    }
    let mut timeout = DEFAULT_TIMEOUT;
    match cfg.get_parsed::<Seconds>("init.mount_timeout") {
        Some(Ok(Seconds(s))) if s <= Duration::from_secs(3600) => timeout = s,
        Some(_) => warn.push(format!(
            "init.mount_timeout={:?} is not a number of seconds (0 to 3600); using {}",
            cfg.get("init.mount_timeout").unwrap_or_default(),
            DEFAULT_TIMEOUT.as_secs()
        )),
        None => {}
    }
    (entries, timeout, warn)
}

/// The message of one /dev/kmsg record (`6,1234,5678,-;text`), without its
/// continuation lines; `None` when it is not a record.
pub fn kmsg_text(record: &[u8]) -> Option<String> {
    let semi = record.iter().position(|b| *b == b';')?;
    let head = &record[..semi];
    if !head.first().is_some_and(u8::is_ascii_digit)
        || head.iter().filter(|b| **b == b',').count() < 2
    {
        return None;
    }
    let body = &record[semi + 1..];
    let end = body.iter().position(|b| *b == b'\n').unwrap_or(body.len());
    let text = String::from_utf8_lossy(&body[..end]);
    let text = text.trim();
    (!text.is_empty()).then(|| text.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries() {
        let e = parse_entry("LABEL=appdata:/data").expect("valid entry");
        assert_eq!(e.source, Source::Label("appdata".into()));
        assert_eq!(
            (e.target.as_str(), e.fstype, e.required),
            ("/data", None, false)
        );
        let e = parse_entry("/dev/vdb:/var/lib/app/:ext4:noatime,ro,errors=remount-ro,required")
            .expect("valid entry");
        assert_eq!(e.source, Source::Path("/dev/vdb".into()));
        assert_eq!(e.target, "/var/lib/app");
        assert_eq!(e.fstype.as_deref(), Some("ext4"));
        assert_eq!(e.flags, MountFlags::NOATIME | MountFlags::RDONLY);
        assert_eq!(e.data, "errors=remount-ro");
        assert!(e.required);
        let e = parse_entry("UUID=ABCD-1234:/boot:auto:").expect("valid entry");
        assert_eq!(e.source, Source::Uuid("abcd-1234".into()));
        assert_eq!(e.fstype, None);
        assert_eq!(e.source.to_string(), "UUID=abcd-1234");
    }

    #[test]
    fn bad_entries() {
        for v in [
            "",
            "vdb:/data",
            "/dev/vdb",
            "/dev/vdb:data",
            "/dev/vdb:/",
            "/dev/vdb:/proc",
            "/dev/vdb:/data/../etc",
            "/dev/vdb:/data:ext 4",
            "LABEL=:/data",
            "/dev/:/data",
        ] {
            let e = parse_entry(v).expect_err("invalid entry");
            assert!(e.contains("entry ignored"), "{v}: {e}");
        }
    }

    #[test]
    fn config_order_duplicates_timeout() {
        let (cfg, _) = Config::parse(
            "init.mount=/dev/vdc:/data/logs\ninit.mount=LABEL=d:/data\n\
             init.mount=/dev/vdd:/data\ninit.mount=nope\ninit.mount_timeout=soon\n",
        );
        let (e, t, w) = from_config(&cfg);
        assert_eq!(
            e.iter().map(|e| e.target.as_str()).collect::<Vec<_>>(),
            ["/data", "/data/logs"]
        );
        assert_eq!(t, DEFAULT_TIMEOUT);
        assert_eq!(w.len(), 3, "{w:?}");
    }

    #[test]
    fn kmsg_records() {
        assert_eq!(
            kmsg_text(b"3,812,3456789,-;EXT4-fs (vdb): VFS: Can't find ext4 filesystem\n SUBSYSTEM=block\n")
                .as_deref(),
            Some("EXT4-fs (vdb): VFS: Can't find ext4 filesystem")
        );
        assert_eq!(kmsg_text(b"no record"), None);
        assert_eq!(kmsg_text(b"6,1,2,-;"), None);
        assert_eq!(kmsg_text(b";x"), None);
    }
}
