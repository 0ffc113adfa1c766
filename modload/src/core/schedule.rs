//! The parallel loader's bookkeeping, sans-IO: which module of a load
//! order may start now (the modules it depends on, and its `pre:` soft
//! dependencies, are done), and whether one of its hard dependencies
//! failed. The loader's workers hold it under a lock and do the IO.

use std::collections::{HashMap, VecDeque};

/// What a worker does next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Take module `i`; `failed_dep`: the hard dependency that did not
    /// load, when one did not (the module is then not tried).
    Take { i: usize, failed_dep: Option<usize> },
    /// Nothing ready, modules still loading: wait for one to finish.
    Wait,
    /// Every module is done.
    Done,
}

/// The state of one load order (indices into it).
pub(crate) struct Schedule {
    /// Hard dependencies of each module, earlier in the order only.
    hard: Vec<Vec<usize>>,
    /// The modules waiting on each module.
    dependents: Vec<Vec<usize>>,
    /// How many of its dependencies each module still waits for.
    waiting: Vec<usize>,
    ready: VecDeque<usize>,
    /// Each module's result once done: whether it failed.
    failed: Vec<Option<bool>>,
    left: usize,
}

impl Schedule {
    /// `hard(i)` and `soft(i)`: the names module `i` of `order` depends on
    /// and the names of its `pre:` soft dependencies. Edges go only to
    /// earlier modules: `order` is topological, so a corrupt tree's cycle
    /// cannot deadlock the workers.
    pub(crate) fn new<H: AsRef<str>, S: AsRef<str>>(
        order: &[String],
        hard: impl Fn(usize) -> Vec<H>,
        soft: impl Fn(usize) -> Vec<S>,
    ) -> Self {
        let pos: HashMap<&str, usize> = order
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        fn earlier<N: AsRef<str>>(pos: &HashMap<&str, usize>, i: usize, names: &[N]) -> Vec<usize> {
            names
                .iter()
                .filter_map(|n| pos.get(n.as_ref()).copied())
                .filter(|&j| j < i)
                .collect()
        }
        let hard: Vec<Vec<usize>> = (0..order.len())
            .map(|i| earlier(&pos, i, &hard(i)))
            .collect();
        let mut waiting = vec![0usize; order.len()];
        let mut dependents = vec![Vec::new(); order.len()];
        for i in 0..order.len() {
            let mut all = hard[i].clone();
            all.extend(earlier(&pos, i, &soft(i)));
            all.sort_unstable();
            all.dedup();
            waiting[i] = all.len();
            for j in all {
                dependents[j].push(i);
            }
        }
        let ready = (0..order.len()).filter(|&i| waiting[i] == 0).collect();
        Schedule {
            hard,
            dependents,
            waiting,
            ready,
            failed: vec![None; order.len()],
            left: order.len(),
        }
    }

    /// The next module to start, in the order they became ready.
    pub(crate) fn next(&mut self) -> Next {
        let Some(i) = self.ready.pop_front() else {
            return if self.left == 0 {
                Next::Done
            } else {
                Next::Wait
            };
        };
        let failed_dep = self.hard[i]
            .iter()
            .copied()
            .find(|&d| self.failed[d] != Some(false));
        Next::Take { i, failed_dep }
    }

    /// Module `i` is done; its dependents may become ready.
    pub(crate) fn finish(&mut self, i: usize, failed: bool) {
        self.failed[i] = Some(failed);
        self.left -= 1;
        for &j in &self.dependents[i] {
            self.waiting[j] -= 1;
            if self.waiting[j] == 0 {
                self.ready.push_back(j);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn modules_start_once_their_dependencies_are_done() {
        // c needs a (hard) and b (pre: soft); d needs c; b and a are free.
        let order = names(&["a", "b", "c", "d"]);
        let mut s = Schedule::new(
            &order,
            |i| match i {
                2 => vec!["a"],
                3 => vec!["c"],
                _ => vec![],
            },
            |i| if i == 2 { vec!["b", "zz"] } else { vec![] },
        );
        let take = |i| Next::Take {
            i,
            failed_dep: None,
        };
        assert_eq!(s.next(), take(0));
        assert_eq!(s.next(), take(1));
        assert_eq!(s.next(), Next::Wait);
        s.finish(1, true);
        assert_eq!(s.next(), Next::Wait, "c still waits for a");
        s.finish(0, false);
        // A failed soft dependency does not stop c.
        assert_eq!(s.next(), take(2));
        s.finish(2, true);
        assert_eq!(
            s.next(),
            Next::Take {
                i: 3,
                failed_dep: Some(2)
            }
        );
        assert_eq!(s.next(), Next::Wait);
        s.finish(3, true);
        assert_eq!(s.next(), Next::Done);
    }

    #[test]
    fn edges_to_later_modules_are_ignored() {
        // A corrupt tree: a needs b, b needs a; the order decides.
        let order = names(&["a", "b"]);
        let mut s = Schedule::new(
            &order,
            |i| if i == 0 { vec!["b"] } else { vec!["a"] },
            |_| Vec::<&str>::new(),
        );
        assert_eq!(
            s.next(),
            Next::Take {
                i: 0,
                failed_dep: None
            }
        );
        s.finish(0, false);
        assert_eq!(
            s.next(),
            Next::Take {
                i: 1,
                failed_dep: None
            }
        );
        s.finish(1, false);
        assert_eq!(s.next(), Next::Done);
    }
}
