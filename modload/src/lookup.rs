//! Alias lookup with kmod's rules: a module name, else modules.alias
//! patterns, else built-in aliases, else a built-in name; many aliases in
//! one pass.

use crate::fnmatch::{normalize_alias, normalize_name};
use crate::hash::FxMap;
use crate::queries::{bucket, Queries};
use crate::textfiles::{alias_line_at, alias_lines, builtin_alias_records};
use crate::tree::ModuleTree;

/// How [`ModuleTree::lookup`] found its answer (kmod's order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupKind {
    /// A module name from modules.dep.
    Name,
    /// Patterns of modules.alias.
    Alias,
    /// Aliases of built-in modules (modules.builtin.modinfo).
    BuiltinAlias,
    /// The name of a built-in module.
    Builtin,
}

impl LookupKind {
    /// Alias matches are what a blacklist filters (kmod's rule).
    pub fn is_alias(self) -> bool {
        matches!(self, LookupKind::Alias | LookupKind::BuiltinAlias)
    }
}

/// Answers of [`ModuleTree::lookup_many`], one per alias.
type Lookups = Vec<Option<(LookupKind, Vec<String>)>>;
/// Matches (pattern, module) records against the pending lookups.
type ScanFn<'a> = dyn Fn(&mut dyn Iterator<Item = (&[u8], &[u8])>, LookupKind, &mut Lookups) + 'a;

impl ModuleTree {
    /// Look `alias` up with kmod's rules (see the module documentation).
    /// `None`: nothing matches. For many aliases use
    /// [`ModuleTree::lookup_many`]: one pass over the alias files for all.
    pub fn lookup(&self, alias: &str) -> Option<(LookupKind, Vec<String>)> {
        self.lookup_many(&[alias]).pop().flatten()
    }

    /// [`ModuleTree::lookup`] for each alias, in one pass over the files.
    pub fn lookup_many(&self, aliases: &[&str]) -> Vec<Option<(LookupKind, Vec<String>)>> {
        let norm: Vec<Option<String>> = aliases.iter().map(|a| normalize_alias(a)).collect();
        let mut out: Vec<Option<(LookupKind, Vec<String>)>> = norm
            .iter()
            .map(|n| {
                let n = n.as_deref()?;
                self.find(n)
                    .is_some()
                    .then(|| (LookupKind::Name, vec![n.to_string()]))
            })
            .collect();
        let pending = |out: &[Option<_>]| {
            Queries::new(
                norm.iter()
                    .enumerate()
                    .filter(|(i, n)| n.is_some() && out[*i].is_none())
                    .filter_map(|(i, n)| Some((n.as_deref()?.as_bytes(), i))),
            )
        };
        let scan = |records: &mut dyn Iterator<Item = (&[u8], &[u8])>,
                    kind: LookupKind,
                    out: &mut Vec<Option<(LookupKind, Vec<String>)>>| {
            let qs = pending(out);
            if qs.sorted.is_empty() {
                return;
            }
            let mut found: Vec<Vec<String>> = vec![Vec::new(); out.len()];
            let mut buf: String;
            for (pat, module) in records {
                if !qs.may_match(pat) {
                    continue;
                }
                let pat = if pat.contains(&b'-') {
                    match normalize_alias(&String::from_utf8_lossy(pat)) {
                        Some(p) => {
                            buf = p;
                            buf.as_bytes()
                        }
                        None => continue,
                    }
                } else {
                    pat
                };
                qs.match_pattern(pat, |i| {
                    let m = normalize_name(&String::from_utf8_lossy(module));
                    if !found[i].contains(&m) {
                        found[i].push(m);
                    }
                });
            }
            for (i, f) in found.into_iter().enumerate() {
                if !f.is_empty() {
                    out[i] = Some((kind, f));
                }
            }
        };
        if let Some((idx, meta)) = &self.alias_idx {
            for (i, n) in norm.iter().enumerate() {
                let (None, Some(q)) = (&out[i], n) else {
                    continue;
                };
                let mut found: Vec<String> = Vec::new();
                crate::index::matches(idx, meta, q.as_bytes(), |m| {
                    let m = String::from_utf8_lossy(m).into_owned();
                    if !found.contains(&m) {
                        found.push(m);
                    }
                });
                if !found.is_empty() {
                    out[i] = Some((LookupKind::Alias, found));
                }
            }
        } else {
            self.scan_alias_text(&norm, &mut out, &scan);
        }
        scan(
            &mut builtin_alias_records(&self.builtin_modinfo),
            LookupKind::BuiltinAlias,
            &mut out,
        );
        for (i, n) in norm.iter().enumerate() {
            if let (None, Some(n)) = (&out[i], n) {
                if self.builtin.contains_key(n) {
                    out[i] = Some((LookupKind::Builtin, vec![n.clone()]));
                }
            }
        }
        out
    }

    /// The alias step without an index: the lines of the queries' buckets.
    fn scan_alias_text(&self, norm: &[Option<String>], out: &mut Lookups, scan: &ScanFn) {
        let buckets = self.alias_buckets.get_or_init(|| {
            let mut map: FxMap<u16, Vec<u32>> = FxMap::default();
            let base = self.alias_text.as_ptr() as usize;
            for (pat, _) in alias_lines(&self.alias_text) {
                let off = (pat.as_ptr() as usize - base - "alias ".len()) as u32;
                map.entry(bucket(pat)).or_default().push(off);
            }
            map
        });
        let mut keys: Vec<u16> = norm
            .iter()
            .enumerate()
            .filter(|(i, _)| out[*i].is_none())
            .filter_map(|(_, n)| Some(bucket(n.as_deref()?.as_bytes())))
            .collect();
        keys.push(0);
        keys.sort_unstable();
        keys.dedup();
        let text: &[u8] = &self.alias_text;
        // A query shorter than two bytes (or holding `*`, `-`... there) has
        // no bucket: only then look at every line.
        let everything = norm.iter().enumerate().any(|(i, n)| {
            out[i].is_none() && n.as_deref().is_some_and(|n| bucket(n.as_bytes()) == 0)
        });
        if everything {
            scan(&mut alias_lines(text), LookupKind::Alias, out);
        } else {
            let mut lines = keys
                .iter()
                .filter_map(|k| buckets.get(k))
                .flatten()
                .filter_map(|&off| alias_line_at(text, off));
            scan(&mut lines, LookupKind::Alias, out);
        }
    }

    /// Module names an alias (or a module name) resolves to; empty if none.
    pub fn resolve_alias(&self, alias: &str) -> Vec<String> {
        self.lookup(alias).map(|(_, v)| v).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::fixture::tree;

    #[test]
    fn lookup_follows_kmods_order() {
        let t = tree();
        assert_eq!(
            t.lookup("virtio-net"),
            Some((LookupKind::Name, vec!["virtio_net".into()]))
        );
        assert_eq!(
            t.lookup("crypto-crc32c"),
            Some((
                LookupKind::Alias,
                vec!["crc32c_intel".into(), "crc32c_generic".into()]
            ))
        );
        assert_eq!(
            t.resolve_alias("pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00"),
            ["e1000"]
        );
        assert_eq!(
            t.lookup("pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00"),
            Some((LookupKind::BuiltinAlias, vec!["virtio_pci_builtin".into()]))
        );
        assert_eq!(
            t.lookup("virtio_pci_builtin"),
            Some((LookupKind::Builtin, vec!["virtio_pci_builtin".into()]))
        );
        assert_eq!(t.lookup("pci:v00001234d0000"), None);
        assert!(t.is_builtin("virtio-pci-builtin"));
        assert_eq!(
            t.module_path("e1000"),
            Some("kernel/drivers/net/ethernet/intel/e1000/e1000.ko.xz")
        );
        assert_eq!(t.module_names().count(), 10);
    }
}
