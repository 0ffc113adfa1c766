//! Images that can be updated (issue 24, the packaging half): the A/B
//! disk of `nodistro build --format disk`, its ext4 data partition, the
//! update key baked in, `nodistro publish`, and the runner's persistent
//! UEFI variables.
//!
//! The oracles are peers: sfdisk reads the GPT, mtools and fsck.vfat the
//! ESP, dumpe2fs, e2fsck and debugfs the data partition, GNU cpio the
//! initramfs inside the UKI, openssl checks the manifest's signature and
//! sha256sum its hash, and OVMF with Secure Boot on boots the disk.

use nodistro_packaging::qemu::image::{
    OVMF_DIR, OVMF_VARS_SNAKEOIL, SNAKEOIL_CERT, SNAKEOIL_KEY, SNAKEOIL_PASSPHRASE,
};
use nodistro_tests::qemu::{BootOpts, Guest, Nic, Outcome};
use nodistro_tests::{one_line_failure, release_bin, require_program, run_ok, TempDir};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const EPOCH: &str = "1700000000";
const MIB: u64 = 1 << 20;

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `nodistro build` of the boot-counter app (it counts its boots in
/// /data/count) with the virtio disk's modules, then `extra`.
fn nodistro_build(extra: &[&str]) -> Output {
    let mut cmd = Command::new(release_bin("nodistro"));
    cmd.arg("build")
        .arg("--app")
        .arg(release_bin("boot-counter"))
        .args(["--arg", "/data/count"])
        .args(["--module", "virtio_pci", "--module", "virtio_blk"])
        .args(["--config", "init.helpers=modload,logfwd"])
        .args(["--config", "init.on_exit=poweroff"])
        .args(extra)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .output()
        .unwrap_or_else(|e| panic!("cannot run nodistro build: {e}"))
}

/// Build `format` to `out`; returns the seconds it took.
fn build(format: &str, out: &Path, extra: &[&str]) -> f64 {
    let mut args = vec!["--format", format, "-o", s(out)];
    args.extend(extra);
    let t = Instant::now();
    let r = nodistro_build(&args);
    assert!(
        r.status.success() && out.is_file(),
        "nodistro build {args:?}: {}",
        text(&r)
    );
    t.elapsed().as_secs_f64()
}

/// The snakeoil key without its passphrase.
fn snakeoil_key(dir: &TempDir) -> PathBuf {
    let plain = dir.path().join("snakeoil.key");
    run_ok(
        Command::new(require_program("openssl", "openssl"))
            .args(["pkey", "-in", SNAKEOIL_KEY, "-passin"])
            .arg(format!("pass:{SNAKEOIL_PASSPHRASE}"))
            .arg("-out")
            .arg(&plain),
    );
    plain
}

/// An ed25519 key pair as openssl writes it: (private, public).
fn ed25519_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let openssl = require_program("openssl", "openssl");
    let key = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub.pem"));
    run_ok(
        Command::new(&openssl)
            .args(["genpkey", "-algorithm", "ed25519", "-out"])
            .arg(&key),
    );
    run_ok(
        Command::new(&openssl)
            .args(["pkey", "-pubout", "-in"])
            .arg(&key)
            .arg("-out")
            .arg(&public),
    );
    (key, public)
}

/// A partition as sfdisk reads it: (start sector, sectors, type).
#[derive(Debug)]
struct Part {
    start: u64,
    size: u64,
    kind: String,
    name: String,
}

fn partitions(img: &Path) -> Vec<Part> {
    let out = run_ok(
        Command::new(require_program("sfdisk", "fdisk"))
            .arg("--json")
            .arg(img),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("sfdisk's JSON");
    assert_eq!(v["partitiontable"]["label"], "gpt", "{v}");
    v["partitiontable"]["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| Part {
            start: p["start"].as_u64().expect("start"),
            size: p["size"].as_u64().expect("size"),
            kind: p["type"].as_str().expect("type").to_string(),
            name: p["name"].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

/// Copy a partition out of the disk image.
fn extract(img: &Path, p: &Part, to: &Path) {
    let mut f = std::fs::File::open(img).expect("open the disk");
    f.seek(SeekFrom::Start(p.start * 512)).expect("seek");
    let mut out = std::fs::File::create(to).expect("create");
    let n = std::io::copy(&mut f.take(p.size * 512), &mut out).expect("copy");
    assert_eq!(n, p.size * 512);
}

/// mtools' image spec of the partition at `start` sectors.
fn mtools_image(img: &Path, p: &Part) -> String {
    format!("{}@@{}", s(img), p.start * 512)
}

/// Copy FILE out of the ESP with mcopy.
fn esp_file(img: &Path, esp: &Part, file: &str, to: &Path) {
    run_ok(
        Command::new(require_program("mcopy", "mtools"))
            .args(["-n", "-i", &mtools_image(img, esp)])
            .arg(format!("::{file}"))
            .arg(to),
    );
}

/// `mdir` of a directory on the ESP: (its listing, the bytes free).
fn esp_dir(img: &Path, esp: &Part, dir: &str) -> (String, u64) {
    let out = run_ok(
        Command::new(require_program("mdir", "mtools"))
            .args(["-i", &mtools_image(img, esp)])
            .arg(format!("::{dir}")),
    );
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    let free = listing
        .lines()
        .find(|l| l.contains("bytes free"))
        .map(|l| {
            l.replace("bytes free", "")
                .chars()
                .filter(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("no free bytes in mdir's output:\n{listing}"));
    (listing, free)
}

fn fsck_vfat(fs: &Path) -> String {
    let out = Command::new(require_program("fsck.vfat", "dosfstools"))
        .arg("-n")
        .arg(fs)
        .output()
        .expect("run fsck.vfat");
    assert!(out.status.success(), "fsck.vfat -n: {}", text(&out));
    text(&out)
}

/// The UKI's initramfs (its .initrd section, by objcopy).
fn initramfs_of(uki: &Path, dir: &Path) -> PathBuf {
    let initrd = dir.join(format!(
        "{}.initrd",
        uki.file_name().expect("name").to_string_lossy()
    ));
    run_ok(
        Command::new(require_program("objcopy", "binutils"))
            .arg(format!("--dump-section=.initrd={}", s(&initrd)))
            .arg(uki)
            .arg(dir.join("scratch.efi")),
    );
    initrd
}

/// One member of the (gzip) initramfs, by GNU cpio.
fn cpio(initrd: &Path, member: &str) -> String {
    require_program("cpio", "cpio");
    let out = run_ok(Command::new("sh").arg("-c").arg(format!(
        "zcat '{}' | cpio -i --quiet --to-stdout '{member}'",
        s(initrd)
    )));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn cpio_list(initrd: &Path) -> String {
    require_program("cpio", "cpio");
    let out = run_ok(
        Command::new("sh")
            .arg("-c")
            .arg(format!("zcat '{}' | cpio -t --quiet", s(initrd))),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_ab_disk_holds_the_uki_twice_a_free_slot_and_an_ext4_data_partition() {
    let dir = TempDir::new("ab-disk");
    let key = snakeoil_key(&dir);
    let (_, update_pub) = ed25519_pair(dir.path(), "release");
    let common = [
        "--sign-key",
        s(&key),
        "--sign-cert",
        SNAKEOIL_CERT,
        "--update-key",
        s(&update_pub),
        "--update-version",
        "3",
    ];
    let uki = dir.path().join("image.efi");
    let plain = dir.path().join("plain.img");
    let (d1, d2) = (dir.path().join("d1.img"), dir.path().join("d2.img"));
    let t_uki = build("uki", &uki, &common);
    let t_plain = build("disk", &plain, &common);
    let mut with_data = common.to_vec();
    with_data.extend(["--data-size", "64M"]);
    let t_data = build("disk", &d1, &with_data);
    build("disk", &d2, &with_data);
    let uki_bytes = std::fs::read(&uki).expect("read the UKI");
    eprintln!(
        "built in {t_uki:.1} s (UKI, {} bytes), {t_plain:.1} s (disk), {t_data:.1} s (disk with data)",
        uki_bytes.len()
    );

    // Reproducible: two builds, the same bytes.
    assert!(
        std::fs::read(&d1).expect("d1") == std::fs::read(&d2).expect("d2"),
        "two disk builds differ"
    );

    // Without --data-size: one partition, the ESP; the fallback and slot A
    // are the UKI built alone, byte for byte; B is absent, with room.
    let parts = partitions(&plain);
    assert_eq!(parts.len(), 1, "{parts:?}");
    let esp = &parts[0];
    assert_eq!(esp.kind, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
    for file in ["EFI/BOOT/BOOTX64.EFI", "EFI/nodistro/A.EFI"] {
        let got = dir.path().join("got.efi");
        esp_file(&plain, esp, file, &got);
        assert!(
            std::fs::read(&got).expect("read") == uki_bytes,
            "{file} is not the UKI"
        );
    }
    let (listing, free) = esp_dir(&plain, esp, "EFI/nodistro");
    assert!(listing.contains("A        EFI"), "{listing}");
    assert!(!listing.contains("B        EFI"), "{listing}");
    // The default slot: twice the UKI, at least 64 MiB.
    let slot = (2 * (uki_bytes.len() as u64).div_ceil(MIB) * MIB).max(64 * MIB);
    assert!(free >= slot, "{free} bytes free, a slot is {slot}");
    eprintln!(
        "ESP {} bytes: {free} bytes free after the fallback and A ({slot}-byte slots)",
        esp.size * 512
    );

    // With it: the ESP, then the data partition.
    let parts = partitions(&d1);
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert_eq!(parts[0].kind, esp.kind);
    assert_eq!(parts[1].kind, "0FC63DAF-8483-4772-8E79-3D69D8477DE4");
    assert_eq!(parts[1].name, "data");
    assert_eq!(parts[1].size * 512, 64 * MIB);
    let esp_img = dir.path().join("esp.img");
    extract(&d1, &parts[0], &esp_img);
    let said = fsck_vfat(&esp_img);
    eprintln!("fsck.vfat: {}", said.trim());
    let data_img = dir.path().join("data.img");
    extract(&d1, &parts[1], &data_img);
    let out = run_ok(
        Command::new(require_program("dumpe2fs", "e2fsprogs"))
            .arg("-h")
            .arg(&data_img),
    );
    let head = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim_start_matches(':').trim().to_string())
            .unwrap_or_else(|| panic!("no {name:?} in dumpe2fs -h:\n{head}"))
    };
    assert_eq!(field("Filesystem volume name"), "nodistro-data");
    let features = field("Filesystem features");
    for f in ["has_journal", "extent", "flex_bg"] {
        assert!(features.contains(f), "not ext4: {features}");
    }
    let out = Command::new(require_program("e2fsck", "e2fsprogs"))
        .arg("-fn")
        .arg(&data_img)
        .output()
        .expect("run e2fsck");
    assert!(out.status.success(), "e2fsck -fn: {}", text(&out));

    // The UKI on the data disk: its initramfs holds the update key as
    // given, the update tool, the configuration lines and the modules.
    let a = dir.path().join("a.efi");
    esp_file(&d1, &parts[0], "EFI/nodistro/A.EFI", &a);
    let initrd = initramfs_of(&a, dir.path());
    let list = cpio_list(&initrd);
    assert_eq!(
        cpio(&initrd, "etc/nodistro/update.pub"),
        std::fs::read_to_string(&update_pub).expect("read the key")
    );
    let conf = cpio(&initrd, "etc/nodistro.conf");
    assert!(conf.contains("update.version=3\n"), "{conf}");
    assert!(
        conf.contains("init.mount=LABEL=nodistro-data:/data:ext4\n"),
        "{conf}"
    );
    assert!(list.lines().any(|l| l == "bin/update"), "{list}");
    for m in [
        "ext4.ko",
        "vfat.ko",
        "fat.ko",
        "nls_cp437.ko",
        "efivarfs.ko",
    ] {
        assert!(
            list.lines().any(|l| l.ends_with(&format!("/{m}"))),
            "{m} not packed:\n{list}"
        );
    }

    // Large slots: a FAT32 ESP, still fsck-clean, with room for B.
    let big = dir.path().join("big.img");
    let mut args = common.to_vec();
    args.extend(["--slot-size", "400M"]);
    build("disk", &big, &args);
    let parts = partitions(&big);
    let (_, free) = esp_dir(&big, &parts[0], "EFI/nodistro");
    assert!(free >= 400 * MIB, "{free}");
    let esp_img = dir.path().join("big-esp.img");
    extract(&big, &parts[0], &esp_img);
    fsck_vfat(&esp_img);
    let mut bpb = [0u8; 90];
    std::fs::File::open(&esp_img)
        .and_then(|mut f| f.read_exact(&mut bpb))
        .expect("read the boot sector");
    assert_eq!(&bpb[82..90], b"FAT32   ");
    eprintln!(
        "400M slots: ESP {} bytes (FAT32), {free} bytes free; disk file {} bytes, {} on disk",
        parts[0].size * 512,
        std::fs::metadata(&big).expect("stat").len(),
        du(&big)
    );
}

/// Bytes the file takes on disk (it is sparse).
fn du(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).map(|m| m.blocks() * 512).unwrap_or(0)
}

#[test]
fn the_disk_boots_under_secure_boot_mounts_data_and_keeps_its_efi_variables() {
    let dir = TempDir::new("ab-boot");
    let key = snakeoil_key(&dir);
    let (_, update_pub) = ed25519_pair(dir.path(), "release");
    let disk = dir.path().join("disk.img");
    build(
        "disk",
        &disk,
        &[
            "--sign-key",
            s(&key),
            "--sign-cert",
            SNAKEOIL_CERT,
            "--update-key",
            s(&update_pub),
            "--data-size",
            "64M",
        ],
    );
    let vars = dir.path().join("vars.fd");
    let template =
        std::fs::read(Path::new(OVMF_DIR).join(OVMF_VARS_SNAKEOIL)).expect("the snakeoil vars");
    let mut inode = None;
    for n in 1..=2 {
        let t = Instant::now();
        let mut g = Guest::boot(
            BootOpts::image(&disk)
                .secure_boot()
                .efi_vars(&vars)
                .nic(Nic::None)
                .timeout(Duration::from_secs(500)),
        );
        g.expect_line("secureboot: Secure boot enabled", Duration::from_secs(300));
        g.expect_line(&format!("BOOT-COUNT {n}"), Duration::from_secs(200));
        assert_eq!(
            g.wait_exit(Duration::from_secs(60)),
            Outcome::PoweredOff,
            "console tail:\n{}",
            g.console_tail(3000)
        );
        let console = g.console();
        assert!(console.contains("nodistro-data"), "{console}");
        eprintln!(
            "boot {n}: powered off after {:.1} s",
            t.elapsed().as_secs_f64()
        );
        // The store: made from the template on the first run, written by
        // OVMF (its boot options), then used in place.
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(&vars).expect("the variable store is kept");
        let now = std::fs::read(&vars).expect("read the store");
        assert_eq!(now.len(), template.len());
        assert!(now != template, "OVMF wrote nothing into the store");
        match inode {
            None => inode = Some(meta.ino()),
            Some(i) => assert_eq!(meta.ino(), i, "the store was replaced, not reused"),
        }
    }
    // What the app wrote on /data, read from the image by debugfs.
    let parts = partitions(&disk);
    let data = dir.path().join("data.img");
    extract(&disk, &parts[1], &data);
    let out = run_ok(
        Command::new(require_program("debugfs", "e2fsprogs"))
            .args(["-R", "cat /count"])
            .arg(&data),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2");
    let out = Command::new(require_program("e2fsck", "e2fsprogs"))
        .arg("-fn")
        .arg(&data)
        .output()
        .expect("run e2fsck");
    assert!(
        out.status.success(),
        "e2fsck -fn after the boots: {}",
        text(&out)
    );
}

fn nodistro(args: &[&str]) -> Output {
    nodistro_tests::nodistro(args)
}

#[test]
fn publish_writes_an_image_and_a_manifest_openssl_verifies() {
    let dir = TempDir::new("ab-publish");
    let (key, public) = ed25519_pair(dir.path(), "release");
    let uki = dir.path().join("v2.efi");
    build("uki", &uki, &[]);
    let srv = dir.path().join("srv");
    let out = nodistro(&[
        "publish",
        "--key",
        s(&key),
        "--image",
        s(&uki),
        "--version",
        "2",
        "-o",
        s(&srv),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    let size = std::fs::metadata(&uki).expect("stat").len();
    assert!(
        said.starts_with(&format!("published version 2 ({size} B, sha256 "))
            && said.trim_end().ends_with(&format!(" to {}", s(&srv)))
            && said.lines().count() == 1,
        "{said}"
    );
    assert!(std::fs::read(srv.join("v2.efi")).expect("copy") == std::fs::read(&uki).expect("uki"));
    let manifest = std::fs::read_to_string(srv.join("manifest")).expect("manifest");
    let (body, sig_line) = manifest
        .trim_end()
        .rsplit_once('\n')
        .expect("a signature line");
    let sig_b64 = sig_line.strip_prefix("signature ").expect("signature line");
    let body_file = dir.path().join("body");
    std::fs::write(&body_file, format!("{body}\n")).expect("write");
    let b64 = dir.path().join("sig.b64");
    std::fs::write(&b64, format!("{sig_b64}\n")).expect("write");
    let sig = dir.path().join("sig");
    run_ok(
        Command::new(require_program("base64", "coreutils"))
            .arg("-d")
            .arg(&b64)
            .stdout(std::fs::File::create(&sig).expect("create")),
    );
    let verify = |pubkey: &Path, body: &Path| {
        Command::new(require_program("openssl", "openssl"))
            .args(["pkeyutl", "-verify", "-pubin", "-inkey"])
            .arg(pubkey)
            .args(["-rawin", "-in"])
            .arg(body)
            .arg("-sigfile")
            .arg(&sig)
            .output()
            .expect("run openssl")
    };
    let v = verify(&public, &body_file);
    assert!(v.status.success(), "openssl refused: {}", text(&v));
    // Another key, or a changed body: refused.
    let (_, other) = ed25519_pair(dir.path(), "other");
    assert!(!verify(&other, &body_file).status.success());
    let forged = dir.path().join("forged");
    std::fs::write(
        &forged,
        format!("{}\n", body.replace("version 2", "version 9")),
    )
    .expect("write");
    assert!(!verify(&public, &forged).status.success());
    let sum = run_ok(Command::new("sha256sum").arg(srv.join("v2.efi")));
    let sum = String::from_utf8_lossy(&sum.stdout);
    let hash = sum.split_whitespace().next().expect("a hash");
    assert!(body.contains(&format!("\nsha256 {hash}")), "{body}");
    assert!(body.contains(&format!("\nsize {size}\n")), "{body}");
    assert!(
        body.contains("\narch x86_64\n") && body.contains("\nimage v2.efi\n"),
        "{body}"
    );

    // Bad input: one line each, nothing published.
    let bad_dir = dir.path().join("bad");
    let ec = dir.path().join("ec.pem");
    run_ok(
        Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
            ])
            .arg(&ec),
    );
    let not_pe = dir.path().join("notes.txt");
    std::fs::write(&not_pe, "hello").expect("write");
    let spaced = dir.path().join("v 2.efi");
    std::fs::copy(&uki, &spaced).expect("copy");
    let file_dir = dir.path().join("afile");
    std::fs::write(&file_dir, "").expect("write");
    let missing = dir.path().join("missing.pem");
    let bad_out = s(&bad_dir);
    let sub = file_dir.join("sub");
    let cases: [(Vec<&str>, &[&str]); 8] = [
        (
            vec![
                "--key",
                s(&missing),
                "--image",
                s(&uki),
                "--version",
                "2",
                "-o",
                bad_out,
            ],
            &["cannot read the key", "genpkey"],
        ),
        (
            vec![
                "--key",
                s(&public),
                "--image",
                s(&uki),
                "--version",
                "2",
                "-o",
                bad_out,
            ],
            &["PRIVATE KEY"],
        ),
        (
            vec![
                "--key",
                s(&ec),
                "--image",
                s(&uki),
                "--version",
                "2",
                "-o",
                bad_out,
            ],
            &["not an ed25519 key"],
        ),
        (
            vec![
                "--key",
                s(&key),
                "--image",
                s(&not_pe),
                "--version",
                "2",
                "-o",
                bad_out,
            ],
            &["is not a UKI", "MZ"],
        ),
        (
            vec![
                "--key",
                s(&key),
                "--image",
                s(&uki),
                "--version",
                "0",
                "-o",
                bad_out,
            ],
            &["\"0\"", "whole number"],
        ),
        (
            vec![
                "--key",
                s(&key),
                "--image",
                s(&uki),
                "--version",
                "two",
                "-o",
                bad_out,
            ],
            &["\"two\""],
        ),
        (
            vec![
                "--key",
                s(&key),
                "--image",
                s(&spaced),
                "--version",
                "2",
                "-o",
                bad_out,
            ],
            &["plain file name"],
        ),
        (
            vec![
                "--key",
                s(&key),
                "--image",
                s(&uki),
                "--version",
                "2",
                "-o",
                s(&sub),
            ],
            &["cannot write into", "writable"],
        ),
    ];
    for (args, needles) in cases {
        let mut a = vec!["publish"];
        a.extend(args);
        let line = one_line_failure(&nodistro(&a), needles);
        assert!(line.starts_with("nodistro publish: "), "{line}");
        assert!(!bad_dir.join("manifest").exists(), "{a:?} published");
    }
}

#[test]
fn update_flags_refuse_bad_input_in_one_line() {
    let dir = TempDir::new("ab-refuse");
    let (key, public) = ed25519_pair(dir.path(), "release");
    let out = dir.path().join("x.img");
    let o = s(&out);
    let cases: [(Vec<&str>, &[&str]); 5] = [
        (
            vec!["--format", "initramfs", "--update-key", s(&public), "-o", o],
            &["--update-key is only for --format uki or disk", "initramfs"],
        ),
        (
            vec!["--format", "disk", "--update-key", s(&key), "-o", o],
            &["--update-key", "PUBLIC KEY", "pubout"],
        ),
        (
            vec!["--format", "uki", "--slot-size", "64M", "-o", o],
            &["--slot-size is only for --format disk"],
        ),
        (
            vec!["--format", "disk", "--slot-size", "1M", "-o", o],
            &["--slot-size 1048576 bytes is smaller than the UKI"],
        ),
        (
            vec!["--format", "disk", "--update-version", "0", "-o", o],
            &["\"0\" is not a whole number from 1"],
        ),
    ];
    // The runner's persistent store is for firmware boots only.
    let vars = dir.path().join("vars.fd");
    let r = nodistro(&[
        "run",
        "--efi-vars",
        s(&vars),
        "--initrd",
        "/nonexistent.img",
    ]);
    assert_eq!(r.status.code(), Some(125));
    one_line_failure(&r, &["--efi-vars is for --image"]);
    assert!(!vars.exists());
    for (args, needles) in cases {
        one_line_failure(&nodistro_build(&args), needles);
        assert!(!out.exists(), "{args:?} wrote an image");
        let stray = nodistro_tests::names_containing(dir.path(), "x.img");
        assert!(stray.is_empty(), "{args:?} left {stray:?}");
    }
}
