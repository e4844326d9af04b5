//! The top-level modules of `src/` import one another without a cycle, so each
//! can be read, tested and changed with only the ones below it in mind.
//!
//! The test reads every `src/**/*.rs` file, collects the `crate::<module>` paths
//! each top-level module uses (outside comments), and fails naming every cycle
//! with the files that make its edges. `main.rs` and `lib.rs` are the crate's
//! roots and are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// `module → (module it uses → files that use it)`.
type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

#[test]
fn top_level_modules_import_one_another_without_a_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = import_graph(&src);
    assert!(
        graph.len() > 5,
        "expected the crate's modules under {}, found {:?}",
        src.display(),
        graph.keys().collect::<Vec<_>>()
    );
    let cycles = cycles(&graph);
    let described: Vec<String> = cycles.iter().map(|c| describe(c, &graph)).collect();
    assert!(
        described.is_empty(),
        "import cycles among the top-level modules of src/:\n{}",
        described.join("\n")
    );
}

#[test]
fn a_cycle_is_found_and_named() {
    let mut graph = Graph::new();
    let mut edge = |from: &str, to: &str| {
        graph
            .entry(from.into())
            .or_default()
            .entry(to.into())
            .or_default()
            .insert(format!("src/{from}/x.rs"));
    };
    edge("api", "call");
    edge("call", "server");
    edge("server", "api");
    edge("server", "sip");
    edge("rtp", "sip");
    let found = cycles(&graph);
    assert_eq!(found, vec![vec!["api", "call", "server"]]);
    let text = describe(&found[0], &graph);
    assert!(text.contains("server → api (src/server/x.rs)"), "{text}");
}

#[test]
fn uses_are_read_from_paths_and_brace_groups_but_not_comments() {
    let text = "use crate::{config::Config, crm::Db};\n\
                use crate::{\n    queue::{Acd, Join},\n    say,\n};\n\
                // crate::api is only mentioned here\n\
                let x = crate::rtp::Codec::Pcmu; /// crate::sip in a doc line\n\
                use super::super::flow::Value;\n";
    let used = uses(text, &["call".into(), "sip_leg".into()]);
    let expected: BTreeSet<String> = ["config", "crm", "flow", "queue", "rtp", "say"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(used, expected);
}

fn import_graph(src: &Path) -> Graph {
    let mut graph = Graph::new();
    for file in rust_files(src) {
        let relative = file.strip_prefix(src).expect("under src");
        let mut module: Vec<String> = relative
            .iter()
            .map(|part| part.to_string_lossy().trim_end_matches(".rs").to_owned())
            .collect();
        if module.len() == 1 && (module[0] == "main" || module[0] == "lib") {
            continue;
        }
        if module.last().is_some_and(|last| last == "mod") {
            module.pop();
        }
        let top = module[0].clone();
        let text = fs::read_to_string(&file).expect("readable source");
        let edges = graph.entry(top.clone()).or_default();
        for used in uses(&text, &module) {
            if used != top {
                edges
                    .entry(used)
                    .or_default()
                    .insert(format!("src/{}", relative.display()));
            }
        }
    }
    graph
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("readable directory")
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The top-level modules a file in `module` (its path from the crate root) names.
fn uses(text: &str, module: &[String]) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    // Comments out; lines joined, so a `use crate::{…}` over several lines is read whole.
    let code: Vec<&str> = text
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect();
    let code = code.join("\n");
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        if after.starts_with('{') {
            used.extend(brace_group_heads(after));
        } else if let Some(name) = identifier(after) {
            used.insert(name);
        }
        rest = after;
    }
    // `super::` enough times to reach the crate root, then a module name.
    let mut rest = code.as_str();
    while let Some(at) = rest.find("super::") {
        let preceded_by_path = rest[..at].ends_with("::");
        let mut after = &rest[at..];
        let mut depth = 0;
        while let Some(next) = after.strip_prefix("super::") {
            depth += 1;
            after = next;
        }
        if !preceded_by_path
            && depth >= module.len()
            && let Some(name) = identifier(after)
        {
            used.insert(name);
        }
        rest = after;
    }
    used
}

/// The first name of each path in `{a::b, c, d::{e}}`.
fn brace_group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut at_start = true;
    for (i, c) in group.char_indices() {
        match c {
            '{' => {
                depth += 1;
                at_start = depth == 1;
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => at_start = true,
            c if depth == 1 && at_start && !c.is_whitespace() => {
                at_start = false;
                heads.extend(identifier(&group[i..]));
            }
            _ => {}
        }
    }
    heads
}

fn identifier(text: &str) -> Option<String> {
    let name: String = text
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty() && name.chars().next().is_some_and(|c| !c.is_ascii_digit())).then_some(name)
}

/// The strongly connected components of more than one module (Tarjan), each sorted.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct Search<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Search<'a> {
        fn visit(&mut self, node: &'a str) {
            let n = self.index.len();
            self.index.insert(node, n);
            self.low.insert(node, n);
            self.stack.push(node);
            self.on_stack.insert(node);
            for next in self.graph.get(node).into_iter().flat_map(|e| e.keys()) {
                let next = next.as_str();
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node, low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut component = Vec::new();
                while let Some(top) = self.stack.pop() {
                    self.on_stack.remove(top);
                    component.push(top.to_owned());
                    if top == node {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut search = Search {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !search.index.contains_key(node.as_str()) {
            search.visit(node);
        }
    }
    search.found.sort();
    search.found
}

/// A cycle's modules and the edges among them, each with the files that make it.
fn describe(component: &[String], graph: &Graph) -> String {
    let mut lines = vec![format!("cycle among {}:", component.join(", "))];
    for from in component {
        for (to, files) in graph.get(from).into_iter().flatten() {
            if component.contains(to) {
                let files: Vec<&str> = files.iter().map(String::as_str).collect();
                lines.push(format!("  {from} → {to} ({})", files.join(", ")));
            }
        }
    }
    lines.join("\n")
}
