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
