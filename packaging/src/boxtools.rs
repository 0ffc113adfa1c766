//! Which tools a nodistro-box holds: the box is asked (`nodistro-box
//! --list`, one name a line), so `nodistro build` links only those and
//! refuses a box that cannot work as the image's /init, or a configuration
//! naming a helper the box lacks.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Why a box cannot be packed.
#[derive(Debug, thiserror::Error)]
pub enum BoxError {
    #[error("cannot ask {} for its tools (--list): run a nodistro-box built for this machine", .path.display())]
    Run {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {} (the tools of a box built for another architecture): build the box with scripts/build-box.sh --arch, which writes it", .path.display())]
    Features {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} --list failed ({status}): it is not a nodistro-box, or one too old to list its tools", .path.display())]
    List { path: PathBuf, status: String },
    #[error("{} --list printed {line:?}, not a tool name", .path.display())]
    BadName { path: PathBuf, line: String },
    #[error("{} holds no init (tools: {}), so it cannot be the image's /init: build it with the init feature (cargo build --release -p nodistro-box --features init)", .path.display(), .tools.join(","))]
    NoInit { path: PathBuf, tools: Vec<String> },
    #[error("init.helpers names {name:?}, which {} does not hold (tools: {}): build the box with --features {name} or drop it from init.helpers", .path.display(), .tools.join(","))]
    MissingHelper {
        path: PathBuf,
        name: String,
        tools: Vec<String>,
    },
}

/// The tools `box_path` holds, as it lists them.
pub fn list(box_path: &Path) -> Result<Vec<String>, BoxError> {
    let out = Command::new(box_path)
        .arg("--list")
        .output()
        .map_err(|source| BoxError::Run {
            path: box_path.into(),
            source,
        })?;
    if !out.status.success() {
        return Err(BoxError::List {
            path: box_path.into(),
            status: out.status.to_string(),
        });
    }
    parse_list(box_path, &String::from_utf8_lossy(&out.stdout))
}

/// The file beside a box that names its tools when the box cannot be run
/// here (another architecture's): `scripts/build-box.sh` writes it, the
/// Cargo features it built the box with, comma-separated.
pub const FEATURES_FILE: &str = "nodistro-box.features";

/// The tools of a box of another architecture, which cannot be asked:
/// read from [`FEATURES_FILE`] beside it (each tool is the feature of its
/// name).
pub fn list_foreign(box_path: &Path) -> Result<Vec<String>, BoxError> {
    let file = box_path.with_file_name(FEATURES_FILE);
    let text = std::fs::read_to_string(&file).map_err(|source| BoxError::Features {
        path: file.clone(),
        source,
    })?;
    let lines: String = text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| format!("{t}\n"))
        .collect();
    parse_list(box_path, &lines)
}

/// One tool name a line: lowercase letters, digits, `-` and `_` (it becomes
/// a file name in /bin).
fn parse_list(box_path: &Path, text: &str) -> Result<Vec<String>, BoxError> {
    let valid = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    };
    let mut tools = Vec::new();
    for line in text.lines() {
        if !valid(line) {
            return Err(BoxError::BadName {
                path: box_path.into(),
                line: line.into(),
            });
        }
        tools.push(line.to_string());
    }
    if tools.is_empty() {
        return Err(BoxError::List {
            path: box_path.into(),
            status: "it listed no tool".into(),
        });
    }
    Ok(tools)
}

/// The box must hold init (it is /init), and every helper a configuration
/// line `init.helpers=...` names.
pub fn check(box_path: &Path, tools: &[String], config: &[String]) -> Result<(), BoxError> {
    let holds = |n: &str| tools.iter().any(|t| t == n);
    if !holds("init") {
        return Err(BoxError::NoInit {
            path: box_path.into(),
            tools: tools.to_vec(),
        });
    }
    let helpers = config
        .iter()
        .filter_map(|c| c.strip_prefix("init.helpers="))
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty());
    for name in helpers {
        if !holds(name) {
            return Err(BoxError::MissingHelper {
                path: box_path.into(),
                name: name.into(),
                tools: tools.to_vec(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_checked() {
        let p = Path::new("/b/nodistro-box");
        let tools = parse_list(p, "init\nnetcfg\n").expect("valid");
        assert_eq!(tools, ["init", "netcfg"]);
        assert!(check(p, &tools, &["init.helpers=netcfg".into()]).is_ok());
        let e = check(p, &tools, &["init.helpers=netcfg, logfwd".into()]).expect_err("refused");
        assert!(e.to_string().contains("\"logfwd\""), "{e}");
        let e = check(p, &["netcfg".into()], &[]).expect_err("refused");
        assert!(e.to_string().contains("holds no init"), "{e}");
        assert!(parse_list(p, "init\n../etc\n").is_err());
        assert!(parse_list(p, "").is_err());
    }
}
