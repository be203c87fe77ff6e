//! No timing oracle: signing in as an unknown user costs the same as a wrong password for
//! a real one (both spend one scrypt), in every password family.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test]
async fn unknown_user_and_wrong_password_take_the_same_time() {
    // A hash cost that dominates the request; lockout out of the way.
    let s = Server::start("[password]\nscrypt = { log_n = 11, r = 8, p = 1 }\n[limits]\nlockout_failures = 10000\nlockout_failures_total = 10000\nper_ip_per_minute = 0\n").await;
    oauth_signup(&s, "real", "correct horse battery").await;
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..20 {
        // Alternate, so drift in machine load hits both sides alike.
        for (who, into) in [("real", &mut known), ("ghost", &mut unknown)] {
            let started = Instant::now();
            let r = if i % 2 == 0 {
                oauth_login(&s, who, "wrong password!").await
            } else {
                s.post_json(
                    "/api/auth/accounts:signInWithPassword",
                    &[],
                    &json!({"username": who, "password": "wrong password!"}),
                )
                .await
            };
            into.push(started.elapsed());
            assert!(r.status == 400 || r.status == 401, "{}", r.status);
        }
    }
    let (k, u) = (median(known), median(unknown));
    let ratio = k.as_secs_f64() / u.as_secs_f64();
    eprintln!("median wrong-password {k:?}, unknown-user {u:?}, ratio {ratio:.3}");
    assert!(
        k > Duration::from_millis(2),
        "the hash should dominate: {k:?}"
    );
    assert!(
        (0.67..1.5).contains(&ratio),
        "timing differs: known {k:?} vs unknown {u:?}"
    );
}

/// "Forgot password" for an address with an account and for one without: one store write
/// and one mail either way (a code, or a notice), so the answer's time does not tell.
#[tokio::test]
async fn a_reset_for_an_unknown_address_takes_the_same_time() {
    let smtp = Smtp::start(&[]);
    let s = Server::start(&format!(
        "{}[limits]\nmails_per_hour = 1000\nper_ip_per_minute = 0\n",
        smtp.config("none")
    ))
    .await;
    oauth_signup(&s, "real", "correct horse battery").await;
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        for (email, into) in [
            ("real@example.com", &mut known),
            ("ghost@example.com", &mut unknown),
        ] {
            let started = Instant::now();
            let r = s
                .post_json("/session/password/forgot", &[], &json!({"email": email}))
                .await;
            into.push(started.elapsed());
            assert_eq!(r.status, 202);
        }
    }
    assert_eq!(smtp.count_to("real@example.com"), 15);
    assert_eq!(smtp.count_to("ghost@example.com"), 15);
    let (k, u) = (median(known), median(unknown));
    let ratio = k.as_secs_f64() / u.as_secs_f64();
    eprintln!("median reset known {k:?}, unknown {u:?}, ratio {ratio:.3}");
    assert!(
        (0.67..1.5).contains(&ratio),
        "timing differs: known {k:?} vs unknown {u:?}"
    );
}
