//! Signals sent to init: their names, the configured forward set, and what
//! each means on a machine and in a namespace (sans-IO).

pub use nodistro_common::signal::name as signal_name;

/// How the machine ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Halt {
    PowerOff,
    Reboot,
}

/// A set of signal numbers (1 to 63).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SignalSet(u64);

impl SignalSet {
    pub fn of(sigs: &[i32]) -> Self {
        SignalSet(
            sigs.iter()
                .filter(|s| (1..64).contains(*s))
                .fold(0, |m, s| m | 1 << s),
        )
    }

    pub fn contains(self, sig: i32) -> bool {
        (1..64).contains(&sig) && self.0 & (1 << sig) != 0
    }

    /// `TERM,hup,SIGUSR1,28`: names with or without `SIG`, any case, or
    /// numbers; empty means none. `Err` carries the word not understood.
    /// SIGKILL and SIGSTOP cannot be caught, so they are refused too.
    pub fn parse(list: &str) -> Result<Self, String> {
        use nodistro_common::signal::*;
        let mut sigs = Vec::new();
        for word in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            let upper = word.to_ascii_uppercase();
            let name = upper.strip_prefix("SIG").unwrap_or(&upper);
            let sig = match name {
                "HUP" => SIGHUP,
                "INT" => SIGINT,
                "QUIT" => SIGQUIT,
                "TERM" => SIGTERM,
                "USR1" => SIGUSR1,
                "USR2" => SIGUSR2,
                "WINCH" => SIGWINCH,
                "CONT" => SIGCONT,
                "ALRM" => SIGALRM,
                n => match n.parse::<i32>() {
                    Ok(s) if (1..64).contains(&s) && s != SIGKILL && s != SIGSTOP => s,
                    _ => return Err(word.to_string()),
                },
            };
            sigs.push(sig);
        }
        Ok(SignalSet::of(&sigs))
    }
}

/// Signals passed to the app unless `init.forward` says otherwise. On a
/// machine SIGTERM, SIGINT and SIGUSR2 mean shutdown, so only SIGHUP and
/// SIGUSR1 go to the app; in a namespace (like tini) all of them do.
pub fn default_forward(vm: bool) -> SignalSet {
    use nodistro_common::signal::*;
    if vm {
        SignalSet::of(&[SIGHUP, SIGUSR1])
    } else {
        SignalSet::of(&[SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGQUIT])
    }
}

/// What a signal sent to init means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigAction {
    Forward,
    Shutdown(Halt),
    Ignore,
}

/// SIGPWR always stops init. A signal in `forward` goes to the app while it
/// runs. Otherwise, on a machine (`vm`): SIGTERM and SIGUSR2 power off,
/// SIGINT (the kernel's Ctrl-Alt-Del once CAD is off) reboots; in a
/// namespace SIGTERM, SIGINT and SIGQUIT stop init. Anything else is ignored.
pub fn signal_action(vm: bool, sig: i32, app_running: bool, forward: SignalSet) -> SigAction {
    use nodistro_common::signal::*;
    match sig {
        SIGPWR => SigAction::Shutdown(Halt::PowerOff),
        s if app_running && forward.contains(s) => SigAction::Forward,
        SIGINT if vm => SigAction::Shutdown(Halt::Reboot),
        SIGTERM | SIGUSR2 if vm => SigAction::Shutdown(Halt::PowerOff),
        SIGTERM | SIGINT | SIGQUIT if !vm => SigAction::Shutdown(Halt::PowerOff),
        _ => SigAction::Ignore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_meanings() {
        use nodistro_common::signal::*;
        let act = |vm: bool, sig, running| signal_action(vm, sig, running, default_forward(vm));
        assert_eq!(act(true, SIGINT, true), SigAction::Shutdown(Halt::Reboot));
        assert_eq!(
            act(true, SIGTERM, true),
            SigAction::Shutdown(Halt::PowerOff)
        );
        assert_eq!(act(true, SIGHUP, true), SigAction::Forward);
        assert_eq!(act(true, SIGHUP, false), SigAction::Ignore);
        assert_eq!(act(false, SIGTERM, true), SigAction::Forward);
        assert_eq!(act(false, SIGUSR2, true), SigAction::Forward);
        assert_eq!(
            act(false, SIGTERM, false),
            SigAction::Shutdown(Halt::PowerOff)
        );
        assert_eq!(
            act(false, SIGPWR, true),
            SigAction::Shutdown(Halt::PowerOff)
        );
        assert_eq!(act(false, SIGUSR1, false), SigAction::Ignore);
    }

    #[test]
    fn configured_forward_set_overrides_the_mode_default() {
        use nodistro_common::signal::*;
        let set = SignalSet::parse("term, sigusr2,28").expect("parses");
        assert!(set.contains(SIGTERM) && set.contains(SIGUSR2) && set.contains(SIGWINCH));
        assert!(!set.contains(SIGHUP));
        // On a machine, a forwarded SIGTERM reaches the app instead of
        // powering off; SIGHUP, no longer in the set, is ignored.
        assert_eq!(signal_action(true, SIGTERM, true, set), SigAction::Forward);
        assert_eq!(signal_action(true, SIGHUP, true, set), SigAction::Ignore);
        // With no app running the mode's meaning comes back.
        assert_eq!(
            signal_action(true, SIGTERM, false, set),
            SigAction::Shutdown(Halt::PowerOff)
        );
        // SIGPWR is never forwarded.
        let pwr = SignalSet::of(&[SIGPWR]);
        assert_eq!(
            signal_action(false, SIGPWR, true, pwr),
            SigAction::Shutdown(Halt::PowerOff)
        );
        assert_eq!(SignalSet::parse(""), Ok(SignalSet::default()));
        assert_eq!(SignalSet::parse("TERM,bogus"), Err("bogus".into()));
        assert_eq!(SignalSet::parse("9"), Err("9".into()));
    }
}
