//! `latchkey store copy --to`: a whole store into another, redb to PostgreSQL and back
//! (issue 13). The copy answers every token and password of the original, with the same
//! server key file; the destination must be empty (a new file, or a database without
//! latchkey's data).

use serde_json::{json, Value};

use crate::files::{sign_in_with, totp_user};
use crate::passkeys::{login, register, ORIGIN};
use crate::softkey::{Faults, SoftKey};
use crate::support::*;

const PW: &str = "correct horse battery";

async fn refresh(s: &Server, token: &Value) -> Value {
    s.post_json("/auth/refresh-token", &[], &json!({"refresh_token": token}))
        .await
        .expect(200)
}

#[tokio::test]
async fn a_store_copied_to_postgres_and_back_answers_every_token_and_password() {
    let smtp = Smtp::start(&[]);
    let mut s = Server::start(&redb(&smtp.config("none"))).await;
    oauth_signup(&s, "olga", PW).await;
    let t = oauth_login(&s, "olga", PW).await.expect(200);
    let (secret, recovery) = totp_user(&s, &smtp, "sue@example.com").await;
    // Olga has a passkey: it signs in on every copy.
    let mut passkey = SoftKey::new(ORIGIN);
    register(
        &s,
        t["access_token"].as_str().unwrap(),
        &mut passkey,
        &Faults::default(),
    )
    .await
    .expect(201);
    // A running server holds the file: refused, saying why.
    let url = storage::testing::new_database().unwrap();
    let (code, _, err) = s.cli(&["store", "copy", "--to", &url]);
    assert_eq!(code, 1);
    assert!(err.contains("stop the server"), "{err}");
    s.stop();
    let (code, out, err) = s.cli(&["store", "copy", "--to", &url]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("copied 2 users, 2 refresh families"), "{out}");
    // Into a database that holds data: refused.
    let (code, _, err) = s.cli(&["store", "copy", "--to", &url]);
    assert_eq!(code, 1);
    assert!(err.contains("already holds data"), "{err}");

    // A server on the copy, with the same key file.
    let key = s.dir.path().join("store.redb.key");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("auth.toml"),
        config_text(
            dir.path(),
            &format!(
                "{}[storage]\nbackend = \"postgres\"\nurl = \"{url}\"\nkey_file = \"{}\"\n",
                smtp.config("none"),
                key.display()
            ),
        ),
    )
    .unwrap();
    let mut pg = Server::start_in(dir).await;
    oauth_login(&pg, "olga", PW).await.expect(200);
    login(&pg, &mut passkey, &Faults::default())
        .await
        .expect(200);
    let r = refresh(&pg, &t["refresh_token"]).await;
    assert_eq!(
        sign_in_with(
            &pg,
            &smtp,
            "sue@example.com",
            2,
            &totp_at(&secret, now_ms() + 30_000)
        )
        .await,
        200
    );
    // Numbers go on from the original's.
    oauth_signup(&pg, "nina", PW).await;
    pg.stop();
    let (code, out, err) = pg.cli(&["user", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let nums: Vec<u64> = serde_json::from_str::<Value>(&out).unwrap()["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["num"].as_u64().unwrap())
        .collect();
    assert_eq!(nums, vec![1, 2, 3], "{out}");

    // And back, into a new redb file; never over an existing one.
    let back = tempfile::tempdir().unwrap();
    let file = back.path().join("store.redb");
    std::fs::write(&file, b"").unwrap();
    let (code, _, err) = pg.cli(&["store", "copy", "--to", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("exists"), "{err}");
    std::fs::remove_file(&file).unwrap();
    let (code, out, err) = pg.cli(&["store", "copy", "--to", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("copied 3 users"), "{out}");
    std::fs::copy(&key, back.path().join("store.redb.key")).unwrap();
    std::fs::write(
        back.path().join("auth.toml"),
        config_text(back.path(), &redb(&smtp.config("none"))),
    )
    .unwrap();
    let home = Server::start_in(back).await;
    refresh(&home, &r["refresh_token"]).await;
    // The counter the database saw came back too: the next assertion still counts up.
    login(&home, &mut passkey, &Faults::default())
        .await
        .expect(200);
    oauth_login(&home, "nina", PW).await.expect(200);
    // (The TOTP step used on the database is spent there, and so in its copy: a
    // recovery code, checked against the copied keyed hashes.)
    assert_eq!(
        sign_in_with(&home, &smtp, "sue@example.com", 3, &recovery[0]).await,
        200,
        "{}",
        home.log()
    );
}
