//! Importing users with their passwords (issue 16): hashes made by their reference
//! implementations (Python's `bcrypt`, `argon2-cffi`, `hashlib`, and Firebase's scrypt
//! computed with `cryptography`), imported through the command line, signed in through
//! the families, and re-hashed to latchkey's scrypt on the first success.

use serde_json::{json, Value};

use crate::support::*;

fn import(s: &Server, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["user", "import"];
    all.extend_from_slice(args);
    s.cli(&all)
}

#[tokio::test]
async fn reference_hashes_and_a_firebase_export_import_sign_in_and_are_rehashed() {
    let dir = tempfile::tempdir().unwrap();
    let facts: Value =
        serde_json::from_str(&py("make_hashes.py", &[dir.path().to_str().unwrap()])).unwrap();
    let lines = dir.path().join("users.jsonl");
    let export = dir.path().join("firebase.json");
    let mut s = Server::start("").await;
    s.stop();

    let (code, out, err) = import(&s, &[lines.to_str().unwrap(), "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("dry run: would import 6 users, 0 skipped (no email), 0 refused"),
        "{out}"
    );
    let (code, out, err) = import(&s, &[lines.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("imported 6 users"), "{out}");
    let rounds = facts["rounds"].to_string();
    let mem_cost = facts["mem_cost"].to_string();
    let firebase = [
        export.to_str().unwrap(),
        "--format",
        "firebase",
        "--hash-key",
        facts["hash_key"].as_str().unwrap(),
        "--salt-separator",
        facts["salt_separator"].as_str().unwrap(),
        "--rounds",
        &rounds,
        "--mem-cost",
        &mem_cost,
    ];
    let (code, out, err) = import(&s, &firebase);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("imported 2 users (1 skipped without an email, 0 refused)"),
        "{out}"
    );
    // Importing the same file again refuses every user, and writes nothing.
    let (code, _, err) = import(&s, &firebase);
    assert_eq!(code, 1);
    assert!(
        err.contains("user #1 (localId fb0Z9xQ2kLmN8pR4tV6wY1aB3cD): id already taken"),
        "{err}"
    );
    assert!(err.contains("nothing was imported"), "{err}");

    s.start_again();
    for u in facts["users"].as_array().unwrap() {
        let (login, pw, id) = (
            u["login"].as_str().unwrap(),
            u["password"].as_str().unwrap(),
            u["id"].as_str().unwrap(),
        );
        assert_eq!(
            oauth_login(&s, login, "not the password").await.status,
            400,
            "{login}"
        );
        // Through toolkit (whose localId is the source's id), then oauth.
        let t = s
            .post_json(
                "/api/auth/accounts:signInWithPassword",
                &[],
                &json!({"username": login, "password": pw}),
            )
            .await
            .expect(200);
        assert_eq!(t["localId"], id, "{login}");
        let t = oauth_login(&s, login, pw).await.expect(200);
        let me = s.session_me(t["access_token"].as_str().unwrap()).await;
        assert_eq!(me["id"], id);
    }
    s.stop();
    // Every imported hash became latchkey's scrypt at its first sign-in.
    let store = s.open_store();
    for u in facts["users"].as_array().unwrap() {
        let user = store
            .read(|r| r.user(u["id"].as_str().unwrap()))
            .unwrap()
            .unwrap();
        let hash = user.password_hash.unwrap();
        assert!(hash.starts_with("$scrypt$ln=10,r=8,p=1$"), "{u}: {hash}");
    }
    let fiona = store
        .read(|r| r.user("fb0Z9xQ2kLmN8pR4tV6wY1aB3cD"))
        .unwrap()
        .unwrap();
    assert!(fiona.email_verified);
    assert_eq!(
        fiona.created_at,
        latchkey::clock::UnixMillis::from_millis(1_486_324_137_000)
    );
    assert_eq!(fiona.display_name.as_deref(), Some("Fiona"));
}

#[tokio::test]
async fn hashes_asking_for_too_much_are_refused_with_their_lines_and_nothing_is_imported() {
    let mut s = Server::start("").await;
    s.stop();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.jsonl");
    let sk =
        "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==";
    let lines = [
        json!({"email": "ok@example.com", "password_hash": "$2b$04$abcdefghijklmnopqrstuu5Oq3DLZTi4yRZFPSlBqLgH5DUGr1jU."}),
        json!({"email": "big@example.com", "password_hash": "$argon2id$v=19$m=4194304,t=3,p=1$c2FsdHNhbHRzYWx0$ZGVhZGJlZWZkZWFkYmVlZmRlYWRiZWVmZGVhZGJlZWY"}),
        json!({"email": "fb@example.com", "password_hash": format!("$firebase-scrypt$hash={sk}$salt=42xEC+ixf3L2lw==$sk={sk}$ss=Bw==$r=8$m=31")}),
        json!({"email": "md5@example.com", "password_hash": "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/"}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let (code, _, err) = import(&s, &[file.to_str().unwrap(), "--dry-run"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("dry run: 1 users, 0 skipped (no email), 3 refused"),
        "{err}"
    );
    let (code, _, err) = import(&s, &[file.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("line 2: password_hash: argon2 with m = 4194304 KiB, more than password.import_limits allow"),
        "{err}"
    );
    assert!(
        err.contains("line 3: password_hash: scrypt with N = 2^31"),
        "{err}"
    );
    assert!(
        err.contains("line 4: password_hash: `$1$` is not a hash form"),
        "{err}"
    );
    assert!(err.contains("nothing was imported"), "{err}");
    let store = s.open_store();
    assert_eq!(store.read(|r| r.user_count()).unwrap(), 0);
    drop(store);
    // The project's parameters are checked before any user.
    let (code, _, err) = import(
        &s,
        &[
            file.to_str().unwrap(),
            "--format",
            "firebase",
            "--hash-key",
            sk,
            "--salt-separator",
            "Bw==",
            "--rounds",
            "8",
        ],
    );
    assert_eq!(code, 2, "clap: --mem-cost is required with firebase: {err}");
}

/// The README's "From Firebase" block, as printed: the file, the import (the server
/// stopped), then the server again and a sign-in with Firebase's example password.
#[tokio::test]
async fn the_readme_firebase_example_works_as_printed() {
    let block = crate::readme::blocks()
        .into_iter()
        .find(|b| b.starts_with("cat > users.json <<'JSON'"))
        .expect("the README's Firebase block");
    let (import_part, sign_in_part) = block
        .split_once("./target/release/latchkey serve &\n")
        .expect("the block starts the server");
    let mut s = Server::start("").await;
    s.stop();
    let dir = tempfile::tempdir().unwrap();
    let run = |script: String| {
        let out = std::process::Command::new("bash")
            .args(["-c", &format!("set -euo pipefail\n{script}")])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{script}\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let out = run(import_part.replace(
        "./target/release/latchkey",
        &format!("{BIN} --config {}", s.config_path().display()),
    ));
    assert!(
        out.contains("imported 1 users (0 skipped without an email, 0 refused)"),
        "{out}"
    );
    s.start_again();
    let out = run(sign_in_part.replace("http://localhost:8080", &s.base));
    let answer: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(answer["localId"], "fbUser1qZ3xK8mN2pR5tV7wY9aB");
    assert!(answer["idToken"].is_string(), "{answer}");
}
