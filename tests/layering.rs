//! The module graph of `src/`: no import cycle between modules, and the
//! floors of ARCHITECTURE.md (which room may import which).
//!
//! Edges come from the source text: every `crate::…`, `super::…` and
//! `self::…` path (in `use` lines and inline), resolved to the deepest module
//! file it names. A parent module declaring or re-exporting its children is
//! not an edge (that is containment, not a dependency).
//!
//! Print the graph: `cargo test --release --test layering -- --nocapture`
//! (`LAYERING_SRC=/some/src` to print another tree's).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What each room may import (besides its own room). A module takes the
/// most specific entry naming it or a parent; a room not listed here is not
/// restricted. `io::host` (host facts) is a leaf the engine may use, the one
/// exception to "engine imports no io". `command` drives the daemon's state
/// and the fan-out, never a front end; its request and reply types stay
/// plain values any front end (or codec) can use.
const FLOORS: &[(&str, &[&str])] = &[
    ("wire", &[]),
    ("lttng_wire", &["wire::bytes"]),
    ("filter", &["wire::bytes"]),
    ("relayd_wire", &[]),
    ("relayd", &["relayd_wire"]),
    ("sync", &[]),
    ("core", &["sync", "wire"]),
    ("ustctl", &["sync"]),
    (
        "engine",
        &[
            "core",
            "sync",
            "wire",
            "ustctl",
            "io::host",
            "relayd",
            "relayd_wire",
        ],
    ),
    (
        "command",
        &[
            "core",
            "sync",
            "wire",
            "filter",
            "engine",
            "io::state",
            "io::app_conn",
            "io::fan_out",
            "io::host",
        ],
    ),
    ("command::request", &["core"]),
    ("command::reply", &["core"]),
];

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "bin") {
                rs_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `src/io/daemon.rs` -> `io::daemon`; `src/core/metadata/mod.rs` ->
/// `core::metadata`; `src/lib.rs` -> `` (the crate root).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let mut parts: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop()?;
    let stem = last.strip_suffix(".rs")?;
    if parts.is_empty() && stem == "main" {
        return None; // the binary: a front end, it uses `ustd::`
    }
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_owned());
    }
    Some(parts.join("::"))
}

fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path following `crate::`, `super::` or `self::`, including each
/// branch of a `{…}` group, as segment lists relative to the crate root.
fn paths_in(text: &str, module: &str) -> Vec<Vec<String>> {
    let module: Vec<String> = if module.is_empty() {
        Vec::new()
    } else {
        module.split("::").map(str::to_owned).collect()
    };
    let mut out = Vec::new();
    let b = text.as_bytes();
    for prefix in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(i) = text[from..].find(prefix) {
            let at = from + i;
            from = at + prefix.len();
            // Whole word only (not `ustd_crate::`, `myself::`).
            if at > 0 && (b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'_') {
                continue;
            }
            if text[from..].starts_with('*') {
                continue; // `use super::*` in a test module: its own parent
            }
            let base: Vec<String> = match prefix {
                "crate::" => Vec::new(),
                "super::" => {
                    let mut m = module.clone();
                    m.pop();
                    m
                }
                _ => module.clone(),
            };
            expand(&text[from..], base, &mut out);
        }
    }
    out
}

/// Parses `a::b::{c, d::e}` (or a plain path) at the start of `s`.
fn expand(s: &str, base: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut cur = base;
    let mut rest = s;
    loop {
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end > 0 {
            cur.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
        if let Some(r) = rest.strip_prefix("::") {
            if let Some(group) = r.strip_prefix('{') {
                let mut depth = 1;
                let mut item_start = 0;
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' | ',' if depth == 1 => {
                            let item = group[item_start..i].trim();
                            if !item.is_empty() && item != "self" {
                                expand(item, cur.clone(), out);
                            }
                            item_start = i + 1;
                            if c == '}' {
                                break;
                            }
                        }
                        '}' => depth -= 1,
                        _ => {}
                    }
                }
                out.push(cur);
                return;
            }
            rest = r;
            continue;
        }
        out.push(cur);
        return;
    }
}

/// The deepest known module a path names.
fn resolve(path: &[String], modules: &BTreeSet<String>) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| modules.contains(m))
}

type Graph = BTreeMap<String, BTreeSet<String>>;

fn graph() -> Graph {
    // LAYERING_SRC: another tree's src/ (e.g. an older commit's) to print.
    let src = std::env::var_os("LAYERING_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    let mods: Vec<(String, PathBuf)> = files
        .into_iter()
        .filter_map(|f| Some((module_of(&src, &f)?, f)))
        .collect();
    let names: BTreeSet<String> = mods.iter().map(|(m, _)| m.clone()).collect();
    let mut g = Graph::new();
    for (m, f) in &mods {
        let text = strip_comments(&std::fs::read_to_string(f).expect("read module"));
        let deps = g.entry(m.clone()).or_default();
        for p in paths_in(&text, m) {
            if let Some(t) = resolve(&p, &names) {
                // A module naming its own children (or itself) is containment.
                let own = t == *m || m.is_empty() || t.starts_with(&format!("{m}::"));
                if !own {
                    deps.insert(t);
                }
            }
        }
    }
    g
}

/// One cycle, if any (depth-first search).
fn find_cycle(g: &Graph) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &Graph,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_owned(), 1);
        stack.push(n.to_owned());
        for d in g.get(n).into_iter().flatten() {
            match state.get(d.as_str()).copied().unwrap_or(0) {
                1 => {
                    let i = stack.iter().position(|s| s == d).expect("on stack");
                    let mut c = stack[i..].to_vec();
                    c.push(d.clone());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(d, g, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(n, g, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

fn within(m: &str, allowed: &str) -> bool {
    m == allowed || m.starts_with(&format!("{allowed}::"))
}

#[test]
fn module_graph_has_no_cycle() {
    let g = graph();
    for (m, deps) in &g {
        let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
        println!(
            "{} -> {}",
            if m.is_empty() { "crate" } else { m },
            deps.join(" ")
        );
    }
    if let Some(c) = find_cycle(&g) {
        panic!("import cycle: {}", c.join(" -> "));
    }
}

#[test]
fn rooms_respect_their_floors() {
    let g = graph();
    let mut bad = Vec::new();
    for (m, deps) in &g {
        let Some((scope, allowed)) = FLOORS
            .iter()
            .filter(|(r, _)| within(m, r))
            .max_by_key(|(r, _)| r.len())
        else {
            continue;
        };
        for d in deps {
            let ok = within(d, scope) || allowed.iter().any(|a| within(d, a));
            if !ok {
                bad.push(format!("{m} -> {d}"));
            }
        }
    }
    assert!(bad.is_empty(), "imports below a room's floor: {bad:#?}");
}

#[test]
fn parser_sees_groups_and_relative_paths() {
    let mods: BTreeSet<String> = ["io", "io::a", "io::b", "io::b::c", "core", "core::x"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let text =
        "use crate::core::x::{Y, Z};\nuse super::b::{c::D, self};\nlet v = crate::io::a::f();";
    let got: BTreeSet<String> = paths_in(text, "io::a")
        .iter()
        .filter_map(|p| resolve(p, &mods))
        .collect();
    let want: BTreeSet<String> = ["core::x", "io::b", "io::b::c", "io::a"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(got, want);
    let mut g = Graph::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("a".into());
    assert!(find_cycle(&g).is_some());
}
