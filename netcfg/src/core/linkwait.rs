//! The rule of waiting for an interface (sans-IO): whether what is there
//! ends the wait, what to say while waiting, how often to look. The wait
//! itself is `crate::linkwait`.

use std::time::Duration;

/// Why the wait ended without an interface.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// SIGTERM/SIGINT arrived on `stop`.
    Stopped,
    /// `timeout` passed.
    TimedOut,
    /// The drivers are settled (init's coldplug mark exists) and there is
    /// still no interface: "no interface" now means none.
    Settled,
}

/// What the wait is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Want {
    /// Any ethernet interface (then all of them are returned).
    AnyEthernet,
    /// Every one of these names.
    Named(Vec<String>),
}

/// The wait's rule: given the interfaces present (`ethernet` for
/// [`Want::AnyEthernet`], `exists` for names) and whether the drivers are
/// settled (`Some(true)`; `None`: nobody tells, as when netcfg runs after
/// coldplug), `Some(result)` ends the wait.
pub fn decide(
    want: &Want,
    ethernet: &[String],
    exists: impl Fn(&str) -> bool,
    settled: Option<bool>,
) -> Option<Result<Vec<String>, Ended>> {
    match want {
        Want::AnyEthernet if !ethernet.is_empty() => Some(Ok(ethernet.to_vec())),
        Want::Named(names) if names.iter().all(|n| exists(n)) => Some(Ok(names.clone())),
        // A name that never comes stays awaited (the driver may be slow or
        // the NIC hot-plugged); init's timeout bounds the boot.
        Want::AnyEthernet if settled == Some(true) => Some(Err(Ended::Settled)),
        _ => None,
    }
}

/// The console line said once when the wait begins.
pub fn waiting_line(want: &Want, settled: Option<bool>) -> String {
    let what = match want {
        Want::AnyEthernet => "no network interface yet".to_string(),
        Want::Named(n) => format!("{} not there yet", n.join(", ")),
    };
    let why = if settled == Some(false) {
        "drivers still loading"
    } else {
        "hotplug or a slow driver"
    };
    format!("{what}: waiting for it to appear ({why})")
}

/// How long to sleep before looking again, with `left` until the timeout
/// (None: no timeout). The coldplug mark is a file: look at it often while
/// it is missing.
pub fn next_look(left: Option<Duration>, settled: Option<bool>) -> Duration {
    let every = if settled == Some(false) {
        Duration::from_millis(50)
    } else {
        Duration::from_secs(1)
    };
    left.unwrap_or(Duration::from_secs(1)).min(every)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn any_ethernet_ends_when_one_appears_or_the_drivers_settle() {
        let none = |_: &str| false;
        assert_eq!(
            decide(&Want::AnyEthernet, &v(&["eth0", "eth1"]), none, Some(false)),
            Some(Ok(v(&["eth0", "eth1"])))
        );
        assert_eq!(decide(&Want::AnyEthernet, &[], none, Some(false)), None);
        assert_eq!(decide(&Want::AnyEthernet, &[], none, None), None);
        assert_eq!(
            decide(&Want::AnyEthernet, &[], none, Some(true)),
            Some(Err(Ended::Settled))
        );
    }

    #[test]
    fn says_why_and_looks_often_while_drivers_load() {
        let want = Want::Named(v(&["eth1"]));
        assert_eq!(
            waiting_line(&want, Some(false)),
            "eth1 not there yet: waiting for it to appear (drivers still loading)"
        );
        assert_eq!(
            waiting_line(&Want::AnyEthernet, None),
            "no network interface yet: waiting for it to appear (hotplug or a slow driver)"
        );
        let ms = Duration::from_millis;
        assert_eq!(next_look(None, Some(false)), ms(50));
        assert_eq!(next_look(None, None), ms(1000));
        assert_eq!(next_look(Some(ms(300)), Some(true)), ms(300));
        assert_eq!(next_look(Some(ms(20)), Some(false)), ms(20));
    }

    #[test]
    fn named_waits_for_every_name_even_once_settled() {
        let want = Want::Named(v(&["eth0", "eth1"]));
        let only_eth0 = |n: &str| n == "eth0";
        assert_eq!(decide(&want, &v(&["eth0"]), only_eth0, Some(true)), None);
        assert_eq!(
            decide(&want, &v(&["eth0", "eth1"]), |_| true, Some(false)),
            Some(Ok(v(&["eth0", "eth1"])))
        );
        // A named non-ethernet interface (a bond, wlan) counts when present.
        let bond = Want::Named(v(&["bond0"]));
        assert_eq!(
            decide(&bond, &[], |n| n == "bond0", None),
            Some(Ok(v(&["bond0"])))
        );
    }
}
