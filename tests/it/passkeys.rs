//! Passkeys through the JSON API of family `session`, against the real binary, with a
//! software authenticator ([`SoftKey`]) whose signatures the server really checks:
//! registration, a sign-in that names no account, and every refusal of the contract.

use serde_json::{json, Value};

use crate::softkey::{Faults, SoftKey};
use crate::support::*;

const PW: &str = "correct horse battery";
const ADMIN: &str = "admin-token-0123456789abcdef";
/// The default public URL's origin: the relying party is `localhost`.
pub(crate) const ORIGIN: &str = "http://localhost:8080";

async fn start(extra: &str) -> Server {
    Server::start(&format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n{extra}"
    ))
    .await
}

/// Signs `name` up and in (password): an access token and the user id.
async fn signed_in(s: &Server, name: &str) -> (String, String) {
    let u = oauth_signup(s, name, PW).await;
    let t = oauth_login(s, name, PW).await.expect(200);
    (
        t["access_token"].as_str().unwrap().to_owned(),
        u["id"].as_str().unwrap().to_owned(),
    )
}

pub(crate) async fn register(
    s: &Server,
    access: &str,
    key: &mut SoftKey,
    f: &Faults,
) -> crate::support::Resp {
    let start = s
        .post_bearer("/session/passkeys/register/start", access, &json!({}))
        .await
        .expect(200);
    let answer = key.register(&start["publicKey"], f);
    s.post_bearer(
        "/session/passkeys/register/finish",
        access,
        &json!({"ceremony": start["ceremony"], "name": "laptop", "credential": answer}),
    )
    .await
}

/// Starts a sign-in: (ceremony, options).
pub(crate) async fn login_start(s: &Server) -> (Value, Value) {
    let start = s
        .post_json("/session/passkeys/login/start", &[], &json!({}))
        .await
        .expect(200);
    (start["ceremony"].clone(), start["publicKey"].clone())
}

pub(crate) async fn login(s: &Server, key: &mut SoftKey, f: &Faults) -> crate::support::Resp {
    let (ceremony, options) = login_start(s).await;
    let answer = key.assert(&options, f);
    finish(s, &ceremony, &answer).await
}

pub(crate) async fn finish(s: &Server, ceremony: &Value, answer: &Value) -> crate::support::Resp {
    s.post_json(
        "/session/passkeys/login/finish",
        &[],
        &json!({"ceremony": ceremony, "credential": answer}),
    )
    .await
}

/// A ceremony a start answered in-process: (ceremony, options).
fn challenge(r: Result<protocol::Outcome, protocol::Failure>) -> (String, Value) {
    match r {
        Ok(protocol::Outcome::PasskeyChallenge {
            ceremony,
            public_key,
        }) => (ceremony, public_key),
        other => panic!("no ceremony: {other:?}"),
    }
}

/// Registers a new software passkey for the holder of `access`, in-process.
async fn register_here(p: &InProcess, access: &str) -> SoftKey {
    let bearer = || protocol::Bearer::Token(access.to_owned());
    let (ceremony, options) = challenge(
        p.run(protocol::Operation::as_user(
            bearer(),
            protocol::UserOp::PasskeyRegisterStart,
        ))
        .await,
    );
    let mut key = SoftKey::new(ORIGIN);
    let answer = key.register(&options, &Faults::default());
    p.run(protocol::Operation::as_user(
        bearer(),
        protocol::UserOp::PasskeyRegisterFinish {
            ceremony,
            name: None,
            credential: answer,
        },
    ))
    .await
    .unwrap();
    key
}

/// A sign-in with `key`, in-process.
async fn login_here(
    p: &InProcess,
    key: &mut SoftKey,
) -> Result<protocol::Outcome, protocol::Failure> {
    let (ceremony, options) = challenge(p.run(protocol::Operation::PasskeyLoginStart).await);
    let answer = key.assert(&options, &Faults::default());
    p.run(protocol::Operation::PasskeyLoginFinish {
        ceremony,
        credential: answer,
    })
    .await
}

/// The claims of a JWT access token (read, not verified: the server verified it).
fn claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn refused(r: &crate::support::Resp, what: &str) {
    assert_eq!(
        (r.status.as_u16(), r.json()["error"].as_str()),
        (400, Some("invalid_passkey")),
        "{what}: {}",
        String::from_utf8_lossy(&r.body)
    );
}

#[tokio::test]
async fn an_app_registers_a_passkey_and_signs_in_with_it_naming_no_account() {
    let s = start("").await;
    let (access, ann) = signed_in(&s, "ann").await;

    // The options ask for what a sign-in without a username needs.
    let start = s
        .post_bearer("/session/passkeys/register/start", &access, &json!({}))
        .await;
    assert_eq!(start.header("cache-control"), Some("no-store"));
    let start = start.expect(200);
    let pk = &start["publicKey"];
    assert_eq!(pk["rp"]["id"], "localhost");
    assert_eq!(pk["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(pk["authenticatorSelection"]["userVerification"], "required");
    assert!(
        pk["pubKeyCredParams"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["alg"] == -7),
        "{pk}"
    );
    assert!(pk["challenge"].as_str().unwrap().len() >= 43);

    let mut key = SoftKey::new(ORIGIN);
    let answer = key.register(pk, &Faults::default());
    let added = s
        .post_bearer(
            "/session/passkeys/register/finish",
            &access,
            &json!({"ceremony": start["ceremony"], "name": "  laptop ", "credential": answer}),
        )
        .await
        .expect(201);
    assert_eq!(added["name"], "laptop");
    use base64::Engine as _;
    assert_eq!(
        added["id"],
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&key.id)
    );
    assert!(added["created_at"].as_str().unwrap().ends_with('Z'));
    let list = s
        .get("/session/passkeys", &[("authorization", &bearer(&access))])
        .await
        .expect(200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["last_used_at"], Value::Null);

    // A sign-in names nobody: the options allow any discoverable credential.
    let (ceremony, options) = login_start(&s).await;
    assert_eq!(options["userVerification"], "required");
    assert!(options["allowCredentials"]
        .as_array()
        .is_none_or(|a| a.is_empty()));
    let answer = key.assert(&options, &Faults::default());
    let ok = finish(&s, &ceremony, &answer).await;
    assert_eq!(ok.header("cache-control"), Some("no-store"));
    let ok = ok.expect(200);
    assert_eq!(ok["status"], "authenticated");
    assert_eq!(ok["user_id"], ann);
    // The same answer again: the ceremony is spent.
    refused(&finish(&s, &ceremony, &answer).await, "replayed ceremony");

    let t = s
        .post_json(
            "/session/token",
            &[],
            &json!({"refresh_token": ok["refresh_token"]}),
        )
        .await
        .expect(200);
    let access2 = t["access_token"].as_str().unwrap();
    assert_eq!(claims(access2)["amr"], json!(["hwk"]));
    assert_eq!(claims(access2)["sub"], ann);
    assert_eq!(s.session_me(access2).await["id"], ann);
    let list = s
        .get("/session/passkeys", &[("authorization", &bearer(access2))])
        .await
        .expect(200);
    assert!(list[0]["last_used_at"].as_str().is_some());

    // Renamed, then removed (the password is still a way in): it signs in no more.
    let id = added["id"].as_str().unwrap();
    let renamed = s
        .send(
            http::Method::PATCH,
            &format!("/session/passkeys/{id}"),
            &[
                ("authorization", &bearer(&access)),
                ("content-type", "application/json"),
            ],
            json!({"name": "work laptop"}).to_string(),
        )
        .await
        .expect(200);
    assert_eq!(renamed["name"], "work laptop");
    let gone = s
        .send(
            http::Method::DELETE,
            &format!("/session/passkeys/{id}"),
            &[("authorization", &bearer(&access))],
            "",
        )
        .await;
    assert_eq!(gone.status, 204);
    let again = s
        .send(
            http::Method::DELETE,
            &format!("/session/passkeys/{id}"),
            &[("authorization", &bearer(&access))],
            "",
        )
        .await;
    assert_eq!(
        (again.status.as_u16(), again.json()["error"].as_str()),
        (404, Some("not_found"))
    );
    refused(
        &login(&s, &mut key, &Faults::default()).await,
        "removed passkey",
    );

    // Without a bearer, nothing.
    let r = s
        .post_json("/session/passkeys/register/start", &[], &json!({}))
        .await;
    assert_eq!(r.status, 401);
    let r = s.get("/session/passkeys", &[]).await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn every_refusal_of_a_passkey_sign_in_and_registration() {
    let s = start("[limits]\nlockout_failures = 50\n").await;
    let (ann_access, ann) = signed_in(&s, "ann").await;
    let (bob_access, bob) = signed_in(&s, "bob").await;
    let mut key = SoftKey::new(ORIGIN);
    register(&s, &ann_access, &mut key, &Faults::default())
        .await
        .expect(201);

    let cases: Vec<(&str, Faults)> = vec![
        (
            "wrong origin",
            Faults {
                origin: Some("http://evil.localhost:8080".into()),
                ..Faults::default()
            },
        ),
        // WebAuthn L3 §7.2: the origin compared exactly, and no cross-origin frame
        // (issue 23: webauthn-rs took all three).
        (
            "upper-case origin",
            Faults {
                origin: Some(ORIGIN.to_uppercase()),
                ..Faults::default()
            },
        ),
        (
            "origin with a trailing slash",
            Faults {
                origin: Some(format!("{ORIGIN}/")),
                ..Faults::default()
            },
        ),
        (
            "cross-origin frame",
            Faults {
                cross_origin: true,
                ..Faults::default()
            },
        ),
        (
            "wrong relying party",
            Faults {
                rp_id: Some("evil.example".into()),
                ..Faults::default()
            },
        ),
        (
            "no user verification",
            Faults {
                no_uv: true,
                ..Faults::default()
            },
        ),
        (
            "tampered signature",
            Faults {
                tamper: true,
                ..Faults::default()
            },
        ),
        (
            "another account's user handle",
            Faults {
                user_handle: Some(bob.as_bytes().to_vec()),
                ..Faults::default()
            },
        ),
    ];
    for (what, f) in &cases {
        refused(&login(&s, &mut key, f).await, what);
    }
    // Every refusal left the passkey as it was: it still signs in, as ann.
    let ok = login(&s, &mut key, &Faults::default()).await.expect(200);
    assert_eq!(ok["user_id"], ann);
    // The counter may not go backwards (a cloned authenticator).
    let back = Faults {
        counter: Some(1),
        ..Faults::default()
    };
    refused(&login(&s, &mut key, &back).await, "counter backwards");

    // An answer made for one ceremony does not finish another.
    let (_, options) = login_start(&s).await;
    let answer = key.assert(&options, &Faults::default());
    let (other, _) = login_start(&s).await;
    refused(
        &finish(&s, &other, &answer).await,
        "another ceremony's answer",
    );
    refused(
        &finish(&s, &json!("no-such-ceremony"), &answer).await,
        "unknown ceremony",
    );
    // A registration's ceremony does not sign in.
    let reg = s
        .post_bearer("/session/passkeys/register/start", &ann_access, &json!({}))
        .await
        .expect(200);
    let (_, options) = login_start(&s).await;
    let answer = key.assert(&options, &Faults::default());
    refused(
        &finish(&s, &reg["ceremony"], &answer).await,
        "registration ceremony",
    );

    // Malformed answers: the family's error, nothing else.
    for bad in [
        json!({}),
        json!({"id": 1}),
        json!({"response": "x", "rawId": "!!"}),
    ] {
        refused(
            &finish(&s, &login_start(&s).await.0, &bad).await,
            "malformed",
        );
    }
    let r = s
        .post_json(
            "/session/passkeys/login/finish",
            &[],
            &json!({"ceremony": "x"}),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.json()["error"].as_str()),
        (400, Some("invalid_request"))
    );

    // A credential id belongs to one account: bob cannot register ann's.
    let anns_handle = key.user_handle.clone();
    refused(
        &register(&s, &bob_access, &mut key, &Faults::default()).await,
        "credential of another account",
    );
    key.user_handle = anns_handle;
    // Registrations are checked as strictly.
    for (what, f) in [
        (
            "registration from another origin",
            Faults {
                origin: Some("https://evil.example".into()),
                ..Faults::default()
            },
        ),
        (
            "registration without user verification",
            Faults {
                no_uv: true,
                ..Faults::default()
            },
        ),
    ] {
        refused(
            &register(&s, &bob_access, &mut SoftKey::new(ORIGIN), &f).await,
            what,
        );
    }
    // A registration ceremony is its account's: ann's start, bob's finish.
    let start = s
        .post_bearer("/session/passkeys/register/start", &ann_access, &json!({}))
        .await
        .expect(200);
    let answer = SoftKey::new(ORIGIN).register(&start["publicKey"], &Faults::default());
    refused(
        &s.post_bearer(
            "/session/passkeys/register/finish",
            &bob_access,
            &json!({"ceremony": start["ceremony"], "credential": answer}),
        )
        .await,
        "another account's ceremony",
    );
    let bobs = s
        .get(
            "/session/passkeys",
            &[("authorization", &bearer(&bob_access))],
        )
        .await
        .expect(200);
    assert_eq!(bobs, json!([]));
    // Bob cannot remove or rename ann's passkey either.
    use base64::Engine as _;
    let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&key.id);
    let r = s
        .send(
            http::Method::DELETE,
            &format!("/session/passkeys/{id}"),
            &[("authorization", &bearer(&bob_access))],
            "",
        )
        .await;
    assert_eq!(r.status, 404);

    // Account states apply as on every door.
    s.admin_req(http::Method::POST, "/admin/users/ann/disable", Some(ADMIN))
        .await
        .expect(200);
    let r = login(&s, &mut key, &Faults::default()).await;
    assert_eq!(
        (r.status.as_u16(), r.json()["error"].as_str()),
        (403, Some("account_disabled")),
        "{}",
        s.log()
    );
    let m = s
        .admin_req(http::Method::GET, "/metrics", Some(ADMIN))
        .await;
    let text = String::from_utf8_lossy(&m.body);
    assert!(
        text.contains("latchkey_sign_ins_total{method=\"hwk\",result=\"failed\"}"),
        "{text}"
    );
}

#[tokio::test]
async fn failed_passkey_sign_ins_lock_the_account_like_passwords() {
    let s = start("[limits]\nlockout_failures = 3\n").await;
    let (access, _) = signed_in(&s, "ann").await;
    let mut key = SoftKey::new(ORIGIN);
    register(&s, &access, &mut key, &Faults::default())
        .await
        .expect(201);
    let bad = Faults {
        tamper: true,
        ..Faults::default()
    };
    for _ in 0..3 {
        refused(&login(&s, &mut key, &bad).await, "tampered");
    }
    let r = login(&s, &mut key, &Faults::default()).await;
    assert_eq!(r.status, 429, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.header("retry-after").is_some());
}

#[tokio::test]
async fn a_ceremony_lasts_five_minutes_and_the_last_way_in_stays() {
    let p = InProcess::new(|_| {});
    p.sign_up("ann", PW).await;
    // Adding a passkey needs a sign-in of the last 5 minutes (a stolen access token
    // cannot plant one): an older session is asked to sign in again.
    let old = p.sign_up("old", PW).await;
    p.advance(301.0);
    assert_eq!(
        p.run(protocol::Operation::as_user(
            protocol::Bearer::Token(old.access_token.clone()),
            protocol::UserOp::PasskeyRegisterStart
        ))
        .await,
        Err(protocol::Failure::ReauthRequired)
    );
    let t = match p.sign_in("ann", PW).await {
        Ok(protocol::Outcome::Tokens(t)) => t,
        other => panic!("{other:?}"),
    };
    let access = protocol::Bearer::Token(t.access_token.clone());
    let (ceremony, public_key) = challenge(
        p.run(protocol::Operation::as_user(
            access.clone(),
            protocol::UserOp::PasskeyRegisterStart,
        ))
        .await,
    );
    let mut key = SoftKey::new(ORIGIN);
    let answer = key.register(&public_key, &Faults::default());
    p.advance(301.0);
    let late = p
        .run(protocol::Operation::as_user(
            access.clone(),
            protocol::UserOp::PasskeyRegisterFinish {
                ceremony,
                name: None,
                credential: answer,
            },
        ))
        .await;
    assert_eq!(late, Err(protocol::Failure::InvalidPasskey));

    // An account whose passkey is its only way in (no password, no address: made by
    // an import) keeps it.
    let store = p.svc.store().clone();
    let now = latchkey::clock::UnixMillis::from_millis(p.now_ms());
    let lone = storage::UserRecord {
        username: Some("lone".into()),
        ..storage::UserRecord::new("lone".into(), now)
    };
    store
        .write(|w| {
            let mut u = lone.clone();
            u.num = w.allocate_user_num()?;
            w.insert_user(&u)?;
            w.insert_passkey(&storage::PasskeyRecord {
                id: b"only".to_vec(),
                user_id: "lone".into(),
                name: "only".into(),
                created_at: now,
                last_used_at: None,
                credential: "{}".into(),
            })
        })
        .unwrap();
    let id = latchkey::primitives::b64url(b"only");
    // Signed in with that passkey, in the portal.
    let caller = latchkey::service::Principal {
        user: lone,
        door: latchkey::service::Door::Portal,
        amr: vec!["hwk".into()],
        signed_in_at: now,
        session: "its-session".into(),
    };
    assert_eq!(
        p.svc
            .act(
                &caller,
                protocol::UserOp::PasskeyDelete { id },
                latchkey::limits::Source::LOCAL
            )
            .await,
        Err(protocol::Failure::LastSignInMethod)
    );
    assert!(store.read(|r| r.passkey(b"only")).unwrap().is_some());
}

#[tokio::test]
async fn the_admin_api_and_cli_list_and_remove_a_users_passkeys() {
    let s = start("").await;
    let (access, _) = signed_in(&s, "ann").await;
    let mut key = SoftKey::new(ORIGIN);
    let added = register(&s, &access, &mut key, &Faults::default())
        .await
        .expect(201);
    let id = added["id"].as_str().unwrap();
    let listed = s
        .admin_req(http::Method::GET, "/admin/users/ann/passkeys", Some(ADMIN))
        .await
        .expect(200);
    assert_eq!(listed[0]["id"], id);
    assert_eq!(listed[0]["name"], "laptop");
    let (code, out, err) = s.cli(&["user", "passkeys", "ann"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with(&format!("{id}  laptop  added ")), "{out}");
    let r = s
        .admin_req(
            http::Method::DELETE,
            "/admin/users/ann/passkeys/nope",
            Some(ADMIN),
        )
        .await;
    assert_eq!(r.status, 404);
    let (code, out, err) = s.cli(&["user", "remove-passkey", "ann", id]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("removed passkey {id}\n"));
    refused(
        &login(&s, &mut key, &Faults::default()).await,
        "removed by the admin",
    );
    let (_, out, _) = s.cli(&["user", "passkeys", "ann"]);
    assert_eq!(out, "no passkeys\n");
}

#[tokio::test]
async fn a_passkey_needs_no_second_factor_even_where_totp_is_on() {
    let p = InProcess::new(|_| {});
    let t = p.sign_up("tom", PW).await;
    crate::rules::enrol(&p, &t.access_token).await;
    let mut key = register_here(&p, &t.access_token).await;
    // A password sign-in wants the TOTP code; the passkey alone signs in.
    assert!(!matches!(
        p.sign_in("tom", PW).await,
        Ok(protocol::Outcome::Tokens(_))
    ));
    match login_here(&p, &mut key).await {
        Ok(protocol::Outcome::Tokens(t)) => assert_eq!(t.user.username.as_deref(), Some("tom")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_portals_passkey_requests_need_its_form_token_and_its_origin() {
    let s = start("").await;
    let r = s
        .post_json("/ui/passkey/login/start", &[], &json!({"csrf": "forged"}))
        .await;
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.json()["error"].is_string());
    let r = s
        .post_json(
            "/ui/passkey/login/start",
            &[("origin", "https://evil.example")],
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.header("content-security-policy").is_some());
    // Signed out, nothing registers.
    let r = s
        .post_json("/ui/passkey/register/start", &[], &json!({"csrf": "x"}))
        .await;
    assert_eq!(r.status, 401);
    // The script is served under the pages' policy, as a script.
    let js = s.get("/ui/passkey.js", &[]).await;
    assert_eq!(js.status, 200);
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let page = s.get("/ui/login", &[]).await;
    let csp = page.header("content-security-policy").unwrap().to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    let html = String::from_utf8_lossy(&page.body);
    assert!(
        html.contains("autocomplete=\"username webauthn\""),
        "{html}"
    );
    assert!(!html.contains("<script>"), "no inline script");
}

/// The account of an address never proven belongs to whoever proves it: a passkey set up
/// before the proof goes with the password and the sessions (regression: it stayed, and
/// signed its maker in after the mailbox owner took the account).
#[tokio::test]
async fn a_passkey_set_up_before_the_address_was_proven_goes_when_it_is() {
    for by_reset in [false, true] {
        let p = InProcess::new(|_| {});
        // Someone signs up with an address that is not theirs, and adds a passkey.
        let t = p.sign_up("eve", PW).await;
        let mut key = register_here(&p, &t.access_token).await;
        // The mailbox's owner proves it: by a sign-in code, or by a password reset.
        let email = "eve@example.com";
        if by_reset {
            p.run(protocol::Operation::ForgotPassword {
                email: email.into(),
            })
            .await
            .unwrap();
            let n = p.outbox.messages().iter().filter(|m| m.to == email).count();
            let code = p.code_to(email, n);
            p.run(protocol::Operation::ResetPassword {
                email: Some(email.into()),
                code,
                new_password: protocol::Secret("the owner's own password".into()),
            })
            .await
            .unwrap();
        } else {
            let code = crate::rules::mailed_code(&p, email).await;
            p.run(protocol::Operation::RedeemCode {
                code,
                mfa_code: None,
            })
            .await
            .unwrap();
        }
        assert_eq!(p.svc.passkeys_of(&t.user.id).unwrap(), vec![]);
        assert_eq!(
            login_here(&p, &mut key).await,
            Err(protocol::Failure::InvalidPasskey),
            "by_reset = {by_reset}"
        );
    }
}
