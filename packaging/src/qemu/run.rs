//! `nodistro run`: the command-line front of the launcher.

use super::{temp_monitor_path, Accel, Forward, Machine, Nic, QemuSpec, Vm};
use argh::FromArgs;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// boot a kernel and initramfs under QEMU (serial console on stdio)
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "run")]
pub struct RunArgs {
    /// the kernel (default: the newest /boot/vmlinuz-*); an xz bzImage is
    /// booted from a cached uncompressed copy, much faster under TCG
    #[argh(option)]
    pub kernel: Option<PathBuf>,
    /// the initramfs to boot
    #[argh(option)]
    pub initrd: PathBuf,
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
    /// machine: pc (default, i440fx), q35 or microvm (virtio-mmio, no PCI)
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
    /// path of the HMP monitor socket (default: a temporary path);
    /// e.g. `echo system_powerdown | socat - UNIX-CONNECT:PATH`
    #[argh(option)]
    pub monitor: Option<PathBuf>,
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

/// Run the subcommand; returns the exit code (0: clean power-off).
pub fn main(args: RunArgs) -> i32 {
    use nodistro_common::report::fail;
    let kernel = match resolve_kernel(args.kernel.as_deref(), args.raw_kernel) {
        Ok(k) => k,
        Err(e) => return fail("nodistro run", &e, 1),
    };
    if !args.initrd.is_file() {
        eprintln!(
            "nodistro run: error: initramfs {} not found: build one with `nodistro build`",
            args.initrd.display()
        );
        return 1;
    }
    let mut spec = QemuSpec::new(kernel, args.initrd);
    spec.append = args.append;
    spec.memory_mb = args.memory;
    spec.nic = args.nic;
    spec.machine = args.machine;
    spec.forwards = args.forward;
    spec.accel = args.accel;
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
    let mut vm = match Vm::spawn(&spec, true, true) {
        Ok(vm) => vm,
        Err(e) => return fail("nodistro run", &e, 1),
    };
    let outcome = vm.wait_exit(args.timeout.map(Duration::from_secs));
    eprintln!("nodistro run: {}", outcome.describe());
    outcome.exit_code()
}
