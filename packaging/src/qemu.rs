//! `nodistro run` and the one QEMU launcher everything uses (the `run`
//! command, `nodistro demo` and the end-to-end test harness).
//!
//! - [`QemuSpec`] turns options into a qemu-system-x86_64 command line
//!   (TCG unless KVM is asked for, serial console on stdio, `-no-reboot`,
//!   user-mode networking with host forwards, an HMP monitor on a unix
//!   socket).
//! - [`ConsoleWatch`] is the sans-IO part: fed console bytes, it notices the
//!   kernel's "Power down", "Restarting system" and "Kernel panic" lines, so
//!   a clean power-off can be told from a panic (both end QEMU with status 0
//!   under `-no-reboot panic=-1`).
//! - [`image`] boots a UKI, disk or ISO instead of `-kernel`: OVMF (a
//!   private copy of its variables) on q35, or SeaBIOS for an ISO.
//! - [`Vm`] runs QEMU, captures the console into a buffer (optionally echoed
//!   live), waits for text, talks to the monitor, and kills QEMU on drop.
//! - [`host`]: QEMU in its own process group, dying with the runner; the
//!   stop signals; the terminal. [`stop`] is the sans-IO stop sequence
//!   (power button, grace period, kill).

mod console;
pub mod host;
pub mod http;
pub mod image;
mod run;
mod spec;
// The core's module by its old path.
pub use crate::core::qemu::stop;
mod vm;

pub use console::{
    ConsoleWatch, Outcome, EXIT_NO_BOOT, EXIT_PANIC, EXIT_QEMU_FAILED, EXIT_REBOOT, EXIT_STOPPED,
    EXIT_TIMEOUT, EXIT_USAGE,
};
pub use image::{image_spec, image_spec_for, BootFiles, Firmware, FirmwareOpts, ImageKind};
pub use run::{main, resolve_kernel, resolve_kernel_for, RunArgs};
pub use spec::{Accel, Forward, Machine, Nic, QemuSpec, BASE_APPEND};
pub use vm::{temp_monitor_path, Vm, VmError};
