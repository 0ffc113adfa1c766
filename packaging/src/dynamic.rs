//! `nodistro build --allow-dynamic`: pack what a dynamically linked app
//! needs to start and to do what glibc does at run time. The search is
//! [`crate::core::dynlink`]; this is its IO: the host's files and
//! /etc/ld.so.cache, and the image entries.
//!
//! Besides the DT_NEEDED closure:
//! - `libgcc_s.so.1` when an object calls pthread_exit, pthread_cancel,
//!   thrd_exit or backtrace: glibc dlopens it for unwinding;
//! - glibc's gconv modules when the app itself calls iconv_open (or with
//!   `--gconv`): conversions other than the built-in UTF-8, UTF-16,
//!   UTF-32, UCS-2, UCS-4 and ASCII load them;
//! - NSS: nothing. Since glibc 2.34 the `files` and `dns` services are in
//!   libc.so.6 itself (Debian 12's libnss_files.so.2 and libnss_dns.so.2
//!   are empty stubs), and the image's /etc/nsswitch.conf names only
//!   those: getpwnam, getgrnam and getaddrinfo load no module.
//! - /etc/ld.so.cache naming exactly the libraries packed, so that the
//!   image's ld.so finds each at the path it was found at here, a
//!   /usr/local/lib one included (the default directories alone would
//!   miss it).

use crate::core::dynlink::{self, Closure, Host, Item, Probe, ResolveError, Resolver, Settings};
use crate::core::elf::{self, DynInfo};
use crate::core::ldcache;
use crate::image::{Image, ImageError, Node, Source};
use std::path::Path;

/// Where glibc's iconv looks for its modules (GCONV_PATH's default).
pub const GCONV_DIR: &str = "/usr/lib/x86_64-linux-gnu/gconv";
const LIBGCC_S: &str = "libgcc_s.so.1";
/// Calls after which glibc dlopens libgcc_s for unwinding.
const UNWINDERS: [&str; 4] = ["pthread_exit", "pthread_cancel", "thrd_exit", "backtrace"];
/// Linux's errno for a loop of symlinks.
const ELOOP: i32 = 40;

/// The host's files, as ld.so would see them.
pub struct HostFs;

impl Host for HostFs {
    fn probe(&mut self, path: &str) -> Probe {
        use std::io::ErrorKind;
        use std::os::unix::fs::MetadataExt;
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.raw_os_error() == Some(ELOOP) => return Probe::Loop,
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
                return Probe::Missing
            }
            Err(e) => return Probe::Unusable(e.to_string()),
        };
        if meta.file_type().is_symlink() {
            return match std::fs::read_link(path).map(|t| t.into_os_string().into_string()) {
                Ok(Ok(t)) => Probe::Symlink(t),
                Ok(Err(_)) => Probe::Unusable("its target is not UTF-8".into()),
                Err(e) => Probe::Unusable(e.to_string()),
            };
        }
        if !meta.is_file() {
            return Probe::Unusable("not a regular file".into());
        }
        match std::fs::read(path) {
            Ok(bytes) => Probe::File {
                id: (meta.dev(), meta.ino()),
                size: meta.len(),
                check: elf::dyn_info(&bytes),
            },
            Err(e) => Probe::Unusable(e.to_string()),
        }
    }
}

/// What `--allow-dynamic` adds.
#[derive(Debug, Clone)]
pub struct Plan {
    pub closure: Closure,
    /// Non-ELF files (gconv's configuration).
    pub extra: Vec<Item>,
    /// The image's /etc/ld.so.cache.
    pub cache: Vec<u8>,
    pub notes: Vec<String>,
}

impl Plan {
    /// The interpreter's path (what PT_INTERP names).
    pub fn interpreter(&self) -> Option<&str> {
        self.closure
            .objects
            .first()
            .and_then(|o| o.info.interpreter.as_deref())
    }

    /// Libraries (objects other than the app and its interpreter).
    pub fn libraries(&self) -> usize {
        self.closure
            .objects
            .iter()
            .filter(|o| !matches!(o.how, dynlink::How::App | dynlink::How::Interpreter))
            .count()
    }

    /// Every byte added: files, symlink targets, the cache.
    pub fn bytes(&self) -> u64 {
        let extra: u64 = self
            .extra
            .iter()
            .map(|i| match i {
                Item::File { size, .. } => *size,
                Item::Symlink { target, .. } => target.len() as u64,
            })
            .sum();
        self.closure.bytes() + extra + self.cache.len() as u64
    }
}

/// The host's cache (none, with a note, when it is missing or damaged:
/// ld.so then searches without it too).
fn host_cache(path: &Path, notes: &mut Vec<String>) -> Option<ldcache::LdCache> {
    let bytes = std::fs::read(path).ok()?;
    match ldcache::parse(&bytes) {
        Ok(c) => Some(c),
        Err(e) => {
            notes.push(format!("{}: {e}; searching without it", path.display()));
            None
        }
    }
}

/// Find everything the app at `app` (packed as `app_image`) needs.
pub fn plan(
    app: &Path,
    app_image: &str,
    info: DynInfo,
    gconv: bool,
    cache_path: &Path,
) -> Result<Plan, ResolveError> {
    let mut notes = Vec::new();
    let settings = Settings::debian(host_cache(cache_path, &mut notes));
    let real = std::fs::canonicalize(app).unwrap_or_else(|_| app.to_path_buf());
    let mut host = HostFs;
    let mut r = Resolver::new(&mut host, &settings);
    r.app(app_image, &real.to_string_lossy(), info)?;
    let mut extra = Vec::new();
    let libc = r
        .objects()
        .iter()
        .position(|o| o.info.soname.as_deref() == Some("libc.so.6"));
    if let Some(libc) = libc {
        let callers = |r: &Resolver<HostFs>, syms: &[&str]| -> Vec<String> {
            r.objects()
                .iter()
                .filter_map(|o| {
                    let s = o.info.imports.iter().find(|i| syms.contains(&i.as_str()))?;
                    Some(format!("{} ({s})", o.image))
                })
                .collect()
        };
        let unwind = callers(&r, &UNWINDERS);
        if !unwind.is_empty() {
            let loaded = r
                .objects()
                .iter()
                .any(|o| o.names.iter().any(|n| n == LIBGCC_S));
            if !loaded {
                match r.dlopen(LIBGCC_S, libc)? {
                    Some(_) => notes.push(format!(
                        "{LIBGCC_S}: glibc loads it at run time for {}",
                        unwind.join(", ")
                    )),
                    None => notes.push(format!(
                        "warning: {LIBGCC_S} is not on this machine; {} will abort (apt-get install libgcc-s1)",
                        unwind.join(", ")
                    )),
                }
            }
        }
        let iconv = callers(&r, &["iconv_open"]);
        let app_calls = iconv
            .iter()
            .any(|c| c.starts_with(&format!("{app_image} (")));
        if gconv || app_calls {
            add_gconv(&mut r, libc, &mut extra, &mut notes)?;
        } else if !iconv.is_empty() {
            notes.push(format!(
                "{} call iconv_open: conversions beyond UTF-8/16/32, UCS-2/4 and ASCII need glibc's gconv modules (--gconv adds them)",
                iconv.join(", ")
            ));
        }
    }
    let mut closure = r.finish();
    notes.append(&mut closure.notes);
    let cache = ldcache::write(&closure.cache_pairs());
    Ok(Plan {
        closure,
        extra,
        cache,
        notes,
    })
}

/// glibc's gconv modules (each with what it needs) and their
/// configuration files.
fn add_gconv(
    r: &mut Resolver<HostFs>,
    libc: usize,
    extra: &mut Vec<Item>,
    notes: &mut Vec<String>,
) -> Result<(), ResolveError> {
    let mut files = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from(GCONV_DIR)];
    while let Some(d) = dirs.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            notes.push(format!(
                "{}: not readable; gconv modules not packed",
                d.display()
            ));
            return Ok(());
        };
        for e in rd.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => dirs.push(p),
                Ok(_) => files.push(p),
                Err(_) => {}
            }
        }
    }
    files.sort();
    for f in files {
        let Some(s) = f.to_str() else { continue };
        if s.ends_with(".so") {
            r.dlopen(s, libc)?;
        } else if let Ok(m) = std::fs::metadata(&f) {
            extra.push(Item::File {
                image: dynlink::normalize(s),
                host: s.to_string(),
                size: m.len(),
            });
        }
    }
    notes.push(format!("gconv modules from {GCONV_DIR} (iconv)"));
    Ok(())
}

/// Put the plan into the image (a path the image already has, from
/// `--file`, wins); one line per entry added, then the total.
pub fn add(img: &mut Image, plan: &Plan, app_image: &str) -> Result<Vec<String>, ImageError> {
    let mut lines = Vec::new();
    for item in plan.closure.items.iter().chain(&plan.extra) {
        if img.contains(item.image()) {
            lines.push(format!(
                "dynamic: kept {} given with --file (the host's is not packed)",
                item.image()
            ));
            continue;
        }
        match item {
            Item::File { image, host, size } => {
                img.add_file(image, Path::new(host))?;
                let names: Vec<&str> = plan
                    .closure
                    .objects
                    .iter()
                    .filter(|o| o.image == *image)
                    .flat_map(|o| o.names.iter().map(String::as_str))
                    .collect();
                let why = if names.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", names.join(", "))
                };
                lines.push(format!("dynamic: + {image} {size} bytes{why}"));
            }
            Item::Symlink { image, target } => {
                img.add(
                    image,
                    Node::Symlink {
                        target: target.clone(),
                    },
                )?;
                lines.push(format!("dynamic: + {image} -> {target}"));
            }
        }
    }
    if !img.contains("etc/ld.so.cache") {
        img.add(
            "etc/ld.so.cache",
            Node::File {
                source: Source::Bytes(plan.cache.clone()),
                mode: 0o644,
            },
        )?;
        lines.push(format!(
            "dynamic: + /etc/ld.so.cache {} bytes ({} names)",
            plan.cache.len(),
            plan.closure.cache_pairs().len()
        ));
    }
    lines.extend(plan.notes.iter().map(|n| format!("dynamic: {n}")));
    lines.push(format!(
        "dynamic: {app_image} got its interpreter {} and {} libraries: {} bytes added",
        plan.interpreter().unwrap_or("(none)"),
        plan.libraries(),
        plan.bytes()
    ));
    Ok(lines)
}
