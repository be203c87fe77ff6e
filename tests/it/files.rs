//! The store file and the server key file: refused clearly when they cannot be trusted,
//! never silently remade (issue 10, item 9); an administrator can reset a user's
//! second factor.

use serde_json::json;

use crate::support::*;

const ADMIN: &str = "admin-token-0123456789abcdef";

fn store_path(s: &Server) -> std::path::PathBuf {
    s.dir.path().join("store.redb")
}

fn key_path(s: &Server) -> std::path::PathBuf {
    s.dir.path().join("store.redb.key")
}

/// A user with TOTP on, made by mailed code (so its address is proven).
pub(crate) async fn totp_user(s: &Server, smtp: &Smtp, email: &str) -> (String, Vec<String>) {
    s.post_json("/session/login", &[], &json!({"email": email}))
        .await
        .expect(202);
    let code = session_code_of(&smtp.wait_mail(email, 1).await);
    let v = s
        .post_json("/session/verify", &[], &json!({"session_code": code}))
        .await
        .expect(200);
    let t = s
        .post_json(
            "/session/token",
            &[],
            &json!({"refresh_token": v["refresh_token"]}),
        )
        .await
        .expect(200);
    let auth = bearer(t["access_token"].as_str().unwrap());
    let secret = s
        .post_json("/session/mfa/totp", &[("authorization", &auth)], &json!({}))
        .await
        .expect(200)["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let now = now_ms();
    let v = s
        .post_json(
            "/session/mfa/totp/confirm",
            &[("authorization", &auth)],
            &json!({"code": totp_at(&secret, now)}),
        )
        .await
        .expect(200);
    let recovery = v["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    (secret, recovery)
}

#[tokio::test]
async fn an_empty_store_file_is_refused_not_started_afresh() {
    let mut s = Server::start(&redb("")).await;
    s.stop();
    std::fs::remove_file(key_path(&s)).unwrap();
    std::fs::write(store_path(&s), b"").unwrap();
    let (code, _, err) = s.cli(&["serve"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("the file is empty"), "{err}");
    assert!(!key_path(&s).exists(), "no new server key was made");
}

#[tokio::test]
async fn a_truncated_store_is_refused_without_a_crash() {
    let mut s = Server::start(&redb("")).await;
    oauth_signup(&s, "tru", "correct horse battery").await;
    s.stop();
    let bytes = std::fs::read(store_path(&s)).unwrap();
    std::fs::write(store_path(&s), &bytes[..bytes.len() / 3]).unwrap();
    let (code, _, err) = s.cli(&["serve"]);
    assert_eq!(code, 1, "exit 1, not a panic's 101: {err}");
    assert!(err.contains("not a usable latchkey store"), "{err}");
}

#[tokio::test]
async fn a_missing_or_foreign_server_key_is_refused() {
    let smtp = Smtp::start(&[]);
    let mut s = Server::start(&smtp.config("none")).await;
    totp_user(&s, &smtp, "tess@example.com").await;
    s.stop();
    let original = std::fs::read(key_path(&s)).unwrap();
    // Gone: refused, naming the file; none is made.
    std::fs::remove_file(key_path(&s)).unwrap();
    let (code, _, err) = s.cli(&["serve"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("store.redb.key is missing"), "{err}");
    assert!(!key_path(&s).exists());
    // Another key: refused.
    std::fs::write(key_path(&s), format!("{}\n", "ab".repeat(32))).unwrap();
    std::fs::set_permissions(
        key_path(&s),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let (code, _, err) = s.cli(&["serve"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("is not the key this store"), "{err}");
    // The right one: serves again.
    std::fs::write(key_path(&s), original).unwrap();
    s.start_again();
    s.get("/healthz", &[]).await.expect(200);
}

#[tokio::test]
async fn an_administrator_resets_a_lost_second_factor() {
    let smtp = Smtp::start(&[]);
    let s = Server::start(&format!(
        "{}[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n",
        smtp.config("none")
    ))
    .await;
    totp_user(&s, &smtp, "lost@example.com").await;
    let (code, out, err) = s.cli(&["user", "reset-mfa", "lost@example.com"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        line_value(&out, "second factor").as_deref(),
        Some("none"),
        "{out}"
    );
    // The next sign-in by code has no second step.
    s.post_json("/session/login", &[], &json!({"email": "lost@example.com"}))
        .await
        .expect(202);
    let code = session_code_of(&smtp.wait_mail("lost@example.com", 2).await);
    let v = s
        .post_json("/session/verify", &[], &json!({"session_code": code}))
        .await
        .expect(200);
    assert_eq!(v["status"], "authenticated");
    // Nothing to reset now.
    let (code, _, err) = s.cli(&["user", "reset-mfa", "lost@example.com"]);
    assert_ne!(code, 0);
    assert!(err.contains("no second factor"), "{err}");
}

/// Signs in by mailed code with `second` as the second factor; the status of the answer.
pub(crate) async fn sign_in_with(
    s: &Server,
    smtp: &Smtp,
    email: &str,
    n: usize,
    second: &str,
) -> u16 {
    s.post_json("/session/login", &[], &json!({"email": email}))
        .await
        .expect(202);
    let code = session_code_of(&smtp.wait_mail(email, n).await);
    s.post_json(
        "/session/verify",
        &[],
        &json!({"session_code": code, "mfa_code": second}),
    )
    .await
    .status
    .as_u16()
}

#[tokio::test]
async fn the_server_key_rotates_and_totp_survives() {
    let smtp = Smtp::start(&[]);
    let mut s = Server::start(&smtp.config("none")).await;
    let (secret, recovery) = totp_user(&s, &smtp, "rot@example.com").await;
    let before = std::fs::read(key_path(&s)).unwrap();
    let (code, out, err) = if on_postgres() {
        // Nothing holds a database: the rotation goes on, and the running server, whose
        // key no longer fits the store, stops rather than seal with it.
        let rotated = s.cli(&["server-key", "rotate"]);
        let status = s.wait_exit(std::time::Duration::from_secs(30));
        assert!(!status.success());
        assert!(s.log().contains("server key"), "{}", s.log());
        rotated
    } else {
        // A running server holds the store: refused, saying why.
        let (code, _, err) = s.cli(&["server-key", "rotate"]);
        assert_eq!(code, 1);
        assert!(err.contains("stop it first"), "{err}");
        s.stop();
        s.cli(&["server-key", "rotate"])
    };
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 TOTP secrets sealed again"), "{out}");
    assert!(
        out.contains("recovery codes removed from 1 accounts"),
        "{out}"
    );
    let after = std::fs::read(key_path(&s)).unwrap();
    assert_ne!(before, after);
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(key_path(&s)).unwrap().permissions()
        ) & 0o777,
        0o600
    );
    s.start_again();
    // The TOTP secret opens under the new key; the old recovery codes are gone.
    let at = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
        + 30_000;
    assert_eq!(
        sign_in_with(&s, &smtp, "rot@example.com", 2, &recovery[0]).await,
        401
    );
    assert_eq!(
        sign_in_with(&s, &smtp, "rot@example.com", 3, &totp_at(&secret, at)).await,
        200
    );
    // The old key no longer fits the store.
    s.stop();
    std::fs::write(key_path(&s), &before).unwrap();
    let (code, _, err) = s.cli(&["serve"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("is not the key this store"), "{err}");
    // A rotation stopped before the new file took its name is finished at start.
    let mut next = key_path(&s).into_os_string();
    next.push(".new");
    std::fs::write(&next, &after).unwrap();
    std::fs::set_permissions(&next, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    s.start_again();
    s.get("/healthz", &[]).await.expect(200);
    assert_eq!(std::fs::read(key_path(&s)).unwrap(), after);
    assert!(!std::path::Path::new(&next).exists());
}
