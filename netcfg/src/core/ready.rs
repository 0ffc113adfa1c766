//! When netcfg tells init it is online (sans-IO): `netcfg.wait=v4|v6|any|all`
//! names the family (or families) whose first address makes the machine
//! ready. Default: any configured family. With `init.wait_time=on` the
//! line is held back until the clock's first sync too (init starts the
//! app after it, or after `init.net_timeout`). `crate::ready::Ready` is the
//! run's one copy, shared by its threads.

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
    need_time: bool,
    time: bool,
    /// The readiness line, network ready but waiting for the time.
    held: Option<String>,
}

impl Gate {
    /// A gate for the planned families. A wait for a family that is not
    /// configured falls back to any (and says so).
    pub fn new(wait: Wait, v4_planned: bool, v6_planned: bool) -> Self {
        Gate {
            wait,
            v4_planned,
            v6_planned,
            v4: false,
            v6: false,
            sent: false,
            need_time: false,
            time: false,
            held: None,
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

    /// Hold readiness until [`Gate::time_synced`].
    pub fn wait_for_time(&mut self) {
        self.need_time = true;
    }

    /// A family is up with this readiness `line`: the line to send, once,
    /// when the machine becomes ready.
    pub fn up(&mut self, v6: bool, line: String) -> Option<String> {
        if !self.up_net(v6) {
            return None;
        }
        if self.need_time && !self.time {
            self.held = Some(line);
            return None;
        }
        Some(line)
    }

    /// The clock is set: the held line, if the network was ready first.
    pub fn time_synced(&mut self) -> Option<String> {
        self.time = true;
        self.held.take()
    }

    fn up_net(&mut self, v6: bool) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_wait() {
        let l = || "online x".to_string();
        let mut g = Gate::new(Wait::Any, true, true);
        assert!(g.up(true, l()).is_some());
        assert!(g.up(false, l()).is_none(), "once");
        let mut g = Gate::new(Wait::V4, true, true);
        assert!(g.up(true, l()).is_none());
        assert!(g.up(false, l()).is_some());
        let mut g = Gate::new(Wait::All, true, true);
        assert!(g.up(false, l()).is_none());
        assert!(g.up(true, l()).is_some());
        let mut g = Gate::new(Wait::All, false, true);
        assert!(g.up(true, l()).is_some(), "all of what is configured");
        // init.wait_time=on: held until the first sync, either order.
        let mut g = Gate::new(Wait::Any, true, true);
        g.wait_for_time();
        assert!(g.up(false, l()).is_none());
        assert_eq!(g.time_synced(), Some(l()));
        let mut g = Gate::new(Wait::Any, true, true);
        g.wait_for_time();
        assert_eq!(g.time_synced(), None);
        assert_eq!(g.up(false, l()), Some(l()));
        let g = Gate::new(Wait::V6, true, false);
        assert!(g.check().is_some());
        assert_eq!("all".parse(), Ok(Wait::All));
        assert!("v5".parse::<Wait>().is_err());
    }
}
