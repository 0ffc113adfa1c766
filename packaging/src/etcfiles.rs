//! The files static programs look up themselves (Go's os/user and resolver,
//! musl's getpwnam and getaddrinfo): `/etc/passwd`, `/etc/group`,
//! `/etc/hosts`, `/etc/nsswitch.conf`, `/etc/os-release`, and the CA bundle
//! checks. Sans-IO: text in, text out.

/// The name and version every image's `/etc/os-release` carries.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Where the CA bundle goes in the image (Debian's path, which Go, OpenSSL
/// and rustls-native-certs all try).
pub const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The nobody user and nogroup group.
pub const NOBODY: u32 = 65534;

/// `--user NAME[:UID[:GID]]`: the user the app runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// Why a `--user` value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("--user {0:?}: the name must be 1-32 characters of a-z, 0-9, '_' or '-', starting with a letter or '_' (e.g. --user app:1000:1000)")]
    BadName(String),
    #[error("--user {value:?}: the {what} {id:?} is not a number from 1 to 65533 (0 is root, 65534 is nobody; e.g. --user app:1000:1000)")]
    BadId {
        value: String,
        what: &'static str,
        id: String,
    },
    #[error("--user {0:?}: that name is already in every image with other ids; give just the name to run as it, or choose another name")]
    Taken(String),
}

impl User {
    /// Parse `NAME[:UID[:GID]]`. The uid defaults to 1000 and the gid to
    /// the uid; `root` and `nobody` alone mean those users.
    pub fn parse(value: &str) -> Result<User, UserError> {
        let mut parts = value.splitn(3, ':');
        let name = parts.next().unwrap_or_default();
        let valid_name = !name.is_empty()
            && name.len() <= 32
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !valid_name {
            return Err(UserError::BadName(value.to_string()));
        }
        let id = |what: &'static str, s: &str| -> Result<u32, UserError> {
            match s.parse::<u32>() {
                Ok(n) if (1..NOBODY).contains(&n) => Ok(n),
                _ => Err(UserError::BadId {
                    value: value.to_string(),
                    what,
                    id: s.to_string(),
                }),
            }
        };
        let uid = parts.next().map(|s| id("uid", s)).transpose()?;
        let gid = parts.next().map(|s| id("gid", s)).transpose()?;
        let builtin = match name {
            "root" => Some(0),
            "nobody" => Some(NOBODY),
            _ => None,
        };
        match (builtin, uid) {
            _ if name == "nogroup" => Err(UserError::Taken(value.into())),
            (Some(n), None) => Ok(User {
                name: name.into(),
                uid: n,
                gid: n,
            }),
            (Some(_), Some(_)) => Err(UserError::Taken(value.into())),
            (None, uid) => {
                let uid = uid.unwrap_or(1000);
                Ok(User {
                    name: name.into(),
                    uid,
                    gid: gid.unwrap_or(uid),
                })
            }
        }
    }

    fn is_builtin(&self) -> bool {
        self.name == "root" || self.name == "nobody"
    }
}

/// `/etc/passwd`: root, nobody, and the app's user.
pub fn passwd(user: Option<&User>) -> String {
    let mut t = String::from(
        "root:x:0:0:root:/root:/sbin/nologin\n\
         nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n",
    );
    if let Some(u) = user.filter(|u| !u.is_builtin()) {
        t.push_str(&format!(
            "{}:x:{}:{}:{}:/tmp:/sbin/nologin\n",
            u.name, u.uid, u.gid, u.name
        ));
    }
    t
}

/// `/etc/group`: root, nogroup, and the app user's group (named after the
/// user) unless its gid is one of those.
pub fn group(user: Option<&User>) -> String {
    let mut t = String::from("root:x:0:\nnogroup:x:65534:\n");
    if let Some(u) = user.filter(|u| !u.is_builtin() && u.gid != 0 && u.gid != NOBODY) {
        t.push_str(&format!("{}:x:{}:\n", u.name, u.gid));
    }
    t
}

/// `/etc/nsswitch.conf`: files, then DNS.
pub fn nsswitch() -> String {
    "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\n\
     protocols: files\nservices: files\n"
        .to_string()
}

/// `/etc/os-release`.
pub fn os_release() -> String {
    format!(
        "NAME=nodistro\nID=nodistro\nVERSION_ID={VERSION}\nPRETTY_NAME=\"nodistro {VERSION}\"\n\
         HOME_URL=\"https://github.com/nodistro/nodistro\"\n"
    )
}

/// How many PEM certificates `bytes` holds (a bundle with none is not a CA
/// bundle).
pub fn pem_certificates(bytes: &[u8]) -> usize {
    let begin = b"-----BEGIN CERTIFICATE-----";
    bytes.windows(begin.len()).filter(|w| w == begin).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(v: &str) -> User {
        User::parse(v).expect(v)
    }

    #[test]
    fn user_forms() {
        assert_eq!(
            user("app:1000:1000"),
            User {
                name: "app".into(),
                uid: 1000,
                gid: 1000
            }
        );
        assert_eq!(user("web").uid, 1000);
        assert_eq!(user("web:2000").gid, 2000);
        assert_eq!(user("web:2000:100").gid, 100);
        assert_eq!(user("nobody").uid, NOBODY);
        assert_eq!(user("root").uid, 0);
        assert_eq!(user("_svc-1").name, "_svc-1");
    }

    #[test]
    fn bad_users_name_the_fix() {
        for bad in ["", "App", "1app", "a b", "a/b", &"x".repeat(33), ":1000"] {
            let e = User::parse(bad).expect_err(bad).to_string();
            assert!(e.contains("--user") && e.contains("e.g."), "{e}");
        }
        for bad in [
            "a:0", "a:65534", "a:70000", "a:-1", "a:x", "a:1000:0", "a:1:",
        ] {
            let e = User::parse(bad).expect_err(bad).to_string();
            assert!(e.contains("1 to 65533"), "{bad}: {e}");
        }
        for bad in ["nobody:1000", "root:5", "nogroup"] {
            let e = User::parse(bad).expect_err(bad).to_string();
            assert!(e.contains("already"), "{bad}: {e}");
        }
    }

    #[test]
    fn passwd_and_group_carry_root_nobody_and_the_user() {
        let p = passwd(None);
        assert!(p.starts_with("root:x:0:0:"));
        assert!(p.contains("\nnobody:x:65534:65534:"));
        assert_eq!(p.lines().count(), 2);
        assert_eq!(group(None), "root:x:0:\nnogroup:x:65534:\n");
        let u = user("app:1000:1001");
        assert!(passwd(Some(&u)).ends_with("app:x:1000:1001:app:/tmp:/sbin/nologin\n"));
        assert!(group(Some(&u)).ends_with("app:x:1001:\n"));
        // Built-in users are not repeated.
        assert_eq!(passwd(Some(&user("nobody"))), passwd(None));
        assert_eq!(group(Some(&user("nobody"))), group(None));
        // Every line has the seven (four) fields.
        assert!(passwd(Some(&u)).lines().all(|l| l.split(':').count() == 7));
        assert!(group(Some(&u)).lines().all(|l| l.split(':').count() == 4));
    }

    #[test]
    fn nsswitch_and_os_release() {
        assert!(nsswitch().contains("hosts: files dns\n"));
        assert!(nsswitch().contains("passwd: files\n"));
        let o = os_release();
        assert!(o.contains("ID=nodistro\n"));
        assert!(o.contains(&format!("VERSION_ID={VERSION}\n")));
    }

    #[test]
    fn pem_counting() {
        let one = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_certificates(one), 1);
        assert_eq!(pem_certificates(&[one.as_slice(), one].concat()), 2);
        assert_eq!(pem_certificates(b"\x7fELF binary"), 0);
    }
}
