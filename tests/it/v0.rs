//! Family `v0` end to end: field errors, unverified accounts, verify in three ways,
//! tokens, the profile, integer ids.

use serde_json::{json, Value};

use crate::support::*;

const PW: &str = "correct horse battery";

fn registration(email: &str) -> Value {
    json!({"email": email, "first_name": "John Robert", "last_name": "Doe", "password": PW, "password_confirmation": PW})
}

fn field(v: &Value, attr: &str) -> String {
    v["error"][attr][0]["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no {attr} error in {v}"))
        .to_string()
}

fn basic(user: &str, pw: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"))
    )
}

#[tokio::test]
async fn registration_verify_tokens_profile() {
    let s = Server::start("[server]\npublic_url = \"https://auth.example.com\"\n").await;
    // Every failing attribute at once.
    let r = s.post_json("/api/v0/user", &[], &json!({"email": "x", "first_name": "", "password": "", "password_confirmation": "y", "extra": 1})).await;
    let v = r.expect(400);
    assert_eq!(field(&v, "email"), "ERR_INVALID");
    assert_eq!(field(&v, "first_name"), "ERR_BLANK");
    assert_eq!(field(&v, "last_name"), "ERR_BLANK");
    assert_eq!(field(&v, "password"), "blank");
    assert_eq!(field(&v, "password_confirmation"), "confirmation");
    assert_eq!(field(&v, "extra"), "ERR_INVALID");
    assert_eq!(
        v["error"]["email"][0]["description"],
        "Attribute is malformed or unknown"
    );
    let v = s
        .post_json("/api/v0/user", &[], &json!({}))
        .await
        .expect(400);
    for attr in [
        "email",
        "first_name",
        "last_name",
        "password",
        "password_confirmation",
    ] {
        assert_eq!(field(&v, attr), "ERR_BLANK", "{attr}");
    }
    let weak = json!({"email": "w@example.com", "first_name": "W", "last_name": "W", "password": "qwerty123", "password_confirmation": "qwerty123"});
    assert_eq!(
        field(
            &s.post_json("/api/v0/user", &[], &weak).await.expect(400),
            "password"
        ),
        "ERR_INVALID"
    );

    let ok = s
        .post_json("/api/v0/user", &[], &registration("john.doe@example.com"))
        .await
        .expect(200);
    assert_eq!(ok["message"], "Account registered! Please activate your account at GET https://auth.example.com/api/v0/user/verify");
    let taken = s
        .post_json("/api/v0/user", &[], &registration("JOHN.doe@example.com"))
        .await;
    assert_eq!(field(&taken.expect(422), "email"), "ERR_TAKEN");
    assert_eq!(
        taken.json()["error"]["email"][0]["description"],
        "Attribute is taken"
    );

    // Unverified: the other families refuse to sign it in (after checking the password).
    let r = s
        .post_json(
            "/api/auth/accounts:signInWithPassword",
            &[],
            &json!({"username": "john.doe@example.com", "password": PW}),
        )
        .await;
    assert_eq!(r.expect(403)["error"]["message"], "USER_NOT_VERIFIED");
    let r = s
        .post_json(
            "/auth/token",
            &[("authorization", WEB_CLIENT)],
            &json!({"grant_type": "password", "user_name": "john.doe@example.com", "password": PW}),
        )
        .await;
    assert_eq!(r.expect(400)["error"], "invalid_grant");

    // Verify: wrong password and unknown email give the same 401; blanks give 400.
    let wrong = s
        .get(
            "/api/v0/user/verify?email=john.doe%40example.com&password=nope-nope",
            &[],
        )
        .await;
    let unknown = s
        .get(
            "/api/v0/user/verify?email=ghost%40example.com&password=nope-nope",
            &[],
        )
        .await;
    assert_eq!(field(&wrong.expect(401), "password"), "ERR_INVALID");
    assert_eq!(wrong.body, unknown.body);
    let blank = s.get("/api/v0/user/verify", &[]).await.expect(400);
    assert_eq!(
        (field(&blank, "email"), field(&blank, "password")),
        ("ERR_BLANK".into(), "ERR_BLANK".into())
    );

    // Verify with a JSON body on GET: activates and starts the first session.
    let body = json!({"email": "john.doe@example.com", "password": PW}).to_string();
    let r = s
        .send(
            http::Method::GET,
            "/api/v0/user/verify",
            &[("content-type", "application/json")],
            body,
        )
        .await;
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let p = r.expect(200);
    assert!(p["id"].is_u64(), "{p}");
    assert_eq!(p["email"], "john.doe@example.com");
    assert_eq!(p["activity_status"], 1);
    assert_eq!(p["user_type"], 0);
    assert_eq!(
        (p["first_name"].as_str(), p["last_name"].as_str()),
        (Some("John Robert"), Some("Doe"))
    );
    for k in ["image_url", "birthdate", "code_nationality", "location"] {
        assert!(p[k].is_null(), "{k}");
    }
    assert_eq!(
        p["cv"],
        json!({"description": "", "rating_score": 0.0, "reviews": [], "last_activities": [], "tags": []})
    );
    assert_eq!(
        p["created_at"].as_str().unwrap().len(),
        10,
        "date only, as in the seed"
    );
    assert!(p["access_token"].is_string() && p["refresh_token"].is_string());

    // Query string and Basic work too; the account is active now in every family.
    s.get(
        &format!(
            "/api/v0/user/verify?email=john.doe%40example.com&password={}",
            PW.replace(' ', "+")
        ),
        &[],
    )
    .await
    .expect(200);
    s.get(
        "/api/v0/user/verify",
        &[("authorization", &basic("john.doe@example.com", PW))],
    )
    .await
    .expect(200);
    s.post_json(
        "/api/auth/accounts:signInWithPassword",
        &[],
        &json!({"username": "john.doe@example.com", "password": PW}),
    )
    .await
    .expect(200);

    // Tokens and the profile.
    let t = s
        .post_json(
            "/api/v0/token",
            &[],
            &json!({"refresh_token": p["refresh_token"]}),
        )
        .await
        .expect(200);
    assert_eq!(t.as_object().unwrap().len(), 3);
    assert!(t["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_ne!(t["refresh_token"], p["refresh_token"]);
    assert_eq!(
        field(
            &s.post_json("/api/v0/token", &[], &json!({"refresh_token": "nope"}))
                .await
                .expect(401),
            "refresh_token"
        ),
        "ERR_INVALID"
    );
    assert_eq!(
        field(
            &s.post_json("/api/v0/token", &[], &json!({}))
                .await
                .expect(400),
            "refresh_token"
        ),
        "ERR_BLANK"
    );
    let me = s
        .get(
            "/api/v0/user",
            &[(
                "authorization",
                &bearer(t["access_token"].as_str().unwrap()),
            )],
        )
        .await
        .expect(200);
    assert_eq!(me["id"], p["id"]);
    assert!(me.get("access_token").is_none());
    let r = s.get("/api/v0/user", &[]).await;
    assert_eq!(field(&r.expect(401), "access_token"), "ERR_BLANK");
    assert!(r.header("www-authenticate").is_some());
    assert_eq!(
        field(
            &s.get("/api/v0/user", &[("authorization", "Bearer junk")])
                .await
                .expect(401),
            "access_token"
        ),
        "ERR_INVALID"
    );

    // The query string (with its password) never reaches the log.
    let log = s.log();
    assert!(
        !log.contains("nope-nope") && !log.contains("ghost") && !log.contains("battery"),
        "{log}"
    );
}

#[tokio::test]
async fn integer_ids_are_stable_unique_and_never_reused() {
    let s =
        Server::start("[admin]\ntoken = \"admin-token-0123456789\"\nlisten = \"127.0.0.1:0\"\n")
            .await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let email = format!("n{i}@example.com");
        s.post_json("/api/v0/user", &[], &registration(&email))
            .await
            .expect(200);
        let p = s
            .get(
                &format!(
                    "/api/v0/user/verify?email=n{i}%40example.com&password={}",
                    PW.replace(' ', "+")
                ),
                &[],
            )
            .await
            .expect(200);
        ids.push(p["id"].as_u64().unwrap());
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    // Delete the newest, register again: a new, larger number.
    let (code, _, err) = s.cli(&["user", "delete", "n2@example.com", "--yes"]);
    assert_eq!(code, 0, "{err}");
    s.post_json("/api/v0/user", &[], &registration("n2@example.com"))
        .await
        .expect(200);
    let p = s
        .get(
            &format!(
                "/api/v0/user/verify?email=n2%40example.com&password={}",
                PW.replace(' ', "+")
            ),
            &[],
        )
        .await
        .expect(200);
    assert!(p["id"].as_u64().unwrap() > ids[2]);
}
