//! Recovery and account changes (issue 16), against the real binary and a real SMTP
//! server: password reset in `session` and under Firebase's names in `toolkit`, email
//! proof by a code alone, password change, email change. The time rule (a recent sign-in)
//! is tested in-process on a fake clock.

use serde_json::json;

use crate::policy::{account_with_totp, PW};
use crate::support::*;

const NEW_PW: &str = "a brand new passphrase";

async fn forgot(s: &Server, email: &str) {
    let r = s
        .post_json("/session/password/forgot", &[], &json!({"email": email}))
        .await;
    assert_eq!(r.expect(202), json!({"status": "code_sent"}));
}

async fn reset(s: &Server, email: &str, code: &str, password: &str) -> Resp {
    s.post_json(
        "/session/password/reset",
        &[],
        &json!({"email": email, "code": code, "new_password": password}),
    )
    .await
}

async fn session_refresh(s: &Server, token: &str) -> Resp {
    s.post_json("/session/token", &[], &json!({"refresh_token": token}))
        .await
}

#[tokio::test]
async fn a_reset_code_works_once_ends_every_session_keeps_mfa_and_clears_the_lockout() {
    let smtp = Smtp::start(&[]);
    let s = Server::start(&format!(
        "{}[limits]\nlockout_failures = 3\n",
        smtp.config("none")
    ))
    .await;
    let email = "rita@example.com";
    let (_, _, recovery) = account_with_totp(&s, &smtp, "rita").await;
    let mfa = |code: String| json!({"grant_type": "password", "user_name": "rita", "password": NEW_PW, "mfa_code": code});
    // Two sessions before the reset.
    let mut families = Vec::new();
    for code in &recovery[..2] {
        let t = s
            .post_json(
                "/auth/token",
                &[("authorization", WEB_CLIENT)],
                &json!({"grant_type": "password", "user_name": "rita", "password": PW, "mfa_code": code}),
            )
            .await
            .expect(200);
        families.push(t["refresh_token"].as_str().unwrap().to_string());
    }
    // Lock the account out of this source.
    for _ in 0..3 {
        oauth_login(&s, "rita", "wrong password").await.expect(400);
    }
    assert_eq!(oauth_login(&s, "rita", PW).await.status, 429);

    // No account, same answer: the address gets a notice, not a code.
    forgot(&s, "nobody@example.com").await;
    let notice = smtp.wait_mail("nobody@example.com", 1).await;
    assert!(
        notice["subject"]
            .as_str()
            .unwrap()
            .contains("Password reset"),
        "{notice}"
    );
    assert!(!notice["text"].as_str().unwrap().contains("code is"));

    // Five wrong codes spend a code.
    let mails = smtp.count_to(email);
    forgot(&s, email).await;
    let first = session_code_of(&smtp.wait_mail(email, mails + 1).await);
    for _ in 0..5 {
        let r = reset(&s, email, "AAAA-BBBB-CCCC", NEW_PW).await;
        assert_eq!(r.expect(400), json!({"error": "invalid_code"}));
    }
    let r = reset(&s, email, &first, NEW_PW).await;
    assert_eq!(r.expect(400), json!({"error": "invalid_code"}), "spent");

    // A new code; a weak password leaves it usable; then it works once.
    forgot(&s, email).await;
    let code = session_code_of(&smtp.wait_mail(email, mails + 2).await);
    let r = reset(&s, email, &code, "short").await;
    assert_eq!(r.expect(400), json!({"error": "weak_password"}));
    let r = reset(&s, &email.to_uppercase(), &code.to_lowercase(), NEW_PW).await;
    assert_eq!(r.expect(200), json!({"status": "password_reset"}));
    let r = reset(&s, email, &code, "another good passphrase").await;
    assert_eq!(
        r.expect(400),
        json!({"error": "invalid_code"}),
        "works once"
    );

    // Every session ended; the old password is gone; the lockout is cleared; MFA stays.
    for f in &families {
        assert_eq!(session_refresh(&s, f).await.status, 401);
    }
    assert_eq!(oauth_login(&s, "rita", PW).await.status, 400);
    let r = oauth_login(&s, "rita", NEW_PW).await;
    assert_eq!(r.expect(401)["error"], "mfa_required");
    let r = s
        .post_json(
            "/auth/token",
            &[("authorization", WEB_CLIENT)],
            &mfa(recovery[2].clone()),
        )
        .await;
    r.expect(200);
    assert!(s.log().contains("event=\"password_reset\""), "audit event");
}

#[tokio::test]
async fn a_reset_of_an_address_never_proven_removes_what_the_first_comer_set_up() {
    let smtp = Smtp::start(&[]);
    let s = Server::start(&smtp.config("none")).await;
    // The attacker signs up first with the victim's address.
    let evil = s
        .post_json(
            "/users",
            &[],
            &json!({"email": "vic@example.com", "password": "attacker's password", "user_name": "notvic"}),
        )
        .await
        .expect(201);
    let t = oauth_login(&s, "notvic", "attacker's password")
        .await
        .expect(200);
    let family = t["refresh_token"].as_str().unwrap().to_string();
    // The victim resets through the mailbox.
    forgot(&s, "vic@example.com").await;
    let code = session_code_of(&smtp.wait_mail("vic@example.com", 1).await);
    reset(&s, "vic@example.com", &code, NEW_PW)
        .await
        .expect(200);
    assert_eq!(
        oauth_login(&s, "notvic", "attacker's password")
            .await
            .status,
        400
    );
    assert_eq!(session_refresh(&s, &family).await.status, 401);
    let t = oauth_login(&s, "vic@example.com", NEW_PW).await.expect(200);
    let me = s.session_me(t["access_token"].as_str().unwrap()).await;
    assert_eq!(me["id"], evil["id"], "the account keeps its id");
    assert_eq!(me["email_verified"], true);
}

fn toolkit_message(r: &Resp) -> String {
    r.json()["error"]["message"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn toolkit_resets_proves_and_changes_under_firebase_names() {
    let smtp = Smtp::start(&[]);
    let s = Server::start(&smtp.config("none")).await;
    let email = "tina@example.com";
    let up = s
        .post_json(
            "/api/auth/accounts:signUp",
            &[],
            &json!({"username": "tina", "password": PW, "email": email}),
        )
        .await
        .expect(201);
    let id_token = up["idToken"].as_str().unwrap().to_string();

    // VERIFY_EMAIL with the id token; the mailed code alone proves the address.
    let r = s
        .post_json(
            "/api/auth/accounts:sendOobCode",
            &[],
            &json!({"requestType": "VERIFY_EMAIL", "idToken": id_token}),
        )
        .await;
    assert_eq!(r.expect(200), json!({"email": email}));
    let code = session_code_of(&smtp.wait_mail(email, 1).await);
    let r = s
        .post_json("/api/auth/accounts:update", &[], &json!({"oobCode": code}))
        .await;
    assert_eq!(
        r.expect(200),
        json!({"email": email, "emailVerified": true})
    );
    let r = s
        .post_json("/api/auth/accounts:update", &[], &json!({"oobCode": code}))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(toolkit_message(&r), "INVALID_OOB_CODE");
    let me = s
        .post_json(
            "/api/auth/accounts:lookup",
            &[],
            &json!({"idToken": id_token}),
        )
        .await
        .expect(200);
    assert_eq!(me["emailVerified"], true);

    // PASSWORD_RESET: the same answer for an address without an account.
    for to in [email, "ghost@example.com"] {
        let r = s
            .post_json(
                "/api/auth/accounts:sendOobCode",
                &[],
                &json!({"requestType": "PASSWORD_RESET", "email": to}),
            )
            .await;
        assert_eq!(r.expect(200), json!({"email": to}));
    }
    let code = session_code_of(&smtp.wait_mail(email, 2).await);
    let r = s
        .post_json(
            "/api/auth/accounts:resetPassword",
            &[],
            &json!({"oobCode": code, "newPassword": "x"}),
        )
        .await;
    assert_eq!(toolkit_message(&r), "WEAK_PASSWORD");
    let r = s
        .post_json(
            "/api/auth/accounts:resetPassword",
            &[],
            &json!({"oobCode": code, "newPassword": NEW_PW}),
        )
        .await;
    assert_eq!(
        r.expect(200),
        json!({"email": email, "requestType": "PASSWORD_RESET"})
    );
    let r = s
        .post_json(
            "/api/auth/accounts:resetPassword",
            &[],
            &json!({"oobCode": code, "newPassword": NEW_PW}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(toolkit_message(&r), "INVALID_OOB_CODE");
    // The sign-up's session ended with the reset.
    let r = s
        .post_json(
            "/api/auth/token:refresh",
            &[],
            &json!({"refreshToken": up["refreshToken"]}),
        )
        .await;
    assert_eq!(r.status, 401);

    // accounts:update {idToken, password} after a fresh sign-in: fresh tokens, the
    // session it came from and every other one ended.
    let signin = |pw: &'static str| json!({"username": "tina", "password": pw});
    let other = s
        .post_json(
            "/api/auth/accounts:signInWithPassword",
            &[],
            &signin(NEW_PW),
        )
        .await
        .expect(200);
    let mine = s
        .post_json(
            "/api/auth/accounts:signInWithPassword",
            &[],
            &signin(NEW_PW),
        )
        .await
        .expect(200);
    let r = s
        .post_json(
            "/api/auth/accounts:update",
            &[],
            &json!({"idToken": mine["idToken"], "password": "third passphrase here"}),
        )
        .await;
    let fresh = r.expect(200);
    assert_eq!(fresh["localId"], up["localId"]);
    for old in [&other, &mine] {
        let r = s
            .post_json(
                "/api/auth/token:refresh",
                &[],
                &json!({"refreshToken": old["refreshToken"]}),
            )
            .await;
        assert_eq!(toolkit_message(&r), "INVALID_REFRESH_TOKEN");
    }
    s.post_json(
        "/api/auth/token:refresh",
        &[],
        &json!({"refreshToken": fresh["refreshToken"]}),
    )
    .await
    .expect(200);
    s.post_json(
        "/api/auth/accounts:signInWithPassword",
        &[],
        &signin("third passphrase here"),
    )
    .await
    .expect(200);
    // A direct address change is not offered (a code must prove the new address).
    let r = s
        .post_json(
            "/api/auth/accounts:update",
            &[],
            &json!({"idToken": fresh["idToken"], "email": "x@example.com"}),
        )
        .await;
    assert_eq!(toolkit_message(&r), "OPERATION_NOT_ALLOWED");
}

#[tokio::test]
async fn a_password_change_needs_the_current_one_and_keeps_only_the_callers_session() {
    let smtp = Smtp::start(&[]);
    let s = Server::start(&smtp.config("none")).await;
    oauth_signup(&s, "carl", PW).await;
    let other = oauth_login(&s, "carl", PW).await.expect(200);
    let mine = oauth_login(&s, "carl", PW).await.expect(200);
    let access = mine["access_token"].as_str().unwrap();
    let r = s
        .post_bearer(
            "/session/password",
            access,
            &json!({"new_password": NEW_PW}),
        )
        .await;
    assert_eq!(r.expect(400)["error"], "reauthentication_required");
    let r = s
        .post_bearer(
            "/session/password",
            access,
            &json!({"current_password": "not it", "new_password": NEW_PW}),
        )
        .await;
    assert_eq!(r.expect(400), json!({"error": "invalid_credentials"}));
    let r = s
        .post_bearer(
            "/session/password",
            access,
            &json!({"current_password": PW, "new_password": "carl"}),
        )
        .await;
    assert_eq!(r.expect(400), json!({"error": "weak_password"}));
    let r = s
        .post_bearer(
            "/session/password",
            access,
            &json!({"current_password": PW, "new_password": NEW_PW}),
        )
        .await;
    assert_eq!(r.expect(200), json!({"status": "password_changed"}));
    let other_rt = other["refresh_token"].as_str().unwrap();
    assert_eq!(session_refresh(&s, other_rt).await.status, 401);
    session_refresh(&s, mine["refresh_token"].as_str().unwrap())
        .await
        .expect(200);
    assert_eq!(oauth_login(&s, "carl", PW).await.status, 400);
    oauth_login(&s, "carl", NEW_PW).await.expect(200);
    assert_eq!(
        s.post_json("/session/password", &[], &json!({"new_password": NEW_PW}))
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn an_email_change_mails_the_new_address_tells_the_old_and_switches_on_the_code() {
    let smtp = Smtp::start(&[]);
    let s = Server::start(&smtp.config("none")).await;
    oauth_signup(&s, "dora", PW).await;
    oauth_signup(&s, "emil", PW).await;
    let t = oauth_login(&s, "dora", PW).await.expect(200);
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(
        s.post_bearer(
            "/session/email",
            access,
            &json!({"email": "emil@example.com"})
        )
        .await
        .expect(400),
        json!({"error": "email_taken"})
    );
    assert_eq!(
        s.post_bearer(
            "/session/email",
            access,
            &json!({"email": "dora@new.example"})
        )
        .await
        .expect(202),
        json!({"status": "code_sent"})
    );
    let code = session_code_of(&smtp.wait_mail("dora@new.example", 1).await);
    let notice = smtp.wait_mail("dora@example.com", 1).await;
    assert!(
        notice["text"]
            .as_str()
            .unwrap()
            .contains("dora@new.example"),
        "{notice}"
    );
    // The old address stays the sign-in until the code comes back.
    oauth_login(&s, "dora@example.com", PW).await.expect(200);
    assert_eq!(
        s.post_bearer(
            "/session/email/confirm",
            access,
            &json!({"code": "ZZZZ-ZZZZ-ZZZZ"})
        )
        .await
        .expect(400),
        json!({"error": "invalid_code"})
    );
    assert_eq!(
        s.post_bearer("/session/email/confirm", access, &json!({"code": code}))
            .await
            .expect(200),
        json!({"email": "dora@new.example", "email_verified": true})
    );
    assert_eq!(
        s.post_bearer("/session/email/confirm", access, &json!({"code": code}))
            .await
            .expect(400),
        json!({"error": "invalid_code"})
    );
    let me = s.session_me(access).await;
    assert_eq!(me["email"], "dora@new.example");
    assert_eq!(me["email_verified"], true);
    oauth_login(&s, "dora@new.example", PW).await.expect(200);
    assert_eq!(oauth_login(&s, "dora@example.com", PW).await.status, 400);
    // The old address is free again.
    s.post_json(
        "/users",
        &[],
        &json!({"email": "dora@example.com", "password": PW, "user_name": "dora2"}),
    )
    .await
    .expect(201);
}

#[tokio::test]
async fn without_the_current_password_a_change_needs_a_sign_in_of_the_last_five_minutes() {
    use protocol::{Bearer, Failure, Operation, Outcome, Reauth, Secret, UserOp};
    let p = InProcess::new(|_| {});
    let t = p.sign_up("fay", PW).await;
    let change = |access: &str, reauth: Reauth, fresh: bool| {
        Operation::as_user(
            Bearer::Token(access.to_string()),
            UserOp::ChangePassword {
                reauth,
                new_password: Secret(NEW_PW.into()),
                fresh_tokens: fresh,
            },
        )
    };
    // Within the window, the identity-toolkit rule accepts the session alone.
    p.advance(240.0);
    let fresh = tokens(
        p.run(change(&t.access_token, Reauth::RecentSignIn, true))
            .await,
    );
    assert_ne!(fresh.family_id, t.family_id);
    // A family started more than five minutes ago does not (its tokens refreshed since).
    p.advance(301.0);
    let rotated = tokens(p.refresh(&fresh.refresh_token).await);
    assert_eq!(
        p.run(change(&rotated.access_token, Reauth::RecentSignIn, true))
            .await,
        Err(Failure::ReauthRequired)
    );
    // The session dialect wants the current password of an account that has one...
    assert_eq!(
        p.run(change(&rotated.access_token, Reauth::Password(None), false))
            .await,
        Err(Failure::ReauthRequired)
    );
    assert_eq!(
        p.run(change(
            &rotated.access_token,
            Reauth::Password(Some(Secret(NEW_PW.into()))),
            false
        ))
        .await,
        Ok(Outcome::PasswordChanged)
    );
}

#[tokio::test]
async fn a_reset_voids_a_second_step_begun_with_the_old_password() {
    use protocol::{Bearer, Failure, Operation, Outcome, SecondFactor, Secret, UserOp};
    let p = InProcess::new(|_| {});
    let t = p.sign_up("gus", PW).await;
    let email = "gus@example.com".to_string();
    // The address proven by the account's own session, then TOTP on.
    let bearer = || Bearer::Token(t.access_token.clone());
    p.run(Operation::as_user(bearer(), UserOp::VerifyEmailStart))
        .await
        .unwrap();
    let code = p.code_to(&email, 1);
    p.run(Operation::as_user(bearer(), UserOp::VerifyEmail { code }))
        .await
        .unwrap();
    let secret = crate::rules::enrol(&p, &t.access_token).await;
    // Someone with the old password stands at the second step...
    let pending = match p
        .run(Operation::PasswordSignIn {
            login: "gus".into(),
            password: Secret(PW.into()),
            client: None,
            activate: false,
            second: SecondFactor::Later,
        })
        .await
    {
        Ok(Outcome::MfaPending { credential, .. }) => credential,
        other => panic!("{other:?}"),
    };
    // ...when the owner resets the password.
    p.advance(1.0);
    p.run(Operation::ForgotPassword {
        email: email.clone(),
    })
    .await
    .unwrap();
    let code = p.code_to(&email, 2);
    p.run(Operation::ResetPassword {
        email: Some(email),
        code,
        new_password: Secret(NEW_PW.into()),
    })
    .await
    .unwrap();
    p.advance(30.0);
    assert_eq!(
        p.run(Operation::MfaFinalize {
            pending,
            code: totp_at(&secret, p.now_ms()),
        })
        .await,
        Err(Failure::InvalidMfaPending)
    );
}
