//! The image's contents: the box and its tool links, the app (from the
//! host or an OCI image), the configuration, `--file` trees, the files
//! under /etc, and the kernel modules (without writing anything).

use super::args::{data_partition, driver_selection, target_arch, BuildArgs, Format};
use super::config::{config_text, AppRun};
use super::error::BuildError;
use super::inputs::{ca_bundle, check_app, check_box_arch, foreign_kernel, tools_dir, update_key};
use crate::core::arch::Arch;
use crate::drivers::{self, Drivers};
use crate::etcfiles::{self, User};
use crate::image::{Image, Node, Source};
use crate::modules::{self, ModuleSelection};
use nodistro_common::MULTICALL_NAME;
use std::path::{Path, PathBuf};

/// The runtime tools a full nodistro-box holds. An image links the ones
/// the box given lists (`nodistro-box --list`, see [`crate::boxtools`]).
pub const TOOLS: [&str; 5] = ["init", "modload", "netcfg", "logfwd", "console"];

/// The update tool's name in a box's `--list` and in /bin.
pub const UPDATE_TOOL: &str = "update";

/// Where the app and the base of the image come from: a host file (the
/// image starts empty), or an OCI image (its root filesystem is the base).
fn app_source(
    args: &BuildArgs,
    user: Option<&User>,
    notes: &mut Vec<String>,
) -> Result<(AppRun, Option<crate::dynamic::Plan>, Image, Option<PathBuf>), BuildError> {
    let ids = user.map(|u| (u.uid, u.gid));
    match (&args.app, &args.from_oci) {
        (Some(_), Some(_)) => Err(BuildError::TwoApps),
        (None, None) => Err(BuildError::NoApp),
        (Some(app), None) => {
            let name = app
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .ok_or_else(|| BuildError::AppMissing(app.clone()))?;
            let path = format!("/app/{name}");
            let dynamic = check_app(args, app, &path)?;
            let run = AppRun {
                path,
                args: args.arg.clone(),
                env: args.env.clone(),
                workdir: None,
                ids,
            };
            Ok((run, dynamic, Image::new(), Some(app.clone())))
        }
        (None, Some(oci)) => {
            let (run, img) = crate::oci::base::base(args, oci, ids, notes)?;
            Ok((run, None, img, None))
        }
    }
}

/// Assemble the image described by `args` (without writing it).
/// Returns the image, its module count and the lines to print once the
/// archive is written.
pub fn assemble(args: &BuildArgs) -> Result<(Image, usize, Vec<String>), BuildError> {
    let extra = format_settings(args);
    let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let update_key = update_key(args)?;
    let user = args.user.as_deref().map(User::parse).transpose()?;
    let mut notes = Vec::new();
    let (run, dynamic, mut img, host_app) = app_source(args, user.as_ref(), &mut notes)?;
    let ca = ca_bundle(args, &mut notes)?;
    add_skeleton(&mut img)?;
    add_box(&mut img, args, update_key.is_some())?;
    if let Some(app) = &host_app {
        img.add_file(&run.path, app)?;
    }
    img.add(
        nodistro_common::CONFIG_PATH,
        Node::File {
            source: Source::Bytes(config_text(args, &run, &extra)?.into_bytes()),
            mode: 0o644,
        },
    )?;
    add_file_trees(&mut img, args)?;
    if let Some(plan) = &dynamic {
        notes.extend(crate::dynamic::add(&mut img, plan, &run.path)?);
    }
    add_etc_files(&mut img, args, user.as_ref(), ca)?;
    if let Some(pem) = update_key {
        img.add(
            nodistro_update::KEY_FILE.trim_start_matches('/'),
            Node::File {
                source: Source::Bytes(pem),
                mode: 0o644,
            },
        )?;
    }
    if !img.replaced().is_empty() {
        notes.push(format!(
            "nodistro's own files replace the OCI image's /{}",
            img.replaced().join(", /")
        ));
    }
    if args.format == Format::Oci {
        return Ok((img, 0, notes));
    }
    let selection = module_selection(args, &mut notes)?;
    let (count, module_notes) =
        modules::add_modules(&mut img, &selection).map_err(BuildError::Modules)?;
    notes.extend(module_notes);
    Ok((img, count, notes))
}

/// The configuration lines the format and the flags' features need
/// besides the user's (`extra` of [`config_text`]).
fn format_settings(args: &BuildArgs) -> Vec<(&'static str, String)> {
    let mut extra: Vec<(&str, String)> = Vec::new();
    if args.format == Format::Oci {
        // A container has no kernel log of its own to read.
        extra.push(("logfwd.kmsg", "off".into()));
    }
    if data_partition(args) && !crate::core::abdisk::user_mounts_data(&args.config) {
        extra.push(("init.mount", crate::core::abdisk::data_mount_line()));
    }
    if let Some(v) = args.update_version {
        extra.push(("update.version", v.0.to_string()));
    }
    extra
}

/// The directories every image has, and /dev/console.
fn add_skeleton(img: &mut Image) -> Result<(), BuildError> {
    for d in ["dev", "proc", "sys", "run", "etc", "bin", "app"] {
        img.add(d, Node::Dir { mode: 0o755 })?;
    }
    img.add("tmp", Node::Dir { mode: 0o1777 })?;
    img.add("dev/console", Node::console())?;
    Ok(())
}

/// The box, its tools' links in /bin, /init, and with the flags the
/// update tool and the debug console.
fn add_box(img: &mut Image, args: &BuildArgs, update: bool) -> Result<(), BuildError> {
    let dir = tools_dir(args);
    let box_path = dir.join(MULTICALL_NAME);
    if !box_path.is_file() {
        return Err(BuildError::ToolsMissing(dir));
    }
    check_box_arch(args, &box_path)?;
    let tools = if target_arch(args) == Arch::host() {
        crate::boxtools::list(&box_path)
    } else {
        crate::boxtools::list_foreign(&box_path)
    }
    .map_err(BuildError::Box)?;
    crate::boxtools::check(&box_path, &tools, &args.config).map_err(BuildError::Box)?;
    // The update tool only with --update-key: the box's, else the
    // standalone binary beside it (the glibc box leaves it out for size).
    let box_has_update = tools.iter().any(|t| t == UPDATE_TOOL);
    if update && !box_has_update {
        let alone = dir.join(UPDATE_TOOL);
        if !alone.is_file() {
            return Err(BuildError::NoUpdateTool {
                path: box_path,
                tools,
            });
        }
        img.add_file(&format!("bin/{UPDATE_TOOL}"), &alone)?;
    }
    img.add_file(&format!("bin/{MULTICALL_NAME}"), &box_path)?;
    // The console only with --console (debug_console::add links it), the
    // update tool only with --update-key.
    let linked = |t: &&String| *t != crate::debug_console::TOOL && (*t != UPDATE_TOOL || update);
    for t in tools.iter().filter(linked) {
        img.add(
            &format!("bin/{t}"),
            Node::Symlink {
                target: MULTICALL_NAME.into(),
            },
        )?;
    }
    img.add(
        "init",
        Node::Symlink {
            target: format!("bin/{MULTICALL_NAME}"),
        },
    )?;
    if args.console {
        crate::debug_console::add(img, &dir, &box_path, &tools)?;
    }
    Ok(())
}

/// The `--file SRC:DEST` trees.
fn add_file_trees(img: &mut Image, args: &BuildArgs) -> Result<(), BuildError> {
    for f in &args.file {
        // The last ':' splits, so a source path may contain colons.
        let (src, dest) = match f.rsplit_once(':') {
            Some((a, b)) if !a.is_empty() && !b.is_empty() => (a, b),
            _ => {
                return Err(BuildError::BadOption {
                    flag: "file",
                    value: f.clone(),
                    expected: "SRC:DEST",
                })
            }
        };
        img.add_tree(dest, Path::new(src))?;
    }
    Ok(())
}

/// Which kernel modules to pack, from the driver selection and what the
/// image's own features need; a foreign `--arch`'s kernel is fetched here
/// (a note says which).
fn module_selection(
    args: &BuildArgs,
    notes: &mut Vec<String>,
) -> Result<ModuleSelection, BuildError> {
    let drivers = driver_selection(args);
    let aliases = if drivers == Drivers::Host {
        drivers::host_modaliases(Path::new("/sys")).map_err(BuildError::HostDevices)?
    } else {
        Vec::new()
    };
    // What the image's own features need (the data partition's ext4, the
    // update tool's vfat and efivarfs), whatever the driver selection.
    let mut names = args.module.clone();
    if data_partition(args) {
        names.push(crate::core::abdisk::DATA_MODULE.to_string());
    }
    if args.update_key.is_some() {
        names.extend(
            crate::core::abdisk::UPDATE_MODULES
                .iter()
                .map(|m| m.to_string()),
        );
    }
    Ok(ModuleSelection {
        all: drivers == Drivers::All,
        names,
        optional: match drivers {
            Drivers::Vm => drivers::vm_drivers(target_arch(args))
                .map(str::to_string)
                .collect(),
            Drivers::Rpi => drivers::RPI_DRIVERS.iter().map(|d| d.to_string()).collect(),
            _ => Vec::new(),
        },
        aliases,
        modaliases: args.modaliases.clone(),
        kernel_version: args.kernel_version.clone(),
        modules_dir: match foreign_kernel(args)? {
            Some(k) => {
                notes.push(format!(
                    "{} kernel {} from Debian ({})",
                    target_arch(args).name(),
                    k.release,
                    k.vmlinuz.display()
                ));
                Some(k.modules_dir)
            }
            None => args.modules_dir.clone(),
        },
        firmware_dir: args.firmware_dir.clone(),
    })
}

/// The files static programs read themselves; a file the user put in with
/// --file wins.
fn add_etc_files(
    img: &mut Image,
    args: &BuildArgs,
    user: Option<&User>,
    ca: Option<PathBuf>,
) -> Result<(), BuildError> {
    let hostname = args.hostname.as_deref().unwrap_or("nodistro");
    let files = [
        ("etc/passwd", etcfiles::passwd(user)),
        ("etc/group", etcfiles::group(user)),
        ("etc/hosts", nodistro_common::hosts::render(hostname)),
        ("etc/nsswitch.conf", etcfiles::nsswitch()),
        ("etc/os-release", etcfiles::os_release()),
    ];
    for (path, text) in files {
        if !img.contains(path) {
            img.add(
                path,
                Node::File {
                    source: Source::Bytes(text.into_bytes()),
                    mode: 0o644,
                },
            )?;
        }
    }
    if let Some(ca) = ca {
        let dest = etcfiles::CA_BUNDLE.trim_start_matches('/');
        if !img.contains(dest) {
            img.add_file(dest, &ca)?;
        }
    }
    Ok(())
}
