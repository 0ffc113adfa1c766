//! Which modules tree a run uses, sans-IO: the tree of the kernel asked
//! for must be the running kernel's to load from it, and a missing tree
//! means either an image without modules or one built for other kernels.

/// What to do with the tree of the kernel version asked for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Check {
    /// Open it.
    Use,
    /// Loading from another kernel's tree: refuse.
    OtherKernel,
    /// The running kernel's tree is not there: see [`missing`].
    Missing,
}

/// `version`: the tree's kernel; `explicit`: given by `--kernel-version`;
/// `loading`: modules are to be loaded (not a dry run or a query);
/// `present`: the tree's directory exists.
pub(crate) fn check(
    version: &str,
    running: &str,
    loading: bool,
    explicit: bool,
    present: bool,
) -> Check {
    if loading && version != running {
        Check::OtherKernel
    } else if !present && !explicit {
        Check::Missing
    } else {
        Check::Use
    }
}

/// Why the running kernel's tree is missing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Missing {
    /// No tree at all while loading: the kernel's built-in drivers only.
    BuiltinOnly,
    /// Trees of other kernels (sorted, `, `-separated; `nothing`).
    Others(String),
}

/// `found`: the names under lib/modules.
pub(crate) fn missing(mut found: Vec<String>, loading: bool) -> Missing {
    found.sort();
    if found.is_empty() && loading {
        return Missing::BuiltinOnly;
    }
    Missing::Others(if found.is_empty() {
        "nothing".into()
    } else {
        found.join(", ")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_running_kernels_tree_is_loaded_from() {
        assert_eq!(check("6.1", "6.1", true, false, true), Check::Use);
        assert_eq!(check("5.10", "6.1", true, true, true), Check::OtherKernel);
        assert_eq!(check("5.10", "6.1", false, true, false), Check::Use);
        assert_eq!(check("6.1", "6.1", true, false, false), Check::Missing);
        assert_eq!(check("6.1", "6.1", false, false, false), Check::Missing);
    }

    #[test]
    fn a_missing_tree_is_builtin_only_or_names_the_others() {
        assert_eq!(missing(vec![], true), Missing::BuiltinOnly);
        assert_eq!(missing(vec![], false), Missing::Others("nothing".into()));
        assert_eq!(
            missing(vec!["6.2".into(), "5.10".into()], true),
            Missing::Others("5.10, 6.2".into())
        );
    }
}
