//! The QEMU command line: options in, qemu-system-x86_64 argv out (sans-IO).

use super::image::{BootImage, Media, Ovmf};
use crate::core::arch::Arch;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Kernel arguments every boot gets: the console on the first serial port
/// (QEMU's stdio), an immediate reboot on panic, which `-no-reboot` turns
/// into QEMU exiting instead of hanging, and `no_timer_check`: on a loaded
/// host the kernel's IO-APIC timer check fails under TCG and panics
/// ("IO-APIC + timer doesn't work!"), as it does on busy hypervisors.
pub const BASE_APPEND: &str = "console=ttyS0 panic=-1 no_timer_check";

/// [`BASE_APPEND`] of QEMU's arm `virt` machine: its serial port is a PL011
/// (`ttyAMA0`); the x86 timer check does not exist there.
pub const BASE_APPEND_VIRT: &str = "console=ttyAMA0 panic=-1";

/// The emulated network card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nic {
    Virtio,
    E1000,
    None,
}

impl std::str::FromStr for Nic {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "virtio" | "virtio-net" => Ok(Nic::Virtio),
            "e1000" => Ok(Nic::E1000),
            "none" => Ok(Nic::None),
            _ => Err(format!("unknown NIC {s:?}: use virtio, e1000 or none")),
        }
    }
}

/// The emulated machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    /// QEMU's default i440fx PC (PCI, ISA serial, ACPI power button).
    Pc,
    /// The Q35 chipset (PCIe); what UEFI firmware (OVMF) boots on.
    Q35,
    /// QEMU's microvm: virtio-mmio devices described by ACPI, no PCI, the
    /// device model of Firecracker. Under TCG the kernel needs the PIT to
    /// calibrate its clock, and the RTC for the time of day, so they are on.
    /// The 8259 PIC is off: the kernel routes IRQs through the IO-APIC, and
    /// an unprogrammed PIC's timer interrupt arrives as vector 0, which
    /// the kernel takes for a divide error and panics on ("Attempted to
    /// kill the idle task!") in a share of boots that QEMU 10 made large.
    Microvm,
    /// QEMU's arm `virt` (aarch64): PCIe (virtio-net-pci), a PL011 serial
    /// port, and, booted with `-kernel` (no firmware), a device tree whose
    /// power button is a GPIO key (`gpio_keys`, KEY_POWER).
    Virt,
}

impl Machine {
    /// The value of `-machine`.
    pub fn qemu_value(self) -> &'static str {
        match self {
            Machine::Pc => "pc",
            Machine::Q35 => "q35",
            Machine::Microvm => "microvm,pit=on,pic=off,rtc=on",
            Machine::Virt => "virt",
        }
    }

    /// The architecture the machine emulates.
    pub fn arch(self) -> Arch {
        match self {
            Machine::Virt => Arch::Aarch64,
            _ => Arch::X86_64,
        }
    }

    /// The default machine of an architecture.
    pub fn default_for(arch: Arch) -> Machine {
        match arch {
            Arch::X86_64 => Machine::Pc,
            Arch::Aarch64 => Machine::Virt,
        }
    }
}

impl std::str::FromStr for Machine {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pc" => Ok(Machine::Pc),
            "q35" => Ok(Machine::Q35),
            "microvm" => Ok(Machine::Microvm),
            "virt" => Ok(Machine::Virt),
            _ => Err(format!(
                "unknown machine {s:?}: use pc, q35 or microvm (x86_64), or virt (aarch64); see qemu-system-x86_64 -machine help"
            )),
        }
    }
}

/// QEMU's accelerator. KVM hangs on the machines this was built on: TCG is
/// the default and KVM an explicit choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    Tcg,
    Kvm,
}

impl std::str::FromStr for Accel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "tcg" => Ok(Accel::Tcg),
            "kvm" => Ok(Accel::Kvm),
            _ => Err(format!("unknown accelerator {s:?}: use tcg or kvm")),
        }
    }
}

/// A host port forwarded to a guest TCP port (host side on 127.0.0.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forward {
    pub host: u16,
    pub guest: u16,
    /// The guest address to reach (default: QEMU's first DHCP address,
    /// 10.0.2.15); for a guest configured with a static `ip=`.
    pub guest_addr: Option<std::net::Ipv4Addr>,
}

impl std::str::FromStr for Forward {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("bad forward {s:?}: use HOSTPORT:GUESTPORT, e.g. 8080:8080");
        let (h, g) = s.split_once(':').ok_or_else(bad)?;
        Ok(Forward {
            host: h.parse().map_err(|_| bad())?,
            guest: g.parse().map_err(|_| bad())?,
            guest_addr: None,
        })
    }
}

/// Everything that goes on QEMU's command line.
#[derive(Debug, Clone)]
pub struct QemuSpec {
    /// The QEMU binary (`qemu-system-x86_64`).
    pub qemu: PathBuf,
    /// What QEMU loads with `-kernel` (a bzImage or an uncompressed vmlinux);
    /// None when an [`image`](Self::image) is booted.
    pub kernel: Option<PathBuf>,
    pub initrd: Option<PathBuf>,
    /// A UKI, disk or ISO the firmware boots (instead of `-kernel`).
    pub image: Option<BootImage>,
    /// UEFI firmware (None: QEMU's SeaBIOS).
    pub ovmf: Option<Ovmf>,
    /// Arguments after [`BASE_APPEND`].
    pub append: Vec<String>,
    pub memory_mb: u32,
    pub machine: Machine,
    pub nic: Nic,
    pub forwards: Vec<Forward>,
    pub accel: Accel,
    /// Path of the HMP monitor's unix socket.
    pub monitor: Option<PathBuf>,
    /// Further QEMU arguments, added before the kernel (drives, devices,
    /// `-rtc`, chardevs): what one boot needs and the launcher need not know.
    pub extra_args: Vec<OsString>,
    /// The host's TSC rate in kHz. On microvm under TCG the kernel has no
    /// HPET or ACPI PM timer to calibrate the TSC against, and its PIT
    /// calibration fails when the host is busy (seen: hang after "tsc:
    /// Marking TSC unstable"); TCG's TSC runs at the host's rate, so the
    /// kernel is told it (`tsc_early_khz=`).
    pub tsc_khz: Option<u32>,
    /// `restrict=on` on the user network: the guest reaches nothing but
    /// QEMU's own services (DHCP, 10.0.2.2's ICMP echo) and the forwards.
    pub restrict: bool,
    /// Guest reboots stay in QEMU (no `-no-reboot`): the run ends at
    /// power-off. For an A/B disk whose update reboots into the new slot.
    pub reboot: bool,
}

impl QemuSpec {
    /// Defaults: TCG, 256 MB, virtio NIC, no forwards, no monitor.
    pub fn new(kernel: PathBuf, initrd: PathBuf) -> Self {
        QemuSpec {
            qemu: PathBuf::from("qemu-system-x86_64"),
            kernel: Some(kernel),
            initrd: Some(initrd),
            image: None,
            ovmf: None,
            append: Vec::new(),
            memory_mb: 256,
            machine: Machine::Pc,
            nic: Nic::Virtio,
            forwards: Vec::new(),
            accel: Accel::Tcg,
            monitor: None,
            extra_args: Vec::new(),
            tsc_khz: None,
            restrict: false,
            reboot: false,
        }
    }

    /// Set the machine, and the QEMU binary of its architecture.
    pub fn set_machine(&mut self, machine: Machine) {
        self.machine = machine;
        self.qemu = PathBuf::from(machine.arch().qemu().0);
    }

    /// The full kernel command line.
    pub fn append_line(&self) -> String {
        let mut line = match self.machine {
            Machine::Virt => BASE_APPEND_VIRT,
            _ => BASE_APPEND,
        }
        .to_string();
        if let (Machine::Microvm, Accel::Tcg, Some(khz)) = (self.machine, self.accel, self.tsc_khz)
        {
            line.push_str(&format!(" tsc_early_khz={khz}"));
        }
        for a in &self.append {
            line.push(' ');
            line.push_str(a);
        }
        line
    }

    /// QEMU's arguments (without the program name).
    pub fn args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = Vec::new();
        self.machine_args(&mut a);
        let mut push = |s: &str| a.push(s.into());
        push("-nodefaults");
        push("-no-user-config");
        push("-display");
        push("none");
        push("-accel");
        push(match self.accel {
            Accel::Tcg => "tcg",
            Accel::Kvm => "kvm",
        });
        push("-m");
        push(&self.memory_mb.to_string());
        if !self.reboot {
            push("-no-reboot");
        }
        // The serial console on stdio: a pipe, never the terminal, which
        // `nodistro run` owns (Ctrl-C powers the guest off, qemu/host.rs).
        push("-chardev");
        push("stdio,id=console,signal=off");
        push("-serial");
        push("chardev:console");
        self.nic_args(&mut a);
        if let Some(m) = &self.monitor {
            a.push("-monitor".into());
            let mut opt = OsString::from("unix:");
            opt.push(escape_commas(m));
            opt.push(",server=on,wait=off");
            a.push(opt);
        }
        a.extend(self.extra_args.iter().cloned());
        self.drive_args(&mut a);
        if let Some(k) = &self.kernel {
            a.push("-kernel".into());
            a.push(escape_commas(k));
            if let Some(i) = &self.initrd {
                a.push("-initrd".into());
                a.push(escape_commas(i));
            }
            a.push("-append".into());
            a.push(self.append_line().into());
        }
        a
    }

    /// `-machine` (with SMM for Secure Boot's OVMF) and virt's `-cpu`.
    fn machine_args(&self, a: &mut Vec<OsString>) {
        let mut push = |s: &str| a.push(s.into());
        push("-machine");
        let secure = self.ovmf.as_ref().is_some_and(|o| o.secure_boot);
        if secure && self.machine != Machine::Virt {
            // OVMF's Secure Boot build keeps its variables behind SMM
            // (AAVMF on virt has no SMM).
            push(&format!("{},smm=on", self.machine.qemu_value()));
            push("-global");
            push("driver=cfi.pflash01,property=secure,value=on");
        } else {
            push(self.machine.qemu_value());
        }
        if self.machine == Machine::Virt {
            // TCG's fastest full CPU: `max` with the pointer-authentication
            // hash QEMU implements cheaply (the architected QARMA is slow
            // to emulate).
            push("-cpu");
            push("max,pauth-impdef=on");
        }
    }

    /// The NIC: user networking with the forwards, or none.
    fn nic_args(&self, a: &mut Vec<OsString>) {
        let mut push = |s: &str| a.push(s.into());
        match self.nic {
            Nic::None => {
                push("-nic");
                push("none");
            }
            nic => {
                let model = match (nic, self.machine) {
                    (Nic::Virtio, Machine::Microvm) => "virtio-net-device",
                    (Nic::Virtio, _) => "virtio-net-pci",
                    _ => "e1000",
                };
                let mut fwd = String::new();
                if self.restrict {
                    fwd.push_str(",restrict=on");
                }
                for f in &self.forwards {
                    let to = f.guest_addr.map(|a| a.to_string()).unwrap_or_default();
                    fwd.push_str(&format!(
                        ",hostfwd=tcp:127.0.0.1:{}-{to}:{}",
                        f.host, f.guest
                    ));
                }
                if self.machine == Machine::Microvm {
                    // microvm has no slot `-nic` can plug a card into (QEMU
                    // 7.2: "requested NIC ... was not created"): a netdev
                    // and a virtio-mmio device.
                    push("-netdev");
                    push(&format!("user,id=net0{fwd}"));
                    push("-device");
                    push(&format!("{model},netdev=net0"));
                } else {
                    push("-nic");
                    push(&format!("user,model={model}{fwd}"));
                }
            }
        }
    }

    /// The firmware's flash drives and the boot image's drive.
    fn drive_args(&self, a: &mut Vec<OsString>) {
        if let Some(o) = &self.ovmf {
            for (unit, file, ro) in [(0, &o.code, ",readonly=on"), (1, &o.vars, "")] {
                a.push("-drive".into());
                let mut opt = OsString::from(format!("if=pflash,format=raw,unit={unit}{ro},file="));
                opt.push(escape_commas(file));
                a.push(opt);
            }
        }
        if let Some(img) = &self.image {
            let (drive, device) = match img.media {
                Media::Disk => ("", "virtio-blk-pci"),
                // virt has no IDE: the CD on a virtio-scsi controller.
                Media::Cdrom if self.machine == Machine::Virt => {
                    a.push("-device".into());
                    a.push("virtio-scsi-pci,id=scsi0".into());
                    (",media=cdrom,readonly=on", "scsi-cd")
                }
                Media::Cdrom => (",media=cdrom,readonly=on", "ide-cd"),
            };
            a.push("-drive".into());
            let mut opt = OsString::from(format!("if=none,id=boot,format=raw{drive},file="));
            opt.push(escape_commas(&img.path));
            a.push(opt);
            a.push("-device".into());
            a.push(format!("{device},drive=boot,bootindex=0").into());
        }
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.qemu);
        c.args(self.args());
        c
    }
}

/// The first CPU's rate in kHz from /proc/cpuinfo text (`cpu MHz : 2300.000`).
pub fn tsc_khz_from_cpuinfo(text: &str) -> Option<u32> {
    let line = text.lines().find(|l| l.starts_with("cpu MHz"))?;
    let mhz: f64 = line.split(':').nth(1)?.trim().parse().ok()?;
    let khz = (mhz * 1000.0).round();
    (khz >= 1.0 && khz < f64::from(u32::MAX)).then_some(khz as u32)
}

/// QEMU option values use `,` as a separator; a literal comma is doubled.
fn escape_commas(p: &Path) -> OsString {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let mut out = Vec::new();
    for &b in p.as_os_str().as_bytes() {
        out.push(b);
        if b == b',' {
            out.push(b',');
        }
    }
    OsString::from_vec(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> QemuSpec {
        QemuSpec::new("/k/vmlinux".into(), "/i/init,rd.cpio".into())
    }

    fn joined(s: &QemuSpec) -> String {
        s.args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn command_line_defaults() {
        let line = joined(&spec());
        assert!(line.contains("-accel tcg"), "{line}");
        assert!(line.contains("-no-reboot"));
        assert!(line.contains("-m 256"));
        assert!(line.contains("-serial chardev:console"));
        assert!(line.contains("-nic user,model=virtio-net-pci "));
        assert!(line.contains("-kernel /k/vmlinux"));
        assert!(line.contains("-initrd /i/init,,rd.cpio"), "commas doubled");
        assert!(line.ends_with("-append console=ttyS0 panic=-1 no_timer_check"));
        assert!(!line.contains("-monitor"));
        let mut s = spec();
        s.reboot = true;
        assert!(!joined(&s).contains("-no-reboot"), "reboots stay in QEMU");
    }

    #[test]
    fn command_line_options() {
        let mut s = spec();
        s.nic = Nic::E1000;
        s.accel = Accel::Kvm;
        s.memory_mb = 512;
        s.forwards = vec![
            "8080:80".parse().expect("forward"),
            Forward {
                host: 1,
                guest: 2,
                guest_addr: Some([10, 0, 2, 77].into()),
            },
        ];
        s.append = vec!["ip=dhcp".into(), "init.on_exit=reboot".into()];
        s.monitor = Some("/run/m.sock".into());
        let line = joined(&s);
        assert!(line.contains("-accel kvm"));
        assert!(line.contains("-m 512"));
        assert!(line.contains(
            "-nic user,model=e1000,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=tcp:127.0.0.1:1-10.0.2.77:2 "
        ));
        assert!(line.contains("-monitor unix:/run/m.sock,server=on,wait=off"));
        assert!(line.ends_with("console=ttyS0 panic=-1 no_timer_check ip=dhcp init.on_exit=reboot"));
        s.nic = Nic::None;
        assert!(joined(&s).contains("-nic none"));
        assert!(joined(&s).starts_with("-machine pc "));
        s.machine = Machine::Microvm;
        s.nic = Nic::Virtio;
        let line = joined(&s);
        assert!(
            line.starts_with("-machine microvm,pit=on,pic=off,rtc=on "),
            "{line}"
        );
        assert!(
            line.contains(
                "-netdev user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=tcp:127.0.0.1:1-10.0.2.77:2 -device virtio-net-device,netdev=net0 "
            ),
            "{line}"
        );
        assert!(!line.contains("tsc_early_khz"), "{line}");
        s.tsc_khz = Some(2_300_000);
        assert!(!joined(&s).contains("tsc_early_khz"), "KVM has a real TSC");
        s.accel = Accel::Tcg;
        assert!(joined(&s).contains("no_timer_check tsc_early_khz=2300000 ip=dhcp"));
        s.machine = Machine::Pc;
        assert!(
            !joined(&s).contains("tsc_early_khz"),
            "only microvm needs it"
        );
    }

    #[test]
    fn command_line_virt() {
        let mut s = spec();
        s.set_machine(Machine::Virt);
        s.forwards = vec!["8080:80".parse().expect("forward")];
        s.restrict = true;
        assert_eq!(s.qemu, PathBuf::from("qemu-system-aarch64"));
        let line = joined(&s);
        assert!(
            line.starts_with("-machine virt -cpu max,pauth-impdef=on "),
            "{line}"
        );
        assert!(
            line.contains(
                "-nic user,model=virtio-net-pci,restrict=on,hostfwd=tcp:127.0.0.1:8080-:80"
            ),
            "{line}"
        );
        assert!(line.ends_with("-append console=ttyAMA0 panic=-1"), "{line}");
        assert!(!line.contains("ttyS0"), "{line}");
        assert_eq!("virt".parse::<Machine>(), Ok(Machine::Virt));
        assert_eq!(Machine::default_for(Arch::Aarch64), Machine::Virt);
    }

    #[test]
    fn tsc_rate_from_cpuinfo() {
        let text = "processor\t: 0\nmodel name\t: X\ncpu MHz\t\t: 2300.000\nflags\t: tsc\n";
        assert_eq!(tsc_khz_from_cpuinfo(text), Some(2_300_000));
        assert_eq!(
            tsc_khz_from_cpuinfo("cpu MHz : 1999.998\n"),
            Some(1_999_998)
        );
        assert_eq!(tsc_khz_from_cpuinfo("cpu MHz : fast\n"), None);
        assert_eq!(tsc_khz_from_cpuinfo(""), None);
    }

    #[test]
    fn command_line_for_images() {
        let mut s = spec();
        s.kernel = None;
        s.initrd = None;
        s.machine = Machine::Q35;
        s.ovmf = Some(Ovmf {
            code: "/o/CODE.fd".into(),
            vars: "/t/va,rs.fd".into(),
            secure_boot: false,
        });
        s.image = Some(BootImage {
            path: "/i/disk.img".into(),
            media: Media::Disk,
        });
        let line = joined(&s);
        assert!(line.starts_with("-machine q35 "), "{line}");
        assert!(line.contains("-drive if=pflash,format=raw,unit=0,readonly=on,file=/o/CODE.fd -drive if=pflash,format=raw,unit=1,file=/t/va,,rs.fd"), "{line}");
        assert!(line.ends_with("-drive if=none,id=boot,format=raw,file=/i/disk.img -device virtio-blk-pci,drive=boot,bootindex=0"), "{line}");
        assert!(!line.contains("-kernel") && !line.contains("-append"));
        assert!(!line.contains("smm") && !line.contains("-global"), "{line}");
        if let Some(o) = s.ovmf.as_mut() {
            o.secure_boot = true;
        }
        let line = joined(&s);
        assert!(
            line.starts_with(
                "-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on "
            ),
            "{line}"
        );
        s.ovmf = None;
        s.image = Some(BootImage {
            path: "/i/a.iso".into(),
            media: Media::Cdrom,
        });
        let line = joined(&s);
        assert!(line.ends_with("-drive if=none,id=boot,format=raw,media=cdrom,readonly=on,file=/i/a.iso -device ide-cd,drive=boot,bootindex=0"), "{line}");
        assert!(!line.contains("pflash"));
        // virt has no IDE: the CD is a SCSI disc on virtio-scsi.
        s.set_machine(Machine::Virt);
        let line = joined(&s);
        assert!(line.contains("-device virtio-scsi-pci,id=scsi0 -drive if=none,id=boot,format=raw,media=cdrom,readonly=on,file=/i/a.iso -device scsi-cd,drive=boot,bootindex=0"), "{line}");
    }

    #[test]
    fn parse_options() {
        assert_eq!("e1000".parse(), Ok(Nic::E1000));
        assert!("rtl8139".parse::<Nic>().is_err());
        assert_eq!("q35".parse(), Ok(Machine::Q35));
        let e = "isapc2".parse::<Machine>().expect_err("unknown machine");
        assert!(e.contains("isapc2") && e.contains("microvm"), "{e}");
        assert_eq!("kvm".parse(), Ok(Accel::Kvm));
        assert_eq!(
            "1:2".parse(),
            Ok(Forward {
                host: 1,
                guest: 2,
                guest_addr: None
            })
        );
        assert!("8080".parse::<Forward>().is_err());
        assert!("a:1".parse::<Forward>().is_err());
        assert!("70000:1".parse::<Forward>().is_err());
    }
}
