//! The README's curl examples, run as printed (only the host and the binary's path are
//! substituted) against a real server: they must succeed, and only the blocks that say
//! they show an error may print one.

use std::process::Command;

use crate::support::*;

const SECTIONS: [&str; 5] = [
    "## Family `oauth`",
    "## Family `toolkit`",
    "## Family `v0`",
    "## Family `session`",
    "## Administration",
];

fn blocks() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut out = Vec::new();
    let mut section_on = false;
    let mut in_block = false;
    let mut block = String::new();
    for line in readme.lines() {
        if line.starts_with("## ") {
            section_on = SECTIONS.contains(&line);
        }
        if !section_on {
            continue;
        }
        if in_block {
            if line == "```" {
                in_block = false;
                out.push(std::mem::take(&mut block));
            } else {
                block.push_str(line);
                block.push('\n');
            }
        } else if line == "```sh" {
            in_block = true;
        }
    }
    out
}

/// The last `XXXX-XXXX-XXXX` word in the server's log, if any.
fn last_session_code(log: &str) -> String {
    log.split_whitespace()
        .rfind(|w| w.len() == 14 && w.split('-').count() == 3 && w.split('-').all(|p| p.len() == 4))
        .unwrap_or("none-none-none")
        .to_string()
}

#[tokio::test]
async fn readme_curl_examples_work_as_printed() {
    for tool in ["curl", "jq", "oathtool"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .status()
            .unwrap()
            .success();
        assert!(
            found,
            "{tool} is needed by the README examples (apt-get install {tool})"
        );
    }
    let s = Server::start(
        "[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"please-change-this-admin-token\"\n",
    )
    .await;
    let admin = s.admin.clone().unwrap();
    let work = tempfile::tempdir().unwrap();
    let blocks = blocks();
    assert!(
        blocks.len() >= 13,
        "found only {} example blocks",
        blocks.len()
    );
    let mut ran = 0;
    for block in blocks {
        // Starting the server and placeholder commands are not runnable as such.
        if block.contains(" serve\n") || block.contains("<id|") {
            continue;
        }
        // The session code the README reads from the log (log transport) is this run's.
        let code = last_session_code(&s.log());
        let script = block
            .replace("ABCD-EFGH-JKMN", &code)
            .replace("http://localhost:8080", &s.base)
            .replace("http://localhost:8081", &admin)
            .replace(
                "./target/release/latchkey",
                &format!("{BIN} --config {}", s.config_path().display()),
            );
        let out = tokio::task::spawn_blocking({
            let dir = work.path().to_path_buf();
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
    assert!(ran >= 15, "ran only {ran} blocks");
}
