//! The house: the root crate's modules import each other in one direction. The graph is
//! rebuilt from the sources (`crate::<module>` paths outside comments and test modules)
//! and must have no cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if top == "main" || top == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        let deps = g.entry(top.clone()).or_default();
        for line in code.lines() {
            let line = line.split("//").next().unwrap();
            for (i, _) in line.match_indices("crate::") {
                let name: String = line[i + 7..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != top {
                    deps.insert(name);
                }
            }
        }
    }
    g
}

#[test]
fn the_module_graph_has_no_cycle() {
    let g = graph();
    assert!(g.contains_key("service") && g["service"].contains("signer"));
    // Depth-first search for a back edge.
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if done.contains(n) {
            return;
        }
        if let Some(i) = path.iter().position(|p| p == n) {
            panic!("import cycle: {} -> {n}", path[i..].join(" -> "));
        }
        path.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            visit(m, g, path, done);
        }
        path.pop();
        done.insert(n.to_string());
    }
    let mut done = BTreeSet::new();
    for n in g.keys() {
        visit(n, &g, &mut Vec::new(), &mut done);
    }
    // The leaves stay leaves.
    for leaf in ["primitives", "clock", "metrics"] {
        assert!(g[leaf].is_empty(), "{leaf} imports {:?}", g[leaf]);
    }
}

/// `rust-version` (Cargo.toml) and the README say the oldest compiler that builds the
/// project: no locked dependency asks for a newer one, and the README names that one.
#[test]
fn the_declared_rust_version_is_the_truth() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let version = |s: &str| -> Vec<u64> { s.split('.').map(|p| p.parse().unwrap()).collect() };
    let mut ours = None;
    let mut needed: Option<(Vec<u64>, String)> = None;
    for p in meta["packages"].as_array().unwrap() {
        let Some(rv) = p["rust_version"].as_str() else {
            continue;
        };
        if p["name"] == "latchkey" {
            ours = Some(rv.to_string());
        } else if needed.as_ref().is_none_or(|(v, _)| version(rv) > *v) {
            needed = Some((version(rv), format!("{} {rv}", p["name"])));
        }
    }
    let ours = ours.expect("latchkey declares a rust-version");
    let (needed, by) = needed.unwrap();
    let mut declared = version(&ours);
    declared.resize(3, 0);
    let mut needed = needed;
    needed.resize(3, 0);
    assert!(
        declared >= needed,
        "rust-version is {ours}, but {by} needs a newer compiler"
    );
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("Rust {ours} or newer")),
        "the README must say `Rust {ours} or newer`"
    );
}
