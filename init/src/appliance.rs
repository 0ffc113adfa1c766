//! The appliance's state features, as the supervisor's event loop sees
//! them: data disks mounted before the app starts (and unmounted by
//! [`crate::vm::end`]). One value built from the configuration and handed
//! to [`crate::supervise::run`] in the [`crate::supervise::Plan`].

use crate::datadisk::{self, Mounted};
use crate::mounts::{self, MountEntry};
use nodistro_common::Config;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// What the data disks need from the loop.
#[derive(Debug, Default)]
pub struct Appliance {
    mounts: Vec<MountEntry>,
    mount_timeout: Duration,
    /// Shared with the caller of the loop, which unmounts them at the end.
    mounted: Rc<RefCell<Vec<Mounted>>>,
}

impl Appliance {
    /// From the merged configuration; warnings for the console.
    pub fn from_config(cfg: &Config) -> (Self, Vec<String>) {
        let (mounts, mount_timeout, warn) = mounts::from_config(cfg);
        (
            Appliance {
                mounts,
                mount_timeout,
                mounted: Rc::default(),
            },
            warn,
        )
    }

    /// The filesystems mounted so far (filled while the loop runs).
    pub fn mounted(&self) -> Rc<RefCell<Vec<Mounted>>> {
        self.mounted.clone()
    }

    /// Before each start of the app: mount the data disks not mounted yet.
    /// An error (a required disk is missing) is why the app cannot start.
    pub fn before_app(&mut self) -> Result<(), String> {
        if self.mounts.is_empty() {
            return Ok(());
        }
        let deadline = Instant::now() + self.mount_timeout;
        let missing =
            datadisk::mount_pending(&self.mounts, &mut self.mounted.borrow_mut(), deadline);
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("required mount {} is missing", missing.join(", ")))
        }
    }
}
