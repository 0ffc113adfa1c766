//! What an instance's settings look like, sans-IO: cloud-init meta-data
//! (NoCloud's YAML `key: value` lines or a JSON object; only top-level
//! scalars are read) and user-data (`#nodistro-config` then
//! /etc/nodistro.conf lines, or anything else for the app).

use nodistro_common::Config;

/// The first line that marks user-data as nodistro configuration.
pub const CONFIG_MARK: &str = "#nodistro-config";

/// The meta-data init uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetaData {
    pub instance_id: Option<String>,
    pub local_hostname: Option<String>,
}

fn unquote(v: &str) -> &str {
    let v = v.trim();
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

/// Read `instance-id` and `local-hostname` from meta-data text.
pub fn parse_meta_data(text: &str) -> MetaData {
    let mut m = MetaData::default();
    let json = text.trim_start().starts_with('{');
    let items: Vec<(&str, &str)> = if json {
        // {"instance-id": "i-1", "local-hostname": "h"}: split on commas and
        // colons outside nothing fancier; nested values are not read.
        text.trim()
            .trim_start_matches('{')
            .trim_end_matches('}')
            .split(',')
            .filter_map(|kv| kv.split_once(':'))
            .collect()
    } else {
        text.lines()
            .filter(|l| !l.starts_with([' ', '\t', '#', '-']))
            .filter_map(|l| l.split_once(':'))
            .collect()
    };
    for (k, v) in items {
        let v = unquote(v);
        if v.is_empty() || v.len() > 255 || v.contains(['\n', '\r', '\0']) {
            continue;
        }
        match unquote(k) {
            "instance-id" => m.instance_id = Some(v.to_string()),
            "local-hostname" => m.local_hostname = Some(v.to_string()),
            _ => {}
        }
    }
    m
}

/// User-data: configuration keys, or something for the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserData {
    /// The keys and the warnings about lines that are not `key=value`.
    Config(Vec<(String, String)>, Vec<String>),
    Other,
}

pub fn classify(data: &[u8]) -> UserData {
    let Ok(text) = std::str::from_utf8(data) else {
        return UserData::Other;
    };
    let Some(rest) = text.strip_prefix(CONFIG_MARK) else {
        return UserData::Other;
    };
    let (cfg, warnings) = Config::parse(rest);
    let keys = cfg
        .entries()
        .iter()
        .map(|(k, v)| (k.clone(), v.trim_end_matches('\r').to_string()))
        .collect();
    UserData::Config(keys, warnings.iter().map(|w| w.to_string()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_and_json_meta_data() {
        let m = parse_meta_data(
            "instance-id: iid-local01\nlocal-hostname: 'edge7'\nnetwork:\n  version: 2\n",
        );
        assert_eq!(m.instance_id.as_deref(), Some("iid-local01"));
        assert_eq!(m.local_hostname.as_deref(), Some("edge7"));
        let m = parse_meta_data(r#"{"instance-id": "i-9", "local-hostname": "box"}"#);
        assert_eq!(m.local_hostname.as_deref(), Some("box"));
        assert_eq!(m.instance_id.as_deref(), Some("i-9"));
        assert_eq!(parse_meta_data("garbage\n\0\u{1}: :"), MetaData::default());
    }

    #[test]
    fn user_data_kinds() {
        match classify(b"#nodistro-config\nlogfwd.remote=udp://10.0.2.2:514\nnonsense\n") {
            UserData::Config(keys, w) => {
                assert_eq!(
                    keys,
                    [(
                        "logfwd.remote".to_string(),
                        "udp://10.0.2.2:514".to_string()
                    )]
                );
                assert_eq!(w.len(), 1);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(classify(b"#!/bin/sh\necho hi\n"), UserData::Other);
        assert_eq!(classify(b"#cloud-config\n"), UserData::Other);
        assert_eq!(classify(&[0xff, 0xfe]), UserData::Other);
    }
}
