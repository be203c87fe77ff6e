//! Family `oauth`, end to end, in both dialects, with every error of the contract, for
//! each of the signer choices.

use http::Method;
use serde_json::json;

use crate::support::*;

const PW: &str = "correct horse battery";

async fn whole_flow(format: &str, algorithm: &str) {
    let s = Server::start(&format!(
        "[tokens]\nformat = \"{format}\"\nalgorithm = \"{algorithm}\"\n"
    ))
    .await;
    let ctx = format!("{format}/{algorithm}");

    // Sign-up: 201 with the user, never the password.
    let u = s
        .post_json("/users", &[], &json!({"email": "Jim@Example.com", "password": PW, "role": "user", "user_name": "jimcarrey"}))
        .await
        .expect(201);
    assert_eq!(u["user_name"], "jimcarrey", "{ctx}");
    assert_eq!(u["email"], "Jim@Example.com");
    assert_eq!(u["role"], "user");
    assert_eq!(u["id"].as_str().unwrap().len(), 32);
    assert!(u["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(u.get("password").is_none() && !u.to_string().contains(PW));

    // Sign-up errors.
    let err = |v: serde_json::Value| v["error"].as_str().unwrap().to_string();
    let r = s
        .post_json(
            "/users",
            &[],
            &json!({"email": "other@example.com", "password": PW, "user_name": "JimCarrey"}),
        )
        .await;
    assert_eq!(err(r.expect(409)), "user_exists");
    let r = s
        .post_json(
            "/users",
            &[],
            &json!({"email": "jim@example.COM", "password": PW, "user_name": "other"}),
        )
        .await;
    assert_eq!(err(r.expect(409)), "user_exists");
    let r = s
        .post_json(
            "/users",
            &[],
            &json!({"email": "w@example.com", "password": "short", "user_name": "w"}),
        )
        .await;
    assert_eq!(err(r.expect(400)), "weak_password");
    let r = s
        .post_json(
            "/users",
            &[],
            &json!({"email": "w@example.com", "password": "password123", "user_name": "w"}),
        )
        .await;
    assert_eq!(err(r.expect(400)), "weak_password");
    let r = s
        .post_json(
            "/users",
            &[],
            &json!({"email": "w@example.com", "password": PW, "user_name": "w", "role": "admin"}),
        )
        .await;
    assert_eq!(err(r.expect(403)), "role_not_allowed");
    for body in [
        json!({"password": PW, "user_name": "w"}),
        json!({"email": "w@example.com", "user_name": "w"}),
        json!({"email": "w@example.com", "password": PW}),
        json!({"email": "not-an-email", "password": PW, "user_name": "w"}),
        json!({"email": "w@example.com", "password": 12345678, "user_name": "w"}),
        json!({"email": "w@example.com", "password": PW, "user_name": "has@sign"}),
    ] {
        let r = s.post_json("/users", &[], &body).await;
        let v = r.expect(400);
        assert_eq!(v["error"], "invalid_request", "{body}");
        assert!(v["error_description"].is_string());
    }
    let r = s
        .send(
            Method::POST,
            "/users",
            &[("content-type", "application/json")],
            "{\"email\":",
        )
        .await;
    assert_eq!(err(r.expect(400)), "invalid_request");
    let r = s
        .send(
            Method::POST,
            "/users",
            &[],
            json!({"email": "w@example.com", "password": PW, "user_name": "w"}).to_string(),
        )
        .await;
    assert_eq!(err(r.expect(400)), "invalid_request");

    // Password grant, seed JSON dialect.
    let r = oauth_login(&s, "jimcarrey", PW).await;
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let t = r.expect(200);
    for k in [
        "created_at",
        "updated_at",
        "access_token",
        "expires_at",
        "refresh_token",
        "user_name",
        "_id",
    ] {
        assert!(t[k].is_string(), "{ctx}: {k} in {t}");
    }
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 1800);
    assert_eq!(t["user_name"], "jimcarrey");
    let access = t["access_token"].as_str().unwrap().to_string();
    let refresh = t["refresh_token"].as_str().unwrap().to_string();
    assert!(refresh.len() >= 43, "256 bits of randomness");

    // RFC 6749 form dialect, with the email as username.
    let r = s
        .post_form(
            "/auth/token",
            &[("authorization", WEB_CLIENT)],
            "grant_type=password&username=jim%40example.com&password=correct+horse+battery",
        )
        .await;
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let f = r.expect(200);
    assert_eq!(f.as_object().unwrap().len(), 4, "{f}");
    assert_eq!(f["token_type"], "Bearer");
    assert!(
        f["access_token"].is_string()
            && f["refresh_token"].is_string()
            && f["expires_in"].is_number()
    );

    // Token errors.
    let r = oauth_login(&s, "jimcarrey", "wrong password!").await;
    assert_eq!(err(r.expect(400)), "invalid_grant");
    let r = oauth_login(&s, "nobody", PW).await;
    assert_eq!(err(r.expect(400)), "invalid_grant");
    let r = s
        .post_form(
            "/auth/token",
            &[],
            "grant_type=password&username=jimcarrey&password=x",
        )
        .await;
    assert_eq!(err(r.expect(401)), "invalid_client");
    assert!(r.header("www-authenticate").unwrap().starts_with("Basic"));
    let r = s
        .post_form(
            "/auth/token",
            &[("authorization", "Basic d2ViOndyb25n")],
            "grant_type=password&username=jimcarrey&password=x",
        )
        .await;
    assert_eq!(err(r.expect(401)), "invalid_client");
    let r = s
        .post_form(
            "/auth/token",
            &[("authorization", WEB_CLIENT)],
            "grant_type=client_credentials",
        )
        .await;
    assert_eq!(err(r.expect(400)), "unsupported_grant_type");
    let r = s
        .post_form(
            "/auth/token",
            &[("authorization", WEB_CLIENT)],
            "grant_type=password&username=jimcarrey",
        )
        .await;
    assert_eq!(err(r.expect(400)), "invalid_request");
    let r = s
        .post_form(
            "/auth/token",
            &[("authorization", WEB_CLIENT)],
            "username=jimcarrey&password=x",
        )
        .await;
    assert_eq!(err(r.expect(400)), "invalid_request");
    let r = s
        .post_form(
            "/auth/token",
            &[("authorization", WEB_CLIENT)],
            "grant_type=password&grant_type=password&username=a&password=b",
        )
        .await;
    assert_eq!(err(r.expect(400)), "invalid_request");
    let r = s
        .post_form(
            "/auth/token",
            &[("authorization", WEB_CLIENT)],
            "grant_type=refresh_token&refresh_token=nope",
        )
        .await;
    assert_eq!(err(r.expect(400)), "invalid_grant");

    // The authenticated call.
    let me = s
        .get("/users/me", &[("authorization", &bearer(&access))])
        .await
        .expect(200);
    assert_eq!(me, u, "{ctx}: /users/me is the signed-up user");
    let r = s.get("/users/me", &[]).await;
    assert_eq!(err(r.expect(401)), "missing_token");
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Bearer realm="latchkey""#)
    );
    for bad in [
        "garbage",
        "a.b.c",
        &access[..access.len() - 3],
        "v4.public.AAAA",
    ] {
        let r = s.get("/users/me", &[("authorization", &bearer(bad))]).await;
        assert_eq!(err(r.expect(401)), "invalid_token", "{ctx}: {bad}");
        assert!(r
            .header("www-authenticate")
            .unwrap()
            .contains(r#"error="invalid_token""#));
    }

    // Refresh: the seed's route (rotated, seed shape) and the RFC grant.
    let r = s
        .post_json(
            "/auth/refresh-token",
            &[],
            &json!({"refresh_token": refresh}),
        )
        .await;
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let t2 = r.expect(200);
    assert_ne!(t2["refresh_token"], t["refresh_token"]);
    assert_eq!(t2["_id"], t["_id"], "same family");
    let r2 = t2["refresh_token"].as_str().unwrap();
    let f2 = s
        .post_form(
            "/auth/token",
            &[("authorization", WEB_CLIENT)],
            &format!("grant_type=refresh_token&refresh_token={r2}"),
        )
        .await
        .expect(200);
    let new_access = f2["access_token"].as_str().unwrap();
    s.get("/users/me", &[("authorization", &bearer(new_access))])
        .await
        .expect(200);
    let r = s.post_json("/auth/refresh-token", &[], &json!({})).await;
    assert_eq!(err(r.expect(400)), "invalid_request");
    let r = s
        .post_json(
            "/auth/refresh-token",
            &[],
            &json!({"refresh_token": "x".repeat(43)}),
        )
        .await;
    assert_eq!(err(r.expect(400)), "invalid_grant");

    // Published keys: what a sidecar needs for this algorithm, and only that.
    let jwks = s.get("/.well-known/jwks.json", &[]).await.expect(200);
    let paserk = s.get("/.well-known/paserk.json", &[]).await.expect(200);
    let jwks = jwks["keys"].as_array().unwrap();
    let paserks = paserk["keys"].as_array().unwrap();
    match algorithm {
        "EdDSA" => {
            assert!(jwks.len() == 1 && jwks[0]["crv"] == "Ed25519" && jwks[0].get("d").is_none())
        }
        "ES256" => {
            assert!(jwks.len() == 1 && jwks[0]["crv"] == "P-256" && jwks[0].get("d").is_none())
        }
        "v4.public" => {
            assert_eq!(paserks.len(), 1);
            assert!(paserks[0]["paserk"]
                .as_str()
                .unwrap()
                .starts_with("k4.public."));
            assert!(paserks[0]["kid"].as_str().unwrap().starts_with("k4.pid."));
        }
        _ => assert!(
            jwks.is_empty() && paserks.is_empty(),
            "{ctx}: secret keys are never published"
        ),
    }
    if format == "jwt" && algorithm != "HS256" {
        assert!(paserks.is_empty());
    }
}

#[tokio::test]
async fn oauth_flow_jwt_eddsa() {
    whole_flow(SIGNERS[0].0, SIGNERS[0].1).await;
}

#[tokio::test]
async fn oauth_flow_jwt_es256() {
    whole_flow(SIGNERS[1].0, SIGNERS[1].1).await;
}

#[tokio::test]
async fn oauth_flow_jwt_hs256() {
    whole_flow(SIGNERS[2].0, SIGNERS[2].1).await;
}

#[tokio::test]
async fn oauth_flow_paseto_v4_public() {
    whole_flow(SIGNERS[3].0, SIGNERS[3].1).await;
}

#[tokio::test]
async fn oauth_flow_paseto_v4_local() {
    whole_flow(SIGNERS[4].0, SIGNERS[4].1).await;
}

#[tokio::test]
async fn seed_curl_examples_work() {
    // The seed's refresh example sends JSON with curl's default form Content-Type.
    let s = Server::start("").await;
    oauth_signup(&s, "seed", PW).await;
    let t = oauth_login(&s, "seed", PW).await.expect(200);
    let body = format!(
        "{{\n    \"refresh_token\": \"{}\"\n  }}",
        t["refresh_token"].as_str().unwrap()
    );
    let r = s
        .send(
            Method::POST,
            "/auth/refresh-token",
            &[
                ("accept", "application/json"),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            body,
        )
        .await;
    r.expect(200);
}

#[tokio::test]
async fn parallel_signups_of_one_username_leave_no_partial_user() {
    let s = std::sync::Arc::new(Server::start("[password]\nhash_queue = 100\n").await);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.post_json(
                "/users",
                &[],
                &json!({"email": format!("p{i}@example.com"), "password": PW, "user_name": "same"}),
            )
            .await
            .status
            .as_u16()
        }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    assert_eq!(codes.iter().filter(|c| **c == 201).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 409).count(), 19, "{codes:?}");
    // The losers' emails were never committed: each can sign up again.
    let mut free = 0;
    for i in 0..20 {
        let r = s.post_json("/users", &[], &json!({"email": format!("p{i}@example.com"), "password": PW, "user_name": format!("n{i}")})).await;
        if r.status == 201 {
            free += 1;
        }
    }
    assert_eq!(free, 19);
}
