//! A store written by an older latchkey is migrated when it is opened (issue 13): the
//! schema-1 fixture (`fixtures/store-v1`, made by its `make.py` with the release that
//! wrote schema 1) opens, and every user, family, TOTP secret and key in it still works.
//! A store newer than the binary is refused with a message.

use serde_json::{json, Value};

use crate::support::*;

fn facts() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/store-v1/facts.json"),
        )
        .unwrap(),
    )
    .unwrap()
}

/// A server on a copy of the fixture (redb, whatever backend the run tests).
async fn on_fixture(extra: &str) -> Server {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/store-v1");
    let dir = tempfile::tempdir().unwrap();
    for f in ["store.redb", "store.redb.key"] {
        std::fs::copy(fixture.join(f), dir.path().join(f)).unwrap();
        std::fs::set_permissions(
            dir.path().join(f),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
    }
    std::fs::write(
        dir.path().join("auth.toml"),
        config_text(dir.path(), &redb(extra)),
    )
    .unwrap();
    Server::start_in(dir).await
}

fn kid(access: &str) -> Value {
    let h = latchkey::primitives::b64url_decode(access.split('.').next().unwrap()).unwrap();
    serde_json::from_slice::<Value>(&h).unwrap()["kid"].clone()
}

#[tokio::test]
async fn a_schema_1_store_migrates_and_everything_in_it_still_works() {
    let facts = facts();
    let smtp = Smtp::start(&[]);
    let mut s = on_fixture(&smtp.config("none")).await;

    // Passwords, through two families.
    let t = oauth_login(&s, "olga", "olga's password").await.expect(200);
    // The fixture's signing key still signs.
    assert_eq!(kid(t["access_token"].as_str().unwrap()), facts["kid"]);
    s.post_json(
        "/api/auth/accounts:signInWithPassword",
        &[],
        &json!({"username": "tom", "password": "tom's password"}),
    )
    .await
    .expect(200);
    // Refresh families made before the migration rotate.
    s.post_json(
        "/auth/refresh-token",
        &[],
        &json!({"refresh_token": facts["olga_refresh"]}),
    )
    .await
    .expect(200);
    let sue = s
        .post_json(
            "/session/token",
            &[],
            &json!({"refresh_token": facts["sue_refresh"]}),
        )
        .await
        .expect(200);
    let me = s
        .get(
            "/session/me",
            &[(
                "authorization",
                &bearer(sue["access_token"].as_str().unwrap()),
            )],
        )
        .await
        .expect(200);
    assert_eq!(me["mfa_enabled"], true);
    // The TOTP secret, sealed under the fixture's server key, still opens: a mailed code
    // and the authenticator's code sign in.
    s.post_json("/session/login", &[], &json!({"email": "sue@example.com"}))
        .await
        .expect(202);
    let code = session_code_of(&smtp.wait_mail("sue@example.com", 1).await);
    let now = now_ms();
    let secret = facts["sue_totp_secret"].as_str().unwrap();
    let v = s
        .post_json(
            "/session/verify",
            &[],
            &json!({"session_code": code, "mfa_code": totp_at(secret, now)}),
        )
        .await
        .expect(200);
    assert_eq!(v["status"], "authenticated");

    // The store is at the current schema now, and its users are all there.
    s.stop();
    let (code, out, err) = s.cli(&["user", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("3 of 3 users"), "{out}");
    let store = s.open_store();
    assert_eq!(
        store.read(|r| r.schema_version()).unwrap(),
        storage::SCHEMA_VERSION
    );
}

#[tokio::test]
async fn a_store_newer_than_the_binary_is_refused_with_a_message() {
    let mut s = Server::start(&redb("")).await;
    s.stop();
    storage::testing::set_redb_schema_version(
        &s.dir.path().join("store.redb"),
        storage::SCHEMA_VERSION + 1,
    )
    .unwrap();
    let (code, _, err) = s.cli(&["serve"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!(
            "schema version {}, newer than this latchkey",
            storage::SCHEMA_VERSION + 1
        )),
        "{err}"
    );
}
