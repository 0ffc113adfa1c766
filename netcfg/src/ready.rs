//! When netcfg tells init it is online: `netcfg.wait=v4|v6|any|all` names
//! the family (or families) whose first address makes the machine ready.
//! Default: any configured family. Sans-IO gate plus one process-wide copy.

use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    V4,
    V6,
    Any,
    All,
}

impl std::str::FromStr for Wait {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "v4" => Ok(Wait::V4),
            "v6" => Ok(Wait::V6),
            "any" => Ok(Wait::Any),
            "all" => Ok(Wait::All),
            _ => Err(format!(
                "netcfg.wait={s:?} is not one of v4, v6, any, all; using any"
            )),
        }
    }
}

#[derive(Debug)]
pub struct Gate {
    wait: Wait,
    v4_planned: bool,
    v6_planned: bool,
    v4: bool,
    v6: bool,
    sent: bool,
}

impl Gate {
    /// A gate for the planned families. A wait for a family that is not
    /// configured falls back to any (and says so).
    pub const fn new(wait: Wait, v4_planned: bool, v6_planned: bool) -> Self {
        Gate {
            wait,
            v4_planned,
            v6_planned,
            v4: false,
            v6: false,
            sent: false,
        }
    }

    pub fn check(&self) -> Option<String> {
        match self.wait {
            Wait::V4 if !self.v4_planned => {
                Some("netcfg.wait=v4 but IPv4 is not configured; waiting for any".into())
            }
            Wait::V6 if !self.v6_planned => {
                Some("netcfg.wait=v6 but IPv6 is not configured; waiting for any".into())
            }
            _ => None,
        }
    }

    /// A family is up; true exactly once, when the machine becomes ready.
    pub fn up(&mut self, v6: bool) -> bool {
        if v6 {
            self.v6 = true;
        } else {
            self.v4 = true;
        }
        let any = self.v4 || self.v6;
        let ready = match self.wait {
            Wait::V4 if self.v4_planned => self.v4,
            Wait::V6 if self.v6_planned => self.v6,
            Wait::All => (self.v4 || !self.v4_planned) && (self.v6 || !self.v6_planned),
            _ => any,
        };
        let first = ready && !self.sent;
        self.sent |= ready;
        first
    }
}

static GATE: Mutex<Gate> = Mutex::new(Gate::new(Wait::Any, true, true));

/// Set the process-wide gate (before any interface thread starts); returns
/// a warning for the console if the wait cannot be met.
pub fn configure(wait: Wait, v4_planned: bool, v6_planned: bool) -> Option<String> {
    let g = Gate::new(wait, v4_planned, v6_planned);
    let w = g.check();
    *GATE.lock().unwrap_or_else(|p| p.into_inner()) = g;
    w
}

/// A family came up: true if this makes the machine ready (notify init).
pub fn up(v6: bool) -> bool {
    GATE.lock().unwrap_or_else(|p| p.into_inner()).up(v6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_wait() {
        let mut g = Gate::new(Wait::Any, true, true);
        assert!(g.up(true));
        assert!(!g.up(false), "once");
        let mut g = Gate::new(Wait::V4, true, true);
        assert!(!g.up(true));
        assert!(g.up(false));
        let mut g = Gate::new(Wait::All, true, true);
        assert!(!g.up(false));
        assert!(g.up(true));
        let mut g = Gate::new(Wait::All, false, true);
        assert!(g.up(true), "all of what is configured");
        let g = Gate::new(Wait::V6, true, false);
        assert!(g.check().is_some());
        assert_eq!("all".parse(), Ok(Wait::All));
        assert!("v5".parse::<Wait>().is_err());
    }
}
