//! No two modules of the service import each other, directly or in a loop.
//!
//! A circle between modules means neither can be read, tested or moved without the other, so this
//! test reads `src/**/*.rs` and fails listing every circle it finds.
//!
//! **Granularity.** A node is a top-level module (`agents`, `store`) or a second-level one
//! (`agents::labels`, `store::sqlite`); deeper files and inline `mod` blocks count as part of their
//! second-level ancestor, so `store/sqlite/page.rs` and `agents/input/tests.rs` belong to
//! `store::sqlite` and `agents::input`. The check runs twice: on the second-level graph, and on the
//! top-level graph where every node is collapsed into its top-level module (so `a::x → b` and
//! `b → a::y` is a circle between `a` and `b`).
//!
//! **Edges.** Every `crate::…` and `super::…` path outside comments, in `use` items (braces
//! expanded) and in code, is an edge from the file's node to the module the path names: the
//! longest prefix that is a module file, cut to the second level. A path to an item that a module
//! re-exports (`pub use child::Item`) is followed to where the item lives, so a child importing a
//! sibling's type through its parent's re-export is an edge to that sibling. A module's own
//! children are part of it: the `mod` declarations and re-exports of a parent are not edges, while
//! a child reaching up to its parent is one. `main.rs` is the binary's root and `lib.rs` the
//! library's; neither is a node.
//!
//! **Tests do not count.** Items under `#[cfg(test)]` and `tests.rs` files are left out: a unit
//! test may drive its module through the one above it (the directory's tests write through the
//! registry) without the built service depending on it both ways.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path, e.g. `["agents", "input"]`.
type ModPath = Vec<String>;

struct Module {
    /// The file's text with comments removed.
    text: String,
}

#[test]
fn no_module_imports_another_that_imports_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = read_modules(&src);
    let edges = edges(&modules);
    let top: BTreeMap<ModPath, BTreeSet<ModPath>> =
        edges.iter().fold(BTreeMap::new(), |mut top, (from, tos)| {
            let from = cut(from, 1);
            let set = top.entry(from.clone()).or_default();
            set.extend(tos.iter().map(|to| cut(to, 1)).filter(|to| *to != from));
            top
        });

    // A circle between top-level modules shows in both graphs when both ends are top-level.
    let found: BTreeSet<String> = circles(&edges).into_iter().chain(circles(&top)).collect();
    assert!(
        found.is_empty(),
        "modules of crates/finch/src that import each other:\n{}",
        found.into_iter().collect::<Vec<_>>().join("\n")
    );
}

fn module(text: &str) -> Module {
    Module {
        text: without_tests(&strip_comments(text)),
    }
}

#[test]
fn a_parent_re_exporting_its_child_is_no_circle() {
    let modules = BTreeMap::from([
        (names("a"), module("mod b;\npub use b::B;\npub struct A;")),
        (names("a::b"), module("use super::A;\npub struct B(A);")),
    ]);
    assert_eq!(circles(&edges(&modules)), Vec::<String>::new());
}

#[test]
fn the_checker_sees_a_circle_through_a_parent_re_export() {
    let mut modules = BTreeMap::new();
    modules.insert(
        names("a"),
        module("mod b;\nmod c;\npub use b::B;\npub use c::{C, D};"),
    );
    modules.insert(names("a::b"), module("use super::C;\npub struct B;"));
    modules.insert(
        names("a::c"),
        module("pub struct C;\n// crate::a::b::B in a comment does not count\nfn f() -> crate::a::b::B {}\n#[cfg(test)]\nmod tests { use crate::x::Y; }"),
    );
    let edges = edges(&modules);
    assert_eq!(
        circles(&edges),
        vec!["a::b, a::c (one loop: a::b → a::c → a::b)".to_owned()]
    );
}

/// The second-level graph: for each node, the nodes it imports from.
fn edges(modules: &BTreeMap<ModPath, Module>) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let mut edges: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for (path, module) in modules {
        let from = cut(path, 2);
        let targets = edges.entry(from.clone()).or_default();
        for reference in references(path, &module.text) {
            let Some(target) = resolve(modules, &reference, 0) else {
                continue;
            };
            let to = cut(&target, 2);
            // A module's children are part of it; a child reaching its parent is an edge.
            if !to.starts_with(&from) {
                targets.insert(to);
            }
        }
    }
    edges
}

fn names(path: &str) -> ModPath {
    path.split("::").map(str::to_owned).collect()
}

fn cut(path: &[String], depth: usize) -> ModPath {
    path[..path.len().min(depth)].to_vec()
}

/// Every module file under `src`, by module path.
fn read_modules(src: &Path) -> BTreeMap<ModPath, Module> {
    let mut files = Vec::new();
    collect_files(src, &mut files);
    let mut modules = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(src).expect("under src");
        let mut path: ModPath = relative
            .with_extension("")
            .iter()
            .map(|part| part.to_string_lossy().into_owned())
            .collect();
        if path.last().is_some_and(|last| last == "mod") {
            path.pop();
        }
        if path == ["lib"] || path == ["main"] || path.last().is_some_and(|last| last == "tests") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable source file");
        modules.insert(
            path,
            Module {
                text: without_tests(&strip_comments(&text)),
            },
        );
    }
    modules
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            collect_files(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

/// `text` without the items marked `#[cfg(test)]` (up to their `;` or balanced `{}`).
fn without_tests(text: &str) -> String {
    const MARK: &str = "#[cfg(test)]";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(MARK) {
        out.push_str(&rest[..start]);
        let item = &rest[start + MARK.len()..];
        let end = match (item.find('{'), item.find(';')) {
            (Some(open), semi) if semi.is_none_or(|semi| open < semi) => {
                let mut depth = 0;
                let close = item[open..].char_indices().find_map(|(i, c)| {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    (depth == 0).then_some(open + i + 1)
                });
                close.unwrap_or(item.len())
            }
            (_, Some(semi)) => semi + 1,
            _ => item.len(),
        };
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// `text` without `//` comments (doc comments included) and `/* */` blocks, with string
/// literals blanked so that a `"crate::x"` in a message is not read as a path.
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            '"' => {
                out.push('"');
                let mut escaped = false;
                for c in chars.by_ref() {
                    if !escaped && c == '"' {
                        break;
                    }
                    escaped = !escaped && c == '\\';
                }
                out.push('"');
            }
            _ => out.push(c),
        }
    }
    out
}

/// The absolute paths (`["agents", "input", "AgentInput"]`) that a module's text refers to
/// through `crate::` or `super::`.
fn references(module: &[String], text: &str) -> Vec<ModPath> {
    let mut paths = Vec::new();
    // `use` items, braces expanded.
    let mut rest = text;
    while let Some(start) = find_word(rest, "use") {
        let after = &rest[start + 3..];
        let Some(end) = after.find(';') else { break };
        for path in expand(&after[..end]) {
            paths.push(path);
        }
        rest = &after[end..];
    }
    // Paths in code: `crate::a::b` and `super::x` outside `use` items (repeats are harmless).
    let bytes = text.as_bytes();
    for anchor in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = text[from..].find(anchor).map(|i| i + from) {
            from = i + anchor.len();
            let preceded = i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
            let after_colons = i >= 2 && &text[i - 2..i] == "::";
            if preceded || after_colons {
                continue;
            }
            let len = text[i..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(text.len() - i);
            let found = &text[i..i + len];
            // `super::{a, b}` is a `use` tree, read whole above.
            if !found.ends_with("::") {
                paths.push(split_path(found));
            }
        }
    }
    paths
        .into_iter()
        .filter_map(|path| absolute(module, &path))
        .collect()
}

/// The index of the next `word` in `text` that stands alone.
fn find_word(text: &str, word: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(i) = text[from..].find(word).map(|i| i + from) {
        let end = i + word.len();
        let alone_before =
            i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let alone_after = end < bytes.len() && bytes[end].is_ascii_whitespace();
        if alone_before && alone_after {
            return Some(i);
        }
        from = end;
    }
    None
}

/// The paths of a `use` tree (`crate::a::{b::C, d}` gives `crate::a::b::C` and `crate::a::d`).
fn expand(tree: &str) -> Vec<ModPath> {
    // Drop renames (`x as y`) and whitespace.
    let mut words = tree.split_whitespace();
    let mut tree = String::new();
    while let Some(word) = words.next() {
        if word == "as" {
            words.next();
        } else {
            tree.push_str(word);
        }
    }
    let mut out = Vec::new();
    expand_into(&tree, &mut Vec::new(), &mut out);
    out
}

fn expand_into(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<ModPath>) {
    match tree.find('{') {
        Some(open) if tree.ends_with('}') => {
            let head: Vec<String> = split_path(&tree[..open]);
            let depth = prefix.len();
            prefix.extend(head);
            for part in split_top_level(&tree[open + 1..tree.len() - 1]) {
                expand_into(part, prefix, out);
            }
            prefix.truncate(depth);
        }
        _ => {
            let mut path = prefix.clone();
            path.extend(split_path(tree));
            if path.last().is_some_and(|last| last == "self") {
                path.pop();
            }
            out.push(path);
        }
    }
}

fn split_path(text: &str) -> Vec<String> {
    text.split("::")
        .filter(|part| !part.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The comma-separated parts of a brace group, not splitting inside nested braces.
fn split_top_level(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts.into_iter().filter(|part| !part.is_empty()).collect()
}

/// `path` as seen from `module`, made absolute; `None` for paths outside the crate.
fn absolute(module: &[String], path: &[String]) -> Option<ModPath> {
    let (first, rest) = path.split_first()?;
    match first.as_str() {
        "crate" => Some(rest.to_vec()),
        "super" => {
            let mut base = module.to_vec();
            base.pop()?;
            let mut rest = rest;
            while rest.first().is_some_and(|part| part == "super") {
                base.pop()?;
                rest = &rest[1..];
            }
            base.extend(rest.iter().cloned());
            Some(base)
        }
        _ => None,
    }
}

/// The module where the item `path` names lives: the longest prefix of `path` that is a module
/// file, or, when the next part is a name that module re-exports, where the re-export leads.
fn resolve(modules: &BTreeMap<ModPath, Module>, path: &[String], hops: usize) -> Option<ModPath> {
    let len = (1..=path.len())
        .rev()
        .find(|&len| modules.contains_key(&path[..len]))?;
    let module = path[..len].to_vec();
    let Some(name) = path.get(len) else {
        return Some(module);
    };
    // A re-export of a re-export is followed too, a few hops at most.
    match re_export(modules, &module, name) {
        Some(target) if hops < 8 => resolve(modules, &target, hops + 1).or(Some(module)),
        _ => Some(module),
    }
}

/// Where `module` takes the name it re-exports as `name` from, as an absolute path.
fn re_export(modules: &BTreeMap<ModPath, Module>, module: &ModPath, name: &str) -> Option<ModPath> {
    let text = &modules.get(module)?.text;
    let mut rest = text.as_str();
    while let Some(start) = rest.find("pub use ") {
        let after = &rest[start + "pub use ".len()..];
        let end = after.find(';')?;
        for path in expand(&after[..end]) {
            if path.last().is_some_and(|last| last == name) {
                let absolute = match path.first().map(String::as_str) {
                    Some("crate" | "super") => absolute(module, &path)?,
                    Some("self") => [module.as_slice(), &path[1..]].concat(),
                    _ => [module.as_slice(), &path].concat(),
                };
                return Some(absolute);
            }
        }
        rest = &after[end..];
    }
    None
}

/// Each circle of `edges` (a strongly connected component of more than one node), written as
/// `a → b → a`.
fn circles(edges: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<String> {
    let nodes: Vec<&ModPath> = edges.keys().collect();
    let mut out = Vec::new();
    let mut done: BTreeSet<&ModPath> = BTreeSet::new();
    for start in &nodes {
        if done.contains(start) {
            continue;
        }
        // The nodes that reach `start` and that `start` reaches form its component.
        let forward = reachable(edges, start);
        let component: Vec<&ModPath> = nodes
            .iter()
            .copied()
            .filter(|node| forward.contains(*node) && reachable(edges, node).contains(*start))
            .collect();
        done.extend(component.iter().copied());
        if component.len() > 1 {
            out.push(describe(edges, &component));
        }
    }
    out
}

fn reachable(edges: &BTreeMap<ModPath, BTreeSet<ModPath>>, from: &ModPath) -> BTreeSet<ModPath> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.clone()];
    while let Some(node) = stack.pop() {
        for next in edges.get(&node).into_iter().flatten() {
            if seen.insert(next.clone()) {
                stack.push(next.clone());
            }
        }
    }
    seen
}

/// One loop through `component`, from its first node back to it.
fn describe(edges: &BTreeMap<ModPath, BTreeSet<ModPath>>, component: &[&ModPath]) -> String {
    let inside: BTreeSet<&ModPath> = component.iter().copied().collect();
    let start = component[0];
    // Breadth-first from `start` inside the component until it comes back.
    let mut previous: BTreeMap<&ModPath, &ModPath> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    let mut end = start;
    'search: while let Some(node) = queue.pop_front() {
        for next in &edges[node] {
            if !inside.contains(next) {
                continue;
            }
            if next == start {
                end = node;
                break 'search;
            }
            if !previous.contains_key(next) {
                previous.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    let mut path = vec![start.join("::")];
    let mut node = end;
    let mut back = Vec::new();
    while node != start {
        back.push(node.join("::"));
        node = previous[node];
    }
    path.extend(back.into_iter().rev());
    path.push(start.join("::"));
    let members: Vec<String> = component.iter().map(|node| node.join("::")).collect();
    format!("{} (one loop: {})", members.join(", "), path.join(" → "))
}
