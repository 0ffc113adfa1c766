//! modules.dep parsed: every module, its name, its path and dependency
//! ranges in the text, and a hashed name lookup.

use crate::core::hash::{hash_name, FxMap};

#[derive(Clone, Copy, Default)]
pub(crate) struct Module {
    /// Byte range into `DepIndex::names`.
    pub(crate) name: (u32, u32),
    /// Byte ranges into `ModuleTree::dep_text`.
    pub(crate) path: (u32, u32),
    /// Dependency paths as modules.dep lists them (load the last first).
    pub(crate) deps: (u32, u32),
}

/// modules.dep parsed: every module, its name, a hashed name lookup.
#[derive(Default)]
pub(crate) struct DepIndex {
    pub(crate) modules: Vec<Module>,
    /// Normalised module names, one after the other.
    names: String,
    /// Hash of a module name -> index in `modules`; `collide` holds the
    /// modules whose name hash was already taken.
    by_name: FxMap<u64, u32>,
    collide: Vec<u32>,
    pub(crate) warnings: Vec<String>,
}

impl DepIndex {
    pub(crate) fn parse(dep_text: &str) -> DepIndex {
        let mut d = DepIndex::default();
        let mut off = 0usize;
        for (n, line) in dep_text.split('\n').enumerate() {
            let line_off = off;
            off += line.len() + 1;
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let Some(colon) = line.find(':') else {
                d.warnings.push(format!(
                    "modules.dep line {}: no ':' ({line:?}); skipped",
                    n + 1
                ));
                continue;
            };
            let start = d.names.len();
            let path = line[..colon].trim();
            let base = path.rsplit('/').next().unwrap_or(path);
            let base = base.split('.').next().unwrap_or(base);
            d.names
                .extend(base.chars().map(|c| if c == '-' { '_' } else { c }));
            let name = (start as u32, d.names.len() as u32);
            let path_end = line[..colon].trim_end().len();
            let range = |a: usize, b: usize| ((line_off + a) as u32, (line_off + b) as u32);
            let id = d.modules.len() as u32;
            let h = hash_name(&d.names[start..]);
            match d.by_name.entry(h) {
                // The first module under a name hash stays in the map (the
                // same name twice: the first wins); the others in `collide`.
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(id);
                }
                std::collections::hash_map::Entry::Occupied(_) => d.collide.push(id),
            }
            d.modules.push(Module {
                name,
                path: range(line.len() - line.trim_start().len(), path_end),
                deps: range(colon + 1, line.len()),
            });
        }
        d
    }

    pub(crate) fn mod_name(&self, m: &Module) -> &str {
        self.names
            .get(m.name.0 as usize..m.name.1 as usize)
            .unwrap_or("")
    }

    /// The module with this normalised name.
    pub(crate) fn find(&self, name: &str) -> Option<Module> {
        let i = *self.by_name.get(&hash_name(name))?;
        let m = self.modules[i as usize];
        if self.mod_name(&m) == name {
            return Some(m);
        }
        self.collide
            .iter()
            .map(|&c| self.modules[c as usize])
            .find(|m| self.mod_name(m) == name)
    }
}
