//! Alias lookup with kmod's rules: a module name, else an exported symbol,
//! else modules.alias patterns, else built-in aliases, else a built-in
//! name. With depmod's binary indexes each alias is a trie search; on the
//! text files many aliases share one pass over the candidate lines. Either
//! way the modules come in kmod's order (modules.alias order, which is
//! depmod's module order) and each once.

use crate::core::fnmatch::{normalize_alias, normalize_name};
use crate::core::hash::{FxMap, FxSet};
use crate::core::queries::{bucket, Queries};
use crate::core::textfiles::{alias_line_at, alias_lines, builtin_alias_records};
use crate::tree::ModuleTree;

/// How [`ModuleTree::lookup`] found its answer (kmod's order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupKind {
    /// A module name from modules.dep.
    Name,
    /// Patterns of modules.alias (or, for `symbol:NAME`, modules.symbols).
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

impl ModuleTree {
    /// Look `alias` up with kmod's rules (see the module documentation).
    /// `None`: nothing matches. For many aliases use
    /// [`ModuleTree::lookup_many`]: one pass over the alias files for all.
    pub fn lookup(&self, alias: &str) -> Option<(LookupKind, Vec<String>)> {
        self.lookup_many(&[alias]).pop().flatten()
    }

    /// Module names an alias (or a module name) resolves to; empty if none.
    pub fn resolve_alias(&self, alias: &str) -> Vec<String> {
        self.lookup(alias).map(|(_, v)| v).unwrap_or_default()
    }

    /// [`ModuleTree::lookup`] for each alias.
    pub fn lookup_many(&self, aliases: &[&str]) -> Lookups {
        let norm: Vec<Option<String>> = aliases.iter().map(|a| normalize_alias(a)).collect();
        let mut out = None;
        if let Some(bins) = self.usable_bins() {
            match self.lookup_bins(bins, &norm) {
                Ok(o) => out = Some(o),
                Err(why) => self.give_up_bins(why),
            }
        }
        let mut out = out.unwrap_or_else(|| self.lookup_text(&norm));
        // modprobe.d's aliases come before everything else (kmod's order).
        if !self.config_aliases.is_empty() {
            for (q, o) in norm.iter().zip(out.iter_mut()) {
                let Some(q) = q.as_deref() else { continue };
                let mut seen = FxSet::default();
                let found: Vec<String> = self
                    .config_aliases
                    .iter()
                    .filter(|(pat, _)| crate::core::fnmatch::fnmatch(pat.as_bytes(), q.as_bytes()))
                    .map(|(_, m)| m.clone())
                    .filter(|m| seen.insert(m.clone()))
                    .collect();
                if !found.is_empty() {
                    *o = Some((LookupKind::Alias, found));
                }
            }
        }
        out
    }

    fn lookup_bins(
        &self,
        bins: &crate::bins::Bins,
        norm: &[Option<String>],
    ) -> Result<Lookups, String> {
        let mut out = Lookups::with_capacity(norm.len());
        for q in norm {
            let Some(q) = q.as_deref() else {
                out.push(None);
                continue;
            };
            let found = |v: Vec<String>, kind| (!v.is_empty()).then_some((kind, v));
            let mut r = bins
                .dep_line(q)?
                .map(|_| (LookupKind::Name, vec![q.to_string()]));
            if r.is_none() && q.starts_with("symbol:") {
                r = match bins.symbols(q) {
                    Some(v) => found(v?, LookupKind::Alias),
                    None => self.scan_one(self.symbols_text(), q, LookupKind::Alias),
                };
            }
            if r.is_none() {
                r = found(bins.aliases(q)?, LookupKind::Alias);
            }
            if r.is_none() {
                r = match bins.builtin_aliases(q) {
                    Some(v) => found(v?, LookupKind::BuiltinAlias),
                    None => self.scan_builtin_aliases(q),
                };
            }
            if r.is_none() && (self.builtin.contains_key(q) || bins.is_builtin(q)?) {
                r = Some((LookupKind::Builtin, vec![q.to_string()]));
            }
            out.push(r);
        }
        Ok(out)
    }

    fn scan_one(
        &self,
        text: &[u8],
        q: &str,
        kind: LookupKind,
    ) -> Option<(LookupKind, Vec<String>)> {
        let mut out = vec![None];
        scan(
            &mut alias_lines(text),
            kind,
            &[Some(q.to_string())],
            &mut out,
        );
        out.pop().flatten()
    }

    fn scan_builtin_aliases(&self, q: &str) -> Option<(LookupKind, Vec<String>)> {
        let mut out = vec![None];
        scan(
            &mut builtin_alias_records(self.builtin_modinfo()),
            LookupKind::BuiltinAlias,
            &[Some(q.to_string())],
            &mut out,
        );
        out.pop().flatten()
    }

    /// The lookups on the text files: one pass per step for all aliases.
    fn lookup_text(&self, norm: &[Option<String>]) -> Lookups {
        let mut out: Lookups = norm
            .iter()
            .map(|n| {
                let n = n.as_deref()?;
                self.find(n)
                    .is_some()
                    .then(|| (LookupKind::Name, vec![n.to_string()]))
            })
            .collect();
        if norm
            .iter()
            .zip(&out)
            .any(|(n, o)| o.is_none() && n.as_deref().is_some_and(|n| n.starts_with("symbol:")))
        {
            let symbols: Vec<Option<String>> = norm
                .iter()
                .map(|n| n.clone().filter(|n| n.starts_with("symbol:")))
                .collect();
            scan(
                &mut alias_lines(self.symbols_text()),
                LookupKind::Alias,
                &symbols,
                &mut out,
            );
        }
        self.scan_alias_text(norm, &mut out);
        scan(
            &mut builtin_alias_records(self.builtin_modinfo()),
            LookupKind::BuiltinAlias,
            norm,
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

    /// The alias step without an index: the lines of the queries' buckets,
    /// in file order.
    fn scan_alias_text(&self, norm: &[Option<String>], out: &mut Lookups) {
        let text: &[u8] = self.alias_text();
        let buckets = self.alias_buckets.get_or_init(|| {
            let mut map: FxMap<u16, Vec<u32>> = FxMap::default();
            let base = text.as_ptr() as usize;
            for (pat, _) in alias_lines(text) {
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
        // A query shorter than two bytes (or holding `*`, `-`... there) has
        // no bucket: only then look at every line.
        let everything = norm.iter().enumerate().any(|(i, n)| {
            out[i].is_none() && n.as_deref().is_some_and(|n| bucket(n.as_bytes()) == 0)
        });
        if everything {
            scan(&mut alias_lines(text), LookupKind::Alias, norm, out);
        } else {
            // File order, whatever the buckets' order: it decides which of
            // several matching modules loads first (ata_piix before
            // ata_generic).
            let mut offs: Vec<u32> = keys
                .iter()
                .filter_map(|k| buckets.get(k))
                .flatten()
                .copied()
                .collect();
            offs.sort_unstable();
            let mut lines = offs.iter().filter_map(|&off| alias_line_at(text, off));
            scan(&mut lines, LookupKind::Alias, norm, out);
        }
    }
}

/// Match (pattern, module) records against the aliases still without an
/// answer; each alias's modules in record order, each once.
fn scan(
    records: &mut dyn Iterator<Item = (&[u8], &[u8])>,
    kind: LookupKind,
    norm: &[Option<String>],
    out: &mut Lookups,
) {
    let qs = Queries::new(
        norm.iter()
            .enumerate()
            .filter(|(i, n)| n.is_some() && out[*i].is_none())
            .filter_map(|(i, n)| Some((n.as_deref()?.as_bytes(), i))),
    );
    if qs.sorted.is_empty() {
        return;
    }
    let mut found: Vec<(Vec<String>, FxSet<String>)> = vec![Default::default(); out.len()];
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
            if found[i].1.insert(m.clone()) {
                found[i].0.push(m);
            }
        });
    }
    for (i, (f, _)) in found.into_iter().enumerate() {
        if !f.is_empty() {
            out[i] = Some((kind, f));
        }
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

    /// Issue 15, defect 2 on the text path: several modules matching one
    /// alias come in modules.alias order, even when their patterns fall in
    /// different buckets (a pattern starting with a wildcard is scanned
    /// with every query).
    #[test]
    fn matches_come_in_file_order_across_buckets() {
        let t = ModuleTree::from_texts(
            "ata_piix.ko:\nata_generic.ko:\npata_acpi.ko:\n",
            "alias pci:v00008086d00007010sv*sd*bc*sc*i* ata_piix\n\
             alias *:v*d*sv*sd*bc01sc01i* ata_generic\n\
             alias pci:v*d*sv*sd*bc01sc01i* pata_acpi\n",
            "",
            "",
            b"",
        );
        let piix = "pci:v00008086d00007010sv00001AF4sd00001100bc01sc01i80";
        assert_eq!(
            t.resolve_alias(piix),
            ["ata_piix", "ata_generic", "pata_acpi"]
        );
    }

    /// Issue 15, defect 8: 16,000 patterns matching one alias are
    /// de-duplicated with a set (the list search took 334 ms).
    #[test]
    fn many_matches_are_deduplicated_in_linear_time() {
        let n = 16_000;
        let mut dep = String::new();
        let mut alias = String::new();
        for i in 0..n {
            dep.push_str(&format!("m{i}.ko:\n"));
            alias.push_str(&format!("alias x:* m{i}\nalias x:y* m{i}\n"));
        }
        let t = ModuleTree::from_texts(&dep, &alias, "", "", b"");
        let start = std::time::Instant::now();
        let found = t.resolve_alias("x:yz");
        let took = start.elapsed();
        assert_eq!(found.len(), n);
        assert_eq!(found[0], "m0");
        assert_eq!(found[n - 1], format!("m{}", n - 1));
        // Generous: the quadratic search took seconds in a debug build.
        assert!(took < std::time::Duration::from_secs(2), "{took:?}");
    }
}
