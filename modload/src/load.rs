//! Loading modules into the running kernel: `finit_module` on each file,
//! dependencies first, up to a few at a time (the kernel allows concurrent
//! loads), parameters from the configuration, compressed files handled.

use crate::core::decompress::{decompress, Compression, DecompressError, MAX_MODULE_SIZE};
use crate::core::fnmatch::normalize_name;
use crate::core::schedule::{Next, Schedule};
use crate::plan::Plan;
use crate::sys;
use crate::tree::ModuleTree;
use nodistro_common::Config;
use rustix::io::Errno;
use std::collections::HashMap;
use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Why one module did not load.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("module {0} is neither in modules.dep nor built into the kernel")]
    Unknown(String),
    #[error("cannot open {path} (the image lacks the module file; rebuild it)", path = .path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {path}", path = .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot decompress {path}", path = .path.display())]
    Decompress {
        path: PathBuf,
        #[source]
        source: DecompressError,
    },
    #[error("the kernel refused {path}: {reason}", path = .path.display())]
    Kernel {
        path: PathBuf,
        reason: String,
        #[source]
        errno: Errno,
    },
    #[error("not loaded: it needs {0}, which did not load")]
    DependencyFailed(String),
}

/// Who decompressed a compressed module that loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decompressed {
    /// finit_module with MODULE_INIT_COMPRESSED_FILE (Linux 6.4+).
    ByKernel(Compression),
    /// modload, then init_module (the kernel cannot).
    ByModload(Compression),
}

/// What happened to one module.
#[derive(Debug)]
pub enum Outcome {
    /// Loaded, in this long; how, when the file was compressed.
    Loaded(Duration, Option<Decompressed>),
    AlreadyLoaded,
    Builtin,
    Failed(LoadError),
}

/// Module parameters from the configuration (file merged with the kernel
/// command line): every `<module>.<param>=<value>` key, `-` and `_` alike in
/// module names. Returns module name -> `param=value ...` for init_module.
pub fn params_from_config(cfg: &Config) -> HashMap<String, String> {
    const OURS: &[&str] = &["init", "modload", "modprobe", "netcfg", "logfwd"];
    let mut out: HashMap<String, String> = HashMap::new();
    for (key, value) in cfg.entries() {
        let Some((module, param)) = key.split_once('.') else {
            continue;
        };
        let module = normalize_name(module);
        if OURS.contains(&module.as_str()) || param.is_empty() {
            continue;
        }
        let s = out.entry(module).or_default();
        if !s.is_empty() {
            s.push(' ');
        }
        if value.contains(char::is_whitespace) {
            s.push_str(&format!("{param}=\"{value}\""));
        } else {
            s.push_str(&format!("{param}={value}"));
        }
    }
    out
}

/// Explain a kernel error for a person on a serial console. `image` is the
/// (decompressed) module file when it could be read.
pub fn explain(errno: Errno, image: Option<&[u8]>, running: &str) -> String {
    match errno {
        Errno::NOEXEC => match image.map(crate::core::modinfo::modinfo) {
            Some(Err(e)) => format!("not a valid module: {e}"),
            Some(Ok(info)) => match crate::core::modinfo::vermagic_release(&info) {
                Some(built) if built != running => {
                    format!("built for kernel {built}, but the running kernel is {running}")
                }
                _ => "invalid module format (see dmesg)".into(),
            },
            None => "invalid module format (see dmesg)".into(),
        },
        Errno::NOENT => "unknown symbols: a dependency is missing or failed (see dmesg)".into(),
        Errno::PERM => "not permitted (not root, or module loading is disabled)".into(),
        Errno::KEYREJECTED => "signature rejected (module signing is enforced)".into(),
        Errno::NODEV | Errno::NXIO => "its init found no device it can drive".into(),
        Errno::BUSY => "busy (another instance is initialising?)".into(),
        Errno::INVAL => {
            "invalid argument: a parameter value the module rejects? (see dmesg)".into()
        }
        e => format!("error {e}"),
    }
}

/// Loads modules of one tree into the running kernel.
pub struct Loader<'a> {
    pub tree: &'a ModuleTree,
    pub params: HashMap<String, String>,
    /// `/sys/module`: a loaded module has `<name>/initstate` there.
    pub sys_module: PathBuf,
    pub workers: usize,
    /// Running kernel release, for error explanations.
    pub running: String,
}

fn read_image(path: &Path, comp: Option<Compression>) -> Result<Vec<u8>, LoadError> {
    let file = File::open(path).map_err(|source| LoadError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    // A compressed file larger than the decompressed bound is refused too.
    let mut raw = Vec::new();
    let cap = u64::try_from(MAX_MODULE_SIZE).unwrap_or(u64::MAX) + 1;
    file.take(cap)
        .read_to_end(&mut raw)
        .map_err(|source| LoadError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    let decompress_err = |source| LoadError::Decompress {
        path: path.to_path_buf(),
        source,
    };
    if raw.len() > MAX_MODULE_SIZE {
        return Err(decompress_err(DecompressError::TooLarge {
            limit: MAX_MODULE_SIZE,
        }));
    }
    match comp {
        None => Ok(raw),
        Some(c) => decompress(c, &raw, MAX_MODULE_SIZE).map_err(decompress_err),
    }
}

impl Loader<'_> {
    /// Load one module (not its dependencies).
    pub fn load_one(&self, name: &str) -> Outcome {
        let name = normalize_name(name);
        let Some(rel) = self.tree.module_path(&name) else {
            return if self.tree.is_builtin(&name) {
                Outcome::Builtin
            } else {
                Outcome::Failed(LoadError::Unknown(name))
            };
        };
        if self.sys_module.join(&name).join("initstate").exists() {
            return Outcome::AlreadyLoaded;
        }
        let path = self.tree.dir().join(rel);
        let params = self.params.get(&name).map(String::as_str).unwrap_or("");
        let params = CString::new(params).unwrap_or_default();
        let comp = Compression::of(rel);
        let start = Instant::now();
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(source) => return Outcome::Failed(LoadError::Open { path, source }),
        };
        let flags = if comp.is_some() {
            sys::MODULE_INIT_COMPRESSED_FILE
        } else {
            0
        };
        let mut image = None;
        let mut how = comp.map(Decompressed::ByKernel);
        let mut res = sys::finit_module(file.as_fd(), &params, flags);
        if let (Some(c), Err(Errno::INVAL | Errno::OPNOTSUPP)) = (comp, res) {
            // The kernel cannot decompress (before 6.4, or built without
            // CONFIG_MODULE_DECOMPRESS): do it here.
            match read_image(&path, comp) {
                Ok(img) => {
                    res = sys::init_module(&img, &params);
                    image = Some(img);
                    how = Some(Decompressed::ByModload(c));
                }
                Err(e) => return Outcome::Failed(e),
            }
        }
        match res {
            Ok(()) => Outcome::Loaded(start.elapsed(), how),
            Err(Errno::EXIST) => Outcome::AlreadyLoaded,
            Err(errno) => {
                if image.is_none() && errno == Errno::NOEXEC {
                    image = read_image(&path, comp).ok();
                }
                let reason = explain(errno, image.as_deref(), &self.running);
                Outcome::Failed(LoadError::Kernel {
                    path,
                    reason,
                    errno,
                })
            }
        }
    }

    /// Load `order` (from [`ModuleTree::plan`]: dependencies first), several
    /// at a time: a module starts once the modules it depends on (and its
    /// `pre:` soft dependencies) are done. A module whose dependency failed
    /// is not tried. `on_done` is called as each finishes.
    pub fn load_all(
        &self,
        plan: &Plan,
        on_done: &(dyn Fn(&str, &Outcome) + Sync),
    ) -> Vec<(String, Outcome)> {
        let order = &plan.order;
        let schedule = Schedule::new(
            order,
            |i| self.tree.dependencies(&order[i]),
            |i| plan.pre_softdeps(self.tree, &order[i]),
        );
        let run = Run {
            loader: self,
            order,
            on_done,
            state: Mutex::new(Shared {
                schedule,
                outcomes: (0..order.len()).map(|_| None).collect(),
            }),
            cv: Condvar::new(),
        };
        std::thread::scope(|s| {
            for _ in 1..self.workers.max(1) {
                s.spawn(|| run.worker());
            }
            run.worker();
        });
        let outcomes = run
            .state
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .outcomes;
        order
            .iter()
            .cloned()
            .zip(outcomes)
            .filter_map(|(n, o)| Some((n, o?)))
            .collect()
    }
}

/// What the workers share, under [`Run::state`]'s lock.
struct Shared {
    schedule: Schedule,
    outcomes: Vec<Option<Outcome>>,
}

/// One [`Loader::load_all`]: its workers' shared state.
struct Run<'a, 'l> {
    loader: &'a Loader<'l>,
    order: &'a [String],
    on_done: &'a (dyn Fn(&str, &Outcome) + Sync),
    state: Mutex<Shared>,
    /// Signalled when a module finishes (others may become ready).
    cv: Condvar,
}

impl Run<'_, '_> {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Load modules as they become ready until every one is done.
    fn worker(&self) {
        while let Some((i, failed_dep)) = self.take() {
            let out = match failed_dep {
                Some(d) => Outcome::Failed(LoadError::DependencyFailed(self.order[d].clone())),
                None => self.loader.load_one(&self.order[i]),
            };
            (self.on_done)(&self.order[i], &out);
            self.finish(i, out);
        }
    }

    /// The next ready module (waiting for one); `None` when all are done.
    fn take(&self) -> Option<(usize, Option<usize>)> {
        let mut g = self.lock();
        loop {
            match g.schedule.next() {
                Next::Take { i, failed_dep } => return Some((i, failed_dep)),
                Next::Done => return None,
                Next::Wait => g = self.cv.wait(g).unwrap_or_else(|e| e.into_inner()),
            }
        }
    }

    fn finish(&self, i: usize, out: Outcome) {
        let mut g = self.lock();
        g.schedule.finish(i, matches!(out, Outcome::Failed(_)));
        g.outcomes[i] = Some(out);
        self.cv.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_come_from_config_keys_with_dashes_as_underscores() {
        let (cfg, _) = Config::parse(
            "e1000.InterruptThrottleRate=3000\ne1000.debug=2\nvirtio-net.napi_tx=1\ninit.app=/app/x\nmodprobe.blacklist=a\nx.msg=a b\n",
        );
        let p = params_from_config(&cfg);
        assert_eq!(p["e1000"], "InterruptThrottleRate=3000 debug=2");
        assert_eq!(p["virtio_net"], "napi_tx=1");
        assert_eq!(p["x"], "msg=\"a b\"");
        assert!(!p.contains_key("init") && !p.contains_key("modprobe"));
    }

    #[test]
    fn kernel_errors_are_explained() {
        let ko = crate::core::modinfo::tests::tiny_ko(b"name=x\0vermagic=5.10.0-1-amd64 SMP \0");
        let e = explain(Errno::NOEXEC, Some(&ko), "6.1.0-56-amd64");
        assert!(
            e.contains("built for kernel 5.10.0-1-amd64") && e.contains("6.1.0-56-amd64"),
            "{e}"
        );
        let e = explain(Errno::NOEXEC, Some(b"garbage"), "6.1.0-56-amd64");
        assert!(e.contains("not a valid module: not an ELF file"), "{e}");
        assert!(explain(Errno::NOENT, None, "x").contains("unknown symbols"));
    }

    /// A damaged compressed module is reported with its path and the
    /// reason, as the console shows it.
    #[test]
    fn damaged_compressed_files_name_the_file_and_the_reason() {
        let dir = std::env::temp_dir().join(format!("modload-read-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let payload = crate::core::modinfo::tests::tiny_ko(b"name=x\0vermagic=6.1.0 SMP \0");
        // A zstd frame holding the payload as one raw block (no zstd
        // needed to make it): magic, a single-segment header with a 2-byte
        // content size, the block header (last, raw, size), the bytes.
        let mut frame = vec![0x28, 0xB5, 0x2F, 0xFD, 0x60];
        let size = payload.len();
        frame.extend(((size - 256) as u16).to_le_bytes());
        let block = (size as u32) << 3 | 1;
        frame.extend(&block.to_le_bytes()[..3]);
        frame.extend_from_slice(&payload);
        crate::core::decompress::enable();
        let good = dir.join("x.ko.zst");
        std::fs::write(&good, &frame).expect("write");
        let img = read_image(&good, Compression::of("x.ko.zst")).expect("decodes");
        assert!(img == payload);
        let cut = dir.join("cut.ko.zst");
        std::fs::write(&cut, &frame[..frame.len() / 2]).expect("write");
        let e = read_image(&cut, Some(Compression::Zstd)).expect_err("truncated");
        let msg = nodistro_common::report::chain(&e);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            msg.starts_with("cannot decompress ")
                && msg.ends_with("cut.ko.zst: the zstd data ends early (truncated file?)"),
            "{msg}"
        );
    }

    fn write_tree(dir: &Path, dep: &str) -> ModuleTree {
        std::fs::write(dir.join("modules.dep"), dep).expect("write modules.dep");
        ModuleTree::open(dir).expect("open tree")
    }

    #[test]
    fn bad_module_files_fail_alone_and_dependents_are_skipped() {
        let dir = std::env::temp_dir().join(format!("modload-load-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        struct Rm(PathBuf);
        impl Drop for Rm {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        let _rm = Rm(dir.clone());
        // gone.ko is missing, user.ko needs it, loaded.ko is already in
        // (sys-module/loaded/initstate), bi is built in: none of them reaches
        // the finit_module call (tests never load into the host kernel).
        std::fs::create_dir_all(dir.join("sys-module/loaded")).expect("mkdir");
        std::fs::write(dir.join("sys-module/loaded/initstate"), "live\n").expect("write");
        std::fs::write(dir.join("modules.builtin"), "kernel/bi.ko\n").expect("write");
        let tree = write_tree(&dir, "gone.ko:\nuser.ko: gone.ko\nloaded.ko:\n");
        let loader = Loader {
            tree: &tree,
            params: HashMap::new(),
            sys_module: dir.join("sys-module"),
            workers: 3,
            running: "test".into(),
        };
        let plan = tree.plan(&["user".into(), "loaded".into(), "bi".into()]);
        assert_eq!(plan.problems.len(), 0, "{:?}", plan.problems);
        let out = loader.load_all(&plan, &|_, _| {});
        let get = |n: &str| &out.iter().find(|(m, _)| m == n).expect("outcome").1;
        assert!(matches!(
            get("gone"),
            Outcome::Failed(LoadError::Open { .. })
        ));
        assert!(
            matches!(get("user"), Outcome::Failed(LoadError::DependencyFailed(d)) if d == "gone")
        );
        assert!(matches!(get("loaded"), Outcome::AlreadyLoaded));
        assert!(matches!(get("bi"), Outcome::Builtin));
        assert_eq!(out.len(), 4);
    }
}
