//! What the image's config says to run, as init's settings (sans-IO):
//! Entrypoint + Cmd (a bare name looked up in the config's `PATH` inside
//! the image, as a container runtime does), Env, WorkingDir and User
//! (a name resolved through the image's own /etc/passwd and /etc/group).

use super::layers::Rootfs;
use crate::core::nodes::Node;

/// Docker's and podman's `PATH` when the config sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The process the image describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSpec {
    /// Absolute path of the program in the image.
    pub app: String,
    pub args: Vec<String>,
    /// `NAME=value`, the config's order.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    /// uid and gid, and the name the config gave (for messages).
    pub user: Option<(u32, u32)>,
}

/// The config fields [`run_spec`] reads (oci-spec's `Config`, or none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
}

impl ImageConfig {
    pub fn from_oci(c: Option<&oci_spec::image::Config>) -> Self {
        let Some(c) = c else {
            return ImageConfig::default();
        };
        ImageConfig {
            entrypoint: c.entrypoint().clone().unwrap_or_default(),
            cmd: c.cmd().clone().unwrap_or_default(),
            env: c.env().clone().unwrap_or_default(),
            workdir: c.working_dir().clone().filter(|w| !w.is_empty()),
            user: c.user().clone().filter(|u| !u.is_empty()),
        }
    }
}

/// Why the config cannot be run as it says.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RunSpecError {
    #[error("the image's config has neither Entrypoint nor Cmd: nothing to run; give one with --arg PROGRAM")]
    NothingToRun,
    #[error("the image's config runs {name:?}, which is not in the image's PATH ({path})")]
    NotInPath { name: String, path: String },
    #[error("the image's config runs {0}, which the image does not hold as an executable file")]
    NotExecutable(String),
    #[error("the image's config names user {user:?}, which is not in the image's /etc/passwd; add the user to the image or give a numeric uid")]
    NoSuchUser { user: String },
    #[error("the image's config names group {group:?}, which is not in the image's /etc/group; add the group to the image or give a numeric gid")]
    NoSuchGroup { group: String },
    #[error("the image's config has Env entry {0:?}, which is not NAME=value")]
    BadEnv(String),
}

/// The run spec of `cfg` in `root`; `args`, when given, replace Cmd (as
/// `docker run IMAGE ARGS` does).
pub fn run_spec(
    cfg: &ImageConfig,
    root: &Rootfs,
    args: Option<&[String]>,
) -> Result<RunSpec, RunSpecError> {
    let cmd = args.unwrap_or(&cfg.cmd);
    let mut argv: Vec<String> = cfg.entrypoint.iter().chain(cmd).cloned().collect();
    if argv.is_empty() {
        return Err(RunSpecError::NothingToRun);
    }
    let program = argv.remove(0);
    for e in &cfg.env {
        match e.split_once('=') {
            Some((n, _)) if !n.is_empty() => {}
            _ => return Err(RunSpecError::BadEnv(e.clone())),
        }
    }
    let path = cfg
        .env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    let workdir = cfg.workdir.clone();
    let app = find_program(root, &program, path, workdir.as_deref())?;
    let user = match &cfg.user {
        Some(u) => Some(user_ids(root, u)?),
        None => None,
    };
    Ok(RunSpec {
        app,
        args: argv,
        env: cfg.env.clone(),
        workdir,
        user,
    })
}

fn is_executable(root: &Rootfs, path: &str) -> bool {
    matches!(root.lookup(path), Some((_, Node::File { mode, .. })) if mode & 0o111 != 0)
}

/// `program` as an absolute path in the image: a name with a `/` is taken
/// as it is (relative to the working directory), a bare name is searched
/// in `path`.
fn find_program(
    root: &Rootfs,
    program: &str,
    path: &str,
    workdir: Option<&str>,
) -> Result<String, RunSpecError> {
    if program.contains('/') {
        let abs = if program.starts_with('/') {
            program.to_string()
        } else {
            format!("{}/{program}", workdir.unwrap_or("/").trim_end_matches('/'))
        };
        let abs = crate::core::dynlink::normalize(&abs);
        return if is_executable(root, &abs) {
            Ok(abs)
        } else {
            Err(RunSpecError::NotExecutable(abs))
        };
    }
    path.split(':')
        .filter(|d| d.starts_with('/'))
        .map(|d| format!("{}/{program}", d.trim_end_matches('/')))
        .find(|p| is_executable(root, p))
        .ok_or_else(|| RunSpecError::NotInPath {
            name: program.into(),
            path: path.into(),
        })
}

/// `name`'s fields 3 and 4 (uid, gid) in passwd, or field 3 in group.
fn lookup_db(db: Option<&[u8]>, name: &str) -> Option<(u32, Option<u32>)> {
    let text = String::from_utf8_lossy(db?);
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 3 || f[0] != name {
            return None;
        }
        let id = f[2].parse().ok()?;
        Some((id, f.get(3).and_then(|g| g.parse().ok())))
    })
}

/// The uid's gid in passwd (numeric uid given).
fn gid_of_uid(db: Option<&[u8]>, uid: u32) -> Option<u32> {
    let text = String::from_utf8_lossy(db?);
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 4 && f[2].parse() == Ok(uid))
            .then(|| f[3].parse().ok())
            .flatten()
    })
}

/// `user`, `uid`, `user:group`, `uid:gid`, `uid:group`, `user:gid` as
/// ids; without a group, the user's passwd entry's group (0 without one).
pub fn user_ids(root: &Rootfs, spec: &str) -> Result<(u32, u32), RunSpecError> {
    let passwd = root.read("etc/passwd");
    let group = root.read("etc/group");
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let (uid, passwd_gid) = match u.parse::<u32>() {
        Ok(uid) => (uid, gid_of_uid(passwd, uid)),
        Err(_) => {
            lookup_db(passwd, u).ok_or_else(|| RunSpecError::NoSuchUser { user: u.into() })?
        }
    };
    let gid = match g {
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => {
                lookup_db(group, g)
                    .ok_or_else(|| RunSpecError::NoSuchGroup { group: g.into() })?
                    .0
            }
        },
        None => passwd_gid.unwrap_or(0),
    };
    Ok((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::oci::layers::{Item, LayerEntry};

    fn root() -> Rootfs {
        let f = |p: &str, d: &str, mode| LayerEntry {
            path: p.into(),
            item: Item::File {
                data: d.as_bytes().to_vec(),
                mode,
            },
            owner: (0, 0),
        };
        let mut r = Rootfs::new();
        r.apply(
            1,
            vec![
                f(
                    "etc/passwd",
                    "root:x:0:0::/root:/bin/sh\napp:x:1001:1002::/home/app:\n",
                    0o644,
                ),
                f("etc/group", "root:x:0:\nstaff:x:50:\n", 0o644),
                f("usr/local/bin/server", "\x7fELF", 0o755),
                f("srv/run.sh", "#!/bin/sh", 0o755),
                f("usr/bin/data", "x", 0o644),
            ],
        )
        .expect("layer");
        r
    }

    fn cfg() -> ImageConfig {
        ImageConfig {
            entrypoint: vec!["server".into(), "--serve".into()],
            cmd: vec!["--port".into(), "8080".into()],
            env: vec!["PATH=/usr/bin:/usr/local/bin".into(), "A=b=c".into()],
            workdir: Some("/srv".into()),
            user: Some("app".into()),
        }
    }

    #[test]
    fn entrypoint_cmd_path_env_workdir_user() {
        let s = run_spec(&cfg(), &root(), None).expect("spec");
        assert_eq!(s.app, "/usr/local/bin/server");
        assert_eq!(s.args, ["--serve", "--port", "8080"]);
        assert_eq!(s.env, ["PATH=/usr/bin:/usr/local/bin", "A=b=c"]);
        assert_eq!(s.workdir.as_deref(), Some("/srv"));
        assert_eq!(s.user, Some((1001, 1002)));
        let s = run_spec(&cfg(), &root(), Some(&["-v".to_string()])).expect("args");
        assert_eq!(s.args, ["--serve", "-v"], "--arg replaces Cmd");
    }

    #[test]
    fn cmd_alone_and_relative_programs() {
        let c = ImageConfig {
            cmd: vec!["./run.sh".into()],
            workdir: Some("/srv".into()),
            ..Default::default()
        };
        assert_eq!(run_spec(&c, &root(), None).expect("rel").app, "/srv/run.sh");
        let c = ImageConfig {
            cmd: vec!["data".into()],
            ..Default::default()
        };
        assert!(matches!(
            run_spec(&c, &root(), None),
            Err(RunSpecError::NotInPath { .. })
        ));
        assert_eq!(
            run_spec(&ImageConfig::default(), &root(), None),
            Err(RunSpecError::NothingToRun)
        );
    }

    #[test]
    fn user_forms() {
        let r = root();
        assert_eq!(user_ids(&r, "app"), Ok((1001, 1002)));
        assert_eq!(user_ids(&r, "app:staff"), Ok((1001, 50)));
        assert_eq!(user_ids(&r, "1001"), Ok((1001, 1002)));
        assert_eq!(user_ids(&r, "4242"), Ok((4242, 0)));
        assert_eq!(user_ids(&r, "4242:7"), Ok((4242, 7)));
        assert_eq!(
            user_ids(&r, "ghost"),
            Err(RunSpecError::NoSuchUser {
                user: "ghost".into()
            })
        );
        assert!(matches!(
            user_ids(&r, "app:nogroup"),
            Err(RunSpecError::NoSuchGroup { .. })
        ));
    }
}
