//! What an operator trips over first (issue 11): files that are private whatever the
//! umask, a key file others can read refused, configuration errors in the operator's
//! words, and a failed bind that leaves nothing behind.

use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;

use crate::support::*;

const ADMIN: &str = "admin-token-0123456789abcdef";

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn secret_files_are_private_under_umask_022() {
    let s = Server::start_with_env(
        &redb(&format!(
            "[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n"
        )),
        &[("UMASK", "022")],
    )
    .await;
    for f in ["store.redb", "store.redb.key", "store.redb.admin-url"] {
        assert_eq!(mode(&s.dir.path().join(f)), 0o600, "{f}");
    }
}

#[tokio::test]
async fn a_key_file_others_can_read_is_refused() {
    let mut s = Server::start("").await;
    s.stop();
    let key = s.dir.path().join("store.redb.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = s.cli(&["serve"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("store.redb.key can be read by other users"),
        "{err}"
    );
}

fn config_error(extra: &str, env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.toml");
    std::fs::write(&path, config_text(dir.path(), extra)).unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&path)
        .args(["config", "check"])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn configuration_errors_speak_the_operators_language() {
    // One format for every kind: `FILE:LINE: KEY: what is wrong; what to write instead`.
    let e = config_error("[tokens]\naccess_ttl = \"30m\"\n", &[]);
    let line = |e: &str| -> String { e.lines().last().unwrap_or("").to_owned() };
    assert!(
        e.contains("auth.toml:")
            && e.contains(": tokens.access_ttl: got \"30m\"; write an integer number of seconds"),
        "file and line, key, what is wrong, what to write: {e}"
    );
    assert!(!e.contains("default.") && !e.contains("u64"), "{e}");
    // A misspelt key, once (never `tokens.acess_ttl.acess_ttl`), with its line.
    let e = config_error("[tokens]\nacess_ttl = 60\n", &[]);
    assert!(
        e.contains(": tokens.acess_ttl: unknown key; did you mean `access_ttl`?")
            && !e.contains("acess_ttl.acess_ttl"),
        "{e}"
    );
    assert!(line(&e).contains("auth.toml:"), "{e}");
    // An unknown section: its header's line.
    let e = config_error("[tokenz]\nissuer = \"x\"\n", &[]);
    assert!(
        e.contains(": tokenz: unknown section; did you mean `tokens`?")
            && !e.contains("tokenz.tokenz"),
        "{e}"
    );
    assert!(e.contains("auth.toml:"), "{e}");
    // Environment variables, named as they are set.
    let e = config_error("", &[("LATCHKEY_SERVER__MAX_BODY", "lots")]);
    assert!(
        e.contains("environment variable LATCHKEY_SERVER__MAX_BODY: server.max_body: got \"lots\"; write a whole number"),
        "{e}"
    );
    let e = config_error("", &[("LATCHKEY_TOKEN__TOKEN", "x")]);
    assert!(
        e.contains("environment variable LATCHKEY_TOKEN__TOKEN: token: unknown section; did you mean `tokens`?"),
        "{e}"
    );
    // A TOML syntax error names the file and the line.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.toml");
    let valid = config_text(dir.path(), "");
    std::fs::write(&path, format!("{valid}\n[server\nlisten = 1\n")).unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&path)
        .args(["config", "check"])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    let broken = valid.lines().count() + 2;
    assert!(
        e.contains(&format!(
            "auth.toml:{broken}: not valid TOML (column 8): invalid table header"
        )),
        "{e}"
    );
    // A value the checks refuse: the key's line, and what would do.
    let e = config_error("[server]\nlisten = \"localhost\"\n", &[]);
    assert!(
        e.contains("auth.toml:")
            && e.contains(": server.listen: ")
            && e.contains("the port is missing"),
        "{e}"
    );
    let e = config_error("[storage]\npath = \"/no/such/dir/x.redb\"\n", &[]);
    assert!(
        e.contains("the directory /no/such/dir does not exist"),
        "{e}"
    );
    // A host name is accepted.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.toml");
    std::fs::write(
        &path,
        config_text(dir.path(), "[server]\nlisten = \"localhost:0\"\n"),
    )
    .unwrap();
    let ok = Command::new(BIN)
        .arg("--config")
        .arg(&path)
        .args(["config", "check"])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

#[tokio::test]
async fn a_failed_bind_leaves_no_store_and_no_key_behind() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.toml");
    std::fs::write(
        &path,
        config_text(
            dir.path(),
            &format!("[server]\nlisten = \"127.0.0.1:{port}\"\n"),
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&path)
        .arg("serve")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("server.listen"));
    assert!(!dir.path().join("store.redb").exists());
    assert!(!dir.path().join("store.redb.key").exists());
}
