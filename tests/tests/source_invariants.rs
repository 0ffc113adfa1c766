//! Invariants ARCHITECTURE.md promises, checked on the source tree.
//!
//! 1. The sans-IO modules (listed below, by hand: a new protocol or format
//!    module joins the list) do no IO: outside `#[cfg(test)]` they name no
//!    rustix, std::fs, std::process, std::os::unix::net, no socket type of
//!    std::net (its address types are plain values and allowed), no stdin
//!    or stdout.
//! 2. logfwd takes the fds init hands down before it starts a thread
//!    (taking one removes its environment variable: unsound with threads).

use nodistro_tests::workspace_root;

/// Protocol and format logic fed bytes and time.
const SANS_IO: &[&str] = &[
    "common/src/bootlog.rs",
    "common/src/cmdline.rs",
    "common/src/http.rs",
    "common/src/protocol.rs",
    "init/src/metadata/http.rs",
    "netcfg/src/fuzzing.rs",
    "packaging/src/fuzzing.rs",
];

/// Directories of sans-IO cores: every file in them (recursively) is
/// checked like [`SANS_IO`], and may not read a clock either (the time is
/// passed in).
const SANS_IO_DIRS: &[&str] = &[
    "console/src/core",
    "init/src/core",
    "logfwd/src/core",
    "modload/src/core",
    "netcfg/src/core",
    "packaging/src/core",
    "update/src/core",
];

/// What a core directory's files must not name besides [`FORBIDDEN`].
const CLOCKS: &[&str] = &[
    "SystemTime::now",
    "Instant::now",
    "since_boot_ms(",
    "libc::",
    "std::thread",
    "timeline::log",
];

/// What a sans-IO module must not name.
const FORBIDDEN: &[&str] = &[
    "rustix",
    "std::fs",
    "std::process",
    "std::os::unix::net",
    "UdpSocket",
    "TcpStream",
    "TcpListener",
    "std::io::stdin",
    "std::io::stdout",
    "std::io::stderr",
    "io::stdout()",
    "io::stderr()",
    "println!",
    "eprintln!",
];

/// The non-test part of a source file: up to its `#[cfg(test)]` module.
fn non_test(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |i| &text[..i])
}

/// Lines of `text` naming something in `forbidden` (comments aside).
fn violations(text: &str, forbidden: &[&str]) -> Vec<String> {
    non_test(text)
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .filter_map(|(i, l)| {
            let hit = forbidden.iter().find(|f| l.contains(*f))?;
            Some(format!("line {}: {hit}: {}", i + 1, l.trim()))
        })
        .collect()
}

#[test]
fn the_checker_sees_io() {
    let io = "use std::net::Ipv4Addr;\nuse std::fs::File;\n// rustix in a comment\n#[cfg(test)]\nmod tests { use rustix; }\n";
    assert_eq!(violations(io, FORBIDDEN).len(), 1);
    assert!(
        violations("let s = std::net::UdpSocket::bind(a);", FORBIDDEN)[0].contains("UdpSocket")
    );
}

#[test]
fn sans_io_modules_do_no_io() {
    let root = workspace_root();
    let mut bad = Vec::new();
    for f in SANS_IO {
        let text = std::fs::read_to_string(root.join(f))
            .unwrap_or_else(|e| panic!("{f} is listed as sans-IO but cannot be read: {e}"));
        bad.extend(
            violations(&text, FORBIDDEN)
                .into_iter()
                .map(|v| format!("{f} {v}")),
        );
    }
    assert!(
        bad.is_empty(),
        "sans-IO modules doing IO:\n{}",
        bad.join("\n")
    );
}

#[test]
fn sans_io_cores_do_no_io_and_read_no_clock() {
    let root = workspace_root();
    let forbidden: Vec<&str> = FORBIDDEN.iter().chain(CLOCKS).copied().collect();
    let mut bad = Vec::new();
    for d in SANS_IO_DIRS {
        let files = rust_files(&root.join(d));
        assert!(!files.is_empty(), "{d}: no sans-IO core there");
        for p in files {
            let text = std::fs::read_to_string(&p).expect("source");
            let rel = rel(&root, &p);
            bad.extend(
                violations(&text, &forbidden)
                    .into_iter()
                    .map(|v| format!("{rel} {v}")),
            );
        }
    }
    assert!(
        bad.is_empty(),
        "sans-IO cores doing IO or reading a clock:\n{}",
        bad.join("\n")
    );
}

/// A core leans on nothing of its shell: outside its tests and comments a
/// file under `src/core/` names `crate::` only as `crate::core::` (the
/// shell may re-export core items; the core may not reach back for them).
#[test]
fn cores_do_not_reach_into_their_shells() {
    let root = workspace_root();
    let mut bad = Vec::new();
    for d in SANS_IO_DIRS {
        for p in rust_files(&root.join(d)) {
            if p.file_name().is_some_and(|n| n == "tests.rs") {
                continue; // a `#[cfg(test)] mod tests;` file
            }
            let text = std::fs::read_to_string(&p).expect("source");
            let rel = rel(&root, &p);
            for (n, line) in non_test(&text).lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                let mut rest = code;
                while let Some(i) = rest.find("crate::") {
                    let after = &rest[i + "crate::".len()..];
                    let ok = ["core::", "core;", "core}"]
                        .iter()
                        .any(|p| after.starts_with(p));
                    if !ok {
                        bad.push(format!("{rel}:{}: {}", n + 1, line.trim()));
                        break;
                    }
                    rest = after;
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "core files using their crate's shell (move the item into core/):\n{}",
        bad.join("\n")
    );
}

/// Issue 15 defect 5: logfwd took the app's pipes (removing their
/// environment variables) in run.rs after its sink threads had started.
/// Now no file that starts threads takes an inherited fd, and
/// main_with_args takes them all before it calls run::run.
#[test]
fn logfwd_takes_inherited_fds_before_any_thread() {
    let root = workspace_root();
    let takers = ["take_inherited_fd", "Notifier::from_env", "Inherited::take"];
    for path in rust_files(&root.join("logfwd/src")) {
        let text = std::fs::read_to_string(&path).expect("source");
        if !non_test(&text).contains("spawn(") {
            continue;
        }
        let calls = violations(&text, &takers);
        assert!(
            calls.is_empty(),
            "{} starts threads and takes inherited fds: {calls:?}",
            path.display()
        );
    }
    let lib = std::fs::read_to_string(root.join("logfwd/src/lib.rs")).expect("lib.rs");
    let run = lib
        .find("run::run(")
        .expect("main_with_args calls run::run");
    for t in takers.iter().skip(1) {
        let at = lib
            .find(t)
            .unwrap_or_else(|| panic!("lib.rs does not call {t}"));
        assert!(
            at < run,
            "{t} comes after run::run (which starts the threads)"
        );
    }
}

// ---------------------------------------------------------------------
// Issue 27: no import circles between the modules of a crate, and no
// function over 80 lines in a runtime crate without a written reason.

/// Every crate whose modules must not import each other in a circle.
const CRATES: &[&str] = &[
    "common",
    "init",
    "modload",
    "netcfg",
    "logfwd",
    "console",
    "multicall",
    "packaging",
    "update",
];

/// The crates an image runs: their functions stay short.
const RUNTIME_CRATES: &[&str] = &[
    "common",
    "init",
    "modload",
    "netcfg",
    "logfwd",
    "console",
    "multicall",
    "update",
];

/// Host crates whose functions stay short too (besides
/// [`RUNTIME_CRATES`]).
const HOST_CRATES: &[&str] = &["packaging"];

/// Circles not yet broken: (crate, its modules in the circle, sorted,
/// joined by spaces). Each needs the reason it is still here; a circle
/// that is gone must leave the list.
const ALLOWED_CIRCLES: &[(&str, &str, &str)] = &[];

/// Longest a function may be without a `// long:` comment saying why.
const MAX_FN_LINES: usize = 80;

/// Functions over [`MAX_FN_LINES`] not yet split: `path::fn` and why
/// (none today: a new one is split or says `// long:` why not).
const ALLOWED_LONG_FNS: &[(&str, &str)] = &[];

/// `p` relative to the workspace root, for messages.
fn rel(root: &std::path::Path, p: &std::path::Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

/// The `.rs` files under `dir`, recursively, sorted.
fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.expect("entry").path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The module path of a source file relative to `src/` (`""` for the
/// crate root, `None` for a binary's `main.rs` or `bin/`).
fn module_of(rel: &std::path::Path) -> Option<String> {
    let parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    if parts.first().is_some_and(|p| p == "bin") || parts == ["main.rs"] {
        return None;
    }
    let mut segs: Vec<String> = parts.clone();
    let last = segs.pop()?;
    match last.as_str() {
        "lib.rs" | "mod.rs" => {}
        f => segs.push(f.trim_end_matches(".rs").to_string()),
    }
    Some(segs.join("::"))
}

/// Source text without comment lines and without the end of line
/// comments, so a doc link or a remark is not an import.
fn code_lines(text: &str) -> Vec<(usize, String)> {
    non_test(text)
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .map(|(i, l)| (i + 1, l.split(" // ").next().unwrap_or(l).to_string()))
        .collect()
}

/// The paths a `use` tree or an expression names from `s` on (just after
/// `crate::` or `super::`): `a::{b, c::d}` gives `a::b` and `a::c::d`.
fn tree_paths(s: &str) -> Vec<Vec<String>> {
    fn ident(s: &str) -> (&str, &str) {
        let n = s
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        s.split_at(n)
    }
    fn tree(mut s: &str, prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
        let start = s.len();
        let mut path = prefix;
        loop {
            s = s.trim_start();
            if let Some(rest) = s.strip_prefix('{') {
                let mut r = rest;
                loop {
                    r = r.trim_start();
                    if let Some(after) = r.strip_prefix('}') {
                        r = after;
                        break;
                    }
                    if r.is_empty() {
                        break;
                    }
                    let used = tree(r, path.clone(), out);
                    r = r[used..].trim_start();
                    r = r.strip_prefix(',').unwrap_or(r);
                    if used == 0 {
                        r = &r[r.chars().next().map_or(0, char::len_utf8)..];
                    }
                }
                s = r;
                return start - s.len();
            }
            let (id, rest) = ident(s);
            if id.is_empty() {
                break;
            }
            if id != "self" {
                path.push(id.to_string());
            }
            s = rest;
            match s.strip_prefix("::") {
                Some(r) => s = r,
                None => break,
            }
        }
        out.push(path);
        start - s.len()
    }
    let mut out = Vec::new();
    tree(s, Vec::new(), &mut out);
    out
}

/// `(line, referenced module path)` for every `crate::` and `super::`
/// path in `text`, a file of module `module`, resolved to the longest
/// module in `modules`.
fn references(
    text: &str,
    module: &str,
    is_mod_rs: bool,
    modules: &[String],
) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in code_lines(text) {
        for (kw, rel) in [("crate::", false), ("super::", true)] {
            let mut from = 0;
            while let Some(i) = line[from..].find(kw).map(|i| i + from) {
                from = i + kw.len();
                let before = line[..i].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$' || c == ':') {
                    continue;
                }
                let base: Vec<String> = if rel {
                    // super of a mod.rs file is its module's parent.
                    let mut b: Vec<String> = module
                        .split("::")
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect();
                    let _ = is_mod_rs;
                    b.pop();
                    b
                } else {
                    Vec::new()
                };
                for p in tree_paths(&line[from..]) {
                    let full: Vec<String> = base.iter().cloned().chain(p).collect();
                    let target = (0..=full.len())
                        .rev()
                        .map(|k| full[..k].join("::"))
                        .find(|m| modules.contains(m))
                        .unwrap_or_default();
                    out.push((n, target));
                }
            }
        }
    }
    out
}

fn is_ancestor(a: &str, b: &str) -> bool {
    a.is_empty()
        || b.is_empty()
        || a == b
        || b.starts_with(&format!("{a}::"))
        || a.starts_with(&format!("{b}::"))
}

/// The import graph of a crate's `src/`: module -> (module -> where).
fn import_graph(
    src: &std::path::Path,
) -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> {
    let files: Vec<(String, std::path::PathBuf)> = rust_files(src)
        .into_iter()
        .filter_map(|p| Some((module_of(p.strip_prefix(src).ok()?)?, p)))
        .collect();
    let modules: Vec<String> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut g: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> =
        modules
            .iter()
            .map(|m| (m.clone(), Default::default()))
            .collect();
    for (m, p) in &files {
        let text = std::fs::read_to_string(p).expect("source");
        let is_mod_rs = p.ends_with("mod.rs");
        for (line, t) in references(&text, m, is_mod_rs, &modules) {
            if is_ancestor(m, &t) {
                continue;
            }
            g.get_mut(m).expect("module").entry(t).or_insert_with(|| {
                format!("{}:{line}", p.strip_prefix(src).expect("in src").display())
            });
        }
    }
    g
}

/// The circles of `g`: each strongly connected set of more than one
/// module, sorted.
fn circles(
    g: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
) -> Vec<Vec<String>> {
    let reach = |from: &str| {
        let mut seen = std::collections::BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(m) = todo.pop() {
            for t in g.get(&m).into_iter().flat_map(|e| e.keys()) {
                if seen.insert(t.clone()) {
                    todo.push(t.clone());
                }
            }
        }
        seen
    };
    let all: std::collections::BTreeMap<&String, _> = g.keys().map(|m| (m, reach(m))).collect();
    let mut out: Vec<Vec<String>> = Vec::new();
    for (m, r) in &all {
        if !r.contains(*m) || out.iter().any(|c| c.contains(m)) {
            continue;
        }
        let c: Vec<String> = r
            .iter()
            .filter(|o| all.get(o).is_some_and(|ro| ro.contains(*m)))
            .cloned()
            .collect();
        if c.len() > 1 {
            out.push(c);
        }
    }
    out
}

#[test]
fn the_circle_finder_sees_circles() {
    assert_eq!(
        tree_paths("a::{b, c::{d, self}}, e;"),
        [vec!["a", "b"], vec!["a", "c", "d"], vec!["a", "c"]]
    );
    let modules: Vec<String> = ["", "a", "b", "b::c"].map(String::from).to_vec();
    let r = references(
        "use crate::{a::X, b::c::Y};\n// crate::b in a comment\nfn f() { super::c::g(); $crate::x }\n",
        "b::d",
        false,
        &modules,
    );
    assert_eq!(
        r,
        [
            (1, "a".to_string()),
            (1, "b::c".to_string()),
            (3, "b::c".to_string())
        ]
    );
    let mut g = std::collections::BTreeMap::new();
    for (a, b) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")] {
        g.entry(a.to_string())
            .or_insert_with(std::collections::BTreeMap::new)
            .insert(b.to_string(), String::new());
        g.entry(b.to_string()).or_default();
    }
    assert_eq!(circles(&g), [vec!["a", "b", "c"]]);
}

/// Issue 27: five circles (logfwd format<->record and inherited<->run,
/// modload bins<->tree, netcfg apply/run/sntp/v6, packaging
/// bootable<->build) made each change touch both sides.
#[test]
fn no_import_circles_between_modules() {
    let root = workspace_root();
    let mut bad = Vec::new();
    let mut found = Vec::new();
    for krate in CRATES {
        let g = import_graph(&root.join(krate).join("src"));
        for c in circles(&g) {
            let key = c.join(" ");
            found.push((krate.to_string(), key.clone()));
            if ALLOWED_CIRCLES
                .iter()
                .any(|(k, m, _)| k == krate && *m == key)
            {
                continue;
            }
            let edges: Vec<String> = c
                .iter()
                .flat_map(|a| {
                    g[a].iter()
                        .filter(|(b, _)| c.contains(b))
                        .map(move |(b, at)| format!("{a} -> {b} ({at})"))
                })
                .collect();
            bad.push(format!("{krate}: {key}: {}", edges.join(", ")));
        }
    }
    for (k, m, _) in ALLOWED_CIRCLES {
        assert!(
            found.iter().any(|(fk, fm)| fk == k && fm == m),
            "{k}: the circle {m} is gone: take it off ALLOWED_CIRCLES"
        );
    }
    assert!(bad.is_empty(), "import circles:\n{}", bad.join("\n"));
}

/// `(line, name, length in lines)` of each function in `text` (rustfmt's
/// layout: the body ends at the first `}` line as indented as the `fn`),
/// and whether a `// long:` comment stands in the lines above it.
fn functions(text: &str) -> Vec<(usize, String, usize, bool)> {
    let lines: Vec<&str> = non_test(text).lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim_start();
        let Some(at) = t.find("fn ") else { continue };
        let head = &t[..at];
        let words_ok = head.split_whitespace().all(|w| {
            matches!(w, "pub" | "const" | "async" | "unsafe" | "extern" | "\"C\"")
                || w.starts_with("pub(")
        });
        if !words_ok || t.starts_with("//") {
            continue;
        }
        let name: String = t[at + 3..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let indent = &l[..l.len() - t.len()];
        // A declaration without a body ends with `;` before any `{`.
        let mut j = i;
        let mut has_body = false;
        while j < lines.len() {
            let s = lines[j].trim_end();
            if s.ends_with('{') || s.contains(" { ") || s.ends_with('}') {
                has_body = true;
                break;
            }
            if s.ends_with(';') {
                break;
            }
            j += 1;
        }
        if !has_body {
            continue;
        }
        let end = if lines[j].trim_end().ends_with('}') && !lines[j].trim_end().ends_with('{') {
            j
        } else {
            let close = format!("{indent}}}");
            (j + 1..lines.len())
                .find(|&k| lines[k].trim_end() == close)
                .unwrap_or(j)
        };
        let mut k = i;
        let mut reason = l.contains("// long:");
        while k > 0 {
            k -= 1;
            let p = lines[k].trim_start();
            if p.starts_with("//") || p.starts_with("#[") {
                reason |= p.starts_with("// long:");
            } else {
                break;
            }
        }
        out.push((i + 1, name, end - i + 1, reason));
    }
    out
}

#[test]
fn the_length_check_measures_functions() {
    let text = "/// doc\n// long: a table\npub fn a() {\n    x();\n}\nfn b(\n    y: u8,\n) -> u8 {\n    y\n}\ntrait T {\n    fn c(&self);\n    fn d(&self) {}\n}\n";
    let f = functions(text);
    assert_eq!(
        f,
        [
            (3, "a".to_string(), 3, true),
            (6, "b".to_string(), 5, false),
            (13, "d".to_string(), 1, false)
        ]
    );
}

/// Issue 27: no function over ~80 lines in a runtime crate (or a host
/// crate of [`HOST_CRATES`]) without a reason written beside it
/// (`// long: ...` above the `fn`).
#[test]
fn runtime_functions_are_short_or_say_why() {
    let root = workspace_root();
    let mut bad = Vec::new();
    let mut long = Vec::new();
    for krate in RUNTIME_CRATES.iter().chain(HOST_CRATES) {
        let src = root.join(krate).join("src");
        for p in rust_files(&src) {
            let rel = rel(&root, &p);
            let text = std::fs::read_to_string(&p).expect("source");
            for (line, name, len, reason) in functions(&text) {
                if len <= MAX_FN_LINES || reason {
                    continue;
                }
                let key = format!("{rel}::{name}");
                long.push(key.clone());
                if !ALLOWED_LONG_FNS.iter().any(|(k, _)| *k == key) {
                    bad.push(format!("{rel}:{line}: {name}: {len} lines"));
                }
            }
        }
    }
    for (k, _) in ALLOWED_LONG_FNS {
        assert!(
            long.contains(&k.to_string()),
            "{k} is no longer over {MAX_FN_LINES} lines: take it off ALLOWED_LONG_FNS"
        );
    }
    assert!(
        bad.is_empty(),
        "functions over {MAX_FN_LINES} lines without a `// long:` reason:\n{}",
        bad.join("\n")
    );
}

/// Issue 27: QEMU's arguments are spelled once, by the fixture
/// (`nodistro_tests::qemu::BootOpts`'s methods over packaging's
/// `QemuSpec`): a test asks for a drive, a watchdog or a NIC by name.
#[test]
fn tests_spell_no_qemu_arguments() {
    let root = workspace_root();
    let raw = [
        ".qemu_args(",
        "\"-drive\"",
        "\"-device\"",
        "\"-netdev\"",
        "\"-nic\"",
        "\"-rtc\"",
        "extra_args",
    ];
    let mut bad = Vec::new();
    for p in rust_files(&root.join("tests/tests")) {
        if p.ends_with("source_invariants.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&p).expect("source");
        let rel = rel(&root, &p);
        bad.extend(
            violations(&text, &raw)
                .into_iter()
                .map(|v| format!("{rel} {v}")),
        );
    }
    assert!(
        bad.is_empty(),
        "raw QEMU arguments outside the fixture (add a BootOpts method):\n{}",
        bad.join("\n")
    );
}

/// The values `common/src/protocol.rs` names that only a contract would
/// spell: paths, env names, file names, config keys, the readiness words
/// with a dash (plain words like `ready` are English too and are left to
/// review).
fn protocol_values(text: &str) -> Vec<String> {
    non_test(text)
        .lines()
        .filter_map(|l| l.split_once(": &str = \"").map(|(_, v)| v))
        .filter_map(|v| v.split_once('"').map(|(v, _)| v.to_string()))
        .filter(|v| v.contains(['/', '.', '_', '-']) && !v.contains(' '))
        .collect()
}

/// Issue 27: a contract between the tools is spelled once, in
/// `common::protocol`: no runtime crate writes one of its paths (or a
/// path under one), env names, file names or keys as a literal outside
/// its tests.
#[test]
fn contracts_are_spelled_only_in_protocol() {
    let root = workspace_root();
    let proto = root.join("common/src/protocol.rs");
    let values = protocol_values(&std::fs::read_to_string(&proto).expect("protocol.rs"));
    assert!(
        values.iter().any(|v| v == "NODISTRO_READY_FD")
            && values.iter().any(|v| v == "/run/nodistro"),
        "protocol_values misses the contracts: {values:?}"
    );
    let mut bad = Vec::new();
    for krate in RUNTIME_CRATES {
        for p in rust_files(&root.join(krate).join("src")) {
            if p == proto {
                continue;
            }
            let text = std::fs::read_to_string(&p).expect("source");
            let code = non_test(&text);
            for v in &values {
                let exact = format!("\"{v}\"");
                let under = format!("\"{v}/");
                if code.contains(&exact) || (v.starts_with('/') && code.contains(&under)) {
                    let rel = rel(&root, &p);
                    bad.push(format!("{rel}: {v:?}"));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "contracts spelled outside common::protocol (use its constant):\n{}",
        bad.join("\n")
    );
}

/// Every configuration key a runtime crate reads (`init.*`, `netcfg.*`,
/// `logfwd.*`, `modload.*`, `update.*` literals, and those in
/// common::protocol) has a row in README's "Configuration keys" table.
#[test]
fn every_configuration_key_is_documented() {
    let root = workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let table = readme
        .split_once("## Configuration keys")
        .map(|(_, t)| t.split("\n## ").next().unwrap_or(t))
        .expect("README.md has a \"Configuration keys\" section");
    let mut missing = std::collections::BTreeSet::new();
    let mut seen = 0;
    for krate in RUNTIME_CRATES {
        for p in rust_files(&root.join(krate).join("src")) {
            let text = std::fs::read_to_string(&p).expect("source");
            for piece in non_test(&text).split('"').skip(1).step_by(2) {
                let Some((tool, key)) = piece.split_once('.') else {
                    continue;
                };
                let tool_ok = ["init", "netcfg", "logfwd", "modload", "update"].contains(&tool);
                let key_ok =
                    !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_');
                if tool_ok && key_ok {
                    seen += 1;
                    if !table.contains(&format!("`{piece}`")) {
                        missing.insert(piece.to_string());
                    }
                }
            }
        }
    }
    assert!(seen > 30, "the key finder found only {seen} keys");
    assert!(
        missing.is_empty(),
        "keys read by the tools but not in README's \"Configuration keys\": {missing:?}"
    );
}
