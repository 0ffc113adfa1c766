//! kmod's configuration: `/etc/modprobe.d/*.conf`, `/run/modprobe.d/*.conf`
//! and `/lib/modprobe.d/*.conf` (a file name in an earlier directory hides
//! the same name in a later one; files are read in name order). Understood
//! as kmod does: `options MODULE ARGS`, `blacklist MODULE`, `alias PATTERN
//! MODULE` (looked up before anything else), `softdep MODULE pre: ...
//! post: ...` (kmod reads the modules' own softdeps, modules.softdep, among
//! these files in name order, and a module's first softdep line counts: a
//! file named before it overrides them, one named after it only adds
//! softdeps to modules without their own); `install` and `remove` run shell
//! commands, which an image without a shell cannot: reported once, ignored.
//! The parser is sans-IO ([`ModprobeConf::parse`]); [`load`] reads the
//! directories.

use crate::core::fnmatch::{normalize_alias, normalize_name};
use std::path::Path;

/// The directories kmod reads, in precedence order.
pub const DIRS: [&str; 3] = ["etc/modprobe.d", "run/modprobe.d", "lib/modprobe.d"];

/// What the configuration files say.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ModprobeConf {
    /// (pattern, module), normalised, in file order.
    pub aliases: Vec<(String, String)>,
    /// (module, arguments) in file order.
    pub options: Vec<(String, String)>,
    pub blacklist: Vec<String>,
    /// `softdep` lines as written, of files named before `modules.softdep`:
    /// kmod reads that file (the modules' own softdeps) among the
    /// configuration files in name order and takes a module's first
    /// `softdep`, so these win over the module's own.
    pub softdeps: String,
    /// `softdep` lines of files named after `modules.softdep`: they count
    /// only for modules without softdeps of their own.
    pub late_softdeps: String,
    /// Whether the file being parsed is named after `modules.softdep`.
    late: bool,
    /// One line per problem (unsupported commands, bad lines).
    pub warnings: Vec<String>,
    /// Whether an `install`/`remove` line was reported (once for all files).
    unsupported_reported: bool,
}

impl ModprobeConf {
    /// Add the lines of the file named `file_name` (its place among the
    /// files decides what its softdeps override); `shown` is for messages.
    pub fn parse_file(&mut self, file_name: &str, shown: &str, text: &str) {
        self.late = file_name > "modules.softdep";
        self.parse(shown, text);
        self.late = false;
    }

    /// Add the lines of one file (`name` is for messages), read before the
    /// modules' own softdeps.
    pub fn parse(&mut self, name: &str, text: &str) {
        let mut pending = String::new();
        for (n, raw) in text.lines().enumerate() {
            // A trailing backslash continues the line.
            if let Some(head) = raw.strip_suffix('\\') {
                pending.push_str(head);
                pending.push(' ');
                continue;
            }
            pending.push_str(raw);
            let line = std::mem::take(&mut pending);
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = format!("{name}:{}", n + 1);
            let mut w = line.split_whitespace();
            let cmd = w.next().unwrap_or_default();
            let args: Vec<&str> = w.collect();
            match (cmd, args.as_slice()) {
                ("alias", [pat, module]) => match normalize_alias(pat) {
                    Some(p) => self.aliases.push((p, normalize_name(module))),
                    None => self
                        .warnings
                        .push(format!("{at}: alias {pat}: unbalanced brackets; ignored")),
                },
                ("options", [module, rest @ ..]) if !rest.is_empty() => self
                    .options
                    .push((normalize_name(module), rest.join(" "))),
                ("blacklist", [module]) => self.blacklist.push(normalize_name(module)),
                ("softdep", [_, _, ..]) => {
                    let to = if self.late {
                        &mut self.late_softdeps
                    } else {
                        &mut self.softdeps
                    };
                    to.push_str(line);
                    to.push('\n');
                }
                ("install" | "remove", _) => {
                    if !self.unsupported_reported {
                        self.unsupported_reported = true;
                        self.warnings.push(format!(
                            "{at}: `{cmd}` runs a shell command, which modload does not support; ignored (and every other install/remove line)"
                        ));
                    }
                }
                _ => self.warnings.push(format!(
                    "{at}: cannot use {line:?} (expected options, blacklist, alias or softdep); ignored"
                )),
            }
        }
    }

    /// The arguments `options` lines give a module, in order.
    pub fn options_for(&self, module: &str) -> Option<String> {
        let module = normalize_name(module);
        let all: Vec<&str> = self
            .options
            .iter()
            .filter(|(m, _)| *m == module)
            .map(|(_, o)| o.as_str())
            .collect();
        (!all.is_empty()).then(|| all.join(" "))
    }
}

impl ModprobeConf {
    /// Module parameters: these `options` first, then `params` (from the
    /// kernel command line and nodistro.conf), so that the command line
    /// wins where both set one (the kernel keeps a parameter's last value).
    pub fn with_options(
        &self,
        mut params: std::collections::HashMap<String, String>,
    ) -> std::collections::HashMap<String, String> {
        let modules: std::collections::BTreeSet<&str> =
            self.options.iter().map(|(m, _)| m.as_str()).collect();
        for m in modules {
            let Some(opts) = self.options_for(m) else {
                continue;
            };
            let v = params.entry(m.to_string()).or_default();
            *v = if v.is_empty() {
                opts
            } else {
                format!("{opts} {v}")
            };
        }
        params
    }
}

/// The `*.conf` files kmod would read under `root`, in reading order.
pub fn files(root: &Path) -> Vec<std::path::PathBuf> {
    let mut by_name: std::collections::BTreeMap<String, std::path::PathBuf> = Default::default();
    for dir in DIRS {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".conf") && !by_name.contains_key(&name) {
                by_name.insert(name, e.path());
            }
        }
    }
    by_name.into_values().collect()
}

/// Read the configuration under `root` (`/` on the target).
pub fn load(root: &Path) -> ModprobeConf {
    let mut conf = ModprobeConf::default();
    for path in files(root) {
        match std::fs::read(&path) {
            Ok(b) => conf.parse_file(
                &path.file_name().unwrap_or_default().to_string_lossy(),
                &path.display().to_string(),
                &String::from_utf8_lossy(&b),
            ),
            Err(e) => conf
                .warnings
                .push(format!("cannot read {}: {e}; ignoring it", path.display())),
        }
    }
    conf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_read_as_kmod_reads_them() {
        let mut c = ModprobeConf::default();
        c.parse(
            "a.conf",
            "# comment\n\
             options e1000 InterruptThrottleRate=3000 \\\n  debug=1\n\
             options e1000 copybreak=0\n\
             blacklist nouveau\n\
             alias my-nic e1000\n\
             softdep ext4 pre: crc32c\n\
             install pcspkr /bin/true\n\
             remove pcspkr /bin/true\n\
             frobnicate x\n\
             options lonely\n",
        );
        assert_eq!(
            c.options_for("e1000").as_deref(),
            Some("InterruptThrottleRate=3000 debug=1 copybreak=0")
        );
        assert_eq!(c.options_for("virtio_net"), None);
        assert_eq!(c.blacklist, ["nouveau"]);
        assert_eq!(c.aliases, [("my_nic".to_string(), "e1000".to_string())]);
        assert_eq!(c.softdeps, "softdep ext4 pre: crc32c\n");
        assert_eq!(c.late_softdeps, "");
        c.parse_file(
            "zz.conf",
            "/etc/modprobe.d/zz.conf",
            "softdep jbd2 pre: crc32c\n",
        );
        c.parse_file(
            "a.conf",
            "/etc/modprobe.d/a.conf",
            "softdep nfsd pre: md5\n",
        );
        assert_eq!(
            c.softdeps,
            "softdep ext4 pre: crc32c\nsoftdep nfsd pre: md5\n"
        );
        assert_eq!(c.late_softdeps, "softdep jbd2 pre: crc32c\n");
        assert_eq!(c.warnings.len(), 3, "{:?}", c.warnings);
        assert!(c.warnings[0].starts_with("a.conf:8: `install` runs a shell command"));
        assert!(c.warnings[1].contains("a.conf:10") && c.warnings[1].contains("frobnicate"));
        assert!(c.warnings[2].contains("a.conf:11"));
    }

    #[test]
    fn etc_hides_lib_and_files_are_read_in_name_order() {
        let root = crate::testutil::TempTree::new("modload-modprobe-d");
        for (dir, name, text) in [
            ("etc/modprobe.d", "b.conf", "options m b_etc=1\n"),
            ("lib/modprobe.d", "b.conf", "options m b_lib=1\n"),
            ("lib/modprobe.d", "a.conf", "options m a_lib=1\n"),
            ("lib/modprobe.d", "c.txt", "options m not_conf=1\n"),
        ] {
            let d = root.0.join(dir);
            std::fs::create_dir_all(&d).expect("mkdir");
            std::fs::write(d.join(name), text).expect("write");
        }
        let c = load(&root.0);
        assert_eq!(c.options_for("m").as_deref(), Some("a_lib=1 b_etc=1"));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }
}
