//! Every `sh` example of the README, in order, as printed, against a server started with
//! the shipped `auth.toml` (only its addresses and store path changed, so tests can run
//! side by side) and the admin token given as the README gives it. Substituted: the two
//! local URLs, the binary's path, and the code the README reads from the server's log.
//!
//! A line that starts the server (`... serve`) is the running server. A few blocks
//! cannot run here; they are named below with the reason, and each must still exist, so
//! the list cannot go stale. Every other block must succeed and print something, and
//! print an error only when its comments say it shows one.

use std::process::Command;

use crate::support::*;

const ADMIN_TOKEN: &str = "please-change-this-admin-token";

/// Blocks not run, by the command on their first line (comments aside), and why.
const NOT_RUN: [(&str, &str); 9] = [
    (
        "cargo run --release -- serve",
        "builds and serves: the server under test stands for it",
    ),
    (
        "cargo build --release",
        "builds the release binary (and, for systemd, installs system files as root)",
    ),
    ("docker build -t latchkey .", "needs docker"),
    ("bench/run.sh", "the benchmark; .ci/run runs its smoke"),
    ("scripts/test", "the test suite itself"),
    (
        "sudo -u postgres createuser -P latchkey && sudo -u postgres createdb -O latchkey latchkey",
        "needs a PostgreSQL server of your own; tests/it/nodes.rs runs nodes on one",
    ),
    (
        "export LATCHKEY_STORAGE__BACKEND=postgres",
        "needs that database; tests/it/nodes.rs does the same on a throwaway one",
    ),
    (
        "cat > users.json <<'JSON'",
        "imports into a stopped server: tests/it/import.rs runs this block as printed",
    ),
    (
        "cargo install cargo-fuzz --locked",
        "fuzzing; .ci/run runs every target",
    ),
];

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

/// Every ```sh block of the README, in order.
pub(crate) fn blocks() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for line in readme.lines() {
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
