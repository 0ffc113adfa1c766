//! What this boot is, and what each step does to the firmware's variables:
//! the A/B state machine, sans-IO.
//!
//! nodistro's own variable ([`STATE_VAR`]) records which slot is the
//! default, the version each slot holds, the slot on trial, and the
//! versions that failed. With `BootCurrent` and the two slots' `Boot####`
//! entries it says whether this is a normal boot, a trial boot of a fresh
//! install, a boot after a failed trial (the firmware fell back), or a boot
//! the slots do not know (the first one, through the removable-media path).

use crate::core::layout::Slot;
use crate::core::manifest::Manifest;

/// nodistro's variable under [`crate::core::efi::NODISTRO`].
pub const STATE_VAR: &str = "NodistroSlots";

/// The slots' bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct State {
    /// The slot the firmware boots by default (`None`: not set up yet).
    pub default: Option<Slot>,
    /// The version each slot holds (A, B); `None`: empty or unusable.
    pub versions: [Option<u64>; 2],
    /// The slot installed and not yet blessed.
    pub trying: Option<Slot>,
    /// Versions that failed their trial: never installed again.
    pub failed: Vec<u64>,
}

fn index(s: Slot) -> usize {
    match s {
        Slot::A => 0,
        Slot::B => 1,
    }
}

fn slot_word(w: &str) -> Option<Slot> {
    match w {
        "a" | "A" => Some(Slot::A),
        "b" | "B" => Some(Slot::B),
        _ => None,
    }
}

impl State {
    pub fn version(&self, s: Slot) -> Option<u64> {
        self.versions[index(s)]
    }

    pub fn set_version(&mut self, s: Slot, v: Option<u64>) {
        self.versions[index(s)] = v;
    }

    /// The variable's text; unknown or bad lines are skipped.
    pub fn parse(data: &[u8]) -> State {
        let mut st = State::default();
        for line in String::from_utf8_lossy(data).lines() {
            let mut w = line.split_whitespace();
            match (w.next(), w.next()) {
                (Some("default"), Some(s)) => st.default = slot_word(s),
                (Some("trying"), Some(s)) => st.trying = slot_word(s),
                (Some(s @ ("a" | "b")), Some(v)) => {
                    if let (Some(s), Ok(v)) = (slot_word(s), v.parse()) {
                        st.set_version(s, Some(v));
                    }
                }
                (Some("failed"), first) => {
                    st.failed = first
                        .into_iter()
                        .chain(w)
                        .filter_map(|v| v.parse().ok())
                        .collect()
                }
                _ => {}
            }
        }
        st
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Some(d) = self.default {
            out.push_str(&format!("default {}\n", d.name().to_ascii_lowercase()));
        }
        for s in [Slot::A, Slot::B] {
            if let Some(v) = self.version(s) {
                out.push_str(&format!("{} {v}\n", s.name().to_ascii_lowercase()));
            }
        }
        if let Some(t) = self.trying {
            out.push_str(&format!("trying {}\n", t.name().to_ascii_lowercase()));
        }
        if !self.failed.is_empty() {
            let list: Vec<String> = self.failed.iter().map(u64::to_string).collect();
            out.push_str(&format!("failed {}\n", list.join(" ")));
        }
        out
    }
}

/// What the firmware's variables say about this boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// `BootCurrent`.
    pub current: Option<u16>,
    /// The `Boot####` numbers of slot A's and slot B's entries.
    pub entries: [Option<u16>; 2],
    pub state: State,
}

impl Facts {
    pub fn entry(&self, s: Slot) -> Option<u16> {
        self.entries[index(s)]
    }

    /// The slot this boot came from, if through one of the slots' entries.
    pub fn booted(&self) -> Option<Slot> {
        let cur = self.current?;
        [Slot::A, Slot::B]
            .into_iter()
            .find(|&s| self.entry(s) == Some(cur))
    }
}

/// What this boot is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Boot {
    /// Not through a slot's entry: the first boot (the removable-media
    /// path), or the firmware lost its entries. The entries are (re)made.
    Untracked,
    /// The default slot, as usual.
    Normal(Slot),
    /// A fresh install booted once through BootNext: blessed after the app
    /// stays healthy, else the firmware falls back.
    Trial(Slot),
    /// The slot on trial did not make it (this boot is the other one).
    RolledBack { failed: Slot, now: Option<Slot> },
}

pub fn classify(f: &Facts) -> Boot {
    let booted = f.booted();
    match (f.state.trying, booted) {
        (Some(t), Some(b)) if t == b => Boot::Trial(t),
        (Some(t), now) => Boot::RolledBack { failed: t, now },
        (None, Some(b)) => Boot::Normal(b),
        (None, None) => Boot::Untracked,
    }
}

/// The state after a failed trial: its version joins `failed`, the slot is
/// empty, and nothing is on trial.
pub fn after_rollback(st: &State, failed: Slot) -> State {
    let mut s = st.clone();
    if let Some(v) = s.version(failed) {
        if !s.failed.contains(&v) {
            s.failed.push(v);
        }
    }
    s.set_version(failed, None);
    s.trying = None;
    if s.default == Some(failed) {
        s.default = Some(failed.other());
    }
    s
}

/// The state after blessing `slot`: the default, nothing on trial.
pub fn after_bless(st: &State, slot: Slot) -> State {
    State {
        default: Some(slot),
        trying: None,
        ..st.clone()
    }
}

/// `BootOrder` with the slots' entries first, in `first`, `then` order
/// (`None` entries left out), followed by the other entries as they were.
pub fn boot_order(old: &[u16], first: Option<u16>, then: Option<u16>) -> Vec<u16> {
    let ours: Vec<u16> = [first, then].into_iter().flatten().collect();
    ours.iter()
        .copied()
        .chain(old.iter().copied().filter(|n| !ours.contains(n)))
        .collect()
}

/// What to do with a release a server offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offer {
    /// Newer: install it into `slot`.
    Install { slot: Slot, version: u64 },
    /// The version running now.
    Running(u64),
    /// Older than the running one: refused (versions only go up).
    Older { offered: u64, running: u64 },
    /// It failed its trial here before.
    Failed(u64),
    /// For another architecture.
    WrongArch(String),
}

/// Judge `m` on a device running `running` (version) in slot `booted`.
pub fn judge(m: &Manifest, arch: &str, booted: Slot, running: u64, st: &State) -> Offer {
    if m.arch != arch {
        Offer::WrongArch(m.arch.clone())
    } else if st.failed.contains(&m.version) {
        Offer::Failed(m.version)
    } else if m.version == running {
        Offer::Running(running)
    } else if m.version < running {
        Offer::Older {
            offered: m.version,
            running,
        }
    } else {
        Offer::Install {
            slot: booted.other(),
            version: m.version,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(current: u16, trying: Option<Slot>) -> Facts {
        Facts {
            current: Some(current),
            entries: [Some(1), Some(2)],
            state: State {
                default: Some(Slot::A),
                versions: [Some(1), Some(2)],
                trying,
                failed: vec![],
            },
        }
    }

    #[test]
    fn state_round_trip_and_garbage() {
        let st = State {
            default: Some(Slot::B),
            versions: [Some(3), Some(4)],
            trying: Some(Slot::A),
            failed: vec![5, 7],
        };
        assert_eq!(State::parse(st.render().as_bytes()), st);
        assert_eq!(
            State::parse(b"\xff\x00garbage\na x\nfailed q 9\n").failed,
            vec![9]
        );
        assert_eq!(State::parse(b""), State::default());
    }

    #[test]
    fn each_kind_of_boot() {
        assert_eq!(classify(&facts(1, None)), Boot::Normal(Slot::A));
        assert_eq!(classify(&facts(2, Some(Slot::B))), Boot::Trial(Slot::B));
        assert_eq!(
            classify(&facts(1, Some(Slot::B))),
            Boot::RolledBack {
                failed: Slot::B,
                now: Some(Slot::A)
            }
        );
        assert_eq!(classify(&facts(9, None)), Boot::Untracked);
        let mut none = facts(1, None);
        none.current = None;
        assert_eq!(classify(&none), Boot::Untracked);
    }

    #[test]
    fn rollback_bless_and_order() {
        let st = facts(1, Some(Slot::B)).state;
        let r = after_rollback(&st, Slot::B);
        assert_eq!(
            (r.trying, r.version(Slot::B), r.failed.clone()),
            (None, None, vec![2])
        );
        assert_eq!(r.default, Some(Slot::A));
        let b = after_bless(&st, Slot::B);
        assert_eq!((b.default, b.trying), (Some(Slot::B), None));
        assert_eq!(
            boot_order(&[5, 1, 2, 6], Some(2), Some(1)),
            vec![2, 1, 5, 6]
        );
        assert_eq!(boot_order(&[5, 1, 2], Some(1), None), vec![1, 5, 2]);
    }

    #[test]
    fn offers() {
        let m = |version| Manifest {
            version,
            arch: "x86_64".into(),
            image: "x.efi".into(),
            size: 1,
            sha256: [0; 32],
        };
        let st = State {
            failed: vec![3],
            ..State::default()
        };
        let j = |v| judge(&m(v), "x86_64", Slot::A, 2, &st);
        assert_eq!(
            j(4),
            Offer::Install {
                slot: Slot::B,
                version: 4
            }
        );
        assert_eq!(j(3), Offer::Failed(3));
        assert_eq!(j(2), Offer::Running(2));
        assert_eq!(
            j(1),
            Offer::Older {
                offered: 1,
                running: 2
            }
        );
        assert_eq!(
            judge(&m(4), "aarch64", Slot::A, 2, &st),
            Offer::WrongArch("x86_64".into())
        );
    }
}
