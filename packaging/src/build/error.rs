//! Why `nodistro build` failed: [`BuildError`].

use super::args::DEFAULT_CA_BUNDLE;
use crate::compress::Compression;
use crate::etcfiles::UserError;
use crate::image::ImageError;
use crate::modules::ModulesError;
use nodistro_common::MULTICALL_NAME;
use std::io;
use std::path::PathBuf;

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("app {} not found; give the path of your static executable with --app", .0.display())]
    AppMissing(PathBuf),
    #[error("no app: give --app PATH (an executable) or --from-oci PATH (an OCI image)")]
    NoApp,
    #[error("--app and --from-oci both name the app; give one")]
    TwoApps,
    #[error(transparent)]
    Oci(#[from] crate::oci::OciError),
    #[error("--from-oci {}", .path.display())]
    OciRun {
        path: PathBuf,
        #[source]
        source: crate::core::oci::runspec::RunSpecError,
    },
    #[error("--from-oci {}: the app {app} needs {needs}, which the image does not hold", .path.display())]
    OciLacks {
        path: PathBuf,
        app: String,
        needs: String,
    },
    #[error("app {} is dynamically linked: it needs its interpreter {interpreter} and {libraries} libraries ({bytes} bytes with /etc/ld.so.cache); pass --allow-dynamic to pack them, or link it statically (Rust: RUSTFLAGS=\"-C target-feature=+crt-static\"; Go: CGO_ENABLED=0; C: -static)", .path.display())]
    Dynamic {
        path: PathBuf,
        interpreter: String,
        libraries: usize,
        bytes: u64,
    },
    #[error("app {} is dynamically linked (interpreter {interpreter}), and --allow-dynamic could not pack what it needs; link it statically (Go: CGO_ENABLED=0; C: -static), or", .path.display())]
    DynamicUnresolved {
        path: PathBuf,
        interpreter: String,
        #[source]
        source: Box<crate::core::dynlink::ResolveError>,
    },
    #[error("cannot pack what app {} needs", .path.display())]
    Libraries {
        path: PathBuf,
        #[source]
        source: Box<crate::core::dynlink::ResolveError>,
    },
    #[error("app {} is not an x86-64 executable ({what}); build it for x86-64", .path.display())]
    AppArch { path: PathBuf, what: String },
    #[error("app {} is a script for {interpreter}, which the image does not have; add the interpreter with --file and pass --allow-dynamic, or use a static executable", .path.display())]
    Script { path: PathBuf, interpreter: String },
    #[error("app {} is not an executable (not ELF, no #! line); pass --allow-dynamic to pack it anyway", .0.display())]
    NotExecutable(PathBuf),
    #[error("{} not found in {}: build it (scripts/build-box.sh, or cargo build --release -p nodistro-box) or point --tools-dir at the directory holding it", MULTICALL_NAME, .0.display())]
    ToolsMissing(PathBuf),
    #[error("--{flag} {value:?} is not {expected}")]
    BadOption {
        flag: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("--level {level} is out of range for {kind:?} (use {min}..={max})")]
    BadLevel {
        level: i32,
        kind: Compression,
        min: i32,
        max: i32,
    },
    #[error(transparent)]
    Console(#[from] crate::debug_console::ConsoleError),
    #[error("SOURCE_DATE_EPOCH={0:?} is not a number of seconds between 0 and 4294967295")]
    BadEpoch(String),
    #[error(transparent)]
    User(#[from] UserError),
    #[error("--ca-certs {}: not found; give the path of a PEM bundle, or install ca-certificates for the default {}", .0.display(), DEFAULT_CA_BUNDLE)]
    CaMissing(PathBuf),
    #[error("--ca-certs {}: holds no PEM certificate (-----BEGIN CERTIFICATE-----); give a PEM bundle such as {}", .0.display(), DEFAULT_CA_BUNDLE)]
    CaNotPem(PathBuf),
    #[error("cannot read the host's devices for --drivers host (is /sys mounted?); use --modaliases FILE instead")]
    HostDevices(#[source] io::Error),
    #[error("{what} {} is {found}, not {arch}: {fix}", .path.display())]
    WrongArch {
        what: &'static str,
        path: PathBuf,
        found: String,
        arch: &'static str,
        fix: String,
    },
    #[error("app {} is dynamically linked: an {arch} image takes a static app (target-feature=+crt-static, README \"arm64\")", .path.display())]
    CrossDynamic { path: PathBuf, arch: &'static str },
    #[error("cannot fetch Debian's {0} kernel")]
    Fetch(&'static str, #[source] crate::debkernel::FetchError),
    #[error("cannot pack this nodistro-box")]
    Box(#[source] crate::boxtools::BoxError),
    #[error("cannot write the configuration file")]
    Config(#[source] nodistro_common::config::RenderError),
    #[error("cannot assemble the image")]
    Image(#[source] ImageError),
    #[error("cannot select kernel modules")]
    Modules(#[source] ModulesError),
    #[error("cannot create the output {}: choose a writable -o path", .path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("output {} exists and is not a regular file; choose another -o path", .0.display())]
    NotAFile(PathBuf),
    #[error("--update-key is only for --format uki or disk (an image the update tool can replace), not {0}")]
    UpdateKeyFormat(&'static str),
    #[error("cannot read --update-key {}: give the ed25519 public key as openssl writes it (openssl pkey -in key.pem -pubout -out pub.pem)", .path.display())]
    UpdateKeyRead {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("--update-key {}", .path.display())]
    UpdateKey {
        path: PathBuf,
        #[source]
        source: nodistro_update::core::keys::KeyError,
    },
    #[error("--update-key needs the update tool, which {} does not hold (tools: {}): build the standalone one (cargo build --release -p nodistro-update) or the box with --features update", .path.display(), .tools.join(","))]
    NoUpdateTool { path: PathBuf, tools: Vec<String> },
    #[error("cannot write the output {}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl From<ImageError> for BuildError {
    fn from(e: ImageError) -> Self {
        BuildError::Image(e)
    }
}
