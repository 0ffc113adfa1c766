//! `/etc/hosts`: the text every image starts with, and keeping its host
//! name lines true when the host name changes (init after `hostname=`,
//! netcfg after a DHCP host name). Sans-IO but for [`sync`].
//!
//! The lines that carry the host name end with [`MARK`], so a changed name
//! replaces exactly them and leaves lines the user added alone.

/// The comment that marks the lines naming this machine.
pub const MARK: &str = "# nodistro: host name";

/// Where static programs (Go, musl) look.
pub const PATH: &str = "/etc/hosts";

/// The image's `/etc/hosts` for `hostname`: localhost and the host name,
/// IPv4 and IPv6.
pub fn render(hostname: &str) -> String {
    format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{}",
        name_lines(hostname)
    )
}

fn name_lines(hostname: &str) -> String {
    format!("127.0.1.1\t{hostname}\t{MARK}\n::1\t{hostname}\t{MARK}\n")
}

/// `text` with the marked lines naming `hostname`; None when nothing
/// changes. A file without marked lines (the user's own) gets them
/// appended.
pub fn with_hostname(text: &str, hostname: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut marked = false;
    for line in text.lines() {
        if line.trim_end().ends_with(MARK) {
            if !marked {
                out.push_str(&name_lines(hostname));
                marked = true;
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !marked {
        out.push_str(&name_lines(hostname));
    }
    (out != text).then_some(out)
}

/// Rewrite `path` so its marked lines name `hostname` (write to a temporary
/// file, then rename); returns whether it changed. With `only_marked`, a
/// file without marked lines (not a nodistro image's: netcfg run on some
/// other machine) is left alone; otherwise a missing file is created.
pub fn sync(path: &str, hostname: &str, only_marked: bool) -> std::io::Result<bool> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !only_marked => String::new(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if only_marked && !text.contains(MARK) {
        return Ok(false);
    }
    let Some(new) = with_hostname(&text, hostname) else {
        return Ok(false);
    };
    let tmp = format!("{path}.new");
    std::fs::write(&tmp, new)?;
    std::fs::rename(&tmp, path)?;
    Ok(true)
}

/// The addresses /etc/hosts text gives `name` (case-insensitive).
pub fn lookup(hosts: &str, name: &str) -> Vec<std::net::IpAddr> {
    hosts
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default())
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let ip = w.next()?.parse::<std::net::IpAddr>().ok()?;
            w.any(|n| n.eq_ignore_ascii_case(name)).then_some(ip)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_file_names_localhost_and_the_host() {
        let t = render("box");
        assert!(t.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(t.contains("::1\tlocalhost"));
        assert!(t.contains("127.0.1.1\tbox\t# nodistro"));
        assert!(t.contains("::1\tbox\t# nodistro"));
        assert_eq!(with_hostname(&t, "box"), None, "unchanged");
    }

    #[test]
    fn a_new_name_replaces_only_the_marked_lines() {
        let mut t = render("nodistro");
        t.push_str("10.0.0.9\tdb\n");
        let n = with_hostname(&t, "web1").expect("changed");
        assert!(n.contains("127.0.1.1\tweb1\t") && n.contains("::1\tweb1\t"));
        assert!(!n.contains("nodistro\t"));
        assert!(n.contains("10.0.0.9\tdb\n") && n.contains("127.0.0.1\tlocalhost\n"));
        assert_eq!(n.matches(MARK).count(), 2);
    }

    #[test]
    fn a_users_file_gets_the_lines_appended() {
        let n = with_hostname("127.0.0.1 localhost\n", "h").expect("changed");
        assert_eq!(n, format!("127.0.0.1 localhost\n{}", name_lines("h")));
        assert_eq!(with_hostname("", "h"), Some(name_lines("h")));
    }

    #[test]
    fn sync_rewrites_the_file() {
        let p = std::env::temp_dir().join(format!("nodistro-hosts-{}", std::process::id()));
        let p = p.to_str().expect("utf-8 temp path").to_string();
        std::fs::write(&p, render("a")).expect("write");
        assert!(sync(&p, "b", true).expect("sync"));
        assert!(!sync(&p, "b", true).expect("sync again"));
        let t = std::fs::read_to_string(&p).expect("read");
        assert_eq!(t, render("b"));
        // A file that is not an image's is left alone when only_marked.
        std::fs::write(&p, "127.0.0.1 localhost\n").expect("write");
        assert!(!sync(&p, "c", true).expect("unmarked"));
        assert!(sync(&p, "c", false).expect("init appends"));
        let t = std::fs::read_to_string(&p).expect("read");
        let _ = std::fs::remove_file(&p);
        assert!(t.contains("127.0.1.1\tc\t"), "{t}");
    }

    #[test]
    fn hosts_lookup() {
        let h = "127.0.0.1 localhost\n10.0.2.2 releases Rel.example # host\n# 1.2.3.4 releases\nbad line\n";
        assert_eq!(
            lookup(h, "rel.EXAMPLE"),
            vec!["10.0.2.2".parse::<std::net::IpAddr>().expect("ip")]
        );
        assert!(lookup(h, "nothere").is_empty());
    }
}
