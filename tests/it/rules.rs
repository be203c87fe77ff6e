//! The time-dependent rules, in-process with a fake clock: token expiry, the refresh reuse
//! window, refresh expiry, the lockout window, TOTP steps, session-code lifetime and the
//! mail quota. No test here sleeps; the wire is tested against the real binary elsewhere.

use protocol::{Bearer, Failure, Operation, Outcome, Transport, UserOp};

use crate::support::*;

const PW: &str = "correct horse battery";

#[tokio::test]
async fn access_tokens_expire_at_exp_exactly() {
    let p = InProcess::new(|c| c.tokens.access_ttl = 60);
    let t = p.sign_up("ann", PW).await;
    p.advance(59.9);
    assert!(matches!(p.me(&t.access_token).await, Ok(Outcome::User(_))));
    p.advance(0.1);
    assert_eq!(p.me(&t.access_token).await, Err(Failure::TokenExpired));
    // The refresh token still gets a new access token.
    let t2 = tokens(p.refresh(&t.refresh_token).await);
    assert!(matches!(p.me(&t2.access_token).await, Ok(Outcome::User(_))));
}

#[tokio::test]
async fn a_spent_refresh_token_is_tolerated_within_the_window_then_revokes_its_family() {
    let p = InProcess::new(|c| c.tokens.reuse_interval = 10);
    let t1 = p.sign_up("bob", PW).await;
    let other = tokens(p.sign_in("bob", PW).await);
    let t2 = tokens(p.refresh(&t1.refresh_token).await);
    p.advance(10.0);
    // Exactly at the end of the window: still a racing client, given what the first
    // presentation was given.
    let t3 = tokens(p.refresh(&t1.refresh_token).await);
    assert_eq!(t3.family_id, t1.family_id);
    assert_eq!(t3.refresh_token, t2.refresh_token);
    // The holder uses it; past the window, t1 again is theft.
    let t3 = tokens(p.refresh(&t3.refresh_token).await);
    p.advance(0.001);
    // Past it: theft. The request fails and the whole family dies, newest token included.
    assert_eq!(
        p.refresh(&t1.refresh_token).await,
        Err(Failure::RefreshInvalid)
    );
    assert_eq!(
        p.refresh(&t3.refresh_token).await,
        Err(Failure::RefreshInvalid)
    );
    assert_eq!(p.me(&t3.access_token).await, Err(Failure::TokenInvalid));
    // The user's other family is untouched.
    assert!(matches!(
        p.me(&other.access_token).await,
        Ok(Outcome::User(_))
    ));
    tokens(p.refresh(&other.refresh_token).await);
}

/// Issue 23: an answer lost while the database was away (the rotation committed, the
/// client was told 503) is no theft. A spent token whose successor nobody presented is
/// answered with that successor for a minute past the window; once the successor is used,
/// or past that minute, the old token is theft as ever. And a replay inside the window
/// after the chain moved on is refused without ending the family: one chain only.
#[tokio::test]
async fn a_lost_rotation_answer_is_retried_but_never_forks_the_family() {
    let p = InProcess::new(|c| c.tokens.reuse_interval = 10);
    let t1 = p.sign_up("lou", PW).await;
    let lost = tokens(p.refresh(&t1.refresh_token).await);
    p.advance(11.0);
    let again = tokens(p.refresh(&t1.refresh_token).await);
    assert_eq!(again.refresh_token, lost.refresh_token);
    assert_eq!(again.family_id, t1.family_id);
    // Within the window, after the chain moved on: refused, the family lives.
    let t2 = tokens(p.refresh(&again.refresh_token).await);
    let t3 = tokens(p.refresh(&t2.refresh_token).await);
    assert_eq!(
        p.refresh(&again.refresh_token).await,
        Err(Failure::RefreshInvalid)
    );
    assert!(matches!(p.me(&t3.access_token).await, Ok(Outcome::User(_))));
    // Past the window, with the successor used: theft.
    p.advance(10.5);
    assert_eq!(
        p.refresh(&t1.refresh_token).await,
        Err(Failure::RefreshInvalid)
    );
    assert_eq!(p.me(&t3.access_token).await, Err(Failure::TokenInvalid));

    // An untouched successor is answered only for the grace minute past the window.
    let u1 = p.sign_up("max", PW).await;
    tokens(p.refresh(&u1.refresh_token).await);
    p.advance(10.0 + 60.0 + 0.001);
    assert_eq!(
        p.refresh(&u1.refresh_token).await,
        Err(Failure::RefreshInvalid)
    );
}

/// A spent token is known for a week (presented again, its family is revoked), then
/// forgotten. One sweep forgets every entry past the week, however many: it took 1,000 a
/// minute, which an always-on load of 17 rotations a second outgrew.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sweep_forgets_every_token_spent_more_than_a_week_ago() {
    let p = InProcess::new(|_| {});
    let mut current = p.sign_up("sam", PW).await.refresh_token;
    let mut spent = Vec::new();
    for _ in 0..2_500 {
        let next = tokens(p.refresh(&current).await).refresh_token;
        spent.push(std::mem::replace(&mut current, next));
    }
    p.advance(7.0 * 24.0 * 3600.0 + 1.0);
    let (families_and_spent, _) = p.svc.sweep().await.unwrap();
    assert_eq!(families_and_spent, 2_500);
    // Each is unknown now, refused without touching the family (a spent token still
    // known would have revoked it).
    for old in &spent {
        assert_eq!(p.refresh(old).await, Err(Failure::RefreshInvalid));
    }
    tokens(p.refresh(&current).await);
}

#[tokio::test]
async fn refresh_tokens_expire_and_rotation_extends_the_family() {
    let p = InProcess::new(|c| {
        c.tokens.refresh_ttl = 3600;
        c.tokens.access_ttl = 7200;
        c.tokens.reuse_interval = 1;
    });
    let t1 = p.sign_up("cy", PW).await;
    p.advance(3000.0);
    let t2 = tokens(p.refresh(&t1.refresh_token).await);
    // The family lives on from its last rotation...
    p.advance(3000.0);
    let t3 = tokens(p.refresh(&t2.refresh_token).await);
    // ... and a token not used for refresh_ttl is expired.
    p.advance(3600.0);
    assert_eq!(
        p.refresh(&t3.refresh_token).await,
        Err(Failure::RefreshExpired)
    );
    // So is its family: an access token of it no longer works either, whatever its exp.
    assert_eq!(p.me(&t3.access_token).await, Err(Failure::TokenInvalid));
}

#[tokio::test]
async fn failures_lock_within_the_window_and_the_lock_lifts_after_its_duration() {
    let p = InProcess::new(|c| {
        c.limits.lockout_failures = 3;
        c.limits.lockout_window = 60;
        c.limits.lockout_duration = 300;
    });
    p.sign_up("dee", PW).await;
    // Failures spread wider than the window never add up to a lock.
    for _ in 0..4 {
        assert_eq!(
            p.sign_in("dee", "wrong password").await,
            Err(Failure::InvalidCredentials)
        );
        p.advance(31.0);
    }
    tokens(p.sign_in("dee", PW).await);
    for _ in 0..3 {
        assert_eq!(
            p.sign_in("dee", "wrong password").await,
            Err(Failure::InvalidCredentials)
        );
    }
    // Locked: even the right password is refused, and told when to come back.
    assert_eq!(
        p.sign_in("dee", PW).await,
        Err(Failure::LockedOut { retry_after: 300 })
    );
    p.advance(299.5);
    assert_eq!(
        p.sign_in("dee", PW).await,
        Err(Failure::LockedOut { retry_after: 1 })
    );
    p.advance(0.5);
    tokens(p.sign_in("dee", PW).await);
}

pub(crate) async fn enrol(p: &InProcess, access: &str) -> String {
    let bearer = || Bearer::Token(access.to_string());
    let secret = match p
        .run(Operation::as_user(bearer(), UserOp::TotpEnroll))
        .await
    {
        Ok(Outcome::TotpEnrollment { secret, .. }) => secret,
        other => panic!("{other:?}"),
    };
    let code = totp_at(&secret, p.now_ms());
    match p
        .run(Operation::as_user(bearer(), UserOp::TotpConfirm { code }))
        .await
    {
        Ok(Outcome::MfaEnabled { recovery_codes }) => assert_eq!(recovery_codes.len(), 10),
        other => panic!("{other:?}"),
    }
    secret
}

pub(crate) async fn mailed_code(p: &InProcess, email: &str) -> String {
    p.run(Operation::RequestCode {
        email: email.to_string(),
    })
    .await
    .unwrap();
    let n = p.outbox.messages().iter().filter(|m| m.to == email).count();
    p.code_to(email, n)
}

async fn redeem(p: &InProcess, code: &str, mfa: &str) -> Result<Outcome, Failure> {
    p.run(Operation::RedeemCode {
        code: code.to_string(),
        mfa_code: Some(mfa.to_string()),
    })
    .await
}

#[tokio::test]
async fn totp_codes_work_once_within_one_step_of_skew() {
    let p = InProcess::new(|_| {});
    // An account made by a mailed code: its address is proven, its TOTP stays.
    let email = "eve@example.com";
    let first = mailed_code(&p, email).await;
    let t = tokens(
        p.run(Operation::RedeemCode {
            code: first,
            mfa_code: None,
        })
        .await,
    );
    let secret = enrol(&p, &t.access_token).await;
    let code = mailed_code(&p, email).await;
    // The confirming code was this step's: the same code again is a replay.
    let now = p.now_ms();
    assert_eq!(
        redeem(&p, &code, &totp_at(&secret, now)).await,
        Err(Failure::InvalidMfaCode)
    );
    // The next step's code, presented early (one step of skew), is accepted once...
    let next = totp_at(&secret, now + 30_000);
    let r = tokens(redeem(&p, &code, &next).await);
    assert_eq!(r.user.email.as_deref(), Some(email));
    assert_eq!(r.user.id, t.user.id);
    assert!(r.user.mfa_enabled);
    // ... and then never again, even when its step comes.
    p.advance(30.0);
    let code = mailed_code(&p, email).await;
    assert_eq!(redeem(&p, &code, &next).await, Err(Failure::InvalidMfaCode));
    // Two steps ahead is outside the skew; when its step comes, it works.
    let later = totp_at(&secret, p.now_ms() + 60_000);
    assert_eq!(
        redeem(&p, &code, &later).await,
        Err(Failure::InvalidMfaCode)
    );
    p.advance(60.0);
    tokens(redeem(&p, &code, &later).await);
}

#[tokio::test]
async fn session_codes_expire_after_their_ttl() {
    let p = InProcess::new(|c| c.session.code_ttl = 120);
    let email = "fay@example.com";
    p.run(Operation::RequestCode {
        email: email.into(),
    })
    .await
    .unwrap();
    p.run(Operation::RequestCode {
        email: email.into(),
    })
    .await
    .unwrap();
    p.advance(119.9);
    tokens(
        p.run(Operation::RedeemCode {
            code: p.code_to(email, 1),
            mfa_code: None,
        })
        .await,
    );
    p.advance(0.1);
    assert_eq!(
        p.run(Operation::RedeemCode {
            code: p.code_to(email, 2),
            mfa_code: None,
        })
        .await,
        Err(Failure::InvalidSessionCode)
    );
}

#[tokio::test]
async fn the_mail_quota_slides_over_an_hour() {
    let p = InProcess::new(|c| c.limits.mails_per_hour = 2);
    let login = || Operation::RequestCode {
        email: "gus@example.com".into(),
    };
    p.run(login()).await.unwrap();
    p.advance(600.0);
    p.run(login()).await.unwrap();
    assert!(matches!(
        p.run(login()).await,
        Err(Failure::Transport(Transport::RateLimited {
            retry_after: 3000
        }))
    ));
    p.advance(3000.0);
    p.run(login()).await.unwrap();
    assert_eq!(p.outbox.messages().len(), 3);
}

#[tokio::test]
async fn the_per_ip_bucket_refills_at_its_rate() {
    let p = InProcess::new(|c| c.limits.per_ip_per_minute = 30);
    let src = |s: &str| latchkey::limits::Source::of(s.parse().unwrap());
    let ip = src("192.0.2.7");
    for _ in 0..30 {
        p.svc.rate_limit(ip).unwrap();
    }
    // One token every 2 s: Retry-After says 2, and it is the truth.
    assert_eq!(
        p.svc.rate_limit(ip),
        Err(Failure::Transport(Transport::RateLimited {
            retry_after: 2
        }))
    );
    assert!(p.svc.rate_limit(src("192.0.2.8")).is_ok());
    p.advance(1.9);
    assert!(p.svc.rate_limit(ip).is_err());
    p.advance(0.1);
    p.svc.rate_limit(ip).unwrap();
    assert!(p.svc.rate_limit(ip).is_err());
}

#[tokio::test]
async fn with_no_reuse_interval_a_spent_token_is_theft_at_once() {
    let p = InProcess::new(|c| c.tokens.reuse_interval = 0);
    let t1 = p.sign_up("hal", PW).await;
    let t2 = tokens(p.refresh(&t1.refresh_token).await);
    // The same millisecond: still not tolerated.
    assert_eq!(
        p.refresh(&t1.refresh_token).await,
        Err(Failure::RefreshInvalid)
    );
    assert_eq!(
        p.refresh(&t2.refresh_token).await,
        Err(Failure::RefreshInvalid)
    );
}
