//! Load planning: a set of modules closed over their dependencies and soft
//! dependencies, in kmod's load order.

use crate::core::fnmatch::{name_of_path, normalize_name};
use crate::core::hash::FxMap;
use crate::tree::{ModuleTree, TreeError};
use std::collections::{BTreeSet, HashMap};

/// The result of following dependencies leniently: what to load in order and
/// what went wrong on the way (the rest still loads).
#[derive(Debug, Default)]
pub struct Plan {
    /// Module names, dependencies first. Built-in modules are included
    /// (they are satisfied; [`ModuleTree::module_path`] is `None` for them).
    pub order: Vec<String>,
    pub problems: Vec<TreeError>,
    /// What each softdep name met on the way resolved to.
    pub softdep_targets: HashMap<String, Vec<String>>,
}

impl Plan {
    /// The modules `name`'s `pre:` soft dependencies resolved to.
    pub fn pre_softdeps<'a>(&'a self, tree: &'a ModuleTree, name: &str) -> Vec<&'a str> {
        tree.softdeps(name)
            .0
            .iter()
            .filter_map(|s| self.softdep_targets.get(s))
            .flatten()
            .map(String::as_str)
            .collect()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    InProgress,
    Done,
}

impl ModuleTree {
    /// `names` plus their dependencies and soft dependencies (`pre:` and
    /// `post:`), dependencies first. The first problem is an error; see
    /// [`ModuleTree::plan`] for the lenient form.
    pub fn closure(&self, names: &[String]) -> Result<Vec<String>, TreeError> {
        let plan = self.plan(names);
        match plan.problems.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(plan.order),
        }
    }

    /// Like [`ModuleTree::closure`], but goes on past problems.
    pub fn plan(&self, names: &[String]) -> Plan {
        // Softdep names are aliases: resolve those met on the way in one
        // batch, and walk again until no unresolved one is met.
        let mut targets: HashMap<String, Vec<String>> = HashMap::new();
        loop {
            let mut marks = FxMap::default();
            let mut plan = Plan::default();
            let mut missing = BTreeSet::new();
            for n in names {
                let n = normalize_name(n);
                if self.find(&n).is_none() && !self.builtin.contains_key(&n) {
                    plan.problems.push(TreeError::UnknownModule(n));
                    continue;
                }
                self.visit(&n, &mut marks, &mut plan, &targets, &mut missing);
            }
            if missing.is_empty() {
                plan.softdep_targets = targets;
                return plan;
            }
            let missing: Vec<&str> = missing.iter().map(String::as_str).collect();
            for (n, f) in missing.iter().zip(self.lookup_many(&missing)) {
                targets.insert(n.to_string(), f.map(|(_, v)| v).unwrap_or_default());
            }
        }
    }

    /// Visit `root` and what it needs, depth first in kmod's order: the
    /// dependencies (the last listed first), then the `pre:` soft
    /// dependencies, then the module, then its `post:` soft dependencies.
    /// With an explicit stack: a chain 20,000 modules deep is fine.
    fn visit(
        &self,
        root: &str,
        marks: &mut FxMap<String, Mark>,
        plan: &mut Plan,
        targets: &HashMap<String, Vec<String>>,
        missing: &mut BTreeSet<String>,
    ) {
        enum Task<'t> {
            Enter(String),
            /// A dependency (its modules.dep path) of a module being visited.
            Dep(String, &'t str),
            Soft(String),
            Finish(String),
        }
        let mut stack = vec![Task::Enter(root.to_string())];
        while let Some(task) = stack.pop() {
            match task {
                Task::Enter(name) => {
                    if marks.contains_key(&name) {
                        continue;
                    }
                    marks.insert(name.clone(), Mark::InProgress);
                    let soft = self.softdep_of(&name);
                    // Pushed in reverse of the order they run in.
                    for s in soft.map_or(&[][..], |s| &s.post).iter().rev() {
                        stack.push(Task::Soft(s.clone()));
                    }
                    stack.push(Task::Finish(name.clone()));
                    for s in soft.map_or(&[][..], |s| &s.pre).iter().rev() {
                        stack.push(Task::Soft(s.clone()));
                    }
                    for dep_path in self.dep_paths(&name) {
                        stack.push(Task::Dep(name.clone(), dep_path));
                    }
                }
                Task::Dep(module, dep_path) => {
                    let dep = name_of_path(dep_path);
                    match marks.get(&dep) {
                        Some(Mark::Done) => {}
                        Some(Mark::InProgress) => {
                            plan.problems.push(TreeError::Cycle { module, dep })
                        }
                        None if self.find(&dep).is_some() || self.builtin.contains_key(&dep) => {
                            stack.push(Task::Enter(dep))
                        }
                        None => plan.problems.push(TreeError::MissingDependency {
                            module,
                            dep: dep_path.to_string(),
                        }),
                    }
                }
                Task::Soft(s) => match targets.get(&s) {
                    Some(found) => {
                        stack.extend(found.iter().rev().map(|m| Task::Enter(m.clone())));
                    }
                    None => {
                        missing.insert(s);
                    }
                },
                Task::Finish(name) => {
                    plan.order.push(name.clone());
                    marks.insert(name, Mark::Done);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::fixture::tree;

    #[test]
    fn closure_puts_dependencies_and_softdeps_first() {
        let t = tree();
        let c = t.closure(&["virtio_net".into()]).expect("closure");
        assert_eq!(
            c,
            [
                "virtio_ring",
                "virtio",
                "failover",
                "net_failover",
                "virtio_net"
            ]
        );
        let c = t.closure(&["ext4".into()]).expect("closure");
        assert_eq!(c, ["jbd2", "crc32c_intel", "crc32c_generic", "ext4"]);
        assert!(matches!(
            t.closure(&["nosuch".into()]),
            Err(TreeError::UnknownModule(n)) if n == "nosuch"
        ));
    }

    #[test]
    fn cycles_and_missing_dependencies_are_reported_and_the_rest_goes_on() {
        let t = ModuleTree::from_texts(
            "a.ko: b.ko\nb.ko: a.ko\nc.ko: gone.ko\nd.ko:\n",
            "",
            "softdep d pre: d post: a\n",
            "",
            b"",
        );
        let p = t.plan(&["a".into(), "c".into(), "d".into()]);
        assert_eq!(p.order, ["b", "a", "c", "d"]);
        assert_eq!(p.problems.len(), 2, "{:?}", p.problems);
        assert!(
            matches!(&p.problems[0], TreeError::Cycle { module, dep } if module == "b" && dep == "a")
        );
        assert!(
            matches!(&p.problems[1], TreeError::MissingDependency { module, .. } if module == "c")
        );
        assert!(p.problems[1].to_string().contains("gone.ko"));
    }

    /// Issue 15, defect 8: a dependency chain 20,000 deep is walked without
    /// recursion (the recursive walk overflowed the stack).
    #[test]
    fn a_very_deep_chain_does_not_overflow_the_stack() {
        let n = 20_000;
        let mut dep = String::new();
        for i in 0..n {
            // m<i> needs every module below it, as depmod lists them: the
            // nearest first.
            dep.push_str(&format!("m{i}.ko:"));
            if i > 0 {
                dep.push_str(&format!(" m{}.ko", i - 1));
            }
            dep.push('\n');
        }
        let t = ModuleTree::from_texts(&dep, "", "", "", b"");
        // On a small stack, as a worker thread might have.
        let order = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || t.closure(&[format!("m{}", n - 1)]))
            .expect("spawn")
            .join()
            .expect("no stack overflow")
            .expect("closure");
        assert_eq!(order.len(), n);
        assert_eq!(order[0], "m0");
        assert_eq!(order[n - 1], format!("m{}", n - 1));
    }
}
