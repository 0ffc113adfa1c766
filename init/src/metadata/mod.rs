//! Per-instance settings: the same image reads its machine's host name and
//! configuration at boot, from a NoCloud seed (a vfat or ISO9660 volume
//! labelled `cidata` holding `meta-data` and `user-data`, what
//! `cloud-localds` writes) and, with `init.metadata=imds` or
//! `init.metadata=http://ADDR[:PORT]/`, from an EC2 IMDSv2 service.
//!
//! - meta-data `local-hostname` sets the host name;
//! - user-data starting with `#nodistro-config` carries /etc/nodistro.conf
//!   lines that override the image's (the kernel command line still wins):
//!   init rewrites /etc/nodistro.conf and restarts logfwd or netcfg when
//!   their keys changed; `init.*` keys are read before this and are not
//!   taken from here;
//! - any other user-data goes to /run/nodistro/user-data for the app.
//!
//! Every setting taken is said on the console with where it came from.
//! Runs once, before the app's first start (after the network is up).

pub mod fetch;
pub mod http;
pub mod nocloud;

use crate::datadisk;
use nocloud::{MetaData, UserData};
use nodistro_common::config::Seconds;
use nodistro_common::timeline::log;
use nodistro_common::{Cmdline, Config};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Where user-data for the app and the seed's mount point go.
pub use nodistro_common::protocol::init::RUN_DIR;
/// EC2's (and Firecracker MMDS's) link-local metadata address.
const IMDS: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::new(169, 254, 169, 254),
    80,
));

/// `init.metadata` and `init.metadata_timeout` (seconds, default 5).
pub fn from_config(cfg: &Config) -> (Option<SocketAddr>, Duration, Vec<String>) {
    let mut warn = Vec::new();
    let addr = match cfg.get("init.metadata").map(str::trim) {
        None | Some("") | Some("off") => None,
        Some("imds") => Some(IMDS),
        Some(v) => {
            let parsed = v.strip_prefix("http://").and_then(|rest| {
                let hostport = rest.split('/').next().unwrap_or_default();
                let (ip, port) = match hostport.split_once(':') {
                    Some((ip, p)) => (ip, p.parse::<u16>().ok()?),
                    None => (hostport, 80),
                };
                let ip: std::net::Ipv4Addr = ip.parse().ok()?;
                Some(SocketAddr::from((ip, port)))
            });
            if parsed.is_none() {
                warn.push(format!(
                    "init.metadata={v:?} is not imds, off or http://IPV4[:PORT]/; no metadata service"
                ));
            }
            parsed
        }
    };
    let timeout = match cfg.get_parsed::<Seconds>("init.metadata_timeout") {
        Some(Ok(Seconds(s)))
            if (Duration::from_millis(100)..=Duration::from_secs(300)).contains(&s) =>
        {
            s
        }
        None => Duration::from_secs(5),
        Some(_) => {
            warn.push(
                "init.metadata_timeout is not a number of seconds (0.1 to 300); using 5".into(),
            );
            Duration::from_secs(5)
        }
    };
    (addr, timeout, warn)
}

/// Settings from one place.
pub struct Source {
    pub name: String,
    pub meta: MetaData,
    pub user_data: Option<Vec<u8>>,
}

/// A file of at most [`http::MAX_BODY`] bytes; `None` when absent.
fn read_capped(path: &str) -> Result<Option<Vec<u8>>, String> {
    if !std::path::Path::new(path).exists() {
        return Ok(None);
    }
    match datadisk::read_prefix(path, http::MAX_BODY + 1) {
        None => Err(format!("cannot read {path}")),
        Some(b) if b.len() > http::MAX_BODY => {
            Err(format!("{path} is larger than {} bytes", http::MAX_BODY))
        }
        Some(b) => Ok(Some(b)),
    }
}

/// The NoCloud seed, if a volume labelled `cidata` is present now.
fn nocloud() -> Option<Source> {
    let (dev, probe) = datadisk::scan_devices().into_iter().find_map(|(d, p)| {
        let p = p?;
        let seed = p
            .label
            .as_deref()
            .is_some_and(|l| l.eq_ignore_ascii_case("cidata"));
        seed.then_some((d, p))
    })?;
    let name = format!("the NoCloud seed on {dev}");
    let fstype = probe.fstype.mount_type();
    if !matches!(fstype, "vfat" | "iso9660") {
        log(
            "init",
            &format!("{name} is {fstype}, not vfat or iso9660; ignored"),
        );
        return None;
    }
    let dir = format!("{RUN_DIR}/seed");
    let mounted = datadisk::load_filesystem(fstype)
        .and_then(|()| std::fs::create_dir_all(&dir).map_err(|e| format!("{dir}: {e}")))
        .and_then(|()| {
            rustix::mount::mount(
                dev.as_str(),
                dir.as_str(),
                fstype,
                rustix::mount::MountFlags::RDONLY,
                c"",
            )
            .map_err(|e| format!("cannot mount {dev} ({fstype}): {e}"))
        });
    if let Err(e) = mounted {
        log("init", &format!("{name}: {e}; ignored"));
        return None;
    }
    let meta = read_capped(&format!("{dir}/meta-data"));
    let user = read_capped(&format!("{dir}/user-data"));
    let _ = rustix::mount::unmount(dir.as_str(), rustix::mount::UnmountFlags::DETACH);
    match (meta, user) {
        (Ok(m), Ok(user_data)) => {
            let text = m
                .map(|m| String::from_utf8_lossy(&m).into_owned())
                .unwrap_or_default();
            Some(Source {
                name,
                meta: nocloud::parse_meta_data(&text),
                user_data,
            })
        }
        (Err(e), _) | (_, Err(e)) => {
            log("init", &format!("{name}: {e}; seed ignored"));
            None
        }
    }
}

/// Every source present: the seed, then the metadata service.
pub fn gather(service: Option<SocketAddr>, timeout: Duration) -> Vec<Source> {
    let mut out: Vec<Source> = nocloud().into_iter().collect();
    if let Some(addr) = service {
        let t0 = Instant::now();
        match fetch::imds(addr, t0 + timeout) {
            Ok(f) => out.push(Source {
                name: format!("the metadata service http://{addr}/"),
                meta: nocloud::parse_meta_data(&f.meta),
                user_data: f.user_data,
            }),
            Err(e) => log(
                "init",
                &format!("metadata service http://{addr}/: {e}; going on without it"),
            ),
        }
    }
    if out.is_empty() {
        log(
            "init",
            "no per-instance settings (no NoCloud seed, no metadata service): the image's own",
        );
    }
    out
}

/// A `key=value` from user-data and the source's name.
type Key<'a> = (String, String, &'a str);

/// Take the settings; returns the helpers to restart for their new keys.
pub fn apply(sources: &[Source]) -> Vec<&'static str> {
    let cmdline = Cmdline::parse(&std::fs::read_to_string("/proc/cmdline").unwrap_or_default());
    let (mut host, keys) = read_sources(sources);
    if let Some((_, v, src)) = keys.iter().rfind(|(k, _, _)| k == "hostname") {
        host = Some((v.clone(), format!("user-data from {src}")));
    }
    if let Some((h, from)) = host {
        set_hostname(&h, &from, &cmdline);
    }
    let taken = take_keys(keys, &cmdline);
    if taken.is_empty() {
        return Vec::new();
    }
    let path = nodistro_common::CONFIG_PATH;
    if let Err(e) = write_config(path, &taken) {
        log(
            "init",
            &format!("cannot write {path} with the instance's keys: {e}; they are not used"),
        );
        return Vec::new();
    }
    to_restart(&taken)
}

/// Each source in turn: its instance id said, its host name (the last
/// wins, with where it came from), its user-data's configuration keys (a
/// later source's key replaces an earlier's) or, other user-data, written
/// for the app.
fn read_sources(sources: &[Source]) -> (Option<(String, String)>, Vec<Key<'_>>) {
    let mut host = None;
    let mut keys: Vec<Key> = Vec::new();
    for s in sources {
        if let Some(id) = &s.meta.instance_id {
            log("init", &format!("instance {id} (from {})", s.name));
        }
        if let Some(h) = &s.meta.local_hostname {
            host = Some((h.clone(), format!("local-hostname in {}", s.name)));
        }
        match s.user_data.as_deref().map(nocloud::classify) {
            None => {}
            Some(UserData::Config(kv, warnings)) => {
                for w in warnings {
                    log("init", &format!("user-data from {}: {w}", s.name));
                }
                keys.retain(|(k, _, _)| !kv.iter().any(|(n, _)| n == k));
                keys.extend(kv.into_iter().map(|(k, v)| (k, v, s.name.as_str())));
            }
            Some(UserData::Other) => write_user_data(s),
        }
    }
    (host, keys)
}

/// User-data that is not configuration, in [`RUN_DIR`]`/user-data` for
/// the app.
fn write_user_data(s: &Source) {
    let path = format!("{RUN_DIR}/user-data");
    let data = s.user_data.as_deref().unwrap_or_default();
    let _ = std::fs::create_dir_all(RUN_DIR);
    match nodistro_common::atomic_file::write_atomic(path.as_ref(), data) {
        Ok(()) => log(
            "init",
            &format!(
                "user-data from {} ({} bytes) is in {path} for the app",
                s.name,
                data.len()
            ),
        ),
        Err(e) => log("init", &format!("cannot write {path}: {e}")),
    }
}

/// Host name `h` (from `from`), unless the kernel command line names one
/// or it is not a valid host name.
fn set_hostname(h: &str, from: &str, cmdline: &Cmdline) {
    match cmdline.get("hostname") {
        Some(c) => log(
            "init",
            &format!("host name {c} from the kernel command line wins over {h} ({from})"),
        ),
        None if !crate::config::valid_hostname(h) => log(
            "init",
            &format!("host name {h:?} ({from}) is not a valid host name; ignored"),
        ),
        None => {
            crate::vm::set_hostname(h);
            log("init", &format!("host name {h} (from {from})"));
        }
    }
}

/// The keys taken, each said: not `hostname` (set above), not one the
/// kernel command line sets, not init's own (read before this).
fn take_keys(keys: Vec<Key>, cmdline: &Cmdline) -> Vec<(String, String)> {
    let mut taken: Vec<(String, String)> = Vec::new();
    for (k, v, src) in keys.into_iter().filter(|(k, _, _)| k != "hostname") {
        if cmdline.get(&k).is_some() {
            log(
                "init",
                &format!("{k} from user-data of {src}: the kernel command line's value wins"),
            );
        } else if k.starts_with("init.") {
            log("init", &format!("{k} from user-data of {src} ignored: init reads its own keys before; set it in the image or on the kernel command line"));
        } else {
            log("init", &format!("{k}={v} (from user-data of {src})"));
            taken.push((k, v));
        }
    }
    taken
}

/// The image's configuration file at `path` with the `taken` keys
/// replacing its own.
fn write_config(path: &str, taken: &[(String, String)]) -> Result<(), String> {
    let (image, _) = Config::parse(&std::fs::read_to_string(path).unwrap_or_default());
    let mut entries: Vec<(String, String)> = image
        .entries()
        .iter()
        .filter(|(k, _)| !taken.iter().any(|(t, _)| t == k))
        .cloned()
        .collect();
    entries.extend(taken.iter().cloned());
    Config::from_entries(entries)
        .render()
        .map_err(|e| e.to_string())
        .and_then(|text| {
            nodistro_common::atomic_file::write_atomic(path.as_ref(), text.as_bytes())
                .map_err(|e| e.to_string())
        })
}

/// The helpers whose keys are among the `taken`.
fn to_restart(taken: &[(String, String)]) -> Vec<&'static str> {
    let mut restart = Vec::new();
    if taken.iter().any(|(k, _)| k.starts_with("logfwd.")) {
        restart.push("logfwd");
    }
    if taken
        .iter()
        .any(|(k, _)| k.starts_with("netcfg.") || k == "ip")
    {
        restart.push("netcfg");
    }
    restart
}
