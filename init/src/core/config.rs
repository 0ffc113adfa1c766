//! init's typed configuration, read from the shared [`Config`] (the file
//! plus command-line overrides) and from what the kernel hands init itself:
//! bare command-line words as arguments (appended to the app's arguments).
//! Unknown `key=value` words arrive as init's environment, which the app
//! inherits as is. Sans-IO: every bad value becomes a warning and the
//! default.

use nodistro_common::config::Seconds;
use nodistro_common::Config;
use std::time::Duration;

/// What to do when the app exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnExit {
    PowerOff,
    Reboot,
    Restart,
    Stay,
}

/// The helpers init knows, in start order.
/// `update` is in an image built with `--update-key` (signed A/B updates).
pub const HELPERS: [&str; 4] = ["modload", "logfwd", "netcfg", "update"];

/// Everything init reads from its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitConfig {
    pub app: Option<String>,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub workdir: String,
    pub uid: u32,
    pub gid: u32,
    pub on_exit: OnExit,
    /// `None`: every helper present in /bin.
    pub helpers: Option<Vec<String>>,
    pub modload_timeout: Duration,
    pub net_timeout: Duration,
    /// `init.sequential=on`: start the helpers one after the other (see
    /// [`crate::startorder`]); off: overlapped.
    pub sequential: bool,
    pub grace: Duration,
    pub hostname: String,
    /// Signals init passes to the app (`init.forward`); `None`: the mode's
    /// default (see [`crate::core::signals::default_forward`]).
    pub forward: Option<crate::core::signals::SignalSet>,
    /// `init.debug`, `init.break` (see [`crate::debug`]).
    pub debug: crate::core::debug::Debug,
}

impl Default for InitConfig {
    fn default() -> Self {
        InitConfig {
            app: None,
            args: Vec::new(),
            env: Vec::new(),
            workdir: "/".into(),
            uid: 0,
            gid: 0,
            on_exit: OnExit::PowerOff,
            helpers: None,
            modload_timeout: Duration::from_secs(10),
            net_timeout: Duration::from_secs(10),
            sequential: false,
            grace: Duration::from_secs(5),
            hostname: "nodistro".into(),
            forward: None,
            debug: Default::default(),
        }
    }
}

/// Keys outside `init.` that init reads from the command line.
pub const PLAIN_KEYS: &[&str] = &["hostname"];

pub fn valid_hostname(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 64
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

impl InitConfig {
    /// Build from the merged configuration and init's own arguments (bare
    /// kernel words). Returns the warnings to print on the console.
    pub fn from_config(cfg: &Config, kernel_args: &[String]) -> (Self, Vec<String>) {
        let mut c = InitConfig::default();
        let mut warn = Vec::new();
        c.read_app(cfg, kernel_args, &mut warn);
        c.read_numbers(cfg, &mut warn);
        c.read_start(cfg, &mut warn);
        if let Some(v) = cfg.get("init.forward") {
            match crate::core::signals::SignalSet::parse(v) {
                Ok(set) => c.forward = Some(set),
                Err(bad) => warn.push(format!(
                    "init.forward: {bad:?} is not a signal (HUP, INT, QUIT, TERM, USR1, USR2, WINCH, or a number); using the default set"
                )),
            }
        }
        c.debug = crate::core::debug::Debug::from_config(cfg, &mut warn);
        if let Some(h) = cfg.get("hostname") {
            if valid_hostname(h) {
                c.hostname = h.into();
            } else {
                warn.push(format!(
                    "hostname={h:?} is not a valid host name (letters, digits, '-', '.', up to 64); using {}",
                    c.hostname
                ));
            }
        }
        (c, warn)
    }

    /// The app and what it runs with: `init.app`, `init.arg` (then the
    /// kernel's bare words), `init.env`, `init.workdir`.
    fn read_app(&mut self, cfg: &Config, kernel_args: &[String], warn: &mut Vec<String>) {
        self.app = cfg
            .get("init.app")
            .filter(|s| !s.is_empty())
            .map(Into::into);
        self.args = cfg.get_all("init.arg").map(Into::into).collect();
        self.args.extend(kernel_args.iter().cloned());
        for e in cfg.get_all("init.env") {
            match e.split_once('=') {
                Some((k, v)) if !k.is_empty() => self.env.push((k.into(), v.into())),
                _ => warn.push(format!("init.env={e:?} is not NAME=value; entry ignored")),
            }
        }
        if let Some(w) = cfg.get("init.workdir") {
            if w.starts_with('/') {
                self.workdir = w.into();
            } else {
                warn.push(format!(
                    "init.workdir={w:?} is not an absolute path; using /"
                ));
            }
        }
    }

    /// The numeric keys: `init.uid`, `init.gid` and the timeouts in
    /// seconds (`init.modload_timeout`, `init.net_timeout`, `init.grace`).
    fn read_numbers(&mut self, cfg: &Config, warn: &mut Vec<String>) {
        let mut num = |key: &str, slot: &mut u32| match cfg.get_parsed::<u32>(key) {
            Some(Ok(v)) => *slot = v,
            Some(Err(v)) => warn.push(format!(
                "{key}={v:?} is not a number (names are not resolved); using {slot}"
            )),
            None => {}
        };
        num("init.uid", &mut self.uid);
        num("init.gid", &mut self.gid);
        let mut secs = |key: &str, slot: &mut Duration| match cfg.get_parsed::<Seconds>(key) {
            Some(Ok(Seconds(v))) if v <= Duration::from_secs(86_400) => *slot = v,
            Some(Ok(_)) | Some(Err(_)) => warn.push(format!(
                "{key}={:?} is not a number of seconds (0 to 86400); using {}",
                cfg.get(key).unwrap_or_default(),
                Seconds(*slot)
            )),
            None => {}
        };
        secs("init.modload_timeout", &mut self.modload_timeout);
        secs("init.net_timeout", &mut self.net_timeout);
        secs("init.grace", &mut self.grace);
    }

    /// How the machine starts and ends: `init.sequential`, `init.on_exit`,
    /// `init.helpers` (known names only, in start order).
    fn read_start(&mut self, cfg: &Config, warn: &mut Vec<String>) {
        match cfg.get_bool("init.sequential") {
            Some(Ok(b)) => self.sequential = b,
            Some(Err(v)) => warn.push(format!(
                "init.sequential={v:?} is not on or off; using off (overlapped start)"
            )),
            None => {}
        }
        if let Some(v) = cfg.get("init.on_exit") {
            match parse_on_exit(v) {
                Some(p) => self.on_exit = p,
                None => warn.push(format!(
                    "init.on_exit={v:?} is not poweroff, reboot, restart or stay; using poweroff"
                )),
            }
        }
        if let Some(v) = cfg.get("init.helpers") {
            let mut list = Vec::new();
            for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                if HELPERS.contains(&name) {
                    list.push(name.to_string());
                } else {
                    warn.push(format!(
                        "init.helpers: unknown helper {name:?} (known: {}); ignored",
                        HELPERS.join(",")
                    ));
                }
            }
            // Start order is fixed whatever order the list gives.
            list.sort_by_key(|n| HELPERS.iter().position(|h| h == n));
            list.dedup();
            self.helpers = Some(list);
        }
    }
}

/// `poweroff`, `reboot`, `restart`, `stay`.
pub fn parse_on_exit(v: &str) -> Option<OnExit> {
    Some(match v.trim() {
        "poweroff" => OnExit::PowerOff,
        "reboot" => OnExit::Reboot,
        "restart" => OnExit::Restart,
        "stay" => OnExit::Stay,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use nodistro_common::Cmdline;

    fn load(file: &str, cmdline: &str, kargs: &[&str]) -> (InitConfig, Vec<String>) {
        let (mut cfg, w) = Config::parse(file);
        assert!(w.is_empty());
        cfg.override_with(&Cmdline::parse(cmdline), PLAIN_KEYS);
        let kargs: Vec<String> = kargs.iter().map(|s| s.to_string()).collect();
        InitConfig::from_config(&cfg, &kargs)
    }

    #[test]
    fn defaults_when_empty() {
        let (c, w) = load("", "", &[]);
        assert_eq!(c, InitConfig::default());
        assert!(w.is_empty());
    }

    #[test]
    fn file_values_and_cmdline_overrides() {
        let (c, w) = load(
            "init.app=/app/demo\ninit.arg=-p\ninit.arg=8080\ninit.env=A=1=2\ninit.workdir=/tmp\n\
             init.uid=1000\ninit.gid=100\ninit.on_exit=stay\ninit.grace=1.5\nhostname=box\n",
            "console=ttyS0 init.on_exit=reboot init.net_timeout=3 init.sequential=on hostname=vm1 init.helpers=netcfg,modload",
            &["extra"],
        );
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.app.as_deref(), Some("/app/demo"));
        assert_eq!(c.args, ["-p", "8080", "extra"]);
        assert_eq!(c.env, [("A".to_string(), "1=2".to_string())]);
        assert_eq!(c.workdir, "/tmp");
        assert_eq!((c.uid, c.gid), (1000, 100));
        assert_eq!(c.on_exit, OnExit::Reboot);
        assert_eq!(c.grace, Duration::from_millis(1500));
        assert_eq!(c.net_timeout, Duration::from_secs(3));
        assert!(c.sequential);
        assert_eq!(c.hostname, "vm1");
        assert_eq!(c.helpers, Some(vec!["modload".into(), "netcfg".into()]));
    }

    #[test]
    fn bad_values_fall_back_with_a_warning_each() {
        let (c, w) = load(
            "init.uid=root\ninit.on_exit=explode\ninit.grace=-1\ninit.modload_timeout=soon\n\
             init.workdir=rel\ninit.env=NOEQUALS\ninit.helpers=modload,systemd\nhostname=bad name!\n\
             init.sequential=maybe\n",
            "",
            &[],
        );
        assert_eq!(w.len(), 9, "{w:#?}");
        assert!(w.iter().any(|m| m.contains("init.sequential=\"maybe\"")));
        assert!(!c.sequential);
        assert!(w[0].contains("init.env"));
        assert!(w.iter().any(|m| m.contains("init.uid=\"root\"")));
        assert_eq!(c.uid, 0);
        assert_eq!(c.on_exit, OnExit::PowerOff);
        assert_eq!(c.grace, Duration::from_secs(5));
        assert_eq!(c.modload_timeout, Duration::from_secs(10));
        assert_eq!(c.workdir, "/");
        assert!(c.env.is_empty());
        assert_eq!(c.helpers, Some(vec!["modload".into()]));
        assert_eq!(c.hostname, "nodistro");
    }
}
