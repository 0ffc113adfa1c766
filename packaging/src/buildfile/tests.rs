use super::*;

fn tokens(text: &str, dir: &str) -> Vec<String> {
    match settings(text, Path::new(dir)) {
        Ok(s) => s.iter().flat_map(Setting::tokens).collect(),
        Err(e) => panic!("{e}\n{text}"),
    }
}

fn error(text: &str) -> String {
    match settings(text, Path::new("/d")) {
        Ok(s) => panic!("accepted: {s:?}"),
        Err(e) => e.to_string(),
    }
}

fn v(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn os(items: &[&str]) -> Vec<OsString> {
    items.iter().map(OsString::from).collect()
}

fn parsed(argv: &[OsString]) -> BuildArgs {
    let strs: Vec<&str> = argv[2..]
        .iter()
        .map(|a| a.to_str().expect("utf-8"))
        .collect();
    match BuildArgs::from_args(&["nodistro build"], &strs) {
        Ok(a) => a,
        Err(e) => panic!("{}: {argv:?}", e.output),
    }
}

/// A scratch directory of this test process.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nodistro-buildfile-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("mkdir scratch");
    d
}

const FULL: &str = r#"
app = "bin/myapp"          # relative: to the file's directory
output = "/tmp/out.img"    # absolute: as it is
args = ["--port", "8080"]
hostname = "edge1"
compression = "zstd"
level = 0x13
tools-dir = "box"
drivers = "none"
modules = ["virtio_net", "e1000"]
modaliases = "target.modaliases"
kernel-version = "6.1.0-57-amd64"
modules-dir = "/lib/modules/6.1.0-57-amd64"
firmware-dir = "fw"
user = "app:1000"
ca-certs = true
allow-dynamic = false
console = true
format = "disk"
kernel = "/boot/vmlinuz"
cmdline = "console=ttyS0"
data-size = "1G"
efi-stub = "stub.efi"
isolinux-dir = "/usr/lib/ISOLINUX"

[env]
GREETING = "hello world"
WORKERS = 4

[files]
"/etc/app/app.conf" = "app.conf"
"/srv/www" = "/abs/www"

[config]
init.on_exit = "reboot"
"logfwd.remote" = "udp://10.0.2.2:514"
init.net_timeout = 20
init.wait_time = true
"#;

#[test]
fn every_kind_of_key_becomes_its_flag() {
    assert_eq!(
        tokens(FULL, "/proj"),
        v(&[
            "--app",
            "/proj/bin/myapp",
            "--output",
            "/tmp/out.img",
            "--arg",
            "--port",
            "--arg",
            "8080",
            "--hostname",
            "edge1",
            "--compression",
            "zstd",
            "--level",
            "19",
            "--tools-dir",
            "/proj/box",
            "--drivers",
            "none",
            "--module",
            "virtio_net",
            "--module",
            "e1000",
            "--modaliases",
            "/proj/target.modaliases",
            "--kernel-version",
            "6.1.0-57-amd64",
            "--modules-dir",
            "/lib/modules/6.1.0-57-amd64",
            "--firmware-dir",
            "/proj/fw",
            "--user",
            "app:1000",
            "--ca-certs",
            "",
            "--console",
            "--format",
            "disk",
            "--kernel",
            "/boot/vmlinuz",
            "--cmdline",
            "console=ttyS0",
            "--data-size",
            "1G",
            "--efi-stub",
            "/proj/stub.efi",
            "--isolinux-dir",
            "/usr/lib/ISOLINUX",
            "--env",
            "GREETING=hello world",
            "--env",
            "WORKERS=4",
            "--file",
            "/proj/app.conf:/etc/app/app.conf",
            "--file",
            "/abs/www:/srv/www",
            "--config",
            "init.on_exit=reboot",
            "--config",
            "logfwd.remote=udp://10.0.2.2:514",
            "--config",
            "init.net_timeout=20",
            "--config",
            "init.wait_time=true",
        ])
    );
}

#[test]
fn the_other_forms_of_a_key() {
    let text = r#"
app = "a"
env = ["A=1", "B=2"]
files = ["x:/etc/x", "/abs/y:/etc/y"]
config = ["init.arg=-v", "init.arg=-q"]
modules = "all"
ca-certs = "certs/ca.pem"
data-size = 1048576
console = false
"#;
    // The file in the current directory: paths stay relative to it.
    assert_eq!(
        tokens(text, ""),
        v(&[
            "--app",
            "a",
            "--env",
            "A=1",
            "--env",
            "B=2",
            "--file",
            "x:/etc/x",
            "--file",
            "/abs/y:/etc/y",
            "--config",
            "init.arg=-v",
            "--config",
            "init.arg=-q",
            "--modules",
            "all",
            "--ca-certs",
            "certs/ca.pem",
            "--data-size",
            "1048576",
        ])
    );
    assert_eq!(tokens("", "/d"), Vec::<String>::new());
    // Tables keep the file's order, dotted keys too (TOML groups them).
    assert_eq!(
        tokens(
            "[env]\nZ = \"1\"\nA = \"2\"\n[config]\ninit.b = 1\nlog.a = 2\ninit.a = 3\n",
            "/d"
        ),
        v(&[
            "--env", "Z=1", "--env", "A=2", "--config", "init.b=1", "--config", "log.a=2",
            "--config", "init.a=3"
        ])
    );
    assert_eq!(
        tokens("ca-certs = false\nallow-dynamic = true", "/d"),
        v(&["--allow-dynamic"])
    );
}

#[test]
fn bad_files_name_the_line_and_the_key() {
    assert_eq!(
        error("app = \"a\"\n\nhostnme = \"x\"\n"),
        "3: unknown key \"hostnme\" (did you mean \"hostname\"?); the keys are nodistro build's flags (README, \"One config file\")"
    );
    assert!(error("[kernel_opts]\nx = 1\n").starts_with("1: unknown key \"kernel_opts\"; "));
    assert_eq!(
        error("app = \"a\"\nlevel = \"9\"\n"),
        "2: key \"level\": expected an integer, found a string"
    );
    assert_eq!(
        error("modules = 3"),
        "1: key \"modules\": expected a string or an array of strings, found an integer"
    );
    assert_eq!(
        error("args = [\n  \"a\",\n  2,\n]"),
        "3: key \"args[1]\": expected a string, found an integer"
    );
    assert_eq!(
        error("console = \"yes\""),
        "1: key \"console\": expected true or false, found a string"
    );
    assert_eq!(
        error("[env]\nA = [1]\n"),
        "2: key \"env.A\": expected a string, integer or boolean, found an array"
    );
    assert_eq!(
        error("[env.A]\nB = \"c\"\n"),
        "1: key \"env.A\": expected a string, integer or boolean, found a table"
    );
    assert_eq!(
        error("[files]\n\"/etc/x\" = 1\n"),
        "2: key \"files.\\\"/etc/x\\\"\": expected a string, found an integer"
    );
    // Values: the flag's own parser, at the value's line.
    assert_eq!(
        error("app = \"a\"\ncompression = \"gzipp\"\n"),
        "2: key \"compression\": \"gzipp\": unknown compression \"gzipp\": use gzip, zstd or none"
    );
    let e = error("level = 99999999999");
    assert!(e.starts_with("1: key \"level\": \"99999999999\": "), "{e}");
    let e = error("\n\ndrivers = \"vmm\"");
    assert!(e.starts_with("3: key \"drivers\": \"vmm\": "), "{e}");
    assert!(error("data-size = \"lots\"").starts_with("1: key \"data-size\": \"lots\": "));
    assert_eq!(
        error("app = \"\""),
        "1: key \"app\": an empty path; name a file or leave the key out"
    );
    assert_eq!(
        error("files = [\"nocolon\"]"),
        "1: key \"files[0]\": \"nocolon\" is not SRC:DEST"
    );
    assert!(error("[files]\n\"a:b\" = \"x\"").starts_with("2: key \"files.\\\"a:b\\\"\": "));
    assert!(error("[env]\n\"A=B\" = \"x\"").starts_with("2: key \"env.A=B\": "));
    // TOML itself: the line of the mistake, one line of text.
    let e = error("app = \"a\"\nhostname = \"unterminated\n");
    assert!(e.starts_with("2: not TOML: "), "{e}");
    assert!(!e.contains('\n'), "{e}");
    let e = error("app = \"a\"\napp = \"b\"\n");
    assert!(e.starts_with("2: not TOML: "), "{e}");
    assert!(error("level = 1.5").ends_with("expected an integer, found a float"));
}

fn settings_of(text: &str) -> Vec<Setting> {
    settings(text, Path::new("/d")).expect("valid file")
}

#[test]
fn flags_replace_single_values_and_extend_lists() {
    let file = settings_of(
        "app = \"/a\"\nhostname = \"f\"\nargs = [\"x\"]\nconsole = true\ndrivers = \"all\"\n[env]\nA = \"1\"\n",
    );
    assert_eq!(
        merge(&file, &v(&["hostname", "arg", "console"])),
        v(&[
            "--app",
            "/a",
            "--arg",
            "x",
            "--drivers",
            "all",
            "--env",
            "A=1"
        ])
    );
    // --modules replaces the file's drivers (and --drivers its modules).
    assert_eq!(merge(&file, &v(&["modules"])), {
        let mut all = v(&["--app", "/a", "--hostname", "f", "--arg", "x", "--console"]);
        all.extend(v(&["--env", "A=1"]));
        all
    });
    let file = settings_of("modules = \"all\"\n");
    assert_eq!(merge(&file, &v(&["drivers"])), Vec::<String>::new());
    let file = settings_of("modules = [\"e1000\"]\n");
    assert_eq!(
        merge(&file, &v(&["drivers", "module"])),
        v(&["--module", "e1000"])
    );
}

#[test]
fn scanning_the_command_line_skips_values() {
    let c = scan(&[
        "--arg",
        "-f",
        "-o",
        "out",
        "--console",
        "-f",
        "x.toml",
        "--",
        "-f",
    ]);
    assert_eq!(c.flags, v(&["arg", "output", "console", "build-file"]));
    assert_eq!(c.build_file, vec![5]);
    assert!(!c.help);
    assert!(scan(&["-f", "x", "--help"]).help);
    assert!(
        scan(&["--hostname", "help"])
            == CommandLine {
                flags: v(&["hostname"]),
                ..CommandLine::default()
            }
    );
}

#[test]
fn a_file_and_its_flags_parse_to_the_same_build() {
    let d = scratch("same");
    let file = d.join("nodistro.toml");
    std::fs::write(&file, FULL).expect("write");
    let dir = d.to_str().expect("utf-8");
    let from_file = expand(os(&[
        "nodistro",
        "build",
        "-f",
        file.to_str().expect("utf-8"),
    ]))
    .expect("expands");
    let flags: Vec<String> = tokens(FULL, dir);
    let mut by_hand = v(&["nodistro", "build"]);
    by_hand.extend(flags);
    let by_hand: Vec<OsString> = by_hand.into_iter().map(OsString::from).collect();
    assert_eq!(
        format!("{:?}", parsed(&from_file)),
        format!("{:?}", parsed(&by_hand))
    );
    let a = parsed(&from_file);
    assert_eq!(a.app, Some(d.join("bin/myapp")));
    assert_eq!(a.env, v(&["GREETING=hello world", "WORKERS=4"]));
    assert_eq!(a.ca_certs.as_deref(), Some(""));
    assert!(a.console && a.build_file.is_none());

    // Flags after the file: a scalar replaces, a list extends; -f may
    // stand anywhere.
    let over = expand(os(&[
        "nodistro",
        "build",
        "--hostname",
        "cli",
        "--env",
        "EXTRA=1",
        "-f",
        file.to_str().expect("utf-8"),
        "-o",
        "/tmp/other",
        "--modules",
        "all",
    ]))
    .expect("expands");
    let a = parsed(&over);
    assert_eq!(a.hostname.as_deref(), Some("cli"));
    assert_eq!(a.output, Some(PathBuf::from("/tmp/other")));
    assert_eq!(a.env, v(&["GREETING=hello world", "WORKERS=4", "EXTRA=1"]));
    assert_eq!(a.drivers, None);
    assert_eq!(a.modules, Some(crate::build::args::AllModules::All));
    assert_eq!(a.module, v(&["virtio_net", "e1000"]));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn expand_passes_other_commands_and_refuses_bad_files() {
    let plain = os(&["nodistro", "build", "--app", "x"]);
    assert_eq!(expand(plain.clone()).expect("unchanged"), plain);
    let ls = os(&["nodistro", "ls", "-f", "x"]);
    assert_eq!(expand(ls.clone()).expect("unchanged"), ls);
    let help = os(&["nodistro", "build", "-f", "/nonexistent.toml", "--help"]);
    assert_eq!(expand(help.clone()).expect("unchanged"), help);
    let no_value = os(&["nodistro", "build", "-f"]);
    assert_eq!(expand(no_value.clone()).expect("argh reports it"), no_value);

    let missing = expand(os(&[
        "nodistro",
        "build",
        "-f",
        "/nonexistent/nodistro.toml",
    ]))
    .expect_err("missing file");
    assert_eq!(
        nodistro_common::report::chain(&missing),
        "cannot read the build file /nonexistent/nodistro.toml: No such file or directory (os error 2)"
    );
    let twice = expand(os(&["nodistro", "build", "-f", "a", "--build-file", "b"]));
    assert!(matches!(twice, Err(BuildFileError::Twice(2))));

    let d = scratch("bad");
    let file = d.join("n.toml");
    std::fs::write(&file, b"app = \"a\"\n# \xff\n").expect("write");
    let e = expand(os(&[
        "nodistro",
        "build",
        "-f",
        file.to_str().expect("utf-8"),
    ]))
    .expect_err("not UTF-8");
    assert_eq!(
        e.to_string(),
        format!(
            "{}:2: not UTF-8 text; write the build file as UTF-8 TOML",
            file.display()
        )
    );
    std::fs::write(&file, "app = \"a\"\nlevel = true\n").expect("write");
    let e = expand(os(&[
        "nodistro",
        "build",
        "-f",
        file.to_str().expect("utf-8"),
    ]))
    .expect_err("wrong type");
    assert_eq!(
        e.to_string(),
        format!(
            "{}:2: key \"level\": expected an integer, found a boolean",
            file.display()
        )
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn the_example_in_the_repository_is_a_valid_file() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo-app/nodistro.toml");
    let text = std::fs::read_to_string(&path).expect("demo-app/nodistro.toml");
    let s = settings(&text, Path::new("demo-app")).expect("valid");
    assert!(s.iter().any(|s| s.key.flag == "app"));
}

#[test]
fn the_readme_example_is_a_valid_file() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let section = readme
        .split("## One config file")
        .nth(1)
        .expect("README section \"One config file\"");
    let example = section
        .split("```toml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a toml block");
    let s = settings(example, Path::new("/proj")).expect("the README's example parses");
    let t: Vec<String> = s.iter().flat_map(Setting::tokens).collect();
    for want in [
        "/proj/target/release/myapp",
        "--ca-certs",
        "--module",
        "RUST_LOG=info",
    ] {
        assert!(t.iter().any(|x| x == want), "{want} not in {t:?}");
    }
    assert!(
        t.iter()
            .any(|x| x == "/proj/config.json:/etc/myapp/config.json"),
        "{t:?}"
    );
}
