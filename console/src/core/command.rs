//! Command lines, sans-IO: words (with `"..."`/`'...'` quoting) to a
//! [`Cmd`], or a one-line error saying what is wrong and how to ask.

use std::net::Ipv4Addr;

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmd {
    Help,
    Ps,
    Kill { sig: i32, pid: i32 },
    Ls(String),
    Cat(String),
    Hexdump { path: String, offset: u64, len: u64 },
    Mounts,
    Df,
    Free,
    Uptime,
    Dmesg { follow: bool },
    Log,
    Lsmod,
    Modprobe { name: String, params: Vec<String> },
    Rmmod(String),
    Devices,
    Net,
    Ping(Ipv4Addr),
    DhcpRenew(String),
    Timeline,
    Report,
    Reboot,
    Poweroff,
    Exit,
    Continue,
    Run { path: String, args: Vec<String> },
}

/// The `help` text (fits 80 columns).
pub const HELP: &str = "\
commands (nothing outside runs unless you type run):
  ps                    processes: pid, state, RSS, command
  kill [-SIG] PID       send a signal (default TERM)
  ls [DIR]   cat FILE   hexdump FILE [OFFSET [LEN]]
  mounts  df  free  uptime
  dmesg [-f]            kernel log (-f follows until Ctrl-C)
  log                   logfwd's recent records
  lsmod  modprobe NAME [PARAM=VALUE...]  rmmod NAME
  devices               every device: alias, driver or \"no driver\"
  net                   links, addresses, routes, DNS, DHCP lease
  ping ADDR             ICMP echo, 4 tries (Ctrl-C stops)
  dhcp renew IFACE      ask netcfg to renew the lease
  timeline  report      boot stages; the bring-up report
  continue              resume a boot paused by init.break=
  run PATH [ARGS...]    run a program in the image, wait for it
  reboot  poweroff  exit
keys: Backspace, Ctrl-U erases the line, Ctrl-C cancels";

/// Longest allowed `hexdump` length.
pub const HEXDUMP_MAX: u64 = 4096;

/// Split a line into words: spaces separate, quotes group.
pub fn words(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut has = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                has = true;
            }
            (None, c) if c.is_whitespace() => {
                if has {
                    out.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            (None, c) => {
                cur.push(c);
                has = true;
            }
        }
    }
    if quote.is_some() {
        return Err("unmatched quote".into());
    }
    if has {
        out.push(cur);
    }
    Ok(out)
}

/// Signal names `kill` knows (without SIG), with numbers.
const SIGNALS: [(&str, i32); 12] = [
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("KILL", 9),
    ("USR1", 10),
    ("USR2", 12),
    ("TERM", 15),
    ("CONT", 18),
    ("STOP", 19),
    ("WINCH", 28),
    ("PWR", 30),
    ("SYS", 31),
];

/// `TERM`, `SIGTERM`, `15` -> 15.
pub fn signal_number(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    SIGNALS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

fn number(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Parse one line. `Ok(None)`: nothing typed.
// long: the command table: one match arm per console command.
pub fn parse(line: &str) -> Result<Option<Cmd>, String> {
    let w = words(line)?;
    let Some((name, args)) = w.split_first() else {
        return Ok(None);
    };
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let usage = |u: &str| Err(format!("usage: {u}"));
    let none = |c: Cmd| -> Result<Option<Cmd>, String> {
        if a.is_empty() {
            Ok(Some(c))
        } else {
            Err(format!("{name} takes no arguments"))
        }
    };
    match name.as_str() {
        "help" | "?" => none(Cmd::Help),
        "ps" => none(Cmd::Ps),
        "mounts" => none(Cmd::Mounts),
        "df" => none(Cmd::Df),
        "free" => none(Cmd::Free),
        "uptime" => none(Cmd::Uptime),
        "log" => none(Cmd::Log),
        "lsmod" => none(Cmd::Lsmod),
        "devices" => none(Cmd::Devices),
        "net" => none(Cmd::Net),
        "timeline" => none(Cmd::Timeline),
        "report" => none(Cmd::Report),
        "reboot" => none(Cmd::Reboot),
        "poweroff" => none(Cmd::Poweroff),
        "exit" => none(Cmd::Exit),
        "continue" => none(Cmd::Continue),
        "kill" => {
            let (sig, pid) = match a.as_slice() {
                [pid] => (Some(15), *pid),
                [s, pid] if s.starts_with('-') => (signal_number(&s[1..]), *pid),
                _ => return usage("kill [-SIG] PID"),
            };
            let Some(sig) = sig else {
                return Err(format!(
                    "unknown signal {} (TERM, KILL, HUP, INT, USR1, ... or 1-64)",
                    a[0]
                ));
            };
            match pid.parse::<i32>() {
                Ok(p) if p > 0 => Ok(Some(Cmd::Kill { sig, pid: p })),
                _ => Err(format!("{pid:?} is not a process id (see ps)")),
            }
        }
        "ls" => match a.as_slice() {
            [] => Ok(Some(Cmd::Ls("/".into()))),
            [p] => Ok(Some(Cmd::Ls(p.to_string()))),
            _ => usage("ls [DIR]"),
        },
        "cat" => match a.as_slice() {
            [p] => Ok(Some(Cmd::Cat(p.to_string()))),
            _ => usage("cat FILE"),
        },
        "hexdump" => {
            let (path, off, len) = match a.as_slice() {
                [p] => (p, Some(0), Some(256)),
                [p, o] => (p, number(o), Some(256)),
                [p, o, l] => (p, number(o), number(l)),
                _ => return usage("hexdump FILE [OFFSET [LEN]]"),
            };
            match (off, len) {
                (Some(offset), Some(len)) if len <= HEXDUMP_MAX => Ok(Some(Cmd::Hexdump {
                    path: path.to_string(),
                    offset,
                    len,
                })),
                _ => Err(format!(
                    "usage: hexdump FILE [OFFSET [LEN]] (numbers, 0x for hex, LEN up to {HEXDUMP_MAX})"
                )),
            }
        }
        "dmesg" => match a.as_slice() {
            [] => Ok(Some(Cmd::Dmesg { follow: false })),
            ["-f"] => Ok(Some(Cmd::Dmesg { follow: true })),
            _ => usage("dmesg [-f]"),
        },
        "modprobe" => match a.split_first() {
            Some((n, params)) if !n.starts_with('-') => {
                if let Some(bad) = params.iter().find(|p| !p.contains('=')) {
                    return Err(format!("{bad:?} is not PARAM=VALUE"));
                }
                Ok(Some(Cmd::Modprobe {
                    name: n.to_string(),
                    params: params.iter().map(|p| p.to_string()).collect(),
                }))
            }
            _ => usage("modprobe NAME [PARAM=VALUE...]"),
        },
        "rmmod" => match a.as_slice() {
            [n] => Ok(Some(Cmd::Rmmod(n.to_string()))),
            _ => usage("rmmod NAME"),
        },
        "ping" => match a.as_slice() {
            [addr] => match addr.parse() {
                Ok(ip) => Ok(Some(Cmd::Ping(ip))),
                Err(_) => Err(format!("{addr:?} is not an IPv4 address (no name lookups)")),
            },
            _ => usage("ping ADDR"),
        },
        "dhcp" => match a.as_slice() {
            ["renew", iface] => Ok(Some(Cmd::DhcpRenew(iface.to_string()))),
            _ => usage("dhcp renew IFACE"),
        },
        "run" => match args.split_first() {
            Some((p, rest)) => Ok(Some(Cmd::Run {
                path: p.clone(),
                args: rest.to_vec(),
            })),
            None => usage("run PATH [ARGS...]"),
        },
        other => {
            let shown: String = other.chars().take(32).collect();
            Err(format!("unknown command {shown:?} (type help)"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_quotes() {
        assert_eq!(
            words("  a  b\t'c d' \"\" ").expect("test input"),
            ["a", "b", "c d", ""]
        );
        assert!(words("cat 'x").is_err());
        assert!(words("").expect("test input").is_empty());
    }

    #[test]
    fn commands_parse() {
        assert_eq!(parse("").expect("test input"), None);
        assert_eq!(parse("ps").expect("test input"), Some(Cmd::Ps));
        assert_eq!(
            parse("kill 5").expect("test input"),
            Some(Cmd::Kill { sig: 15, pid: 5 })
        );
        assert_eq!(
            parse("kill -KILL 7").expect("test input"),
            Some(Cmd::Kill { sig: 9, pid: 7 })
        );
        assert_eq!(
            parse("kill -sigusr1 7").expect("test input"),
            Some(Cmd::Kill { sig: 10, pid: 7 })
        );
        assert_eq!(
            parse("kill -9 7").expect("test input"),
            Some(Cmd::Kill { sig: 9, pid: 7 })
        );
        assert_eq!(parse("ls").expect("test input"), Some(Cmd::Ls("/".into())));
        assert_eq!(
            parse("hexdump /x 0x10 32").expect("test input"),
            Some(Cmd::Hexdump {
                path: "/x".into(),
                offset: 16,
                len: 32
            })
        );
        assert_eq!(
            parse("dmesg -f").expect("test input"),
            Some(Cmd::Dmesg { follow: true })
        );
        assert_eq!(
            parse("modprobe e1000 debug=1").expect("test input"),
            Some(Cmd::Modprobe {
                name: "e1000".into(),
                params: vec!["debug=1".into()]
            })
        );
        assert_eq!(
            parse("ping 10.0.2.2").expect("test input"),
            Some(Cmd::Ping(Ipv4Addr::new(10, 0, 2, 2)))
        );
        assert_eq!(
            parse("dhcp renew eth0").expect("test input"),
            Some(Cmd::DhcpRenew("eth0".into()))
        );
        assert_eq!(
            parse("run /app/x -v 'a b'").expect("test input"),
            Some(Cmd::Run {
                path: "/app/x".into(),
                args: vec!["-v".into(), "a b".into()]
            })
        );
    }

    #[test]
    fn bad_input_gives_short_errors() {
        for (line, want) in [
            ("frobnicate", "unknown command \"frobnicate\" (type help)"),
            ("kill", "usage: kill [-SIG] PID"),
            ("kill -FOO 1", "unknown signal"),
            ("kill abc", "is not a process id"),
            ("kill 0", "is not a process id"),
            ("ps aux", "ps takes no arguments"),
            ("ping example.com", "is not an IPv4 address"),
            ("ping", "usage: ping ADDR"),
            ("hexdump /x 0 99999", "LEN up to 4096"),
            ("hexdump /x zz", "usage: hexdump"),
            ("modprobe", "usage: modprobe"),
            ("modprobe e1000 junk", "is not PARAM=VALUE"),
            ("dhcp release eth0", "usage: dhcp renew IFACE"),
            ("cat 'a", "unmatched quote"),
        ] {
            let e = parse(line).expect_err(line);
            assert!(e.contains(want), "{line}: {e}");
            assert!(e.len() < 80, "{e}");
        }
        let long = "x".repeat(200);
        assert!(parse(&long).expect_err("an error").len() < 80);
    }

    #[test]
    fn help_fits_80_columns() {
        assert!(HELP.lines().all(|l| l.chars().count() <= 80));
    }
}
