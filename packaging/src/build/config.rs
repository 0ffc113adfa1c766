//! How init runs the app ([`AppRun`]) and the configuration file that
//! says so, with the flags' settings.

use super::args::BuildArgs;
use super::error::BuildError;
use nodistro_common::Config;

/// How init runs the app: from the flags (`--app`), or from an OCI
/// image's config with the flags on top (`--from-oci`).
#[derive(Debug, Clone, Default)]
pub struct AppRun {
    /// The app's path in the image.
    pub path: String,
    pub args: Vec<String>,
    /// `NAME=value`.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    /// uid and gid.
    pub ids: Option<(u32, u32)>,
}

/// The configuration file's text: the app's settings, then `--hostname`
/// and `--config` lines, then `extra` (what the format needs).
pub fn config_text(
    args: &BuildArgs,
    run: &AppRun,
    extra: &[(&str, &str)],
) -> Result<String, BuildError> {
    let mut cfg = Config::default();
    cfg.push("init.app", run.path.as_str());
    if let Some((uid, gid)) = run.ids {
        cfg.push("init.uid", uid.to_string());
        cfg.push("init.gid", gid.to_string());
    }
    if let Some(w) = &run.workdir {
        cfg.push("init.workdir", w.as_str());
    }
    for a in &run.args {
        cfg.push("init.arg", a.as_str());
    }
    for e in &run.env {
        split_pair("env", e, '=', "NAME=value")?;
        cfg.push("init.env", e.as_str());
    }
    if let Some(h) = &args.hostname {
        cfg.push("hostname", h.as_str());
    }
    for (k, v) in extra {
        cfg.push(*k, *v);
    }
    for c in &args.config {
        let (k, v) = c.split_once('=').ok_or_else(|| BuildError::BadOption {
            flag: "config",
            value: c.clone(),
            expected: "KEY=VALUE",
        })?;
        cfg.push(k, v);
    }
    cfg.render().map_err(BuildError::Config)
}

fn split_pair<'a>(
    flag: &'static str,
    value: &'a str,
    sep: char,
    expected: &'static str,
) -> Result<(&'a str, &'a str), BuildError> {
    match value.split_once(sep) {
        Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok((a, b)),
        _ => Err(BuildError::BadOption {
            flag,
            value: value.to_string(),
            expected,
        }),
    }
}
