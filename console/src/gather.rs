//! The IO behind the commands: read /proc, /sys, /dev/kmsg and rtnetlink
//! into the plain values the sans-IO formatters take. Every read is bounded
//! and every failure becomes "nothing" rather than an error.

use crate::core::devices::Device;
use crate::core::net::{Addr, Link};
use crate::core::paths::Paths;
use crate::core::procfs::{Proc, Usage};
use nodistro_common::bootlog::{stages, Stage};
use nodistro_common::protocol;
use std::io::Read;
use std::path::Path;

/// At most this much of any /proc or /sys file.
const SMALL: u64 = 64 * 1024;

/// The first `max` bytes of a file (empty when unreadable).
pub fn read_bounded(path: impl AsRef<Path>, max: u64) -> Vec<u8> {
    let mut out = Vec::new();
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(max).read_to_end(&mut out);
    }
    out
}

pub fn text(path: impl AsRef<Path>) -> String {
    String::from_utf8_lossy(&read_bounded(path, SMALL)).into_owned()
}

fn first_line(path: impl AsRef<Path>) -> Option<String> {
    let t = text(path);
    let l = t.lines().next()?.trim().to_string();
    (!l.is_empty()).then_some(l)
}

fn link_name(path: impl AsRef<Path>) -> Option<String> {
    let t = std::fs::read_link(path).ok()?;
    Some(t.file_name()?.to_string_lossy().into_owned())
}

/// Every process in /proc, by pid.
pub fn processes() -> Vec<Proc> {
    let mut out: Vec<Proc> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let name = name.to_str()?;
            name.parse::<i32>().ok()?;
            let dir = e.path();
            crate::core::procfs::proc_of(
                &text(dir.join("stat")),
                &text(dir.join("status")),
                &read_bounded(dir.join("cmdline"), 4096),
            )
        })
        .collect();
    out.sort_by_key(|p| p.pid);
    out
}

/// `df`'s figures for every mount with blocks.
pub fn usage() -> Vec<Usage> {
    crate::core::procfs::mount_list(&text("/proc/mounts"))
        .into_iter()
        .filter_map(|(_, mnt, ty, _)| {
            let s = rustix::fs::statvfs(mnt.as_str()).ok()?;
            let k = s.f_frsize.max(1) / 1024;
            let kib = |blocks: u64| {
                if k == 0 {
                    blocks * s.f_frsize / 1024
                } else {
                    blocks * k
                }
            };
            (s.f_blocks > 0).then(|| Usage {
                mount: mnt,
                fstype: ty,
                total_kib: kib(s.f_blocks),
                free_kib: kib(s.f_bfree),
                avail_kib: kib(s.f_bavail),
            })
        })
        .collect()
}

/// Every device under /sys/bus/*/devices, with the image's matching modules.
pub fn devices() -> Vec<Device> {
    let mut out = Vec::new();
    let mut buses: Vec<_> = std::fs::read_dir("/sys/bus")
        .into_iter()
        .flatten()
        .flatten()
        .collect();
    buses.sort_by_key(|e| e.file_name());
    for bus in buses {
        let bus_name = bus.file_name().to_string_lossy().into_owned();
        let mut devs: Vec<_> = std::fs::read_dir(bus.path().join("devices"))
            .into_iter()
            .flatten()
            .flatten()
            .collect();
        devs.sort_by_key(|e| e.file_name());
        for d in devs {
            let p = d.path();
            out.push(Device {
                bus: bus_name.clone(),
                name: d.file_name().to_string_lossy().into_owned(),
                alias: first_line(p.join("modalias")),
                driver: link_name(p.join("driver")),
                modules: None,
            });
        }
    }
    if let Ok(tree) = nodistro_modload::probe::running_tree() {
        let aliases: Vec<&str> = out
            .iter()
            .map(|d| d.alias.as_deref().unwrap_or(""))
            .collect();
        let found = nodistro_modload::probe::matches(&tree, &aliases);
        for (d, m) in out.iter_mut().zip(found) {
            d.modules = Some(if d.alias.is_some() { m } else { Vec::new() });
        }
    }
    out
}

/// Every link in /sys/class/net.
pub fn links() -> Vec<Link> {
    let mut out: Vec<Link> = std::fs::read_dir("/sys/class/net")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            let p = e.path();
            let get = |f: &str| first_line(p.join(f)).unwrap_or_default();
            Link {
                name: e.file_name().to_string_lossy().into_owned(),
                index: get("ifindex").parse().unwrap_or(0),
                operstate: get("operstate"),
                carrier: first_line(p.join("carrier")).map(|c| c == "1"),
                speed: first_line(p.join("speed")).and_then(|s| s.parse().ok()),
                mac: get("address"),
                driver: link_name(p.join("device/driver")),
                mtu: get("mtu"),
            }
        })
        .collect();
    out.sort_by_key(|l| l.index);
    out
}

/// Every address, from an rtnetlink dump (empty on any error).
pub fn addresses() -> Vec<Addr> {
    use rustix::net::{self, netlink::SocketAddrNetlink, AddressFamily, SocketFlags, SocketType};
    let mut out = Vec::new();
    let Ok(fd) = net::socket_with(
        AddressFamily::NETLINK,
        SocketType::RAW,
        SocketFlags::CLOEXEC,
        None,
    ) else {
        return out;
    };
    if net::bind(&fd, &SocketAddrNetlink::new(0, 0)).is_err()
        || net::send(
            &fd,
            &crate::core::net::addr_dump_request(1),
            net::SendFlags::empty(),
        )
        .is_err()
    {
        return out;
    }
    let mut buf = vec![0u8; 32 * 1024];
    for _ in 0..64 {
        let mut p = [rustix::event::PollFd::new(
            &fd,
            rustix::event::PollFlags::IN,
        )];
        let t = rustix::event::Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        };
        if !matches!(rustix::event::poll(&mut p, Some(&t)), Ok(n) if n > 0) {
            break;
        }
        match net::recv(&fd, &mut buf[..], net::RecvFlags::empty()) {
            Ok((n, _)) if n > 0 => {
                if crate::core::net::parse_addr_dump(&buf[..n.min(buf.len())], &mut out) {
                    break;
                }
            }
            _ => break,
        }
    }
    out
}

/// The other tools' paths, from `/etc/nodistro.conf` and the command line
/// (what netcfg and logfwd read).
pub fn paths() -> Paths {
    let (cfg, _, _) = nodistro_common::Config::load_system(&[]);
    Paths::from_config(&cfg)
}

/// netcfg's state files in `lease_dir`: (iface, text).
pub fn dhcp_states(lease_dir: &Path) -> Vec<(String, String)> {
    std::fs::read_dir(lease_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let iface = protocol::netcfg::state_file_iface(&n)?.to_string();
            Some((iface, text(e.path())))
        })
        .collect()
}

/// The whole `net` page.
pub fn net_page(paths: &Paths) -> String {
    crate::core::net::net(
        &links(),
        &addresses(),
        &crate::core::net::routes(&text("/proc/net/route")),
        &crate::core::net::nameservers(&text(&paths.resolv_conf)),
        &dhcp_states(&paths.lease_dir),
        nodistro_common::timeline::since_boot_ms(),
    )
}

/// Every kernel record still in the buffer (non-blocking read of /dev/kmsg).
pub fn kernel_records() -> Vec<crate::core::kmsg::Record> {
    let mut out = Vec::new();
    let Ok(fd) = open_kmsg() else { return out };
    let mut buf = vec![0u8; 8192];
    loop {
        match rustix::io::read(&fd, &mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend(crate::core::kmsg::parse(&buf[..n])),
            Err(rustix::io::Errno::PIPE) => continue,
            Err(_) => break,
        }
    }
    out
}

pub fn open_kmsg() -> rustix::io::Result<std::os::fd::OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    rustix::fs::open(
        "/dev/kmsg",
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// init's copy of the timeline lines.
pub fn timeline_text() -> String {
    String::from_utf8_lossy(&read_bounded(
        nodistro_common::timeline::TIMELINE_FILE,
        512 * 1024,
    ))
    .into_owned()
}

pub fn boot_stages() -> Vec<Stage> {
    stages(&timeline_text())
}

/// What the report needs, owned.
pub struct ReportData {
    pub devices: Vec<Device>,
    pub failed: Vec<(String, String)>,
    pub firmware: Vec<String>,
    pub links: Vec<Link>,
    pub stages: Vec<Stage>,
}

impl ReportData {
    pub fn as_facts(&self) -> crate::core::report::Facts<'_> {
        crate::core::report::Facts {
            devices: &self.devices,
            failed: &self.failed,
            firmware: &self.firmware,
            links: &self.links,
            stages: &self.stages,
        }
    }
}

pub fn facts_for_report() -> ReportData {
    let records = kernel_records();
    let tl = timeline_text();
    ReportData {
        devices: devices(),
        failed: crate::core::report::failed_modules(&tl),
        firmware: crate::core::kmsg::missing_firmware(records.iter().map(|r| r.text.as_str())),
        links: links(),
        stages: stages(&tl),
    }
}
