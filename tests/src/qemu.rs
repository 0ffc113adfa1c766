//! QEMU boots for end-to-end tests: the Debian kernel (uncompressed once,
//! cached) with an initramfs built by the release `nodistro build`.
//!
//! ```no_run
//! use nodistro_tests::qemu::{build_image, BootOpts, Guest, Outcome};
//! use std::time::Duration;
//! let img = build_image(&["--app", "/path/to/app"]);
//! let mut g = Guest::boot(BootOpts::new(img.path()).forward(8080));
//! g.wait_for("init: app started", Duration::from_secs(30)).unwrap();
//! let port = g.host_port(8080);
//! g.monitor("system_powerdown").unwrap();
//! assert_eq!(g.wait_exit(Duration::from_secs(20)), Outcome::PoweredOff);
//! ```
//!
//! Everything runs on the one launcher `nodistro_packaging::qemu` (the same
//! code as `nodistro run`). QEMU is killed when the [`Guest`] is dropped.

use crate::{release_bin, require_program, TempDir};
use nodistro_packaging::qemu::{temp_monitor_path, Forward, QemuSpec, Vm};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nodistro_packaging::qemu::{image_spec_for, BootFiles, FirmwareOpts};
pub use nodistro_packaging::qemu::{Firmware, Nic, Outcome};

/// The kernel QEMU boots: the newest /boot/vmlinuz-*, uncompressed into the
/// cache on first use.
pub fn kernel() -> PathBuf {
    static K: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    K.get_or_init(|| {
        nodistro_packaging::qemu::resolve_kernel(None, false)
            .map_err(|e| nodistro_common::report::chain(&e))
    })
    .clone()
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The release of that kernel (`6.1.0-56-amd64`): its modules are in
/// /lib/modules/<release>, what `nodistro build --kernel-version` takes.
pub fn kernel_release() -> String {
    let vmlinuz = nodistro_packaging::kernel::find_kernel()
        .unwrap_or_else(|e| panic!("{}", nodistro_common::report::chain(&e)));
    nodistro_packaging::kernel::release_of(&vmlinuz)
        .unwrap_or_else(|| panic!("cannot tell the release of {}", vmlinuz.display()))
}

/// An initramfs built for a test; its directory goes away on drop.
pub struct Image {
    pub dir: TempDir,
    path: PathBuf,
}

impl Image {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Run the release `nodistro build ARGS -o <tmp>/initrd.img`; panics with
/// nodistro's message when it fails.
pub fn build_image(args: &[&str]) -> Image {
    build_image_logged(args).0
}

/// [`build_image`], and what `nodistro build` printed (its stderr: the
/// kernel chosen, what `--allow-dynamic` added...).
pub fn build_image_logged(args: &[&str]) -> (Image, String) {
    let dir = TempDir::new("qemu-image");
    let path = dir.path().join("initrd.img");
    let out = Command::new(release_bin("nodistro"))
        .arg("build")
        .args(args)
        .arg("-o")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run nodistro build: {e}"));
    assert!(
        out.status.success() && path.is_file(),
        "nodistro build {args:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    (Image { dir, path }, log)
}

/// The demo image: the release demo-app with `nodistro demo`'s modules
/// for the Debian kernel.
pub fn build_demo_image() -> Image {
    app_image("demo-app", nodistro_packaging::demo::DEMO_MODULES, &[], &[])
}

/// [`build_image`] of the release binary `app` (demo-app, health-app...)
/// for the booted kernel ([`kernel_release`]) with its `modules`, each
/// `key=value` of `config` as a `--config`, then the `more` arguments.
pub fn app_image(app: &str, modules: &[&str], config: &[&str], more: &[&str]) -> Image {
    let app = release_bin(app).display().to_string();
    let release = kernel_release();
    let mut args = vec!["--app", &app, "--kernel-version", &release];
    for m in modules {
        args.extend(["--module", m]);
    }
    for c in config {
        args.extend(["--config", c]);
    }
    args.extend_from_slice(more);
    build_image(&args)
}

/// Boot `img`, whose app is the release marker-init, as its init
/// (`rdinit=/app/marker-init`, no NIC) with `markertoken=TOKEN`; returns
/// once it printed its marker line, and that line.
pub fn boot_marker(img: &Image, token: &str) -> (Guest, String) {
    let g = Guest::boot(
        BootOpts::new(img.path())
            .nic(Nic::None)
            .append("rdinit=/app/marker-init")
            .append(&format!("markertoken={token}"))
            .timeout(Duration::from_secs(90)),
    );
    let line = format!("NODISTRO-MARKER pid=1 token={token}");
    g.expect_line(&line, Duration::from_secs(60));
    (g, line)
}

/// What to boot and how.
#[derive(Debug, Clone)]
pub struct BootOpts {
    pub initrd: PathBuf,
    /// What goes on QEMU's command line as the launcher spells it (kernel
    /// arguments after `console=ttyS0 panic=-1 no_timer_check`, NIC,
    /// machine, memory, `restrict=on`, drives and devices in
    /// `extra_args`): [`Guest::boot`] adds the kernel or image, the
    /// forwards and the monitor. Set through the methods below, which
    /// spell the QEMU arguments a test needs (no test spells them).
    pub spec: QemuSpec,
    /// Guest TCP ports to forward; host ports are picked free
    /// ([`Guest::host_port`]).
    pub forwards: Vec<u16>,
    /// The guest address forwards go to (default 10.0.2.15, what QEMU's
    /// DHCP server leases); set it for a guest with a static `ip=`.
    pub guest_addr: Option<std::net::Ipv4Addr>,
    /// Upper bound on the guest's whole life: every wait is clipped to it.
    pub timeout: Duration,
    /// A UKI, disk or ISO to boot instead of the kernel and `initrd`
    /// ([`BootOpts::image`]).
    pub image: Option<PathBuf>,
    /// Its firmware (default: UEFI for a UKI or disk, BIOS for an ISO).
    pub firmware: Option<Firmware>,
    /// The serial console's input on a pipe ([`Guest::type_text`]).
    pub serial_input: bool,
    /// Run QEMU inside this network namespace (`ip netns exec`), where the
    /// tap device of [`BootOpts::tap`] lives.
    pub netns: Option<String>,
    /// OVMF's Secure Boot build with the snakeoil keys
    /// ([`BootOpts::secure_boot`]).
    pub secure_boot: bool,
    /// A persistent UEFI variable store used in place, created from the
    /// template when missing (`nodistro run --efi-vars`,
    /// [`BootOpts::efi_vars`]).
    pub efi_vars: Option<PathBuf>,
    /// Guest reboots stay in QEMU (`nodistro run --reboot`,
    /// [`BootOpts::reboot`]).
    pub reboot: bool,
}

/// The directory of the aarch64 nodistro-box and demo-app, built once per
/// test process by `scripts/build-box.sh --arch aarch64` (cargo's own
/// cache makes it quick after the first time).
pub fn aarch64_tools() -> PathBuf {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| crate::build_box(&["--arch", "aarch64"]))
        .clone()
        .unwrap_or_else(|e| panic!("{e}"))
}

impl BootOpts {
    /// Defaults: virtio NIC, no forwards, 256 MB, 120 s.
    pub fn new(initrd: &Path) -> Self {
        BootOpts {
            initrd: initrd.to_path_buf(),
            spec: QemuSpec::new(PathBuf::new(), initrd.to_path_buf()),
            forwards: Vec::new(),
            guest_addr: None,
            timeout: Duration::from_secs(120),
            image: None,
            firmware: None,
            serial_input: false,
            netns: None,
            secure_boot: false,
            efi_vars: None,
            reboot: false,
        }
    }

    /// A guest of `arch`: its default machine (aarch64: `virt`, Debian's
    /// arm64 kernel from the cache).
    pub fn arch(mut self, arch: nodistro_packaging::arch::Arch) -> Self {
        self.spec
            .set_machine(nodistro_packaging::qemu::Machine::default_for(arch));
        self
    }

    /// Boot a UKI, disk or ISO (`nodistro run --image`) instead.
    pub fn image(path: &Path) -> Self {
        BootOpts {
            image: Some(path.to_path_buf()),
            ..BootOpts::new(Path::new(""))
        }
    }

    pub fn firmware(mut self, firmware: Firmware) -> Self {
        self.firmware = Some(firmware);
        self
    }

    /// UEFI Secure Boot on (`nodistro run --secure-boot`): the image must
    /// be signed with Debian's snakeoil key (/usr/share/ovmf/PkKek-1-snakeoil.key).
    pub fn secure_boot(mut self) -> Self {
        self.secure_boot = true;
        self
    }

    /// Boot with the persistent UEFI variable store `path` (created from
    /// the template when missing; kept after the boot).
    pub fn efi_vars(mut self, path: &Path) -> Self {
        self.efi_vars = Some(path.to_path_buf());
        self
    }

    /// Guest reboots stay in QEMU; the boot ends at power-off.
    pub fn reboot(mut self) -> Self {
        self.reboot = true;
        self
    }

    /// Keep the serial console's input: [`Guest::type_text`] types on it.
    pub fn serial_input(mut self) -> Self {
        self.serial_input = true;
        self
    }

    /// Run QEMU in network namespace `name` (for a tap device there).
    pub fn netns(mut self, name: &str) -> Self {
        self.netns = Some(name.to_string());
        self
    }

    /// Nothing leaves QEMU's user network but the forwards.
    pub fn restrict(mut self) -> Self {
        self.spec.restrict = true;
        self
    }

    /// Add QEMU arguments. For what no method below says yet: a test
    /// calls the method (add one here), not this.
    pub fn qemu_args<S: Into<std::ffi::OsString>>(
        mut self,
        args: impl IntoIterator<Item = S>,
    ) -> Self {
        self.spec
            .extra_args
            .extend(args.into_iter().map(Into::into));
        self
    }

    /// A raw disk image on virtio-blk (`/dev/vda`, `/dev/vdb`... in order).
    pub fn drive(self, path: &Path) -> Self {
        let arg = format!("file={},format=raw,if=virtio", path.display());
        self.qemu_args(["-drive".to_string(), arg])
    }

    /// [`BootOpts::drive`], read-only (a NoCloud seed).
    pub fn drive_readonly(self, path: &Path) -> Self {
        let arg = format!("file={},format=raw,if=virtio,readonly=on", path.display());
        self.qemu_args(["-drive".to_string(), arg])
    }

    /// An i6300esb watchdog whose expiry, like a reboot, resets the
    /// machine (QEMU stays up: the test sees the next boot).
    pub fn watchdog(self) -> Self {
        self.qemu_args([
            "-device",
            "i6300esb",
            "-action",
            "watchdog=reset",
            "-action",
            "reboot=reset",
        ])
    }

    /// The guest's real-time clock starts at `base` (`2001-01-01`).
    pub fn rtc_base(self, base: &str) -> Self {
        self.qemu_args(["-rtc".to_string(), format!("base={base}")])
    }

    /// A further NIC of `model` (`e1000`) on its own user network with
    /// `options` (`restrict=on`, `net=10.0.3.0/24,restrict=on`).
    pub fn user_nic(self, id: &str, model: &str, options: &str) -> Self {
        self.qemu_args([
            "-netdev".to_string(),
            format!("user,id={id},{options}"),
            "-device".to_string(),
            format!("{model},netdev={id}"),
        ])
    }

    /// A virtio NIC on tap device `ifname` (with [`BootOpts::netns`]: the
    /// namespace's).
    pub fn tap(self, ifname: &str) -> Self {
        self.qemu_args([
            "-netdev".to_string(),
            format!("tap,id=n0,ifname={ifname},script=no,downscript=no"),
            "-device".to_string(),
            "virtio-net-pci,netdev=n0".to_string(),
        ])
    }

    /// A restricted user network (virtio) whose only way out is
    /// `guestfwd`: TCP to `guest` (`10.0.2.100:80`) runs `cmd` (a relay).
    pub fn guestfwd_nic(self, guest: &str, cmd: &str) -> Self {
        self.qemu_args([
            "-nic".to_string(),
            format!("user,restrict=on,model=virtio-net-pci,guestfwd=tcp:{guest}-cmd:{cmd}"),
        ])
    }

    pub fn append(mut self, arg: &str) -> Self {
        self.spec.append.push(arg.to_string());
        self
    }

    pub fn machine(mut self, machine: nodistro_packaging::qemu::Machine) -> Self {
        self.spec.set_machine(machine);
        self
    }

    pub fn nic(mut self, nic: Nic) -> Self {
        self.spec.nic = nic;
        self
    }

    pub fn forward(mut self, guest_port: u16) -> Self {
        self.forwards.push(guest_port);
        self
    }

    /// Forward to this guest address instead of 10.0.2.15.
    pub fn guest_addr(mut self, addr: std::net::Ipv4Addr) -> Self {
        self.guest_addr = Some(addr);
        self
    }

    pub fn memory_mb(mut self, mb: u32) -> Self {
        self.spec.memory_mb = mb;
        self
    }

    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
}

pub use crate::free_port;

/// A booted guest. QEMU is killed on drop.
pub struct Guest {
    vm: Vm,
    /// The OVMF variables copy and such, removed after QEMU (field order).
    _files: BootFiles,
    forwards: Vec<Forward>,
    deadline: Instant,
    started: Instant,
    /// The `ip netns exec` wrapper of [`BootOpts::netns`].
    _wrapper: Option<crate::TempDir>,
}

impl Guest {
    /// Boot the Debian kernel with `opts.initrd`. Panics (naming the
    /// package to install) when QEMU or the kernel is missing.
    pub fn boot(opts: BootOpts) -> Guest {
        let machine = opts.spec.machine;
        let (program, package) = machine.arch().qemu();
        let mut qemu = require_program(program, package);
        let wrapper = opts.netns.as_ref().map(|ns| {
            let dir = crate::TempDir::new("qemu-netns");
            let script = dir.path().join("qemu");
            std::fs::write(
                &script,
                format!(
                    "#!/bin/sh\nexec ip netns exec {ns} {} \"$@\"\n",
                    qemu.display()
                ),
            )
            .expect("write the netns wrapper");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
                .expect("chmod the netns wrapper");
            qemu = script;
            dir
        });
        let mut wrapper = wrapper;
        let kernel = if opts.image.is_some() {
            PathBuf::new()
        } else {
            assert!(
                opts.initrd.is_file(),
                "initramfs {} does not exist",
                opts.initrd.display()
            );
            if machine == nodistro_packaging::qemu::Machine::Microvm
                || machine.arch() != nodistro_packaging::arch::Arch::X86_64
            {
                // See resolve_kernel_for: microvm boots the bzImage; virt
                // Debian's arm64 Image from the cache.
                nodistro_packaging::qemu::resolve_kernel_for(None, false, machine)
                    .unwrap_or_else(|e| panic!("{}", nodistro_common::report::chain(&e)))
            } else {
                kernel()
            }
        };
        // A free port can be taken by someone else before QEMU binds it:
        // QEMU then exits at once; try again with new ports.
        for attempt in 0..3 {
            let started = Instant::now();
            let forwards: Vec<Forward> = opts
                .forwards
                .iter()
                .map(|&guest| Forward {
                    host: free_port(),
                    guest,
                    guest_addr: opts.guest_addr,
                })
                .collect();
            let (mut spec, files) = match &opts.image {
                Some(img) => {
                    let (mut spec, files) = image_spec_for(
                        img,
                        &FirmwareOpts {
                            firmware: opts.firmware,
                            secure_boot: opts.secure_boot,
                            efi_vars: opts.efi_vars.clone(),
                            ..FirmwareOpts::default()
                        },
                        machine.arch(),
                    )
                    .unwrap_or_else(|e| panic!("{}", nodistro_common::report::chain(&e)));
                    // The image's firmware chose the machine and the boot;
                    // the test's devices are added.
                    spec.nic = opts.spec.nic;
                    spec.memory_mb = opts.spec.memory_mb;
                    spec.extra_args = opts.spec.extra_args.clone();
                    spec.restrict = opts.spec.restrict;
                    (spec, files)
                }
                None => {
                    let mut spec = opts.spec.clone();
                    spec.kernel = Some(kernel.clone());
                    spec.initrd = Some(opts.initrd.clone());
                    (spec, BootFiles::default())
                }
            };
            spec.qemu = qemu.clone();
            spec.forwards = forwards.clone();
            spec.monitor = Some(temp_monitor_path("qemu-test"));
            spec.reboot = opts.reboot;
            let vm = if opts.serial_input {
                Vm::spawn_with_input(&spec, false)
            } else {
                Vm::spawn(&spec, false, false)
            };
            let mut vm = vm.unwrap_or_else(|e| panic!("{}", nodistro_common::report::chain(&e)));
            if !forwards.is_empty() && attempt < 2 && forward_clashed(&mut vm, &spec) {
                continue;
            }
            return Guest {
                vm,
                _files: files,
                forwards,
                deadline: started + opts.timeout,
                started,
                _wrapper: wrapper.take(),
            };
        }
        unreachable!("the last attempt always returns")
    }

    fn clip(&self, t: Duration) -> Duration {
        t.min(self.deadline.saturating_duration_since(Instant::now()))
    }

    /// [`Guest::wait_for`], panicking with its reason (which carries the
    /// console's tail): for a line the test cannot go on without.
    pub fn expect_line(&self, needle: &str, timeout: Duration) {
        if let Err(e) = self.wait_for(needle, timeout) {
            panic!("{e}");
        }
    }

    /// Wait until `needle` is on the console (since boot). The error carries
    /// the console's tail.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> Result<(), String> {
        self.vm.wait_for(needle, self.clip(timeout))
    }

    /// How many console bytes have arrived: an offset for
    /// [`Guest::wait_for_from`].
    pub fn console_len(&self) -> usize {
        self.vm.console_len()
    }

    /// [`Guest::wait_for`] on what arrived after `offset` only (e.g. the
    /// second occurrence of a line, after a restart).
    pub fn wait_for_from(
        &self,
        offset: usize,
        needle: &str,
        timeout: Duration,
    ) -> Result<(), String> {
        self.vm.wait_for_from(offset, needle, self.clip(timeout))
    }

    /// The whole console so far (QEMU's stderr included).
    pub fn console(&self) -> String {
        self.vm.console()
    }

    /// The last `n` bytes of the console.
    pub fn console_tail(&self, n: usize) -> String {
        self.vm.console_tail(n)
    }

    /// One HMP monitor command (`system_powerdown`, `info network`); its
    /// output.
    pub fn monitor(&self, command: &str) -> Result<String, String> {
        self.vm
            .monitor(command)
            .map_err(|e| nodistro_common::report::chain(&e))
    }

    /// Cable out (`up` false) or back in: HMP `set_link` on the guest's
    /// network card (the first `type=nic` entry of `info network`). The
    /// guest's driver sees its carrier go and come back.
    pub fn set_link(&self, up: bool) -> Result<(), String> {
        let info = self.monitor("info network")?;
        let nic = nic_name(&info).ok_or_else(|| format!("no NIC in `info network`:\n{info}"))?;
        let state = if up { "on" } else { "off" };
        let out = self.monitor(&format!("set_link {nic} {state}"))?;
        // The answer carries the command's echo; success prints nothing
        // else, a failure "Error: ..." or "... not found".
        if out.contains("rror") || out.contains("not found") {
            Err(format!("set_link {nic} {state}: {out}"))
        } else {
            Ok(())
        }
    }

    /// Press the ACPI power button (`system_powerdown`) once init holds the
    /// button's event device (a press before that is lost, as on real
    /// hardware before anything listens), and wait for the guest to power
    /// off (killing QEMU after `timeout`).
    pub fn power_button(&mut self, timeout: Duration) -> Outcome {
        if let Err(e) = self.wait_for("init: power button on", Duration::from_secs(60)) {
            panic!("init never took the power button: {e}");
        }
        if let Err(e) = self.monitor("system_powerdown") {
            panic!("system_powerdown: {e}");
        }
        self.wait_exit(timeout)
    }

    /// Wait for QEMU to exit (killing it after `timeout`).
    pub fn wait_exit(&mut self, timeout: Duration) -> Outcome {
        let t = self.clip(timeout);
        self.vm.wait_exit(Some(t))
    }

    /// The host port (on 127.0.0.1) forwarded to `guest_port`.
    pub fn host_port(&self, guest_port: u16) -> u16 {
        self.forwards
            .iter()
            .find(|f| f.guest == guest_port)
            .map(|f| f.host)
            .unwrap_or_else(|| {
                panic!("guest port {guest_port} was not forwarded (BootOpts::forward)")
            })
    }

    /// Poll `http://127.0.0.1:<host_port(guest_port)>PATH` until a 200
    /// answer containing `expect`; returns the body.
    pub fn http_poll(
        &self,
        guest_port: u16,
        path: &str,
        expect: &str,
        timeout: Duration,
    ) -> Result<String, String> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.host_port(guest_port)));
        nodistro_packaging::qemu::http::poll(addr, path, expect, self.clip(timeout))
            .map(|r| r.body)
            .map_err(|e| format!("{e}; console tail:\n{}", self.console_tail(3000)))
    }

    /// Type `text` on the serial console (a boot with
    /// [`BootOpts::serial_input`]).
    pub fn type_text(&self, text: &str) {
        self.vm
            .send(text.as_bytes())
            .unwrap_or_else(|e| panic!("cannot type on the console: {e}"));
    }

    /// Time since QEMU was started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// Whether QEMU exited because a forward's host port was taken meanwhile
/// (the port was free when picked). QEMU binds the ports while it sets up
/// its network, before its monitor answers: wait for either event.
fn forward_clashed(vm: &mut Vm, spec: &QemuSpec) -> bool {
    crate::poll_for(Duration::from_secs(30), Duration::from_millis(20), || {
        if vm.try_outcome().is_some() {
            return Some(vm.console().contains("host forwarding"));
        }
        let monitor_up = spec.monitor.as_ref().is_some_and(|p| p.exists());
        (monitor_up && vm.monitor("info status").is_ok()).then_some(false)
    })
    .unwrap_or(false)
}

/// The first network card's name in HMP `info network` output: the line
/// `virtio-net-pci.0: index=0,type=nic,model=...`.
fn nic_name(info: &str) -> Option<&str> {
    info.lines()
        .map(|l| l.trim_start_matches(|c: char| c.is_whitespace() || c == '\\'))
        .find(|l| l.contains("type=nic"))
        .and_then(|l| l.split_once(':'))
        .map(|(name, _)| name.trim())
}

/// Boot QEMU's raspi3b until `needle` is on the serial console; the
/// console and the seconds it took. Panics with the console's tail.
/// (raspi3b has no PCI, no virtio and no firmware: the Raspberry Pi
/// card's test gives it the card's kernel, device tree and initramfs.)
pub fn boot_raspi3b(
    kernel: &Path,
    dtb: &Path,
    initrd: &Path,
    append: &str,
    needle: &str,
    limit: Duration,
) -> (String, f64) {
    let start = Instant::now();
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::sync::{Arc, Mutex};
    let mut child = Command::new("qemu-system-aarch64")
        .args(["-M", "raspi3b", "-kernel"])
        .arg(kernel)
        .arg("-dtb")
        .arg(dtb)
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", append])
        .args(["-serial", "stdio", "-display", "none", "-monitor", "none"])
        .args(["-nic", "none", "-no-reboot"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run qemu-system-aarch64");
    let stdout = child.stdout.take().expect("stdout");
    let guard = crate::ChildGuard(child);
    let console = Arc::new(Mutex::new(String::new()));
    let sink = console.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let mut c = sink.lock().unwrap_or_else(|e| e.into_inner());
            c.push_str(&line);
            c.push('\n');
        }
    });
    let text = || console.lock().unwrap_or_else(|e| e.into_inner()).clone();
    loop {
        let c = text();
        if c.contains(needle) {
            let secs = start.elapsed().as_secs_f64();
            drop(guard);
            return (c, secs);
        }
        if start.elapsed() > limit {
            let tail: String = c
                .chars()
                .rev()
                .take(4000)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            panic!("no {needle:?} on raspi3b within {limit:?}:\n{tail}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
