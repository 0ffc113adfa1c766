//! modload's alias resolution against kmod's own `modprobe` on the Debian
//! kernel's full module tree (linux-image-amd64). The machine runs another
//! kernel, so modprobe works off-target with `-S <version> --show-depends`
//! (nothing is loaded), with an empty configuration directory (`-C`) so that
//! the host's /etc/modprobe.d does not skew it.

use nodistro_modload::coldplug::{self, Blacklist};
use nodistro_modload::tree::{name_of_path, ModuleTree};
use nodistro_tests::{release_bin, require_program, TempDir};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The newest `/lib/modules/6.1.0-*-amd64` with a modules.dep.
fn debian_tree() -> (String, PathBuf) {
    let mut found: Vec<String> = std::fs::read_dir("/lib/modules")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|v| v.starts_with("6.1.0-") && v.ends_with("-amd64"))
                .filter(|v| {
                    Path::new("/lib/modules")
                        .join(v)
                        .join("modules.dep")
                        .is_file()
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort_by_key(|v| {
        v.split('-')
            .nth(1)
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0)
    });
    let ver = found.pop().unwrap_or_else(|| {
        panic!("no Debian 6.1 module tree in /lib/modules: install the Debian package linux-image-amd64 (scripts/setup.sh does)")
    });
    let dir = Path::new("/lib/modules").join(&ver);
    (ver, dir)
}

/// Module names of `modprobe --show-depends` output (`insmod PATH` and
/// `builtin NAME` lines) in its order, each once (modprobe repeats a module
/// that several others need).
fn parse_show_depends(out: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    out.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            match (w.next(), w.next()) {
                (Some("insmod"), Some(p)) => Some(name_of_path(p)),
                (Some("builtin"), Some(n)) => Some(n.replace('-', "_")),
                _ => None,
            }
        })
        .filter(|n| seen.insert(n.clone()))
        .collect()
}

/// kmod's answer. It exits 1 when an alias is unknown; the output for the
/// others is complete regardless, so only a crash is an error.
fn modprobe(ver: &str, conf: &Path, blacklist: bool, aliases: &[String]) -> Vec<String> {
    let mut cmd = Command::new("modprobe");
    cmd.arg("-C")
        .arg(conf)
        .args(["-S", ver, "--show-depends", "-a"]);
    if blacklist {
        cmd.arg("-b");
    }
    let out = cmd
        .args(aliases)
        .output()
        .unwrap_or_else(|e| panic!("cannot run modprobe (Debian package kmod): {e}"));
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "modprobe failed: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    parse_show_depends(&String::from_utf8_lossy(&out.stdout))
}

/// modload's answer: resolve with kmod's rules, then the dependency closure
/// in load order.
fn modload(tree: &ModuleTree, bl: &Blacklist, names_too: bool, aliases: &[String]) -> Vec<String> {
    let res = coldplug::resolve(tree, aliases.iter().map(String::as_str), bl, names_too);
    let plan = tree.plan(&res.modules);
    assert!(plan.problems.is_empty(), "{:?}", plan.problems);
    plan.order
}

/// A copy of the tree's text files only (no .bin files), in a new temporary
/// directory `<tmp>/lib/modules/<ver>`.
fn text_only_copy(ver: &str, dir: &Path, tag: &str) -> (TempDir, PathBuf) {
    let copy = TempDir::new(tag);
    let copy_dir = copy.path().join("lib/modules").join(ver);
    std::fs::create_dir_all(&copy_dir).expect("mkdir");
    for f in [
        "modules.dep",
        "modules.alias",
        "modules.symbols",
        "modules.softdep",
        "modules.builtin",
        "modules.builtin.modinfo",
    ] {
        std::fs::copy(dir.join(f), copy_dir.join(f)).expect("copy index file");
    }
    (copy, copy_dir)
}

/// From where `a` first differs from `b`, a few names (the order matters).
fn first_difference<'a>(a: &'a [String], b: &[String]) -> &'a [String] {
    let i = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    &a[i..a.len().min(i + 4)]
}

/// A concrete string matching `pat`: `*` becomes `star`, `?` becomes
/// `any`, a bracket its first member (or `~` when negated).
fn instantiate(pat: &str, star: &str, any: char) -> String {
    let mut out = String::new();
    let mut chars = pat.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str(star),
            '?' => out.push(any),
            '\\' => out.extend(chars.next()),
            '[' => {
                let mut body = String::new();
                for b in chars.by_ref() {
                    if b == ']' && !body.is_empty() {
                        break;
                    }
                    body.push(b);
                }
                match body.chars().next() {
                    Some('!' | '^') => out.push('~'),
                    Some(first) => out.push(first),
                    None => {}
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Aliases of this machine's devices, the way coldplug finds them.
fn host_aliases() -> Vec<String> {
    let mut warn = |_w: String| {};
    coldplug::scan(Path::new("/sys"), &mut warn)
        .into_iter()
        .map(|d| d.alias)
        .collect()
}

/// Device class of an alias: the text before the first `:` (or `*`).
fn class(alias: &str) -> &str {
    alias.split([':', '*']).next().unwrap_or(alias)
}

#[test]
fn resolution_matches_modprobe_for_every_device_class() {
    require_program("modprobe", "kmod");
    let (ver, dir) = debian_tree();
    let tree = ModuleTree::open(&dir).expect("open the Debian tree");
    assert!(tree.uses_bins(), "{:?}", tree.warnings());
    // The same tree with the text files alone.
    let (_copy, copy_dir) = text_only_copy(&ver, &dir, "modload-kmod-text");
    let text_tree = ModuleTree::open(&copy_dir).expect("open the text copy");
    assert!(!text_tree.uses_bins());
    assert!(
        text_tree.warnings()[0]
            .contains("no modules.alias.bin and modules.dep.bin: using the text files"),
        "{:?}",
        text_tree.warnings()
    );
    let empty = TempDir::new("modload-kmod-conf");
    let text = std::fs::read_to_string(dir.join("modules.alias")).expect("modules.alias");
    let mut aliases: BTreeSet<String> = BTreeSet::new();
    for line in text.lines() {
        let Some(pat) = line
            .strip_prefix("alias ")
            .and_then(|l| l.split(' ').next())
        else {
            continue;
        };
        aliases.insert(instantiate(pat, "", '0'));
        aliases.insert(instantiate(pat, "Z9", 'Z'));
    }
    // Realistic ones: this machine's devices and a QEMU virtio machine's.
    aliases.extend(host_aliases());
    aliases.extend(
        [
            "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00",
            "pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00",
            "virtio:d00000001v00001AF4",
            "virtio:d00000002v00001AF4",
            "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00",
            "pci:v00008086d00007010sv00001AF4sd00001100bc01sc01i80",
            "acpi:PNP0303:",
            "acpi:PNP0501:",
            "platform:i8042",
            "serio:ty01pr00id00ex00",
            "input:b0011v0001p0001eAB41-e0,1,4,11,14,k71,72,73,ram4,l0,1,2,sfw",
            "cpu:type:x86,ven0000fam0006mod003A:feature:,0000,0001,0002,0003,0004,0005,0006,0007,0008,0009,000B,000C,000D,000E,000F,0010,0011,0013,0015,0016,0017,0018,0019,001A,001B,001C,001D,001F,002B,0034,003A,003B,003D,0068,006F,0070,0072,0074,0075,0076,0079,0080,0081,0089,008C,008D,0091,0093,0094,0095,0096,0097,0098,0099,009A,009B,009C,009D,009E,009F,00C0,00C5,00E1,00E3,00E4,00E6,00E7,00EB,00EC,00F0,00F1,00F3,00F5,00F6,00F9,00FA,00FB,00FD,00FF,0100,0103,0120,0123,0124,0125,0127,0128,0129,012A,012D,0140,0160,0161,0162,0163,0164,0165,0171,01C0,01C1,01C2,01C4,01C5,01C6,024A,025A,025B,025C,025D,025F",
            "hid:b0003g0001v0000046Dp0000C52B",
            "usb:v046Dp0000C52Bd1211dc00dsc00dp00ic03isc01ip01in00",
            "of:NvirtioT(null)Cvirtio,mmio",
            "nosuch:alias",
            "crypto-crc32c",
            "fs-ext4",
            "net-pf-10",
        ]
        .map(String::from),
    );
    let mut by_class: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in aliases {
        by_class.entry(class(&a).to_string()).or_default().push(a);
    }
    let classes: Vec<&String> = by_class.keys().collect();
    for must in [
        "pci", "usb", "acpi", "virtio", "platform", "cpu", "input", "hid", "of", "i2c", "dmi",
    ] {
        assert!(
            by_class.contains_key(must),
            "no {must} aliases generated; classes: {classes:?}"
        );
    }
    // Lists of 400 aliases, mostly of one class each (sorted by class).
    let all: Vec<(&String, &String)> = by_class
        .iter()
        .flat_map(|(c, l)| l.iter().map(move |a| (c, a)))
        .collect();
    let bl = Blacklist::default();
    let (mut lists, mut total, mut mismatches) = (0, 0, Vec::new());
    for chunk in all.chunks(400) {
        let chunk_aliases: Vec<String> = chunk.iter().map(|(_, a)| (*a).clone()).collect();
        let class = chunk[0].0;
        lists += 1;
        total += chunk.len();
        let chunk = &chunk_aliases;
        {
            let theirs = modprobe(&ver, empty.path(), true, chunk);
            let ours = modload(&tree, &bl, true, chunk);
            let ours_text = modload(&text_tree, &bl, true, chunk);
            if ours_text != ours {
                mismatches.push(format!(
                    "list starting in class {class}: the .bin files and the text disagree: .bin {:?}, text {:?}",
                    first_difference(&ours, &ours_text),
                    first_difference(&ours_text, &ours)
                ));
            }
            if theirs != ours {
                // Narrow down to the aliases that differ, for the report.
                let culprits: Vec<String> = chunk
                    .iter()
                    .filter(|a| {
                        let one = std::slice::from_ref(*a);
                        modprobe(&ver, empty.path(), true, one) != modload(&tree, &bl, true, one)
                    })
                    .take(5)
                    .cloned()
                    .collect();
                mismatches.push(format!(
                    "list starting in class {class}: modprobe {:?}, modload {:?}, e.g. aliases {culprits:?}",
                    first_difference(&theirs, &ours),
                    first_difference(&ours, &theirs)
                ));
            }
        }
    }
    eprintln!(
        "compared {total} aliases in {lists} lists over {} alias classes",
        by_class.len()
    );
    assert!(total > 40_000, "only {total} aliases generated");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// Issue 15, defect 2: when several modules match one alias, they load in
/// modules.alias order (kmod's), so the PIIX driver binds before the
/// generic one; on the .bin files and on the text alike.
#[test]
fn several_matches_load_in_kmods_order() {
    require_program("modprobe", "kmod");
    let (ver, dir) = debian_tree();
    let piix = "pci:v00008086d00007010sv00001AF4sd00001100bc01sc01i80";
    let empty = TempDir::new("modload-kmod-piix");
    let theirs = modprobe(&ver, empty.path(), true, &[piix.to_string()]);
    let at = |v: &[String], m: &str| v.iter().position(|x| x == m);
    assert!(
        at(&theirs, "ata_piix") < at(&theirs, "ata_generic") && at(&theirs, "ata_piix").is_some(),
        "{theirs:?}"
    );
    let tree = ModuleTree::open(&dir).expect("open");
    assert!(tree.uses_bins());
    let (_copy, copy_dir) = text_only_copy(&ver, &dir, "modload-kmod-piix-text");
    let text = ModuleTree::open(&copy_dir).expect("open the text copy");
    for t in [&tree, &text] {
        assert_eq!(t.resolve_alias(piix), ["ata_piix", "ata_generic"]);
        assert_eq!(
            modload(t, &Blacklist::default(), true, &[piix.to_string()]),
            theirs
        );
    }
}

#[test]
fn blacklist_semantics_match_modprobe() {
    require_program("modprobe", "kmod");
    let (ver, dir) = debian_tree();
    let tree = ModuleTree::open(&dir).expect("open the Debian tree");
    let conf = TempDir::new("modload-kmod-blacklist");
    std::fs::write(
        conf.path().join("blacklist.conf"),
        "blacklist virtio_net\nblacklist failover\nblacklist crc32c_intel\nblacklist e1000\n",
    )
    .expect("write config");
    let bl = Blacklist::new(["virtio_net,failover", "crc32c-intel,e1000"]);
    let virtio_net = "virtio:d00000001v00001AF4".to_string();
    let e1000 = "pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00".to_string();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let cases: Vec<(Vec<String>, bool)> = vec![
        // Alias matches are filtered, with or without -b.
        (vec![virtio_net.clone(), e1000.clone()], true),
        (vec![virtio_net.clone(), e1000.clone()], false),
        // A blacklisted module named directly still loads without -b, and a
        // blacklisted dependency (failover) or softdep (crc32c_intel) too.
        (s(&["virtio_net", "e1000", "ext4"]), false),
        // With -b, kmod filters names as well.
        (s(&["virtio_net", "e1000", "ext4"]), true),
        (s(&["crypto-crc32c", "net_failover"]), true),
    ];
    for (aliases, b) in cases {
        let theirs = modprobe(&ver, conf.path(), b, &aliases);
        let ours = modload(&tree, &bl, b, &aliases);
        assert_eq!(ours, theirs, "aliases {aliases:?}, -b {b}");
    }
    // The cases exercise what they claim.
    let named = modload(&tree, &bl, false, &s(&["virtio_net", "ext4"]));
    assert!(
        named.iter().any(|n| n == "virtio_net")
            && named.iter().any(|n| n == "failover")
            && named.iter().any(|n| n == "crc32c_intel")
    );
    assert!(modload(&tree, &bl, false, std::slice::from_ref(&virtio_net)).is_empty());
}

#[test]
fn dry_run_of_this_machine_matches_modprobe() {
    require_program("modprobe", "kmod");
    let (ver, dir) = debian_tree();
    let empty = TempDir::new("modload-kmod-dry");
    let conf = empty.path().join("nodistro.conf");
    std::fs::write(&conf, "").expect("write config");
    // modload on the Debian tree, no kernel command line, an empty config.
    let run_modload = |extra: &[&str]| {
        Command::new(release_bin("modload"))
            .args(extra)
            .args([
                "--kernel-version",
                &ver,
                "--cmdline",
                "/dev/null",
                "--config",
            ])
            .arg(&conf)
            .output()
            .expect("run modload")
    };
    let out = run_modload(&["--dry-run"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ours: Vec<String> = stdout
        .lines()
        .map(|l| match l.strip_prefix("builtin ") {
            Some(n) => n.to_string(),
            None => {
                assert!(l.starts_with(&dir.display().to_string()), "odd line {l:?}");
                name_of_path(l)
            }
        })
        .collect();
    let aliases = host_aliases();
    let theirs = modprobe(&ver, empty.path(), true, &aliases);
    assert_eq!(ours, theirs, "this machine's aliases: {aliases:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("modload: coldplug:"), "{stderr}");
    // Loading a tree for another kernel is refused, clearly.
    let running = rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned();
    if running != ver {
        let out = run_modload(&[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!("modules tree is for kernel {ver}")) && err.contains(&running),
            "{err}"
        );
    }
}

#[test]
fn modinfo_reads_real_debian_modules() {
    let (_, dir) = debian_tree();
    let ko = std::fs::read(dir.join("kernel/drivers/net/virtio_net.ko")).expect("virtio_net.ko");
    let info = nodistro_modload::modinfo(&ko).expect("modinfo");
    assert_eq!(info.name.as_deref(), Some("virtio_net"));
    assert!(
        info.depends.iter().any(|d| d == "net_failover"),
        "{:?}",
        info.depends
    );
    assert!(
        info.alias
            .iter()
            .any(|a| a.starts_with("virtio:d00000001v")),
        "{:?}",
        info.alias
    );
    let (ver, _) = debian_tree();
    assert!(info
        .vermagic
        .as_deref()
        .is_some_and(|v| v.starts_with(&ver)));
    // A truncated copy is an error, not a panic.
    assert!(nodistro_modload::modinfo(&ko[..ko.len() / 3]).is_err());
}

/// The load order, not just the set: `modprobe --show-depends NAME` (its
/// repeated lines dropped) against modload's plan, for every 10th module.
#[test]
fn load_order_matches_modprobe_show_depends() {
    require_program("modprobe", "kmod");
    let (ver, dir) = debian_tree();
    let tree = ModuleTree::open(&dir).expect("open the Debian tree");
    let empty = TempDir::new("modload-kmod-order");
    let names: Vec<&str> = tree.module_names().step_by(10).collect();
    assert!(names.len() > 300, "{} modules", names.len());
    let mut differ = Vec::new();
    for name in &names {
        let out = Command::new("modprobe")
            .arg("-C")
            .arg(empty.path())
            .args(["-S", &ver, "--show-depends", name])
            .output()
            .expect("run modprobe (Debian package kmod)");
        let mut theirs: Vec<String> = Vec::new();
        for l in String::from_utf8_lossy(&out.stdout).lines() {
            let n = match l.split_whitespace().collect::<Vec<_>>()[..] {
                ["insmod", p, ..] => name_of_path(p),
                ["builtin", n, ..] => n.replace('-', "_"),
                _ => continue,
            };
            if !theirs.contains(&n) {
                theirs.push(n);
            }
        }
        let plan = tree.plan(&[name.to_string()]);
        if plan.order != theirs {
            differ.push(format!(
                "{name}: modload {:?}, modprobe {theirs:?}",
                plan.order
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {}:\n{}",
        differ.len(),
        names.len(),
        differ.join("\n")
    );
}

/// modprobe.d read as kmod reads it: an `alias` looked up first, a
/// `blacklist` filtering alias matches, a `softdep` adding a module before
/// another, `options` given to the module; `install` reported, not run.
/// Softdep precedence: kmod reads modules.softdep (the modules' own) among
/// the files in name order, first line wins: a-early.conf's jbd2 line
/// replaces jbd2's own, nodistro-test.conf's ext4 line loses to ext4's own;
/// `mbcach?` matches mbcache (a softdep's module is a glob pattern).
#[test]
fn modprobe_d_is_read_as_modprobe_reads_it() {
    require_program("modprobe", "kmod");
    let (ver, dir) = debian_tree();
    let root = TempDir::new("modload-kmod-modprobe-d");
    let conf_dir = root.path().join("etc/modprobe.d");
    std::fs::create_dir_all(&conf_dir).expect("mkdir");
    std::fs::write(
        conf_dir.join("nodistro-test.conf"),
        "alias my-nic e1000\n\
         blacklist virtio_net\n\
         softdep e1000 pre: crc32c_generic\n\
         softdep ext4 pre: crc32_generic\n\
         options e1000 InterruptThrottleRate=3000 copybreak=0\n\
         install pcspkr /bin/true\n",
    )
    .expect("write");
    std::fs::write(
        conf_dir.join("a-early.conf"),
        "softdep jbd2 pre: crc32_generic\nsoftdep mbcach? pre: crc7\n",
    )
    .expect("write");
    let aliases: Vec<String> = ["my-nic", "virtio:d00000001v00001AF4", "ext4"]
        .map(String::from)
        .to_vec();
    let out = Command::new("modprobe")
        .arg("-C")
        .arg(&conf_dir)
        .args(["-S", &ver, "--show-depends", "-a"])
        .args(&aliases)
        .output()
        .expect("run modprobe");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let theirs = parse_show_depends(&stdout);
    let e1000_opts = stdout
        .lines()
        .find(|l| l.contains("/e1000.ko"))
        .map(|l| l.split_whitespace().skip(2).collect::<Vec<_>>().join(" "))
        .expect("modprobe loads e1000");

    let conf = nodistro_modload::modprobe_d::load(root.path());
    assert_eq!(conf.warnings.len(), 1, "{:?}", conf.warnings);
    assert!(conf.warnings[0].contains("`install` runs a shell command"));
    let mut tree = ModuleTree::open(&dir).expect("open");
    tree.apply_modprobe_conf(&conf);
    let bl = Blacklist::default().with(conf.blacklist.iter().map(String::as_str));
    let ours = modload(&tree, &bl, false, &aliases);
    assert_eq!(ours, theirs);
    assert!(ours.iter().any(|m| m == "e1000") && !ours.iter().any(|m| m == "virtio_net"));
    let crc = ours.iter().position(|m| m == "crc32c_generic");
    assert!(crc < ours.iter().position(|m| m == "e1000"), "{ours:?}");
    let at = |m: &str| ours.iter().position(|o| o == m);
    assert!(at("crc32_generic") < at("jbd2"), "{ours:?}");
    // A softdep's module is a glob pattern, as in kmod.
    assert!(at("crc7") < at("mbcache"), "{ours:?}");
    let params = conf.with_options(Default::default());
    assert_eq!(params.get("e1000"), Some(&e1000_opts));
}
