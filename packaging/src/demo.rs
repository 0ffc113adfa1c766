//! `nodistro demo`: build the demo image (demo-app + the NIC drivers from the
//! installed Debian kernel) and boot it under QEMU with a virtio-net NIC,
//! host 127.0.0.1:PORT forwarded to the app's port 8080.
//!
//! Interactive by default (console on stdio, Ctrl-C powers the guest off). With
//! `--check`: boot, fetch the page, print it, power the guest off through
//! QEMU's monitor, and exit 0 only if every step held; otherwise name the
//! step that failed.

use crate::qemu::{http, temp_monitor_path, Forward, Nic, Outcome, QemuSpec, Vm};
use argh::FromArgs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The app's port inside the guest.
pub const GUEST_PORT: u16 = 8080;
/// What the demo app answers.
pub const GREETING: &str = "Hello from nodistro";
/// Modules the demo image carries: both NIC drivers, the PCI transport for
/// virtio, and the ACPI power button (+ evdev) so `system_powerdown`
/// reaches init as KEY_POWER.
pub const DEMO_MODULES: &[&str] = &["virtio_pci", "virtio_net", "e1000", "button", "evdev"];

/// build the demo image and boot it under QEMU
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "demo")]
pub struct DemoArgs {
    /// non-interactive: boot, fetch the page, power off, exit 0 if all held
    #[argh(switch)]
    pub check: bool,
    /// host port on 127.0.0.1 forwarded to the app (default 8080)
    #[argh(option, default = "8080")]
    pub port: u16,
    /// network card: virtio (default) or e1000
    #[argh(option, default = "Nic::Virtio")]
    pub nic: Nic,
    /// extra kernel command-line argument (repeatable), e.g. ip=... or
    /// logfwd.remote=udp://10.0.2.2:5514
    #[argh(option)]
    pub append: Vec<String>,
    /// the kernel (default: the newest /boot/vmlinuz-*)
    #[argh(option)]
    pub kernel: Option<PathBuf>,
    /// the demo app to pack (default: demo-app next to this nodistro)
    #[argh(option)]
    pub app: Option<PathBuf>,
    /// with --check: seconds allowed for the whole run (default 180)
    #[argh(option, default = "180")]
    pub timeout: u64,
    /// where to write the image (default: demo-initrd.img in the cache
    /// directory, ~/.cache/nodistro)
    #[argh(option, short = 'o')]
    pub output: Option<PathBuf>,
}

/// A step of the demo that failed, and why.
#[derive(Debug, thiserror::Error)]
#[error("step {step:?} failed: {why}")]
pub struct StepError {
    pub step: &'static str,
    pub why: String,
}

fn step(step: &'static str, why: impl Into<String>) -> StepError {
    StepError {
        step,
        why: why.into(),
    }
}

/// Arguments of `nodistro build` for the demo image.
pub fn build_args(app: &Path, kernel_version: &str, out: &Path) -> Vec<String> {
    let mut a = vec![
        "build".to_string(),
        "--app".into(),
        app.display().to_string(),
        "--kernel-version".into(),
        kernel_version.into(),
    ];
    for m in DEMO_MODULES {
        a.push("--module".into());
        a.push(m.to_string());
    }
    a.push("-o".into());
    a.push(out.display().to_string());
    a
}

/// Build the demo image with this same `nodistro` (its `build` command).
fn build_image(args: &DemoArgs, vmlinuz: &Path, out: &Path) -> Result<(), StepError> {
    let exe = std::env::current_exe()
        .map_err(|e| step("build", format!("cannot find the nodistro binary: {e}")))?;
    let app = match &args.app {
        Some(a) => a.clone(),
        None => exe.with_file_name("demo-app"),
    };
    if !app.is_file() {
        return Err(step(
            "build",
            format!(
                "demo app {} not found: run `cargo build --release --workspace --bins` or pass --app",
                app.display()
            ),
        ));
    }
    let release = crate::kernel::release_of(vmlinuz).ok_or_else(|| {
        step(
            "build",
            format!("cannot tell the kernel release of {}", vmlinuz.display()),
        )
    })?;
    let status = Command::new(&exe)
        .args(build_args(&app, &release, out))
        .status()
        .map_err(|e| step("build", format!("cannot run {}: {e}", exe.display())))?;
    if !status.success() {
        return Err(step(
            "build",
            format!("`nodistro build` failed ({status}); its message is above"),
        ));
    }
    Ok(())
}

/// Console lines that show how far the guest got, in boot order, with the
/// step each one proves.
const PROGRESS: &[(&str, &str)] = &[
    (
        "Run /init as init process",
        "the kernel started nodistro's init",
    ),
    ("virtio_net", "a virtio-net driver was loaded"),
    ("e1000", "the e1000 driver was loaded"),
    ("10.0.2.15", "the guest got its address 10.0.2.15"),
    ("init: app ", "init started the demo app"),
];

/// What the console says about how far the boot got: the steps seen and
/// the first one missing.
pub fn diagnose(console: &str, nic: Nic) -> String {
    if console.contains("Kernel panic") {
        return "the guest kernel panicked (see the console)".into();
    }
    let mut seen = Vec::new();
    for (needle, what) in PROGRESS {
        let relevant = match *needle {
            "virtio_net" => nic == Nic::Virtio,
            "e1000" => nic == Nic::E1000,
            _ => true,
        };
        if !relevant {
            continue;
        }
        if console.contains(needle) {
            seen.push(*what);
        } else {
            return format!(
                "on the console: {}; missing: {what} (no {needle:?} on the console)",
                if seen.is_empty() {
                    "nothing from the guest yet".to_string()
                } else {
                    seen.join(", ")
                }
            );
        }
    }
    "every boot step shows on the console, yet the page did not come".into()
}

fn check(vm: &mut Vm, args: &DemoArgs) -> Result<(), StepError> {
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let body = http::poll(addr, "/", GREETING, Duration::from_secs(args.timeout)).map_err(|e| {
        let c = vm.console();
        step("fetch", format!("{e}; {}", diagnose(&c, args.nic)))
    })?;
    println!("{}", body.body.trim_end());
    eprintln!(
        "nodistro demo: fetched http://{addr}/: {}",
        body.body.trim_end()
    );
    // A press before init holds the button's event device is lost: wait
    // for init's line (it comes right after boot), then press.
    if vm
        .wait_for("init: power button on", Duration::from_secs(30))
        .is_err()
    {
        eprintln!("nodistro demo: init has not reported the power button yet; pressing it anyway");
    }
    vm.monitor("system_powerdown")
        .map_err(|e| step("powerdown", nodistro_common::report::chain(&e)))?;
    eprintln!("nodistro demo: sent system_powerdown through the QEMU monitor");
    match vm.wait_exit(Some(Duration::from_secs(60))) {
        Outcome::PoweredOff => Ok(()),
        Outcome::TimedOut => Err(step(
            "poweroff",
            "the guest did not power off within 60 s of system_powerdown (init must take the ACPI power button: the `button` and `evdev` modules are in the image); QEMU was killed",
        )),
        o => Err(step("poweroff", o.describe())),
    }
}

fn run(args: &DemoArgs) -> Result<i32, StepError> {
    let vmlinuz = match &args.kernel {
        Some(k) => k.clone(),
        None => crate::kernel::find_kernel()
            .map_err(|e| step("kernel", nodistro_common::report::chain(&e)))?,
    };
    let boot = crate::kernel::boot_kernel(&vmlinuz)
        .map_err(|e| step("kernel", nodistro_common::report::chain(&e)))?;
    // Say it now rather than have QEMU fail on the forward later.
    if let Err(e) = std::net::TcpListener::bind(("127.0.0.1", args.port)) {
        return Err(step(
            "boot",
            format!(
                "127.0.0.1:{} is not free ({e}): pass --port with a free port",
                args.port
            ),
        ));
    }
    // In the cache, not a temporary directory: Ctrl-C ends this process
    // too, and the next run overwrites it (the packager renames atomically).
    let image = args
        .output
        .clone()
        .unwrap_or_else(|| crate::kernel::cache_dir().join("demo-initrd.img"));
    if let Some(dir) = image.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| step("build", format!("cannot create {}: {e}", dir.display())))?;
    }
    build_image(args, &vmlinuz, &image)?;

    let mut spec = QemuSpec::new(boot, image);
    spec.nic = args.nic;
    spec.forwards = vec![Forward {
        host: args.port,
        guest: GUEST_PORT,
        guest_addr: None,
    }];
    spec.append = args.append.clone();
    spec.monitor = Some(temp_monitor_path("demo"));
    eprintln!(
        "nodistro demo: booting; the app will answer on http://127.0.0.1:{}/{}",
        args.port,
        if args.check {
            ""
        } else {
            " (Ctrl-C powers it off)"
        }
    );
    // Interactive: Ctrl-C powers the guest off, as with `nodistro run`
    // (the signals are blocked before QEMU's console threads start).
    let signals = if args.check {
        None
    } else {
        Some(
            crate::qemu::host::stop_signals()
                .map_err(|e| step("boot", format!("cannot take the stop signals: {e}")))?,
        )
    };
    let terminal = signals
        .as_ref()
        .and_then(|_| crate::qemu::host::RawTerminal::enter());
    let mut vm = Vm::spawn(&spec, !args.check, true)
        .map_err(|e| step("boot", nodistro_common::report::chain(&e)))?;
    if let Some(signals) = &signals {
        let outcome = vm.supervise(None, Duration::from_secs(10), signals);
        drop(terminal);
        eprintln!("nodistro demo: {}", outcome.describe());
        return Ok(outcome.exit_code(vm.app_status()));
    }
    check(&mut vm, args)?;
    eprintln!("nodistro demo: every step held: built, booted, served, powered off");
    Ok(0)
}

/// Run the subcommand; returns the exit code.
pub fn main(args: DemoArgs) -> i32 {
    match run(&args) {
        Ok(code) => code,
        Err(e) => nodistro_common::report::fail("nodistro demo", &e, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_args_carry_the_drivers() {
        let a = build_args(
            Path::new("/r/demo-app"),
            "6.1.0-56-amd64",
            Path::new("/t/x.img"),
        );
        let line = a.join(" ");
        assert!(line.starts_with("build --app /r/demo-app --kernel-version 6.1.0-56-amd64"));
        assert!(line.contains("--module virtio_pci --module virtio_net --module e1000"));
        assert!(line.ends_with("-o /t/x.img"));
    }

    #[test]
    fn diagnosis_names_the_first_missing_step() {
        assert!(diagnose("", Nic::Virtio).contains("nothing from the guest"));
        let c = "Run /init as init process\n virtio_net virtio0 eth0\n";
        let d = diagnose(c, Nic::Virtio);
        assert!(d.contains("missing: the guest got its address"), "{d}");
        let d = diagnose("Run /init as init process\n", Nic::E1000);
        assert!(d.contains("missing: the e1000 driver"), "{d}");
        assert!(diagnose("Kernel panic - not syncing", Nic::Virtio).contains("panicked"));
    }

    #[test]
    fn step_errors_name_the_step() {
        let e = step("fetch", "no answer");
        assert_eq!(e.to_string(), "step \"fetch\" failed: no answer");
    }
}
