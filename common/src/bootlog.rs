//! The boot's stages read back from console text (sans-IO): the timeline
//! lines nodistro's tools print (`[   1.190] modload: loaded virtio_pci in
//! 131 ms`) and the kernel's own (`[    0.000000] Linux version ...`) become
//! labelled intervals. The debug console's `timeline` and `report` and the
//! host's `nodistro chart` read the same stages.

/// What a stage is, for colours and grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Kernel,
    Init,
    Helper,
    Module,
    Network,
    Pause,
    App,
}

/// One interval of the boot, in ms since the kernel started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub kind: Kind,
    pub label: String,
    pub start_ms: u64,
    pub end_ms: u64,
}

impl Stage {
    pub fn duration_ms(&self) -> u64 {
        self.end_ms.saturating_sub(self.start_ms)
    }
}

/// The tools whose lines are ours (everything else is the kernel's).
const TOOLS: [&str; 5] = ["init", "modload", "netcfg", "logfwd", "console"];

/// `[  12.345678] rest` -> (ms, rest). Text before the `[` on the line
/// (a terminal escape, QEMU noise) is skipped.
pub fn stamp(line: &str) -> Option<(u64, &str)> {
    let line = line.trim_end_matches(['\r', '\n']);
    let mut from = 0;
    while let Some(i) = line[from..].find('[') {
        let open = from + i;
        if let Some(hit) = stamp_at(line, open) {
            return Some(hit);
        }
        from = open + 1;
    }
    None
}

fn stamp_at(line: &str, open: usize) -> Option<(u64, &str)> {
    let close = open + line[open..].find(']')?;
    let inner = line[open + 1..close].trim_start_matches(' ');
    let (secs, frac) = inner.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(secs) || !digits(frac) {
        return None;
    }
    let s: u64 = secs.parse().ok()?;
    let mut ms = 0u64;
    for (b, scale) in frac.bytes().zip([100, 10, 1]) {
        ms += u64::from(b - b'0') * scale;
    }
    let rest = &line[close + 1..];
    Some((s * 1000 + ms, rest.strip_prefix(' ').unwrap_or(rest)))
}

/// `tool: message` when `tool` is one of ours.
fn ours(rest: &str) -> Option<(&str, &str)> {
    let (tool, msg) = rest.split_once(": ")?;
    TOOLS.contains(&tool).then_some((tool, msg))
}

/// `... in 131 ms` / `... (in 45 ms)` / `... done in 6 ms` at the end.
fn trailing_ms(msg: &str) -> Option<u64> {
    let m = msg.trim_end_matches(')');
    let m = m.strip_suffix(" ms")?;
    let num = &m[m.rfind(' ')? + 1..];
    num.parse().ok()
}

/// The stages of the boot in `text` (a console capture or init's timeline
/// file), in the order they started.
// long: one pass over the lines, one arm per kind of line; the state
// carried between lines (helpers, pauses, the app) is what it reads.
pub fn stages(text: &str) -> Vec<Stage> {
    let mut out = Vec::new();
    let mut init_at = None;
    let mut last = 0u64;
    let mut helpers: Vec<(String, u64, bool)> = Vec::new();
    let mut paused: Option<(u64, String)> = None;
    let mut app: Option<(u64, String)> = None;
    for line in text.lines() {
        let Some((t, rest)) = stamp(line) else {
            continue;
        };
        last = last.max(t);
        let Some((tool, msg)) = ours(rest) else {
            continue;
        };
        if init_at.is_none() && tool == "init" {
            init_at = Some(t);
            out.push(Stage {
                kind: Kind::Kernel,
                label: "kernel".into(),
                start_ms: 0,
                end_ms: t,
            });
        }
        let push = |out: &mut Vec<Stage>, kind, label: String, start: u64| {
            out.push(Stage {
                kind,
                label,
                start_ms: start.min(t),
                end_ms: t,
            })
        };
        match tool {
            "init" => {
                if let Some(name) = msg.strip_prefix("starting ") {
                    // The console's lines are commands, not readiness.
                    let listed = helpers.iter().any(|h| h.0 == name);
                    if !listed && name != "console" {
                        helpers.push((name.to_string(), t, false));
                    }
                } else if msg.starts_with("mounts done in ") {
                    let d = trailing_ms(msg).unwrap_or(0);
                    push(&mut out, Kind::Init, "mounts".into(), t.saturating_sub(d));
                } else if let Some(what) = msg.strip_prefix("boot paused before ") {
                    let what = what.split([' ', ';', ',']).next().unwrap_or("");
                    paused = Some((t, what.to_string()));
                } else if msg.starts_with("boot resumed") {
                    if let Some((s, what)) = paused.take() {
                        push(&mut out, Kind::Pause, format!("paused before {what}"), s);
                    }
                } else if let Some(a) = msg.strip_prefix("app ") {
                    if let Some(path) = a.strip_suffix(')').and_then(|a| a.split(" started").next())
                    {
                        if app.is_none() && a.contains(" started") {
                            app = Some((t, path.to_string()));
                        }
                    }
                } else if let Some((name, word)) = msg.split_once(": ") {
                    if let Some(h) = helpers.iter_mut().find(|h| h.0 == name && !h.2) {
                        h.2 = true;
                        let word = word.split_whitespace().next().unwrap_or("");
                        let label = format!("{name} until {word}");
                        let start = h.1;
                        push(&mut out, Kind::Helper, label, start);
                    }
                }
            }
            "modload" => {
                if let Some(rest) = msg.strip_prefix("loaded ") {
                    let name = rest.split_whitespace().next().unwrap_or("");
                    if let Some(d) = rest
                        .split_once(" ms")
                        .and_then(|(a, _)| a.rsplit(' ').next())
                        .and_then(|n| n.parse::<u64>().ok())
                    {
                        push(
                            &mut out,
                            Kind::Module,
                            name.to_string(),
                            t.saturating_sub(d),
                        );
                    }
                }
            }
            "netcfg" => {
                // `eth0 10.0.2.15/24 router ... (in 45 ms)`
                let mut w = msg.split_whitespace();
                if let (Some(iface), Some(addr)) = (w.next(), w.next()) {
                    if addr.contains('/') && addr.contains('.') && msg.ends_with(" ms)") {
                        let d = trailing_ms(msg).unwrap_or(0);
                        let label = format!("DHCP {iface} {addr}");
                        push(&mut out, Kind::Network, label, t.saturating_sub(d));
                    }
                }
            }
            _ => {}
        }
    }
    for (name, start, ready) in helpers {
        if !ready {
            out.push(Stage {
                kind: Kind::Helper,
                label: name,
                start_ms: start,
                end_ms: start,
            });
        }
    }
    if let Some((s, what)) = paused {
        out.push(Stage {
            kind: Kind::Pause,
            label: format!("paused before {what}"),
            start_ms: s,
            end_ms: last,
        });
    }
    if let Some((t, path)) = app {
        out.push(Stage {
            kind: Kind::App,
            label: format!("app {path}"),
            start_ms: t,
            end_ms: last.max(t),
        });
    }
    out.sort_by_key(|s| s.start_ms);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
[    0.000000] Linux version 6.1.0-57-amd64
[    0.871234] Run /init as init process
[   0.880] init: mounts done in 6 ms
[   0.885] init: starting modload
junk [   1.190] modload: loaded virtio_pci in 131 ms
[   1.233] modload: loaded virtio_net in 9 ms (debug=1)
[   1.240] init: modload: coldplug-done
[   1.241] init: starting logfwd
[   1.250] init: logfwd: ready
[   1.251] init: starting netcfg
[   1.260] init: boot paused before network; type continue on the console
[   5.000] init: boot resumed
[   5.296] netcfg: eth0 10.0.2.15/24 router 10.0.2.2 dns 10.0.2.3 lease 86400s (in 45 ms)
[   5.300] init: netcfg: online eth0 10.0.2.15/24
[   5.310] init: app /app/demo-app started (pid 93)
[   6.000] init: something else
";

    #[test]
    fn stamps() {
        assert_eq!(stamp("[   1.234] init: x"), Some((1234, "init: x")));
        assert_eq!(stamp("[    0.123456] k"), Some((123, "k")));
        assert_eq!(stamp("\x1b[0m[ 2.5] k"), Some((2500, "k")));
        assert_eq!(stamp("[ abc] k"), None);
        assert_eq!(stamp("[1.] k"), None);
        assert_eq!(stamp("no stamp"), None);
        assert_eq!(stamp("[99999999999.1] x"), None);
    }

    #[test]
    fn a_boot_becomes_stages() {
        let s = stages(LOG);
        let find = |l: &str| {
            s.iter()
                .find(|x| x.label == l)
                .unwrap_or_else(|| panic!("no {l} in {s:#?}"))
        };
        assert_eq!((find("kernel").start_ms, find("kernel").end_ms), (0, 880));
        assert_eq!(find("mounts").start_ms, 874);
        assert_eq!(find("virtio_pci").start_ms, 1059);
        assert_eq!(find("virtio_net").duration_ms(), 9);
        assert_eq!(find("modload until coldplug-done").start_ms, 885);
        assert_eq!(find("logfwd until ready").duration_ms(), 9);
        assert_eq!(find("paused before network").duration_ms(), 3740);
        assert_eq!(find("DHCP eth0 10.0.2.15/24").start_ms, 5251);
        assert_eq!(find("netcfg until online").start_ms, 1251);
        let app = find("app /app/demo-app");
        assert_eq!(
            (app.kind, app.start_ms, app.end_ms),
            (Kind::App, 5310, 6000)
        );
        assert!(s.windows(2).all(|w| w[0].start_ms <= w[1].start_ms));
    }

    #[test]
    fn garbage_gives_nothing_and_never_panics() {
        assert!(stages("").is_empty());
        assert!(stages("[ 1.0] init").len() <= 1);
        for text in [
            "[1.5]",
            "[",
            "]",
            "[ 1.1] modload: loaded",
            "[1.1] netcfg: a b (in x ms)",
        ] {
            let _ = stages(text);
        }
    }
}
