//! `nodistro run`: the command-line front of the launcher.

use super::image::{image_spec_for, kind_of, BootFiles, Firmware, FirmwareOpts, ImageKind};
use super::{temp_monitor_path, Accel, Forward, Machine, Nic, QemuSpec, Vm, EXIT_USAGE};
use crate::core::arch::Arch;
use argh::FromArgs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// boot a kernel and initramfs, or a UKI, disk or ISO image, under QEMU
/// (serial console on stdio)
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "run")]
pub struct RunArgs {
    /// the kernel (default: the newest /boot/vmlinuz-*; with --arch
    /// aarch64, Debian's arm64 kernel, fetched into the cache); an xz
    /// bzImage is booted from a cached uncompressed copy, much faster
    /// under TCG
    #[argh(option)]
    pub kernel: Option<PathBuf>,
    /// the guest's architecture: x86_64 (default) or aarch64
    /// (qemu-system-aarch64 -M virt under TCG, console ttyAMA0)
    #[argh(option)]
    pub arch: Option<Arch>,
    /// the initramfs to boot (with the kernel)
    #[argh(option)]
    pub initrd: Option<PathBuf>,
    /// an image to boot instead: a UKI, disk or ISO from `nodistro build
    /// --format uki|disk|iso` (or an initramfs, as --initrd)
    #[argh(option)]
    pub image: Option<PathBuf>,
    /// firmware for --image: uefi (OVMF on q35; default for a UKI or disk)
    /// or bios (SeaBIOS; default for an ISO)
    #[argh(option)]
    pub firmware: Option<Firmware>,
    /// directory holding OVMF_CODE_4M.fd and OVMF_VARS_4M.fd (default
    /// /usr/share/OVMF, package ovmf; aarch64: AAVMF_CODE.fd and
    /// AAVMF_VARS.fd, /usr/share/AAVMF, package qemu-efi-aarch64)
    #[argh(option)]
    pub ovmf_dir: Option<PathBuf>,
    /// boot with a copy of this OVMF variable store (default
    /// OVMF_VARS_4M.fd; with --secure-boot OVMF_VARS_4M.snakeoil.fd): one
    /// holding your own Secure Boot keys (virt-fw-vars)
    #[argh(option)]
    pub ovmf_vars: Option<PathBuf>,
    /// UEFI Secure Boot on: OVMF_CODE_4M.secboot.fd on q35 with SMM, and
    /// the snakeoil keys (or --ovmf-vars); an image not signed by a key in
    /// the firmware's db is refused (exit 126)
    #[argh(switch)]
    pub secure_boot: bool,
    /// a persistent UEFI variable store, used in place (created from the
    /// template, the snakeoil one with --secure-boot or --ovmf-vars, when
    /// FILE does not exist): boot entries survive across runs
    #[argh(option)]
    pub efi_vars: Option<PathBuf>,
    /// guest reboots stay in QEMU (the run ends at power-off), e.g. an
    /// update rebooting into its new slot; default: a reboot ends the run
    #[argh(switch)]
    pub reboot: bool,
    /// boot the kernel file exactly as given (no uncompressed cache)
    #[argh(switch)]
    pub raw_kernel: bool,
    /// extra kernel command-line argument (repeatable); always present:
    /// "console=ttyS0 panic=-1 no_timer_check"
    #[argh(option)]
    pub append: Vec<String>,
    /// guest memory in MB (default 256)
    #[argh(option, default = "256")]
    pub memory: u32,
    /// network card: virtio (default), e1000 or none
    #[argh(option, default = "Nic::Virtio")]
    pub nic: Nic,
    /// machine: pc (default, i440fx), q35 or microvm (virtio-mmio, no
    /// PCI); virt for aarch64 (the default with --arch aarch64)
    #[argh(option, default = "Machine::Pc")]
    pub machine: Machine,
    /// forward host 127.0.0.1:HOST to guest TCP port GUEST (repeatable)
    #[argh(option)]
    pub forward: Vec<Forward>,
    /// accelerator: tcg (default) or kvm
    #[argh(option, default = "Accel::Tcg")]
    pub accel: Accel,
    /// kill QEMU after this many seconds and exit 124
    #[argh(option)]
    pub timeout: Option<u64>,
    /// seconds the guest has to power off after SIGTERM, SIGINT or SIGHUP
    /// (the power button is pressed) before QEMU is killed (default 10)
    #[argh(option, default = "10")]
    pub grace: u64,
    /// path of the HMP monitor socket (default: a temporary path);
    /// e.g. `echo system_powerdown | socat - UNIX-CONNECT:PATH`
    #[argh(option)]
    pub monitor: Option<PathBuf>,
    /// after the boot, draw it from the console as an SVG chart here
    #[argh(option)]
    pub chart: Option<PathBuf>,
}

/// The kernel QEMU should load for `given` (default: the newest in /boot).
pub fn resolve_kernel(
    given: Option<&Path>,
    raw: bool,
) -> Result<PathBuf, crate::kernel::KernelError> {
    let vmlinuz = match given {
        Some(k) => k.to_path_buf(),
        None => crate::kernel::find_kernel()?,
    };
    if raw {
        Ok(vmlinuz)
    } else {
        crate::kernel::boot_kernel(&vmlinuz)
    }
}

/// [`resolve_kernel`] for `machine`. microvm boots the bzImage as it is:
/// QEMU 10's PVH loader (the uncompressed ELF's entry) puts the initramfs
/// at the very top of microvm's RAM, over the ACPI tables its firmware
/// keeps there (`ACPI: XSDT 0x0FFFFFB2`), and the guest then hangs at
/// "ACPI: Core revision" or runs without its virtio-mmio devices; the
/// bzImage path leaves them their 64 KiB.
///
/// On `virt` (aarch64) the default is Debian's arm64 kernel from the cache
/// (`nodistro build --arch aarch64` fetched it; fetched here otherwise),
/// booted as it is: an arm64 `Image` is not compressed.
pub fn resolve_kernel_for(
    given: Option<&Path>,
    raw: bool,
    machine: Machine,
) -> Result<PathBuf, crate::kernel::KernelError> {
    if machine.arch() == Arch::Aarch64 {
        return match given {
            Some(k) => Ok(k.to_path_buf()),
            None => crate::debkernel::fetch(Arch::Aarch64)
                .map(|k| k.vmlinuz)
                .map_err(|e| crate::kernel::KernelError::Foreign(Box::new(e))),
        };
    }
    resolve_kernel(given, raw || machine == Machine::Microvm)
}

/// The machine of `--arch` and `--machine`: `virt` for aarch64, the
/// x86 machines for x86_64; a mismatch is a one-line refusal.
pub fn machine_for(arch: Option<Arch>, machine: Machine) -> Result<Machine, String> {
    match (arch, machine) {
        (None, m) => Ok(m),
        (Some(Arch::Aarch64), Machine::Pc) => Ok(Machine::Virt),
        (Some(a), m) if m.arch() == a => Ok(m),
        (Some(a), m) => Err(format!(
            "--machine {} is not an {} machine: use --machine {}",
            m.qemu_value().split(',').next().unwrap_or_default(),
            a.name(),
            Machine::default_for(a).qemu_value()
        )),
    }
}

/// Run the subcommand; returns the exit code: after a clean power-off the
/// app's status, else one of [`super::Outcome::exit_code`]'s own codes
/// (README, "Exit status"); [`EXIT_USAGE`] before anything booted.
pub fn main(args: RunArgs) -> i32 {
    use nodistro_common::report::fail;
    let machine = match machine_for(args.arch, args.machine) {
        Ok(m) => m,
        Err(e) => return usage(&e),
    };
    if machine == Machine::Microvm && args.nic == Nic::E1000 {
        return usage("--nic e1000 needs PCI, which microvm has none of: use --nic virtio (virtio-mmio) or --machine pc|q35");
    }
    let (mut spec, _files) = match boot_spec(&args, machine) {
        Ok(b) => b,
        Err(code) => return code,
    };
    spec.memory_mb = args.memory;
    spec.nic = args.nic;
    spec.forwards = args.forward;
    spec.accel = args.accel;
    spec.reboot = args.reboot;
    if let Some(m) = &args.monitor {
        use std::os::unix::fs::FileTypeExt;
        // QEMU unlinks the path before it binds: never let it take a file.
        if std::fs::symlink_metadata(m).is_ok_and(|md| !md.file_type().is_socket()) {
            eprintln!(
                "nodistro run: error: --monitor {} exists and is not a socket; choose a new path",
                m.display()
            );
            return 2;
        }
    }
    spec.monitor = Some(args.monitor.unwrap_or_else(|| temp_monitor_path("run")));
    // Before QEMU and the console threads start, which inherit the mask.
    let signals = match super::host::stop_signals() {
        Ok(fd) => fd,
        Err(e) => return fail("nodistro run: cannot take the stop signals", &e, EXIT_USAGE),
    };
    let terminal = super::host::RawTerminal::enter();
    let mut vm = match Vm::spawn(&spec, true, true) {
        Ok(vm) => vm,
        Err(e) => return fail("nodistro run", &e, super::EXIT_QEMU_FAILED),
    };
    let outcome = vm.supervise(
        args.timeout.map(Duration::from_secs),
        Duration::from_secs(args.grace),
        &signals,
    );
    drop(terminal);
    report(&vm, outcome, args.chart.as_deref())
}

/// A usage error, said; its exit code.
fn usage(msg: &str) -> i32 {
    eprintln!("nodistro run: error: {msg}");
    EXIT_USAGE
}

/// What to boot: `--image` (through firmware) or `--initrd` with a
/// kernel, checked against the flags; Err is the exit code of a refusal
/// already said.
fn boot_spec(args: &RunArgs, machine: Machine) -> Result<(QemuSpec, BootFiles), i32> {
    use nodistro_common::report::fail;
    let mut initrd = args.initrd.clone();
    let mut image = None;
    match (&args.image, &args.initrd) {
        (Some(_), Some(_)) => return Err(usage("give --image or --initrd, not both")),
        (None, None) => {
            return Err(usage(
                "nothing to boot: give --image FILE (a UKI, disk or ISO) or --initrd FILE",
            ))
        }
        (Some(p), None) => match kind_of(p) {
            Ok(ImageKind::Initramfs) => initrd = Some(p.clone()),
            Ok(_) => image = Some(p.clone()),
            Err(e) => return Err(fail("nodistro run", &e, EXIT_USAGE)),
        },
        (None, Some(_)) => {}
    }
    match (image, initrd) {
        (Some(img), _) => {
            if !args.append.is_empty() {
                return Err(usage("--append does not reach a UKI, disk or ISO: its command line is set when it is built (nodistro build --cmdline)"));
            }
            let fw = FirmwareOpts {
                firmware: args.firmware,
                ovmf_dir: args.ovmf_dir.clone(),
                vars: args.ovmf_vars.clone(),
                secure_boot: args.secure_boot,
                efi_vars: args.efi_vars.clone(),
            };
            match image_spec_for(&img, &fw, machine.arch()) {
                Ok((mut spec, files)) => {
                    if spec.ovmf.is_none() {
                        spec.machine = machine;
                    }
                    Ok((spec, files))
                }
                Err(e) => Err(fail("nodistro run", &e, EXIT_USAGE)),
            }
        }
        (None, Some(initrd)) => initrd_spec(args, initrd, machine),
        (None, None) => Err(usage("nothing to boot")),
    }
}

/// A kernel and `initrd` booted directly (no firmware); Err is the exit
/// code of a refusal already said.
fn initrd_spec(
    args: &RunArgs,
    initrd: PathBuf,
    machine: Machine,
) -> Result<(QemuSpec, BootFiles), i32> {
    use nodistro_common::report::fail;
    if args.firmware.is_some() {
        return Err(usage(
            "--firmware is for --image; a kernel and initramfs boot directly",
        ));
    }
    if args.efi_vars.is_some() {
        return Err(usage("--efi-vars is for --image (a UKI, disk or ISO booted through UEFI firmware); a kernel and initramfs boot without firmware"));
    }
    if args.secure_boot || args.ovmf_vars.is_some() {
        return Err(usage("--secure-boot and --ovmf-vars are for --image (a signed UKI, disk or ISO the firmware checks); a kernel and initramfs boot without firmware"));
    }
    // A given kernel's architecture first: its bytes are not
    // searched for an xz stream before it is known to be x86's.
    let given = args.kernel.as_deref();
    if let Some((k, found)) = given
        .and_then(|k| kernel_arch(k).map(|a| (k, a)))
        .filter(|(_, a)| *a != machine.arch())
    {
        return Err(usage(&format!(
            "the kernel {} is an {} kernel, and --machine {} is {}: pass --arch {} or an {} kernel ({})",
            k.display(),
            found.name(),
            machine.qemu_value().split(',').next().unwrap_or_default(),
            machine.arch().name(),
            found.name(),
            machine.arch().name(),
            machine.arch().kernel_package()
        )));
    }
    let kernel = match resolve_kernel_for(given, args.raw_kernel, machine) {
        Ok(k) => k,
        Err(e) => return Err(fail("nodistro run", &e, EXIT_USAGE)),
    };
    if !initrd.is_file() {
        eprintln!(
            "nodistro run: error: initramfs {} not found: build one with `nodistro build`",
            initrd.display()
        );
        return Err(EXIT_USAGE);
    }
    let mut spec = QemuSpec::new(kernel, initrd);
    spec.append = args.append.clone();
    spec.set_machine(machine);
    Ok((spec, BootFiles::default()))
}

/// Say how the run ended (and write `--chart`); the exit code.
fn report(vm: &Vm, outcome: super::Outcome, chart: Option<&Path>) -> i32 {
    let code = outcome.exit_code(vm.app_status());
    match (outcome, vm.app_status()) {
        (super::Outcome::PoweredOff, Some(status)) => eprintln!(
            "nodistro run: {}; the app's status was {status}",
            outcome.describe()
        ),
        _ => eprintln!("nodistro run: {}", outcome.describe()),
    }
    if let Some(path) = chart {
        match crate::chart::write_chart(&vm.console(), path) {
            Ok(n) => eprintln!(
                "nodistro run: boot chart ({n} stages) in {}",
                path.display()
            ),
            Err(e) => eprintln!("nodistro run: no chart: {e}"),
        }
    }
    code
}

/// The architecture of a kernel file (its first 4 KiB), None when it
/// cannot be told.
fn kernel_arch(path: &Path) -> Option<Arch> {
    use std::io::Read;
    let mut head = Vec::with_capacity(4096);
    std::fs::File::open(path)
        .and_then(|f| f.take(4096).read_to_end(&mut head))
        .ok()?;
    Arch::of_kernel(&head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arch_picks_the_machine() {
        assert_eq!(machine_for(None, Machine::Q35), Ok(Machine::Q35));
        assert_eq!(
            machine_for(Some(Arch::Aarch64), Machine::Pc),
            Ok(Machine::Virt)
        );
        assert_eq!(machine_for(None, Machine::Virt), Ok(Machine::Virt));
        let e = machine_for(Some(Arch::Aarch64), Machine::Microvm).expect_err("refused");
        assert_eq!(
            e,
            "--machine microvm is not an aarch64 machine: use --machine virt"
        );
        assert!(machine_for(Some(Arch::X86_64), Machine::Virt).is_err());
    }
}
