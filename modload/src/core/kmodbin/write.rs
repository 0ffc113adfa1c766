//! The writer of kmod's binary indexes: depmod's trie, laid out as
//! libkmod reads it (the format in the parent module).

use super::{F_CHILDS, F_PREFIX, F_VALUES, MAGIC, VERSION};

/// Write an index as depmod does: `entries` are (key, value, priority);
/// the values of one key sorted by priority (equal ones: the later first).
/// Keys and values must not contain NUL bytes (such entries are skipped).
// long: depmod's writer: the trie built, then laid out; both halves share
// the node vector and the local node type.
pub fn write<'e>(entries: impl IntoIterator<Item = (&'e [u8], &'e [u8], u32)>) -> Vec<u8> {
    // The trie in memory: nodes in a vector, children by edge byte.
    struct N {
        prefix: Vec<u8>,
        children: std::collections::BTreeMap<u8, usize>,
        values: Vec<(u32, Vec<u8>)>,
    }
    let new = |prefix: &[u8]| N {
        prefix: prefix.to_vec(),
        children: Default::default(),
        values: Vec::new(),
    };
    let mut nodes = vec![new(b"")];
    for (key, value, priority) in entries {
        if key.contains(&0) || value.contains(&0) {
            continue;
        }
        let (mut at, mut i) = (0usize, 0usize);
        loop {
            // Split the node where its prefix and the key part.
            let common = nodes[at]
                .prefix
                .iter()
                .zip(&key[i..])
                .take_while(|(a, b)| a == b)
                .count();
            if common < nodes[at].prefix.len() {
                let tail = nodes[at].prefix.split_off(common);
                let (edge, rest) = (tail[0], tail[1..].to_vec());
                let moved = N {
                    prefix: rest,
                    children: std::mem::take(&mut nodes[at].children),
                    values: std::mem::take(&mut nodes[at].values),
                };
                nodes.push(moved);
                let id = nodes.len() - 1;
                nodes[at].children.insert(edge, id);
            }
            i += common;
            let Some(&ch) = key.get(i) else {
                let vals = &mut nodes[at].values;
                let pos = vals.partition_point(|(p, _)| *p < priority);
                vals.insert(pos, (priority, value.to_vec()));
                break;
            };
            match nodes[at].children.get(&ch) {
                Some(&c) => {
                    at = c;
                    i += 1;
                }
                None => {
                    let mut leaf = new(&key[i + 1..]);
                    leaf.values.push((priority, value.to_vec()));
                    nodes.push(leaf);
                    let id = nodes.len() - 1;
                    nodes[at].children.insert(ch, id);
                    break;
                }
            }
        }
    }
    // Post-order, as depmod writes (children before their parent).
    let mut out = Vec::new();
    out.extend(MAGIC.to_be_bytes());
    out.extend(VERSION.to_be_bytes());
    out.extend([0u8; 4]);
    let mut offsets = vec![0u32; nodes.len()];
    let mut stack: Vec<(usize, bool)> = vec![(0, false)];
    while let Some((id, expanded)) = stack.pop() {
        if !expanded {
            stack.push((id, true));
            for &c in nodes[id].children.values().rev() {
                stack.push((c, false));
            }
            continue;
        }
        let n = &nodes[id];
        let mut off = out.len() as u32;
        if !n.prefix.is_empty() {
            out.extend_from_slice(&n.prefix);
            out.push(0);
            off |= F_PREFIX;
        }
        if let (Some((&first, _)), Some((&last, _))) =
            (n.children.first_key_value(), n.children.last_key_value())
        {
            out.push(first);
            out.push(last);
            for ch in first..=last {
                let o = n.children.get(&ch).map_or(0, |&c| offsets[c]);
                out.extend(o.to_be_bytes());
            }
            off |= F_CHILDS;
        }
        if !n.values.is_empty() {
            out.extend((n.values.len() as u32).to_be_bytes());
            for (p, v) in &n.values {
                out.extend(p.to_be_bytes());
                out.extend_from_slice(v);
                out.push(0);
            }
            off |= F_VALUES;
        }
        offsets[id] = off;
    }
    let root = offsets[0].to_be_bytes();
    out[8..12].copy_from_slice(&root);
    out
}
