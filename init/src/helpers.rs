//! The commands both modes hand the supervisor: a helper's readiness word,
//! timeout and arguments, the helpers' start order (see [`startorder`]),
//! and the app's command from the configuration.

use crate::config::InitConfig;
use crate::policy::HelperSpec;
use crate::startorder;
use crate::supervise::{AppCmd, HelperCmd};
use std::path::PathBuf;

/// Put `helpers` in their start order (see [`startorder`]); returns whether
/// netcfg gets the coldplug mark.
pub fn arrange(helpers: &mut Vec<HelperCmd>, c: &InitConfig) -> bool {
    let names: Vec<&str> = helpers.iter().map(|h| h.spec.name.as_str()).collect();
    let order = startorder::arrange(&names, !c.sequential);
    let mark = startorder::netcfg_needs_coldplug_mark(&names, !c.sequential);
    let mut slots: Vec<Option<HelperCmd>> = std::mem::take(helpers).into_iter().map(Some).collect();
    helpers.extend(order.into_iter().filter_map(|i| slots[i].take()));
    mark
}

/// The helper's readiness word, timeout and arguments.
pub fn helper_cmd(name: &str, path: PathBuf, c: &InitConfig) -> HelperCmd {
    let (word, timeout, args) = match name {
        "modload" => (
            Some(nodistro_common::protocol::ready::COLDPLUG_DONE),
            c.modload_timeout,
            vec!["--watch".to_string()],
        ),
        "netcfg" => (
            Some(nodistro_common::protocol::ready::ONLINE),
            c.net_timeout,
            vec![],
        ),
        // The app waits until a trial boot is marked (the firmware's
        // variables read: well under a second).
        "update" => (
            Some(nodistro_common::protocol::ready::CHECKED),
            std::time::Duration::from_secs(10),
            vec![],
        ),
        _ => (None, Default::default(), vec![]),
    };
    HelperCmd {
        spec: HelperSpec {
            name: name.into(),
            ready_word: word.map(Into::into),
            ready_timeout: timeout,
        },
        path,
        args,
    }
}

/// The app `path` with `args`, run as the configuration says.
pub fn app_cmd(c: &InitConfig, path: String, args: Vec<String>) -> AppCmd {
    AppCmd {
        path,
        args,
        env: c.env.clone(),
        workdir: c.workdir.clone(),
        uid: c.uid,
        gid: c.gid,
    }
}
