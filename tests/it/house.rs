//! The house: in each crate of the workspace, the modules import each other in one
//! direction. The graph is rebuilt from the sources (`crate::` and `super::` paths outside
//! comments and test modules), module by module down to the leaves, and must have no
//! cycle. A module's use of its own ancestors (`super::Service` in a submodule) is the
//! submodule's header, not an edge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a source file (`service::policy`); `""` for the crate root.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|l| l == "mod") {
        parts.pop();
    }
    if parts == ["lib"] || parts == ["main"] {
        parts.clear();
    }
    parts.join("::")
}

/// The module graph of the crate whose sources are in `src`.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    sources(src, &mut files);
    let modules: BTreeMap<String, PathBuf> = files
        .iter()
        .map(|f| (module_of(src, f), f.clone()))
        .collect();
    // The longest module that a path names.
    let resolve = |path: &[&str]| -> Option<String> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].join("::"))
            .find(|m| modules.contains_key(m))
    };
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, f) in &modules {
        if m.is_empty() {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        let deps = g.entry(m.clone()).or_default();
        let parent: Vec<&str> = {
            let mut p: Vec<&str> = m.split("::").collect();
            p.pop();
            p
        };
        for line in code.lines() {
            let line = line.split("//").next().unwrap();
            for (kind, base) in [("crate::", Vec::new()), ("super::", parent.clone())] {
                for (i, _) in line.match_indices(kind) {
                    if line[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':') {
                        continue;
                    }
                    let rest: String = line[i + kind.len()..]
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                        .collect();
                    let mut path = base.clone();
                    path.extend(rest.split("::").filter(|s| !s.is_empty()));
                    if let Some(target) = resolve(&path) {
                        let ancestor = m.starts_with(&format!("{target}::"));
                        if target != *m && !ancestor {
                            deps.insert(target);
                        }
                    }
                }
            }
        }
    }
    g
}

/// Panics with the cycle when `g` has one.
fn assert_acyclic(name: &str, g: &BTreeMap<String, BTreeSet<String>>) {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        name: &str,
    ) {
        if done.contains(n) {
            return;
        }
        if let Some(i) = path.iter().position(|p| p == n) {
            panic!("import cycle in {name}: {} -> {n}", path[i..].join(" -> "));
        }
        path.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            visit(m, g, path, done, name);
        }
        path.pop();
        done.insert(n.to_string());
    }
    let mut done = BTreeSet::new();
    for n in g.keys() {
        visit(n, g, &mut Vec::new(), &mut done, name);
    }
}

fn crate_graph(dir: &str) -> BTreeMap<String, BTreeSet<String>> {
    graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
}

#[test]
fn no_module_of_any_crate_is_in_an_import_cycle() {
    for dir in ["src", "protocol/src", "storage/src"] {
        assert_acyclic(dir, &crate_graph(dir));
    }
}

#[test]
fn the_graph_sees_submodules_and_super_imports() {
    let g = crate_graph("src");
    assert!(g["service"].contains("signer"), "{:?}", g["service"]);
    assert!(g["service::accounts"].contains("service::policy"));
    assert!(g["portal::oidc"].contains("service::policy"));
    // A cycle made up here is found.
    let mut bad = g.clone();
    bad.get_mut("service::policy")
        .unwrap()
        .insert("service::accounts".into());
    let found = std::panic::catch_unwind(|| assert_acyclic("test", &bad));
    assert!(found.is_err());
}

#[test]
fn the_leaves_stay_leaves() {
    let g = crate_graph("src");
    for leaf in ["primitives", "clock", "metrics"] {
        assert!(g[leaf].is_empty(), "{leaf} imports {:?}", g[leaf]);
    }
    // The account policy imports no door.
    let doors = [
        "service::accounts",
        "service::admin",
        "service::introspect",
        "service::mfa",
        "service::oidc",
        "service::passkeys",
        "service::portal",
        "service::recovery",
        "service::refresh",
        "service::session",
        "portal",
        "server",
        "http",
        "admin",
    ];
    let policy = &g["service::policy"];
    for d in doors {
        assert!(
            !policy
                .iter()
                .any(|p| p == d || p.starts_with(&format!("{d}::"))),
            "service::policy imports the door {d}"
        );
    }
    // The codes module imports nothing of the service but its root.
    assert!(
        g["service::codes"]
            .iter()
            .all(|d| !d.starts_with("service::")),
        "{:?}",
        g["service::codes"]
    );
    // The protocol's table knows no family: the registry names them.
    let p = crate_graph("protocol/src");
    for family in ["session", "oauth", "toolkit", "v0"] {
        assert!(!p["table"].contains(family), "table imports {family}");
        assert!(p["families"].contains(family));
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

/// Errors below the command line are typed: no `Result<_, String>` outside the command
/// line's own modules (which turn errors into the sentence the operator reads) and test
/// support.
#[test]
fn no_stringly_typed_errors_below_the_command_line() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let allowed = [
        "src/cli.rs",
        "src/bounds.rs",
        "src/import.rs",
        "storage/src/testing.rs",
    ];
    let mut found = Vec::new();
    for dir in ["src", "protocol/src", "storage/src"] {
        let mut files = Vec::new();
        sources(&root.join(dir), &mut files);
        for f in files {
            let rel = f.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if allowed.contains(&rel.as_str()) {
                continue;
            }
            let text = std::fs::read_to_string(&f).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap();
            for (n, line) in code.lines().enumerate() {
                let line = line.split("//").next().unwrap();
                for (i, _) in line.match_indices("Result<") {
                    // The error type: what follows the top-level comma, up to the `>`
                    // that closes this `Result<`.
                    let mut depth = 0;
                    let mut comma = None;
                    let mut end = None;
                    for (j, c) in line[i + 7..].char_indices() {
                        match c {
                            '<' | '(' => depth += 1,
                            ')' => depth -= 1,
                            '>' if depth == 0 => {
                                end = Some(j);
                                break;
                            }
                            '>' => depth -= 1,
                            ',' if depth == 0 => comma = Some(j),
                            _ => {}
                        }
                    }
                    if let (Some(c), Some(e)) = (comma, end) {
                        if line[i + 7..][c + 1..e].trim() == "String" {
                            found.push(format!("{rel}:{}", n + 1));
                        }
                    }
                }
            }
        }
    }
    assert!(found.is_empty(), "Result<_, String> at {found:?}");
}
