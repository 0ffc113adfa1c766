//! The one table that ties the build file's keys to `nodistro build`'s
//! flags. A key is its flag's name (`tools-dir` for `--tools-dir`), a
//! repeatable flag's key is plural (`args` for `--arg`); a unit test reads
//! `nodistro build --help` and fails when a flag has no row here, a row
//! names a flag that is gone, or a row's kind disagrees with the flag
//! (switch, one value, repeatable). A new flag is one new row.

/// What a key holds in the file, and what it becomes on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string: `--flag VALUE`.
    Str,
    /// A string naming a file or directory, relative to the build file's
    /// directory: `--flag PATH`.
    Path,
    /// An integer: `--flag N`.
    Int,
    /// `true`: `--flag`; `false`: nothing.
    Switch,
    /// `true`: the flag with an empty value, its default (`--ca-certs`
    /// alone); `false`: nothing.
    DefaultValue,
    /// An array of strings: `--flag V` for each, in order.
    List,
    /// A table `NAME = value` (strings, integers, booleans): `--flag
    /// NAME=value` for each, in the file's order. With `dotted`, nested
    /// tables join their names with dots, so `[config]` may say
    /// `init.on_exit = "reboot"` unquoted.
    Pairs { dotted: bool },
    /// An array of `"SRC:DEST"` strings (the flag's syntax), SRC relative
    /// to the build file's directory.
    FileList,
    /// A table `"DEST" = "SRC"` (gokrazy's ExtraFilePaths), SRC relative
    /// to the build file's directory: `--flag SRC:DEST`.
    FileTable,
}

impl Kind {
    /// The flag takes no value.
    pub fn is_switch(self) -> bool {
        self == Kind::Switch
    }

    /// The flag may be given more than once: the file's values and the
    /// command line's are both used (the file's first).
    pub fn is_repeatable(self) -> bool {
        matches!(
            self,
            Kind::List | Kind::Pairs { .. } | Kind::FileList | Kind::FileTable
        )
    }

    /// What the file must hold, for error messages.
    pub fn expected(self) -> &'static str {
        match self {
            Kind::Str => "a string",
            Kind::Path => "a path (a string)",
            Kind::Int => "an integer",
            Kind::Switch | Kind::DefaultValue => "true or false",
            Kind::List => "an array of strings",
            Kind::Pairs { .. } => "a table of NAME = value",
            Kind::FileList => "an array of \"SRC:DEST\" strings",
            Kind::FileTable => "a table of \"DEST\" = \"SRC\"",
        }
    }
}

/// One row: a key of the file, the flag it stands for, how.
#[derive(Debug, PartialEq, Eq)]
pub struct Key {
    /// The key in the file.
    pub key: &'static str,
    /// The flag, without its dashes.
    pub flag: &'static str,
    pub kind: Kind,
    /// Other flags that, given on the command line, also replace this
    /// key's value (`--modules all` replaces the file's `drivers`).
    pub replaced_by: &'static [&'static str],
}

const fn row(key: &'static str, flag: &'static str, kind: Kind) -> Key {
    Key {
        key,
        flag,
        kind,
        replaced_by: &[],
    }
}

/// Every key. A key may have one row per TOML type it takes
/// (`modules = "all"` or `modules = ["e1000"]`).
pub const KEYS: &[Key] = &[
    Key {
        replaced_by: &["from-oci"],
        ..row("app", "app", Kind::Path)
    },
    Key {
        replaced_by: &["app"],
        ..row("from-oci", "from-oci", Kind::Path)
    },
    row("output", "output", Kind::Path),
    row("args", "arg", Kind::List),
    row("env", "env", Kind::Pairs { dotted: false }),
    row("env", "env", Kind::List),
    row("files", "file", Kind::FileTable),
    row("files", "file", Kind::FileList),
    row("config", "config", Kind::Pairs { dotted: true }),
    row("config", "config", Kind::List),
    row("hostname", "hostname", Kind::Str),
    row("compression", "compression", Kind::Str),
    row("level", "level", Kind::Int),
    row("tools-dir", "tools-dir", Kind::Path),
    row("arch", "arch", Kind::Str),
    Key {
        replaced_by: &["modules"],
        ..row("drivers", "drivers", Kind::Str)
    },
    Key {
        replaced_by: &["drivers"],
        ..row("modules", "modules", Kind::Str)
    },
    row("modules", "module", Kind::List),
    row("modaliases", "modaliases", Kind::Path),
    row("kernel-version", "kernel-version", Kind::Str),
    row("modules-dir", "modules-dir", Kind::Path),
    row("firmware-dir", "firmware-dir", Kind::Path),
    row("user", "user", Kind::Str),
    row("ca-certs", "ca-certs", Kind::DefaultValue),
    row("ca-certs", "ca-certs", Kind::Path),
    row("allow-dynamic", "allow-dynamic", Kind::Switch),
    row("gconv", "gconv", Kind::Switch),
    row("format", "format", Kind::Str),
    row("kernel", "kernel", Kind::Path),
    row("cmdline", "cmdline", Kind::Str),
    row("data-size", "data-size", Kind::Str),
    row("data-size", "data-size", Kind::Int),
    row("slot-size", "slot-size", Kind::Str),
    row("slot-size", "slot-size", Kind::Int),
    row("update-key", "update-key", Kind::Path),
    row("update-version", "update-version", Kind::Int),
    row("efi-stub", "efi-stub", Kind::Path),
    row("isolinux-dir", "isolinux-dir", Kind::Path),
    row("sign-key", "sign-key", Kind::Path),
    row("sign-cert", "sign-cert", Kind::Path),
    row("console", "console", Kind::Switch),
];

/// Flags with no key, and why.
pub const NOT_KEYS: &[(&str, &str)] =
    &[("build-file", "the file itself"), ("help", "not a setting")];

/// Short spellings of flags (`-o` is `--output`).
pub const SHORT: &[(&str, &str)] = &[("o", "output"), ("f", "build-file")];

/// The rows of `key`.
pub fn rows(key: &str) -> impl Iterator<Item = &'static Key> + '_ {
    KEYS.iter().filter(move |k| k.key == key)
}

/// The distinct keys, in table order.
pub fn names() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for k in KEYS {
        if !out.contains(&k.key) {
            out.push(k.key);
        }
    }
    out
}

/// The long name of a command-line token that is a flag (`-o` and
/// `--output` are `output`), known or not; `None` for a value.
pub fn flag_name(token: &str) -> Option<&str> {
    if let Some(long) = token.strip_prefix("--") {
        return (!long.is_empty()).then_some(long);
    }
    let short = token.strip_prefix('-')?;
    SHORT.iter().find(|(s, _)| *s == short).map(|(_, l)| *l)
}

/// The flag takes no value on the command line (a switch, or help).
pub fn is_switch_flag(flag: &str) -> bool {
    flag == "help" || KEYS.iter().any(|k| k.flag == flag && k.kind.is_switch())
}

/// The key closest to a mistyped one, when it is close (for "did you
/// mean").
pub fn closest(key: &str) -> Option<&'static str> {
    names()
        .into_iter()
        .map(|n| (distance(key, n), n))
        .filter(|(d, n)| *d <= 2.max(n.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// Levenshtein distance, over chars (keys are short).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::args::BuildArgs;
    use argh::FromArgs;

    /// A flag as `--help` tells it: name, takes a value, repeatable.
    type HelpFlag = (String, bool, bool);

    /// What `nodistro build --help` says of each flag, and the short
    /// spellings (short, long).
    fn help_flags() -> (Vec<HelpFlag>, Vec<(String, String)>) {
        let help = match BuildArgs::from_args(&["nodistro build"], &["--help"]) {
            Err(e) => e.output,
            Ok(_) => panic!("--help parsed as a build"),
        };
        let usage = help.lines().next().expect("usage line");
        let mut flags = Vec::new();
        let mut shorts = Vec::new();
        // "  -o, --output      output file ...", "  --help, help  ..."
        for line in help.lines().skip_while(|l| !l.starts_with("Options:")) {
            // Two spaces before a flag; a wrapped description has more.
            let Some(names) = line
                .strip_prefix("  -")
                .and_then(|l| format!("-{l}").split("  ").next().map(String::from))
            else {
                continue;
            };
            let mut long = None;
            let mut short = None;
            for n in names.split(", ") {
                if let Some(l) = n.strip_prefix("--") {
                    long = Some(l.to_string());
                } else if let Some(s) = n.strip_prefix('-') {
                    short = Some(s.to_string());
                }
            }
            let long = long.expect("a long name");
            // The usage line spells a flag by its short name if it has one.
            let spelled = match &short {
                Some(s) => format!("-{s} <"),
                None => format!("--{long} <"),
            };
            let value = usage.find(&spelled).map(|at| &usage[at..]);
            let repeatable =
                value.is_some_and(|v| v.split('>').next().is_some_and(|v| v.ends_with("...")));
            if let Some(s) = short {
                shorts.push((s, long.clone()));
            }
            flags.push((long, value.is_some(), repeatable));
        }
        (flags, shorts)
    }

    #[test]
    fn every_flag_has_a_key_and_every_key_a_flag() {
        let (flags, shorts) = help_flags();
        assert!(flags.len() > 20, "help parsed: {flags:?}");
        for (name, value, repeatable) in &flags {
            if NOT_KEYS.iter().any(|(n, _)| n == name) {
                continue;
            }
            let mine: Vec<&Key> = KEYS.iter().filter(|k| k.flag == name).collect();
            assert!(
                !mine.is_empty(),
                "--{name} has no key in the build file: add a row to buildfile::keys::KEYS"
            );
            for k in mine {
                assert_eq!(
                    !value,
                    k.kind.is_switch(),
                    "--{name}: switch or not ({k:?})"
                );
                assert_eq!(
                    *repeatable,
                    k.kind.is_repeatable(),
                    "--{name}: repeatable or not ({k:?})"
                );
            }
        }
        for k in KEYS {
            assert!(
                flags.iter().any(|(n, _, _)| n == k.flag),
                "key {} names --{}, which nodistro build no longer has",
                k.key,
                k.flag
            );
            for r in k.replaced_by {
                assert!(flags.iter().any(|(n, _, _)| n == r), "--{r}");
            }
        }
        for (n, _) in NOT_KEYS {
            assert!(flags.iter().any(|(f, _, _)| f == n), "--{n}");
        }
        let mut want: Vec<(String, String)> = SHORT
            .iter()
            .map(|(s, l)| (s.to_string(), l.to_string()))
            .collect();
        want.sort();
        let mut got = shorts;
        got.sort();
        assert_eq!(got, want, "short flags");
    }

    #[test]
    fn a_key_has_one_row_per_toml_type() {
        for name in names() {
            let kinds: Vec<&'static str> = rows(name)
                .map(|k| match k.kind {
                    Kind::Str | Kind::Path => "string",
                    Kind::Int => "integer",
                    Kind::Switch | Kind::DefaultValue => "boolean",
                    Kind::List | Kind::FileList => "array",
                    Kind::Pairs { .. } | Kind::FileTable => "table",
                })
                .collect();
            let mut dedup = kinds.clone();
            dedup.sort();
            dedup.dedup();
            assert_eq!(kinds.len(), dedup.len(), "{name}: {kinds:?}");
        }
    }

    #[test]
    fn flags_and_suggestions() {
        assert_eq!(flag_name("-o"), Some("output"));
        assert_eq!(flag_name("--tools-dir"), Some("tools-dir"));
        assert_eq!(flag_name("--nope"), Some("nope"));
        assert_eq!(flag_name("value"), None);
        assert_eq!(flag_name("-x"), None);
        assert_eq!(flag_name("--"), None);
        assert!(is_switch_flag("console") && is_switch_flag("help"));
        assert!(!is_switch_flag("ca-certs") && !is_switch_flag("nope"));
        assert_eq!(closest("hostnme"), Some("hostname"));
        assert_eq!(closest("arg"), Some("args"));
        assert_eq!(closest("tools_dir"), Some("tools-dir"));
        assert_eq!(closest("zzzzzzzz"), None);
    }
}
