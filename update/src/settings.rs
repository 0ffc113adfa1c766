//! The `update.*` settings (/etc/nodistro.conf, then the kernel command
//! line) and the trust key, checked once at start.

use crate::core::http::Url;
use crate::core::keys;
use nodistro_common::Config;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Settings {
    /// `update.url`: the directory `nodistro publish` wrote, as served
    /// (its `manifest` beside the images). None: no pulling.
    pub url: Option<Url>,
    /// `update.interval` seconds between checks (default 3600).
    pub interval: Duration,
    /// `update.trial` seconds the app must run before a fresh slot is
    /// blessed (default 30).
    pub trial: Duration,
    /// `update.listen`: the port pushed releases come to (off by default).
    pub listen: Option<u16>,
    /// `update.version`: the version the image carries before any update.
    pub version: u64,
    /// The ed25519 key releases must be signed with.
    pub key: [u8; 32],
}

fn seconds(cfg: &Config, key: &str, default: u64, min: u64, warn: &mut Vec<String>) -> Duration {
    let secs = match cfg.get_parsed::<u64>(key) {
        None => default,
        Some(Ok(v)) if v >= min => v,
        Some(_) => {
            warn.push(format!(
                "{key}={:?} is not a number of seconds (at least {min}); using {default}",
                cfg.get(key).unwrap_or_default()
            ));
            default
        }
    };
    Duration::from_secs(secs)
}

/// From the configuration and the key's PEM text; warnings for the console.
pub fn from_config(cfg: &Config, key_pem: &str) -> Result<(Settings, Vec<String>), String> {
    let key = keys::public_from_pem(key_pem)
        .map_err(|e| format!("the update key {}: {e}", crate::KEY_FILE))?;
    let mut warn = Vec::new();
    let url = match cfg.get("update.url") {
        None | Some("") => None,
        Some(u) => match Url::parse(u) {
            Ok(mut url) => {
                if url.path.ends_with('/') {
                    url.path.push_str(crate::core::manifest::FILE);
                }
                Some(url)
            }
            Err(e) => {
                warn.push(format!("update.url: {e}; pulling is off"));
                None
            }
        },
    };
    let version = match cfg.get_parsed::<u64>("update.version") {
        None => 0,
        Some(Ok(v)) => v,
        Some(Err(_)) => {
            warn.push("update.version is not a whole number; taken as 0".into());
            0
        }
    };
    let listen = match cfg.get_parsed::<u16>("update.listen") {
        None => None,
        Some(Ok(p)) if p > 0 => Some(p),
        Some(_) => {
            warn.push("update.listen is not a port number; pushes are off".into());
            None
        }
    };
    Ok((
        Settings {
            url,
            listen,
            interval: seconds(cfg, "update.interval", 3600, 5, &mut warn),
            trial: seconds(cfg, "update.trial", 30, 1, &mut warn),
            version,
            key,
        },
        warn,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUB: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";

    #[test]
    fn settings_and_their_defaults() {
        let (cfg, _) = Config::parse(
            "update.url=http://10.0.2.2:8000/rel/\nupdate.interval=60\nupdate.trial=zero\n",
        );
        let (s, warn) = from_config(&cfg, PUB).expect("valid");
        assert_eq!(s.url.expect("url").path, "/rel/manifest");
        assert_eq!(
            (s.interval.as_secs(), s.trial.as_secs(), s.version),
            (60, 30, 0)
        );
        assert_eq!(warn.len(), 1, "{warn:?}");
        let (cfg, _) = Config::parse("update.url=https://x/\n");
        let (s, warn) = from_config(&cfg, PUB).expect("valid");
        assert!(
            s.url.is_none() && warn[0].contains("https is not supported"),
            "{warn:?}"
        );
        assert!(from_config(&cfg, "nope")
            .expect_err("no key")
            .contains("/etc/nodistro/update.pub"));
    }
}
