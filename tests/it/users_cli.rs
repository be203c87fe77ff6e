//! The user commands an administrator needs (issue 11, item 6): create, set-password,
//! set-role, list in creation order (and as JSON), show with its lockout, delete that
//! asks; both through a running server's admin API and directly on the store.

use serde_json::{json, Value};

use crate::support::*;

const ADMIN: &str = "admin-token-0123456789abcdef";
const PW: &str = "correct horse battery";
const NEW_PW: &str = "a new passphrase, longer";

fn admin_config(extra: &str) -> String {
    format!("[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n{extra}")
}

async fn me(s: &Server, access: &str) -> Resp {
    s.get("/users/me", &[("authorization", &bearer(access))])
        .await
}

fn field(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap().to_string()
}

#[tokio::test]
async fn create_set_password_and_set_role_through_the_server_and_directly() {
    let mut s = Server::start(&admin_config("")).await;
    // Through the running server: the password on standard input, a role sign-up may not
    // ask for.
    let (code, out, err) = s.cli_with_input(
        &[
            "user",
            "create",
            "--email",
            "Ann@Example.com",
            "--username",
            "Ann",
            "--role",
            "admin",
        ],
        &format!("{PW}\n"),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(line_value(&out, "role").as_deref(), Some("admin"), "{out}");
    assert_eq!(
        line_value(&out, "username").as_deref(),
        Some("ann"),
        "{out}"
    );
    assert_eq!(
        line_value(&out, "email").as_deref(),
        Some("Ann@Example.com (not proven)"),
        "{out}"
    );
    let t = oauth_login(&s, "ann", PW).await.expect(200);
    assert_eq!(
        me(&s, &field(&t, "access_token")).await.expect(200)["role"],
        "admin"
    );
    // The same rules as sign-up: weak passwords, taken names, look-alikes, bad roles.
    for (args, input, why) in [
        (vec!["--email", "b@example.com"], "password\n", "too weak"),
        (
            vec!["--email", "ann@example.com"],
            "a fine passphrase\n",
            "taken",
        ),
        (vec!["--username", "ANN"], "a fine passphrase\n", "taken"),
        (
            vec!["--username", "bob", "--role", "a b"],
            "a fine passphrase\n",
            "role",
        ),
        (vec!["--username", "bob"], "", "no password"),
        (
            vec!["--username", "bob", "--no-password"],
            "",
            "give it an email",
        ),
        (vec![], "a fine passphrase\n", "email or a username"),
    ] {
        let mut all = vec!["user", "create"];
        all.extend(args);
        let (code, _, err) = s.cli_with_input(&all, input);
        assert_eq!(code, 1, "{all:?} was accepted");
        assert!(err.contains(why), "{all:?}: {err}");
    }
    // set-password: every session ends, the old password stops working, the new works.
    let refresh = field(&t, "refresh_token");
    let (code, out, err) =
        s.cli_with_input(&["user", "set-password", "ann"], &format!("{NEW_PW}\n"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        line_value(&out, "revoked now").as_deref(),
        Some("1"),
        "{out}"
    );
    s.post_json(
        "/auth/refresh-token",
        &[],
        &json!({"refresh_token": refresh}),
    )
    .await
    .expect(400);
    me(&s, &field(&t, "access_token")).await.expect(401);
    oauth_login(&s, "ann", PW).await.expect(400);
    let t = oauth_login(&s, "ann", NEW_PW).await.expect(200);
    // set-role: what the server says of the user changes at once.
    let (code, out, err) = s.cli(&["user", "set-role", "ann", "manager"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        line_value(&out, "role").as_deref(),
        Some("manager"),
        "{out}"
    );
    let after = s
        .post_json(
            "/auth/refresh-token",
            &[],
            &json!({"refresh_token": field(&t, "refresh_token")}),
        )
        .await
        .expect(200);
    assert_eq!(
        me(&s, &field(&after, "access_token")).await.expect(200)["role"],
        "manager"
    );

    // No server: the same commands open the store, and hash on the spot.
    s.stop();
    let (code, out, err) = s.cli(&[
        "user",
        "create",
        "--email",
        "carol@example.com",
        "--no-password",
        "--email-verified",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        line_value(&out, "email").as_deref(),
        Some("carol@example.com (proven)"),
        "{out}"
    );
    let (code, _, err) = s.cli_with_input(
        &["user", "set-password", "carol@example.com"],
        &format!("{PW}\n"),
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = s.cli(&["user", "set-role", "carol@example.com", "auditor"]);
    assert_eq!(code, 0, "{err}");
    s.start_again();
    let t = s
        .post_json(
            "/auth/token",
            &[("authorization", WEB_CLIENT)],
            &json!({"grant_type": "password", "user_name": "carol@example.com", "password": PW}),
        )
        .await
        .expect(200);
    assert_eq!(
        me(&s, &field(&t, "access_token")).await.expect(200)["role"],
        "auditor"
    );
}

#[tokio::test]
async fn list_is_in_creation_order_and_speaks_json() {
    let s = Server::start(&admin_config("")).await;
    for name in ["zed", "amy", "moe"] {
        oauth_signup(&s, name, PW).await;
    }
    let (code, out, err) = s.cli(&["user", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = v["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["zed", "amy", "moe"]);
    let first = v["users"][0]["num"].as_u64().unwrap();
    let (_, out, _) = s.cli(&[
        "user",
        "list",
        "--after",
        &first.to_string(),
        "--limit",
        "1",
    ]);
    assert!(
        out.contains("amy") && !out.contains("zed") && !out.contains("moe"),
        "{out}"
    );
    assert!(out.contains("1 of 3 users; more with --after"), "{out}");
}

#[tokio::test]
async fn show_tells_a_lockout_and_enable_clears_it() {
    let s = Server::start(&admin_config("[limits]\nlockout_failures = 3\n")).await;
    oauth_signup(&s, "lou", PW).await;
    for _ in 0..3 {
        oauth_login(&s, "lou", "not the password").await.expect(400);
    }
    oauth_login(&s, "lou", PW).await.expect(429);
    let (code, out, err) = s.cli(&["user", "show", "lou"]);
    assert_eq!(code, 0, "{err}");
    let state = line_value(&out, "state").unwrap();
    assert!(
        state.starts_with("active, locked out for 1 source(s) until"),
        "{out}"
    );
    let (_, out, _) = s.cli(&["user", "show", "lou", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["lockout"]["sources_locked"], 1);
    s.cli(&["user", "enable", "lou"]);
    let (_, out, _) = s.cli(&["user", "show", "lou"]);
    assert_eq!(
        line_value(&out, "state").as_deref(),
        Some("active"),
        "{out}"
    );
    oauth_login(&s, "lou", PW).await.expect(200);
}

#[tokio::test]
async fn delete_asks_unless_told_not_to() {
    let s = Server::start(&admin_config("")).await;
    oauth_signup(&s, "del", PW).await;
    // Not a terminal, no --yes: refused, the user stays.
    let (code, _, err) = s.cli(&["user", "delete", "del"]);
    assert_eq!(code, 1);
    assert!(err.contains("--yes"), "{err}");
    oauth_login(&s, "del", PW).await.expect(200);
    let (code, out, err) = s.cli(&["user", "delete", "del", "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("deleted "), "{out}");
    oauth_login(&s, "del", PW).await.expect(400);
}

#[tokio::test]
async fn a_command_without_the_admin_token_says_what_to_set() {
    // A redb file is held by its server; a database is not (nodes.rs).
    let s = Server::start(&redb(&admin_config(""))).await;
    // The operator's own config: the same store, no admin token.
    let dir = tempfile::tempdir().unwrap();
    let mine = dir.path().join("mine.toml");
    std::fs::write(
        &mine,
        format!(
            "[storage]\npath = \"{}\"\n",
            s.dir.path().join("store.redb").display()
        ),
    )
    .unwrap();
    let (code, _, err) = cli_with_input(&mine, &["user", "list"], "");
    assert_eq!(code, 1);
    assert!(err.contains("its admin API is at http://"), "{err}");
    assert!(err.contains("no admin.token"), "{err}");
    assert!(!err.contains("is off"), "{err}");
    // A server with the admin API off: that is what it says.
    let off = Server::start(&redb("")).await;
    let (code, _, err) = off.cli(&["user", "list"]);
    assert_eq!(code, 1);
    assert!(err.contains("admin API is off"), "{err}");
}

#[tokio::test]
async fn import_names_the_hash_it_cannot_take() {
    let mut s = Server::start("").await;
    s.stop();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.jsonl");
    std::fs::write(
        &file,
        "{\"email\":\"b@example.com\",\"password_hash\":\"$6$rounds=5000$salt$hash\"}\n",
    )
    .unwrap();
    let (code, _, err) = s.cli(&["user", "import", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("line 1: password_hash: `$6$` is not a hash form latchkey reads (bcrypt, argon2, scrypt, pbkdf2-sha256, firebase-scrypt)"),
        "{err}"
    );
}
