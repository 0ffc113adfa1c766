//! A filesystem the kernel lacks, loaded through modload (`fs-TYPE`): for
//! init's data disks and the update tool's ESP and efivarfs.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Whether the running kernel knows filesystem `t` (/proc/filesystems).
pub fn kernel_has(t: &str) -> bool {
    std::fs::read_to_string("/proc/filesystems")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split_whitespace().last() == Some(t))
}

/// Ask modload to load filesystem `t` (its `fs-T` alias, and the code page
/// vfat asks for). Returns a reason when `t` is still unknown after.
pub fn load_filesystem(t: &str, prepare: fn(&mut Command)) -> Result<(), String> {
    if kernel_has(t) {
        return Ok(());
    }
    let modload = "/bin/modload";
    if !std::path::Path::new(modload).exists() {
        return Err(format!(
            "the kernel has no {t} filesystem and the image has no modload to load it"
        ));
    }
    let mut aliases = format!("fs-{t}\n");
    if t == "vfat" {
        // The code page and the character set Debian defaults to.
        aliases.push_str("nls_cp437\nnls_ascii\n");
    }
    let run = crate::protocol::init::RUN_DIR;
    let list = format!("{run}/fs-{t}.aliases");
    let _ = std::fs::create_dir_all(run);
    std::fs::write(&list, aliases).map_err(|e| format!("cannot write {list}: {e}"))?;
    let mut cmd = Command::new(modload);
    cmd.arg0("modload").args(["--modaliases", &list]);
    prepare(&mut cmd);
    let status = cmd.status();
    let _ = std::fs::remove_file(&list);
    if kernel_has(t) {
        return Ok(());
    }
    Err(match status {
        Ok(s) => format!(
            "the kernel has no {t} filesystem and modload could not load it ({s}; is the module in the image? nodistro build --module {t})"
        ),
        Err(e) => format!("the kernel has no {t} filesystem and modload did not run: {e}"),
    })
}
