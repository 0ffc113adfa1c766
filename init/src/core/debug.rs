//! Bring-up switches (sans-IO): `init.debug=console` runs the debug console
//! on the console device (root to whoever holds the serial line) and the
//! bring-up report at the end of the boot; `init.break=modules|network|app`
//! pauses the boot before that stage until `continue` is typed on the
//! console (it turns the console on).

use nodistro_common::Config;

/// A stage the boot can pause before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Break {
    Modules,
    Network,
    App,
}

/// What `init.debug` and `init.break` ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Debug {
    pub console: bool,
    pub breaks: Vec<Break>,
}

/// The helper name the console runs under (`/bin/console`).
pub const CONSOLE: &str = "console";

impl Debug {
    pub fn from_config(cfg: &Config, warn: &mut Vec<String>) -> Debug {
        let mut d = Debug::default();
        for v in cfg.get_all("init.debug") {
            for w in v.split(',').map(str::trim).filter(|w| !w.is_empty()) {
                match w {
                    "console" => d.console = true,
                    "off" | "none" => d.console = false,
                    _ => warn.push(format!("init.debug: {w:?} is not console or off; ignored")),
                }
            }
        }
        for v in cfg.get_all("init.break") {
            for w in v.split(',').map(str::trim).filter(|w| !w.is_empty()) {
                let b = match w {
                    "modules" => Break::Modules,
                    "network" => Break::Network,
                    "app" => Break::App,
                    _ => {
                        warn.push(format!(
                            "init.break: {w:?} is not modules, network or app; ignored"
                        ));
                        continue;
                    }
                };
                if !d.breaks.contains(&b) {
                    d.breaks.push(b);
                }
            }
        }
        if !d.breaks.is_empty() {
            d.console = true;
        }
        d
    }

    /// Where each break falls in the start sequence of `helpers` (helper
    /// names in start order): the index of the first helper of that stage
    /// or a later one; `helpers.len()` is "before the app".
    pub fn positions(&self, helpers: &[&str]) -> Vec<usize> {
        let first_of = |stages: &[&str]| {
            helpers
                .iter()
                .position(|h| stages.contains(h))
                .unwrap_or(helpers.len())
        };
        let mut out: Vec<usize> = self
            .breaks
            .iter()
            .map(|b| match b {
                Break::Modules => first_of(&["modload", "logfwd", "netcfg"]),
                Break::Network => first_of(&["netcfg"]),
                Break::App => helpers.len(),
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// The debug console's place in the supervisor's plan.
#[derive(Debug, Clone, Default)]
pub struct DebugPlan {
    /// The console's helper index.
    pub console: Option<usize>,
    /// Stop points (see [`Debug::positions`]).
    pub breaks: Vec<usize>,
    /// Run `console --report` when the app starts.
    pub report: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(file: &str) -> (Debug, Vec<String>) {
        let (cfg, _) = Config::parse(file);
        let mut w = Vec::new();
        (Debug::from_config(&cfg, &mut w), w)
    }

    #[test]
    fn switches() {
        assert_eq!(parse("").0, Debug::default());
        assert!(parse("init.debug=console\n").0.console);
        let (d, w) = parse("init.break=network,app,bogus\n");
        assert!(d.console, "a break opens the console");
        assert_eq!(d.breaks, [Break::Network, Break::App]);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("\"bogus\""));
        let (d, w) = parse("init.debug=shell\n");
        assert!(!d.console);
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn positions_in_the_start_order() {
        let (d, _) = parse("init.break=modules,network,app\n");
        let h = ["console", "modload", "logfwd", "netcfg"];
        assert_eq!(d.positions(&h), [1, 3, 4]);
        assert_eq!(d.positions(&["console", "logfwd"]), [1, 2]);
    }
}
