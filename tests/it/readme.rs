//! Every `sh` example of the README and then of the guides (`docs/guide/*.md`, in the
//! order of their names), in order, as printed, against one server started with the
//! shipped `auth.toml` (only its addresses and store path changed, so tests can run side
//! by side) and the admin token given as the README gives it. Substituted: the two local
//! URLs, the binary's path, and the code the examples read from the server's log.
//!
//! A line that starts the server (`... serve`) is the running server. A few blocks
//! cannot run here; they are named below with the reason, and each must still exist, so
//! the list cannot go stale. Every other block must succeed and print something, and
//! print an error only when its comments say it shows one.

use std::process::Command;

use crate::support::*;

const ADMIN_TOKEN: &str = "please-change-this-admin-token";

/// Blocks not run, by the command on their first line (comments aside), and why.
const NOT_RUN: [(&str, &str); 3] = [
    (
        "cargo run --release -- serve",
        "builds and serves: the server under test stands for it",
    ),
    (
        "cargo build --release",
        "builds the release binary: the binary under test stands for it",
    ),
    (
        "cat > users.json <<'JSON'",
        "imports into a stopped server: tests/it/import.rs runs this block as printed",
    ),
];

/// The walk-throughs the README leads to, in the order they are read and run.
pub(crate) fn guides() -> Vec<std::path::PathBuf> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/guide");
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    out.sort();
    out
}

/// The command on the first line of `block`, without its comment.
fn first_command(block: &str) -> &str {
    block
        .lines()
        .next()
        .unwrap_or("")
        .split('#')
        .next()
        .unwrap_or("")
        .trim()
}

/// Every ```sh block of the README, then of each guide, in order.
pub(crate) fn blocks() -> Vec<String> {
    let mut out = Vec::new();
    let readme = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));
    for file in std::iter::once(readme).chain(guides()) {
        out.extend(sh_blocks(&std::fs::read_to_string(file).unwrap()));
    }
    out
}

/// The ```sh blocks of one markdown text.
fn sh_blocks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for line in text.lines() {
        match &mut block {
            Some(b) if line.trim_start() == "```" => {
                out.push(std::mem::take(b));
                block = None;
            }
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
            None if line.trim_start() == "```sh" => block = Some(String::new()),
            None => {}
        }
    }
    out
}

/// The last `XXXX-XXXX-XXXX` in the server's log, if any.
fn last_session_code(log: &str) -> String {
    let chars: Vec<char> = log.chars().collect();
    let is_code_char = |c: char| c.is_ascii_digit() || c.is_ascii_uppercase();
    let mut found = None;
    for start in 0..chars.len().saturating_sub(13) {
        let w = &chars[start..start + 14];
        let shape = w.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 9 {
                *c == '-'
            } else {
                is_code_char(*c)
            }
        });
        let bounded = start == 0 || !is_code_char(chars[start - 1]);
        if shape && bounded && chars.get(start + 14).is_none_or(|c| !is_code_char(*c)) {
            found = Some(w.iter().collect::<String>());
        }
    }
    found.unwrap_or_else(|| "none-none-none".into())
}

/// The block without the lines that start the server (joined across `\` continuations).
fn without_serve(block: &str) -> String {
    let mut out = String::new();
    let mut logical = String::new();
    for line in block.lines() {
        logical.push_str(line);
        logical.push('\n');
        if line.ends_with('\\') {
            continue;
        }
        let command = logical.split('#').next().unwrap_or("").trim();
        if !command.ends_with(" serve") {
            out.push_str(&logical);
        }
        logical.clear();
    }
    out
}

#[tokio::test]
async fn every_readme_example_runs_in_order() {
    for tool in ["curl", "jq", "oathtool"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .status()
            .unwrap()
            .success();
        assert!(
            found,
            "{tool} is needed by the README examples (scripts/test installs it)"
        );
    }
    // The shipped configuration; only where it listens and keeps its store change.
    let dir = tempfile::tempdir().unwrap();
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/auth.toml")).unwrap();
    let config = shipped
        .replace("listen = \"127.0.0.1:8080\"", "listen = \"127.0.0.1:0\"")
        .replace("listen = \"127.0.0.1:8081\"", "listen = \"127.0.0.1:0\"")
        .replace(
            "path = \"latchkey.redb\"",
            &format!("path = \"{}\"", dir.path().join("latchkey.redb").display()),
        );
    assert_ne!(config, shipped);
    std::fs::write(dir.path().join("auth.toml"), config).unwrap();
    let s = Server::start_in_with_env(dir, &[("LATCHKEY_ADMIN__TOKEN", ADMIN_TOKEN)]).await;
    let admin = s.admin.clone().expect("the admin API is on");

    let blocks = blocks();
    for (first, _) in NOT_RUN {
        assert!(
            blocks.iter().any(|b| first_command(b) == first),
            "NOT_RUN names a block the README no longer has: {first}"
        );
    }
    let mut ran = 0;
    for block in &blocks {
        if NOT_RUN
            .iter()
            .any(|(first, _)| first_command(block) == *first)
        {
            continue;
        }
        let script = without_serve(block);
        if script.trim().is_empty() {
            continue;
        }
        // The code the README reads from the log is this run's.
        let code = last_session_code(&s.log());
        let script = script
            .replace("ABCD-EFGH-JKMN", &code)
            .replace("http://localhost:8080", &s.base)
            .replace("http://localhost:8081", &admin)
            .replace(
                "./target/release/latchkey",
                &format!("{BIN} --config {}", s.config_path().display()),
            );
        // Run where the newcomer runs them: the directory that holds the store (and where
        // a running server writes backups).
        let out = tokio::task::spawn_blocking({
            let dir = s.dir.path().to_path_buf();
            move || {
                Command::new("bash")
                    .args(["-c", &format!("set -euo pipefail\n{script}")])
                    .current_dir(dir)
                    .output()
                    .unwrap()
            }
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "block failed:\n{block}\nstdout: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let shows_error = block
            .lines()
            .any(|l| l.trim_start().starts_with('#') && l.contains("error"));
        if !shows_error {
            assert!(
                !stdout.contains("\"error\""),
                "block printed an error:\n{block}\n{stdout}"
            );
        }
        assert!(!stdout.trim().is_empty(), "block printed nothing:\n{block}");
        ran += 1;
    }
    assert!(ran >= 20, "ran only {ran} blocks");
}

/// The README is what a newcomer reads: short, the two commands first, and a link to each
/// guide (whose links to each other and to the docs resolve).
#[test]
fn the_readme_is_short_and_leads_to_every_guide() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(lines <= 300, "README.md has {lines} lines (at most 300)");
    let first = sh_blocks(&readme).into_iter().next().unwrap();
    assert!(
        first.starts_with("cargo run --release -- serve") && first.contains("\nscripts/test"),
        "the README's first block is the two commands: {first}"
    );
    let guides = guides();
    assert!(guides.len() >= 8);
    for g in &guides {
        let name = g.file_name().unwrap().to_string_lossy();
        assert!(
            readme.contains(&format!("(docs/guide/{name})")),
            "the README does not link docs/guide/{name}"
        );
    }
    // Every relative link of the README and the docs names a file that exists.
    let mut docs = vec![root.join("README.md"), root.join("CONTRIBUTING.md")];
    docs.extend(guides);
    for e in std::fs::read_dir(root.join("docs")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "md") {
            docs.push(p);
        }
    }
    for doc in docs {
        let text = std::fs::read_to_string(&doc).unwrap();
        for (i, _) in text.match_indices("](") {
            let target: String = text[i + 2..].chars().take_while(|c| *c != ')').collect();
            let path = target.split('#').next().unwrap();
            if path.is_empty() || path.contains("://") || path.starts_with("mailto:") {
                continue;
            }
            let resolved = doc.parent().unwrap().join(path);
            assert!(
                resolved.exists(),
                "{}: the link ({target}) names nothing",
                doc.display()
            );
        }
    }
}
