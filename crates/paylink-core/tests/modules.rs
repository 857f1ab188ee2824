//! The top-level modules of core and store import each other in layers: no `crate::` path
//! leads from a module back to itself. A circle hides which concept rests on which, and a
//! change to either end ripples through the rest of it.
//!
//! Read from the source text: every `crate::` path outside comments and the test module
//! (clippy keeps that module last in its file) is an edge to the module it names, or, for a
//! name the crate root re-exports (`pub use money::Thing`), to the module that defines it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn core_modules_form_no_import_circle() {
    check(&crate_src("paylink-core"), &[]);
}

#[test]
fn store_modules_form_no_import_circle() {
    check(&crate_src("paylink-store"), &[]);
}

#[test]
fn edges_are_read_from_every_form_of_path() {
    let modules: BTreeSet<String> = ["a", "b", "c", "d", "e"].map(String::from).into();
    let roots = BTreeMap::from([("Thing".to_string(), "e".to_string())]);
    let text = "use crate::a::X;\n// crate::b in a comment\nuse crate::{b::{Y, Z}, c};\n\
                fn f() -> crate::Thing { crate::d::g() }\nuse crate::Root;\n\
                #[cfg(test)]\nmod tests {\n    use crate::x::Y;\n}\n";
    let found = edges(text, &modules, &roots);
    assert_eq!(
        found,
        ["a", "b", "c", "d", "e"].map(String::from).into(),
        "{found:?}"
    );
}

fn crate_src(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
        .join("src")
}

/// Fails on any circle among the modules of `src` once the `known` edges are left out, and on
/// a known edge that is gone.
fn check(src: &Path, known: &[(&str, &str)]) {
    let mut graph = graph(src);
    for (from, to) in known {
        let present = graph
            .get_mut(*from)
            .is_some_and(|to_set| to_set.remove(*to));
        assert!(
            present,
            "{from} -> {to} no longer exists in {}: remove it from the known edges",
            src.display()
        );
    }
    let circles = circles(&graph);
    assert!(
        circles.is_empty(),
        "import circles among the modules of {}: {circles:?}\n{graph:#?}",
        src.display()
    );
}

/// Each top-level module (a file `src/m.rs` or a folder `src/m/`) and the modules it uses.
fn graph(src: &Path) -> Graph {
    let mut files: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for entry in std::fs::read_dir(src).expect("read src") {
        let path = entry.expect("dir entry").path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            files.entry(name).or_default().extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") && name != "lib" && name != "main" {
            files.entry(name).or_default().push(path);
        }
    }
    assert!(files.len() > 3, "no modules found in {}", src.display());
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    let root = std::fs::read_to_string(src.join("lib.rs")).expect("read lib.rs");
    let roots = reexports(&root, &modules);
    files
        .into_iter()
        .map(|(module, paths)| {
            let mut to = BTreeSet::new();
            for path in paths {
                let text = std::fs::read_to_string(&path).expect("read module");
                to.extend(edges(&text, &modules, &roots));
            }
            to.remove(&module);
            (module, to)
        })
        .collect()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            found.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    found
}

/// The code of a file: no comment lines, nothing from its test module on.
fn code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]")
            && lines
                .peek()
                .is_some_and(|l| l.trim_start().starts_with("mod "))
        {
            break;
        }
        if !trimmed.starts_with("//") {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The names the crate root re-exports from its modules (`pub use m::{A, B}`), by module.
fn reexports(root: &str, modules: &BTreeSet<String>) -> BTreeMap<String, String> {
    let code = code(root);
    let mut names = BTreeMap::new();
    for part in code.split("pub use ").skip(1) {
        let statement = &part[..part.find(';').unwrap_or(part.len())];
        let Some((module, rest)) = statement.split_once("::") else {
            continue;
        };
        if !modules.contains(module.trim()) {
            continue;
        }
        for item in rest
            .trim_matches(|c: char| c == '{' || c == '}' || c.is_whitespace())
            .split(',')
        {
            // The name as imported: the last segment, or what it is renamed to.
            let item = item.trim();
            let name = item.rsplit([':', ' ']).next().unwrap_or(item);
            if !name.is_empty() {
                names.insert(name.to_string(), module.trim().to_string());
            }
        }
    }
    names
}

/// The modules a file's `crate::` paths name.
fn edges(
    text: &str,
    modules: &BTreeSet<String>,
    roots: &BTreeMap<String, String>,
) -> BTreeSet<String> {
    let code = code(text);
    let mut found = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let heads = if let Some(group) = rest.strip_prefix('{') {
            top_level_items(group)
        } else {
            vec![ident(rest)]
        };
        for head in heads {
            if modules.contains(head) {
                found.insert(head.to_string());
            } else if let Some(module) = roots.get(head) {
                found.insert(module.clone());
            }
        }
    }
    found
}

/// The first identifier of each comma-separated item of a `{...}` group (`text` starts just
/// inside the brace).
fn top_level_items(text: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(ident(text[start..i].trim_start()));
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(ident(text[start..i].trim_start()));
                start = i + 1;
            }
            _ => {}
        }
    }
    items
}

fn ident(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// Every strongly connected set of more than one module (Tarjan's algorithm).
fn circles(graph: &Graph) -> Vec<BTreeSet<String>> {
    struct Walk<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        found: Vec<BTreeSet<String>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, v: &'g str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut set = BTreeSet::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    set.insert(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if set.len() > 1 {
                    self.found.push(set);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found
}
