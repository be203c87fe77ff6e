//! The command line: config check, config errors, keys list/rotate on a stopped server,
//! token inspect.

use std::process::Command;

use crate::support::*;

const PW: &str = "correct horse battery";

#[test]
fn config_check_masks_secrets_and_errors_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.toml");
    std::fs::write(
        &path,
        config_text(
            dir.path(),
            "[admin]\ntoken = \"super-secret-admin-token-123\"\n",
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["config", "check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("[tokens]") && text.contains("********"));
    assert!(!text.contains("super-secret") && !text.contains("change-me"));

    // Unknown key in the file.
    std::fs::write(&path, "[server]\nlisten_on = \"x\"\n").unwrap();
    let out = Command::new(BIN)
        .args(["--config"])
        .arg(&path)
        .args(["config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("listen_on"),
        "{out:?}"
    );
    // Bad value from the environment.
    std::fs::write(&path, "").unwrap();
    let out = Command::new(BIN)
        .args(["--config"])
        .arg(&path)
        .args(["config", "check"])
        .env("LATCHKEY_SERVER__MAX_BODY", "lots")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .to_lowercase()
            .contains("server.max_body"),
        "{out:?}"
    );
    let out = Command::new(BIN)
        .args(["--config"])
        .arg(&path)
        .args(["config", "check"])
        .env("LATCHKEY_TOKENS__ALGORITHM", "RS256")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("tokens.algorithm"),
        "{out:?}"
    );
    // An override that works.
    let out = Command::new(BIN)
        .args(["--config"])
        .arg(&path)
        .args(["config", "check"])
        .env("LATCHKEY_SERVER__LISTEN", "0.0.0.0:9999")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("0.0.0.0:9999"));
    // A missing --config file is an error, not silently the defaults.
    let out = Command::new(BIN)
        .args(["--config", "/nonexistent/auth.toml", "config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn keys_rotate_on_a_stopped_server_keeps_old_tokens_valid() {
    let mut s = Server::start("").await;
    oauth_signup(&s, "rot", PW).await;
    let before = oauth_login(&s, "rot", PW).await.expect(200);
    let old_access = before["access_token"].as_str().unwrap().to_string();

    // While the server runs with the admin API off, the CLI says what to do (a redb
    // file is held by its server; a database is not, see nodes.rs).
    if !on_postgres() {
        let (code, _, err) = s.cli(&["keys", "rotate"]);
        assert_eq!(code, 1);
        assert!(err.contains("admin API is off"), "{err}");
        // Said to the end: where this command's token goes.
        assert!(
            err.contains("in this command's configuration (the file given by --config, or LATCHKEY_ADMIN__TOKEN)"),
            "{err}"
        );
    }

    s.stop();
    let (code, out, err) = s.cli(&["keys", "rotate"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("new signing key"));
    let (_, list, _) = s.cli(&["keys", "list"]);
    assert_eq!(list.lines().count(), 3, "{list}");
    assert!(
        list.contains("signing") && list.contains("verifies until"),
        "{list}"
    );

    s.restart();
    s.get("/users/me", &[("authorization", &bearer(&old_access))])
        .await
        .expect(200);
    let jwks = s.get("/.well-known/jwks.json", &[]).await.expect(200);
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    let after = oauth_login(&s, "rot", PW).await.expect(200);
    let kid = |t: &str| {
        let h = t.split('.').next().unwrap();
        let h = latchkey::primitives::b64url_decode(h).unwrap();
        serde_json::from_slice::<serde_json::Value>(&h).unwrap()["kid"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_ne!(
        kid(&old_access),
        kid(after["access_token"].as_str().unwrap())
    );
}

#[tokio::test]
async fn token_inspect_prints_claims_or_the_reason() {
    let mut s = Server::start("").await;
    oauth_signup(&s, "ins", PW).await;
    let t = oauth_login(&s, "ins", PW).await.expect(200);
    let access = t["access_token"].as_str().unwrap().to_string();
    s.stop();
    let (code, out, err) = s.cli(&["token", "inspect", &access]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("valid (jwt:EdDSA)") && out.contains("\"amr\": [\n    \"pwd\"\n  ]"),
        "{out}"
    );
    let mut tampered = access.clone().into_bytes();
    let i = tampered.len() - 5;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let (code, _, err) = s.cli(&["token", "inspect", &String::from_utf8(tampered).unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("signature does not verify"), "{err}");
    let (code, _, err) = s.cli(&["token", "inspect", "eyJhbGciOiJub25lIn0.e30."]);
    assert_eq!(code, 1);
    assert!(err.contains("refused"), "{err}");
}

/// `--version` says the release, the commit and the day the binary was built from.
#[test]
fn the_version_names_the_commit_and_the_build_date() {
    let out = std::process::Command::new(BIN)
        .arg("--version")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let head = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    assert!(
        text.starts_with(&format!("latchkey {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    if let Some(head) = head {
        assert!(
            text.contains(&format!("commit {}", &head[..12])),
            "{text} vs {head}"
        );
    }
    let date = text.split("built ").nth(1).unwrap_or_default();
    let date = date.trim().trim_end_matches(')');
    assert!(
        date.len() == 10 && date.as_bytes()[4] == b'-' && date.as_bytes()[7] == b'-',
        "{text}"
    );
}

/// `healthcheck` answers 0 for a server that serves, and says why not otherwise.
#[tokio::test]
async fn healthcheck_asks_the_configured_listener() {
    let mut s = Server::start("").await;
    let base = s.base.clone();
    let (code, out, err) = s.cli(&["healthcheck", "--url", &base]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(": ok"), "{out}");
    s.stop();
    let (code, _, err) = s.cli(&["healthcheck", "--url", &base]);
    assert_eq!(code, 1, "{err}");
    // Without --url: the configured listener.
    let (code, _, err) = s.cli(&["healthcheck"]);
    assert_eq!(code, 1, "{err}");
}

/// The Dockerfile builds a static, locked release in one stage and runs it in another as
/// a user that is not root, with a health check that the binary itself answers, the
/// shipped configuration, the port it listens on, and the store on the volume.
#[test]
fn the_dockerfile_is_a_multi_stage_non_root_build_with_a_health_check() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    // Instructions, continuation lines joined, comments dropped.
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for raw in text.lines() {
        let l = raw.trim();
        if l.starts_with('#') || (l.is_empty() && current.is_empty()) {
            continue;
        }
        current.push_str(l.trim_end_matches('\\').trim());
        current.push(' ');
        if !l.ends_with('\\') {
            lines.push(current.trim().to_owned());
            current.clear();
        }
    }
    let of = |kw: &str| -> Vec<&String> {
        lines
            .iter()
            .filter(|l| l.starts_with(&format!("{kw} ")))
            .collect()
    };
    let froms = of("FROM");
    assert!(froms.len() >= 2, "multi-stage: {froms:?}");
    let build = of("RUN")
        .into_iter()
        .find(|r| r.contains("cargo build"))
        .expect("a cargo build");
    assert!(
        build.contains("--release") && build.contains("--locked"),
        "{build}"
    );
    // The final stage: everything after the last FROM.
    let last = lines.iter().rposition(|l| l.starts_with("FROM ")).unwrap();
    let fin = &lines[last..];
    let user = fin
        .iter()
        .find(|l| l.starts_with("USER "))
        .expect("a USER in the final stage");
    let uid = user.trim_start_matches("USER ").split(':').next().unwrap();
    assert!(uid != "0" && uid != "root", "{user}");
    let entry = fin
        .iter()
        .find(|l| l.starts_with("ENTRYPOINT "))
        .expect("an ENTRYPOINT");
    let entry: Vec<String> = serde_json::from_str(entry.trim_start_matches("ENTRYPOINT ")).unwrap();
    let bin = &entry[0];
    assert!(
        fin.iter()
            .any(|l| l.starts_with("COPY ") && l.ends_with(&format!(" {bin}"))),
        "the entrypoint {bin} is copied in"
    );
    let health = fin
        .iter()
        .find(|l| l.starts_with("HEALTHCHECK "))
        .expect("a HEALTHCHECK");
    let cmd = health
        .split(" CMD ")
        .nth(1)
        .expect("HEALTHCHECK ... CMD [...]");
    let cmd: Vec<String> = serde_json::from_str(cmd).unwrap();
    assert_eq!(cmd[0], *bin, "{health}");
    assert_eq!(
        cmd.last().map(String::as_str),
        Some("healthcheck"),
        "{health}"
    );
    // The subcommand exists (clap lists it).
    let help = std::process::Command::new(BIN)
        .arg("--help")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("healthcheck"));
    // The configuration it copies exists; the port it exposes is the one it listens on.
    for copy in fin
        .iter()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from"))
    {
        let src = copy.split_whitespace().nth(1).unwrap();
        assert!(root.join(src).exists(), "{copy}");
    }
    let port = fin
        .iter()
        .find(|l| l.starts_with("EXPOSE "))
        .expect("EXPOSE");
    let port = port.trim_start_matches("EXPOSE ").trim();
    let env = fin.iter().find(|l| l.starts_with("ENV ")).expect("ENV");
    assert!(
        env.contains(&format!("LATCHKEY_SERVER__LISTEN=0.0.0.0:{port}")),
        "{env}"
    );
    assert!(env.contains("LATCHKEY_STORAGE__PATH=/data/"), "{env}");
    // The build context leaves out what must not go in.
    let ignore = std::fs::read_to_string(root.join(".dockerignore")).unwrap();
    for path in ["target/", "*.redb", "*.redb.key"] {
        assert!(
            ignore.lines().any(|l| l.trim() == path),
            ".dockerignore lacks {path}"
        );
    }
}
