//! Sign-in through an upstream OpenID Provider (issue 26): a provider the tests control
//! (it signs whatever id token a case needs: the hostile upstream), another latchkey
//! process, and panva's `oidc-provider` (a certified OpenID Provider). The linking rules
//! of the contract, the account page's link and unlink, and every failure: an error
//! page, nothing created or linked, an audit event, no secret in the log.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use http_body_util::{BodyExt as _, Full};
use latchkey::primitives::b64url;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{json, Value};

use crate::oidc::{query_of, s256};
use crate::portal::{csrf_of, Browser};
use crate::support::*;

const PW: &str = "correct horse battery";
const ADMIN: &str = "admin-token-0123456789abcdef";
const CLIENT_SECRET: &str = "upstream-client-secret-7f3a9c";

/// What the controlled upstream answers and what it was asked.
#[derive(Default)]
struct UpState {
    /// The keys its JWKS publishes.
    keys: Vec<Value>,
    /// The token endpoint's next answer: status and body.
    token: Option<(u16, Value)>,
    /// The userinfo endpoint's answer.
    userinfo: Option<(u16, Value)>,
    /// How often the JWKS was read.
    jwks_reads: usize,
    /// The token requests: their `Authorization` header and form.
    token_requests: Vec<(String, Vec<(String, String)>)>,
    /// When set, `/authorize` approves at once (a browser's visit) and the token endpoint
    /// answers an id token of these claims with that request's nonce, signed by `k1`
    /// (its PKCS#8 document).
    auto: Option<(Value, Vec<u8>)>,
    /// The nonce of the last `/authorize` visit.
    nonce: String,
    /// The token endpoint never answers.
    hang: bool,
}

/// An upstream the tests control: discovery, a JWKS, a token endpoint and userinfo,
/// over a real socket. It signs with Ed25519 keys `k1` (published) and `k2` (published
/// once rotated).
struct FakeUp {
    base: String,
    state: Arc<Mutex<UpState>>,
    k1: Ed25519KeyPair,
    k2: Ed25519KeyPair,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeUp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn ed_key() -> Ed25519KeyPair {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
}

fn jwk(kid: &str, k: &Ed25519KeyPair) -> Value {
    json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "alg": "EdDSA", "use": "sig",
        "x": b64url(k.public_key().as_ref())})
}

fn jws(header: &Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    format!("{input}.{}", b64url(&sign(input.as_bytes())))
}

impl FakeUp {
    async fn start() -> FakeUp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let base = format!("http://127.0.0.1:{}", addr.port());
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
        let k1 = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let k2 = ed_key();
        let state = Arc::new(Mutex::new(UpState {
            keys: vec![jwk("k1", &k1)],
            auto: Some((Value::Null, pkcs8.as_ref().to_vec())),
            ..UpState::default()
        }));
        let (st, b) = (state.clone(), base.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (st, b) = (st.clone(), b.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let (st, b) = (st.clone(), b.clone());
                        async move { Ok::<_, Infallible>(answer(req, &st, &b).await) }
                    });
                    let io = hyper_util::rt::TokioIo::new(tcp);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, svc)
                        .await;
                });
            }
        });
        FakeUp {
            base,
            state,
            k1,
            k2,
            task,
        }
    }

    /// An id token signed with `k1` (or `k2`) with these claims.
    fn token(&self, kid: &str, claims: &Value) -> String {
        let key = if kid == "k2" { &self.k2 } else { &self.k1 };
        jws(&json!({"alg": "EdDSA", "kid": kid}), claims, |m| {
            key.sign(m).as_ref().to_vec()
        })
    }

    /// Good claims for `sub` with `nonce`, at the real time.
    fn claims(&self, sub: &str, nonce: &str, email: Option<(&str, bool)>) -> Value {
        let now = now_ms() / 1000;
        let mut c = json!({"iss": self.base, "aud": "latchkey", "sub": sub, "nonce": nonce,
            "iat": now, "exp": now + 300, "name": format!("Person {sub}")});
        if let Some((e, verified)) = email {
            c["email"] = json!(e);
            c["email_verified"] = json!(verified);
        }
        c
    }

    /// The next answer of the token endpoint: an id token, and an access token that
    /// userinfo answers with the id token's `sub` (alone, unless told otherwise).
    fn answer_with(&self, id_token: &str) {
        let sub = id_token
            .split('.')
            .nth(1)
            .and_then(latchkey::primitives::b64url_decode)
            .and_then(|p| serde_json::from_slice::<Value>(&p).ok())
            .and_then(|c| c["sub"].as_str().map(str::to_owned))
            .unwrap_or_default();
        self.state.lock().unwrap().token = Some((
            200,
            json!({"access_token": format!("at:{sub}"), "token_type": "Bearer", "id_token": id_token}),
        ));
    }

    fn set(&self, f: impl FnOnce(&mut UpState)) {
        f(&mut self.state.lock().unwrap());
    }
}

async fn answer(
    req: hyper::Request<hyper::body::Incoming>,
    st: &Mutex<UpState>,
    base: &str,
) -> hyper::Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    if path == "/authorize" {
        // A browser's visit: approved at once, back to the callback with a code.
        let q: std::collections::BTreeMap<String, String> =
            form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        st.lock().unwrap().nonce = q["nonce"].clone();
        let to = format!("{}?code=auto&state={}", q["redirect_uri"], q["state"]);
        return hyper::Response::builder()
            .status(302)
            .header("location", to)
            .body(Full::new(Bytes::new()))
            .unwrap();
    }
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    if path == "/token" && st.lock().unwrap().hang {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let (status, v) = match path.as_str() {
        "/.well-known/openid-configuration" => (
            200,
            json!({"issuer": base, "authorization_endpoint": format!("{base}/authorize"),
                "token_endpoint": format!("{base}/token"), "jwks_uri": format!("{base}/jwks"),
                "userinfo_endpoint": format!("{base}/userinfo"),
                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["EdDSA"]}),
        ),
        "/jwks" => {
            let mut s = st.lock().unwrap();
            s.jwks_reads += 1;
            (200, json!({"keys": s.keys}))
        }
        "/token" => {
            let mut s = st.lock().unwrap();
            let form = form_urlencoded::parse(&body).into_owned().collect();
            s.token_requests.push((auth, form));
            match (&s.token, &s.auto) {
                (Some(told), _) => told.clone(),
                (None, Some((claims, pkcs8))) if claims.is_object() => {
                    let mut c = claims.clone();
                    c["nonce"] = json!(s.nonce);
                    let key = Ed25519KeyPair::from_pkcs8(pkcs8).unwrap();
                    let t = jws(&json!({"alg": "EdDSA", "kid": "k1"}), &c, |m| {
                        key.sign(m).as_ref().to_vec()
                    });
                    (
                        200,
                        json!({"access_token": "at", "token_type": "Bearer", "id_token": t}),
                    )
                }
                _ => (400, json!({"error": "invalid_grant"})),
            }
        }
        "/userinfo" => match (
            st.lock().unwrap().userinfo.clone(),
            auth.strip_prefix("Bearer at:"),
        ) {
            (Some(told), _) => told,
            (None, Some(sub)) => (200, json!({"sub": sub})),
            (None, None) => (401, json!({"error": "invalid_token"})),
        },
        _ => (404, json!({})),
    };
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(v.to_string())))
        .unwrap()
}

/// A latchkey with the portal, an admin token, mail, and `[[upstream]] corp` at `issuer`
/// (`extra` adds to that entry, then other sections).
async fn downstream(smtp: &Smtp, issuer: &str, extra: &str) -> Server {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    Server::start(&format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{base}\"\n\
         [admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n{}\n\
         [[upstream]]\nid = \"corp\"\nname = \"Corp SSO\"\nissuer = \"{issuer}\"\n\
         client_id = \"latchkey\"\nclient_secret = \"{CLIENT_SECRET}\"\n{extra}\n",
        smtp.config("none")
    ))
    .await
}

fn text(r: &Resp) -> String {
    String::from_utf8_lossy(&r.body).to_string()
}

/// Begins a sign-in at `/ui/upstream/{id}/start`: the state, nonce and challenge the
/// browser is sent to the upstream with.
async fn begin(b: &mut Browser<'_>, path: &str) -> std::collections::BTreeMap<String, String> {
    let r = b.get(path).await;
    assert_eq!(r.status, 303, "{}", text(&r));
    let to = r.header("location").unwrap().to_owned();
    let q = query_of(&to);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "latchkey");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["scope"], "openid email profile");
    assert!(q["redirect_uri"].ends_with("/ui/upstream/corp/callback"));
    q
}

async fn callback(b: &mut Browser<'_>, state: &str, code: &str) -> Resp {
    b.get(&format!(
        "/ui/upstream/corp/callback?state={state}&code={code}"
    ))
    .await
}

/// A whole sign-in through the controlled upstream: the id token `make` builds from the
/// nonce. The callback's answer.
async fn through(b: &mut Browser<'_>, up: &FakeUp, make: impl FnOnce(&str) -> String) -> Resp {
    let q = begin(b, "/ui/upstream/corp/start").await;
    up.answer_with(&make(&q["nonce"]));
    callback(b, &q["state"], "the-code").await
}

async fn users(s: &Server) -> u64 {
    s.admin_req(Method::GET, "/admin/stats", Some(ADMIN))
        .await
        .expect(200)["users"]
        .as_u64()
        .unwrap()
}

async fn user(s: &Server, key: &str) -> Value {
    s.admin_req(Method::GET, &format!("/admin/users/{key}"), Some(ADMIN))
        .await
        .expect(200)
}

/// An account `name` (password `PW`, `name@example.com`) whose address is proven.
async fn proven(s: &Server, smtp: &Smtp, name: &str) {
    crate::policy::account_with_proven_email(s, smtp, name).await;
}

#[tokio::test]
async fn a_stranger_signs_up_and_comes_back_to_the_same_account() {
    let smtp = Smtp::start(&[]);
    let up = FakeUp::start().await;
    let s = downstream(&smtp, &up.base, "signup = true").await;
    let mut b = Browser::new(&s);

    // The login page offers the upstream.
    let page = text(&b.get("/ui/login").await);
    assert!(page.contains("/ui/upstream/corp/start"), "{page}");
    assert!(page.contains("Sign in with Corp SSO"));

    let before = users(&s).await;
    let q = begin(&mut b, "/ui/upstream/corp/start?rd=/ui/account").await;
    up.answer_with(&up.token(
        "k1",
        &up.claims("s-1", &q["nonce"], Some(("new@example.com", true))),
    ));
    let r = callback(&mut b, &q["state"], "code-1").await;
    assert_eq!(r.status, 303, "{}", text(&r));
    assert_eq!(r.header("location"), Some("/ui/account"));
    assert_eq!(users(&s).await, before + 1);

    // The exchange: client_secret_basic, the code, the callback, the PKCE verifier.
    let (auth, form) = up.state.lock().unwrap().token_requests[0].clone();
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("latchkey:{CLIENT_SECRET}")
        )
    );
    assert_eq!(auth, basic);
    let f: std::collections::BTreeMap<_, _> = form.into_iter().collect();
    assert_eq!(f["grant_type"], "authorization_code");
    assert_eq!(f["code"], "code-1");
    assert_eq!(s256(&f["code_verifier"]), q["code_challenge"]);
    assert_eq!(f["redirect_uri"], q["redirect_uri"]);

    // A session that forward-auth takes; the account has the proven address and the
    // identity; the account page lists it.
    assert_eq!(b.forward().await.status, 200);
    let u = user(&s, "new@example.com").await;
    assert_eq!(u["email_verified"], true);
    assert_eq!(u["display_name"], "Person s-1");
    assert_eq!(u["identities"][0]["upstream"], "corp");
    assert_eq!(u["identities"][0]["subject"], "s-1");
    let account = text(&b.get("/ui/account").await);
    assert!(
        account.contains("Other providers") && account.contains("Unlink"),
        "{account}"
    );
    let (code, out, _) = s.cli(&["user", "show", "new@example.com"]);
    assert_eq!(code, 0);
    assert!(out.contains("corp:s-1 (new@example.com)"), "{out}");

    // Again, from another browser: the same account, even with another email now.
    let mut other = Browser::new(&s);
    let r = through(&mut other, &up, |n| {
        up.token(
            "k1",
            &up.claims("s-1", n, Some(("changed@example.com", true))),
        )
    })
    .await;
    assert_eq!(r.status, 303, "{}", text(&r));
    assert_eq!(users(&s).await, before + 1);
    let me = text(&other.get("/ui/account").await);
    assert!(me.contains("new@example.com"), "{me}");

    // The session says how: the sign-in's method is another provider.
    assert!(me.contains("another provider"), "{me}");
    assert!(s.log().contains("upstream_linked"));
    assert!(
        !s.log().contains(CLIENT_SECRET),
        "the secret reached the log"
    );
}

#[tokio::test]
async fn the_linking_rules_take_only_a_proven_address() {
    let smtp = Smtp::start(&[]);
    let up = FakeUp::start().await;
    let s = downstream(&smtp, &up.base, "signup = false").await;
    // amy never proved her address here; ben did.
    oauth_signup(&s, "amy", PW).await;
    proven(&s, &smtp, "ben").await;
    let before = users(&s).await;

    // A verified upstream email that an unproven account holds: not linked
    // (pre-hijacking), a page that says to link from the account page.
    let mut b = Browser::new(&s);
    let r = through(&mut b, &up, |n| {
        up.token(
            "k1",
            &up.claims("amy-up", n, Some(("amy@example.com", true))),
        )
    })
    .await;
    assert_eq!(r.status, 403);
    assert!(
        text(&r).contains("link Corp SSO from your account page"),
        "{}",
        text(&r)
    );
    assert_eq!(user(&s, "amy").await["identities"], json!([]));
    assert_eq!(b.forward().await.status, 401);

    // ben's proven address, verified upstream: linked and signed in.
    let r = through(&mut b, &up, |n| {
        up.token(
            "k1",
            &up.claims("ben-up", n, Some(("ben@example.com", true))),
        )
    })
    .await;
    assert_eq!(r.status, 303, "{}", text(&r));
    assert_eq!(b.forward().await.status, 200);
    assert_eq!(user(&s, "ben").await["identities"][0]["subject"], "ben-up");

    // The upstream does not vouch for the address: not linked.
    let mut c = Browser::new(&s);
    proven(&s, &smtp, "cat").await;
    let r = through(&mut c, &up, |n| {
        up.token(
            "k1",
            &up.claims("cat-up", n, Some(("cat@example.com", false))),
        )
    })
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(user(&s, "cat").await["identities"], json!([]));

    // A stranger with sign-up off: refused, nothing made.
    let r = through(&mut c, &up, |n| {
        up.token(
            "k1",
            &up.claims("zed-up", n, Some(("zed@example.com", true))),
        )
    })
    .await;
    assert_eq!(r.status, 403);
    assert!(text(&r).contains("No account here"), "{}", text(&r));
    assert_eq!(users(&s).await, before + 1);

    // A disabled account linked already: refused by its state.
    s.admin_req(Method::POST, "/admin/users/ben/disable", Some(ADMIN))
        .await
        .expect(200);
    let mut d = Browser::new(&s);
    let r = through(&mut d, &up, |n| {
        up.token(
            "k1",
            &up.claims("ben-up", n, Some(("ben@example.com", true))),
        )
    })
    .await;
    assert_eq!(r.status, 403, "{}", text(&r));
    assert_eq!(d.forward().await.status, 401);
    let log = s.log();
    assert!(
        log.contains("reason=\"link_from_account\"")
            || log.contains("\"reason\":\"link_from_account\""),
        "{log}"
    );
}

#[tokio::test]
async fn link_none_and_a_second_factor_and_groups() {
    let smtp = Smtp::start(&[]);
    let up = FakeUp::start().await;
    let s = downstream(
        &smtp,
        &up.base,
        "link = \"none\"\nsignup = true\ngroups_claim = \"roles\"",
    )
    .await;
    proven(&s, &smtp, "dan").await;
    // link = "none": even a proven address is not linked on the upstream's word.
    let mut b = Browser::new(&s);
    let r = through(&mut b, &up, |n| {
        up.token(
            "k1",
            &up.claims("dan-up", n, Some(("dan@example.com", true))),
        )
    })
    .await;
    assert_eq!(r.status, 403);

    // groups_claim: memberships of the groups that exist, set at each sign-in; an
    // admin's stay.
    for g in ["family", "admins"] {
        s.group(ADMIN, g).await;
    }
    let r = through(&mut b, &up, |n| {
        let mut c = up.claims("eve-up", n, Some(("eve@example.com", true)));
        c["roles"] = json!(["Family", "nonexistent"]);
        up.token("k1", &c)
    })
    .await;
    assert_eq!(r.status, 303, "{}", text(&r));
    assert_eq!(
        user(&s, "eve@example.com").await["groups"],
        json!(["family"])
    );
    s.admin_req(
        Method::PUT,
        "/admin/groups/admins/members/eve@example.com",
        Some(ADMIN),
    )
    .await
    .expect(204);
    let r = through(&mut b, &up, |n| {
        let mut c = up.claims("eve-up", n, Some(("eve@example.com", true)));
        c["roles"] = json!([]);
        up.token("k1", &c)
    })
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        user(&s, "eve@example.com").await["groups"],
        json!(["admins"])
    );

    // The claims only userinfo gives (OIDC Core §5.4): asked for, with the same `sub`.
    up.set(|u| {
        u.userinfo = Some((
            200,
            json!({"sub": "fay-up", "email": "fay@example.com",
            "email_verified": true, "roles": ["family"]}),
        ))
    });
    let mut f = Browser::new(&s);
    let r = through(&mut f, &up, |n| {
        up.token("k1", &up.claims("fay-up", n, None))
    })
    .await;
    assert_eq!(r.status, 303, "{}", text(&r));
    let fay = user(&s, "fay@example.com").await;
    assert_eq!(fay["email_verified"], true);
    assert_eq!(fay["groups"], json!(["family"]));
    // Another `sub` at userinfo: refused.
    up.set(|u| {
        u.userinfo = Some((
            200,
            json!({"sub": "someone-else", "email": "x@example.com"}),
        ))
    });
    let mut g = Browser::new(&s);
    let r = through(&mut g, &up, |n| {
        up.token("k1", &up.claims("gus-up", n, None))
    })
    .await;
    assert_eq!(r.status, 502);
    assert!(
        s.admin_req(Method::GET, "/admin/users/x@example.com", Some(ADMIN))
            .await
            .status
            == 404
    );
}

#[tokio::test]
async fn an_account_with_a_second_factor_is_asked_for_it_unless_trusted() {
    let smtp = Smtp::start(&[]);
    let up = FakeUp::start().await;
    let s = downstream(&smtp, &up.base, "").await;
    let (_, _, recovery) = crate::policy::account_with_totp(&s, &smtp, "hal").await;
    let mut b = Browser::new(&s);
    let r = through(&mut b, &up, |n| {
        let mut c = up.claims("hal-up", n, Some(("hal@example.com", true)));
        c["amr"] = json!(["pwd", "mfa"]);
        up.token("k1", &c)
    })
    .await;
    // Linked (the proven address), and the second factor is asked: trust_mfa is off.
    assert_eq!(r.status, 303, "{}", text(&r));
    assert_eq!(r.header("location"), Some("/ui/mfa"));
    assert_eq!(b.forward().await.status, 401);
    let csrf = b.csrf("/ui/mfa").await;
    let r = b
        .post("/ui/mfa", &[("csrf", &csrf), ("mfa_code", &recovery[0])])
        .await;
    assert_eq!(r.status, 303, "{}", text(&r));
    assert_eq!(b.forward().await.status, 200);
    drop(b);
    drop(s);

    // trust_mfa: the upstream's mfa counts.
    let smtp2 = Smtp::start(&[]);
    let s = downstream(&smtp2, &up.base, "trust_mfa = true").await;
    crate::policy::account_with_totp(&s, &smtp2, "ida").await;
    let mut b = Browser::new(&s);
    let r = through(&mut b, &up, |n| {
        let mut c = up.claims("ida-up", n, Some(("ida@example.com", true)));
        c["amr"] = json!(["pwd", "mfa"]);
        up.token("k1", &c)
    })
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/ui/account"));
    assert_eq!(b.forward().await.status, 200);
    // Without mfa in its amr: asked.
    let mut c = Browser::new(&s);
    let r = through(&mut c, &up, |n| {
        up.token(
            "k1",
            &up.claims("ida-up", n, Some(("ida@example.com", true))),
        )
    })
    .await;
    assert_eq!(r.header("location"), Some("/ui/mfa"));
}

#[tokio::test]
async fn linking_and_unlinking_from_the_account_page() {
    let smtp = Smtp::start(&[]);
    let up = FakeUp::start().await;
    let s = downstream(&smtp, &up.base, "link = \"none\"\nsignup = true").await;
    oauth_signup(&s, "jon", PW).await;
    let mut b = Browser::new(&s);
    assert_eq!(b.sign_in("jon", PW, "").await.status, 303);
    let page = text(&b.get("/ui/account").await);
    assert!(page.contains("Link Corp SSO"), "{page}");
    let start = page
        .split("href=\"")
        .find(|p| p.starts_with("/ui/upstream/corp/start?link=1"))
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    // Without the session's form token (a link another site put on its page): refused.
    assert_eq!(b.get("/ui/upstream/corp/start?link=1").await.status, 403);
    let q = begin(&mut b, &start).await;
    up.answer_with(&up.token("k1", &up.claims("jon-up", &q["nonce"], None)));
    let r = callback(&mut b, &q["state"], "c").await;
    assert_eq!(r.status, 303, "{}", text(&r));
    assert_eq!(
        r.header("location"),
        Some("/ui/account?done=upstream-linked")
    );
    assert_eq!(user(&s, "jon").await["identities"][0]["subject"], "jon-up");

    // The identity now signs jon in.
    let mut other = Browser::new(&s);
    let r = through(&mut other, &up, |n| {
        up.token("k1", &up.claims("jon-up", n, None))
    })
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(other.forward().await.status, 200);

    // Linked to jon, it cannot be linked to kim.
    oauth_signup(&s, "kim", PW).await;
    let mut k = Browser::new(&s);
    assert_eq!(k.sign_in("kim", PW, "").await.status, 303);
    let page = text(&k.get("/ui/account").await);
    let csrf = csrf_of(&page);
    let q = begin(
        &mut k,
        &format!("/ui/upstream/corp/start?link=1&csrf={}", urlencode(&csrf)),
    )
    .await;
    up.answer_with(&up.token("k1", &up.claims("jon-up", &q["nonce"], None)));
    let r = callback(&mut k, &q["state"], "c").await;
    assert_eq!(r.status, 409, "{}", text(&r));
    assert_eq!(user(&s, "kim").await["identities"], json!([]));

    // Unlink: jon has a password, so it is not his last way in.
    let csrf = csrf_of(&text(&b.get("/ui/account").await));
    let r = b
        .post("/ui/account/upstream/corp/unlink", &[("csrf", &csrf)])
        .await;
    assert_eq!(
        r.header("location"),
        Some("/ui/account?done=upstream-unlinked")
    );
    assert_eq!(user(&s, "jon").await["identities"], json!([]));

    // An account the upstream made (no password, no passkey, no other identity, and
    // mailed codes cannot reach it: no session family here) keeps its last way in.
    let mut n = Browser::new(&s);
    let r = through(&mut n, &up, |x| {
        up.token("k1", &up.claims("new-up", x, None))
    })
    .await;
    assert_eq!(r.status, 303);
    let csrf = csrf_of(&text(&n.get("/ui/account").await));
    let r = n
        .post("/ui/account/upstream/corp/unlink", &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 409, "{}", text(&r));
    assert!(text(&r).contains("only way left"), "{}", text(&r));
    assert!(s.log().contains("upstream_unlinked"));
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn the_hostile_upstream_is_refused_every_way() {
    let smtp = Smtp::start(&[]);
    let up = FakeUp::start().await;
    let s = downstream(&smtp, &up.base, "signup = true").await;
    let before = users(&s).await;
    let now = now_ms() / 1000;
    let hmac = |m: &[u8]| {
        let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, CLIENT_SECRET.as_bytes());
        ring::hmac::sign(&k, m).as_ref().to_vec()
    };
    type Craft = Box<dyn Fn(&FakeUp, &str) -> String>;
    let cases: Vec<(&str, Craft)> = vec![
        (
            "alg none",
            Box::new(|u, n| jws(&json!({"alg": "none"}), &u.claims("h", n, None), |_| vec![])),
        ),
        (
            "HS256 with the client secret",
            Box::new(move |u, n| {
                jws(
                    &json!({"alg": "HS256", "kid": "k1"}),
                    &u.claims("h", n, None),
                    hmac,
                )
            }),
        ),
        (
            "another issuer",
            Box::new(|u, n| {
                let mut c = u.claims("h", n, None);
                c["iss"] = json!("https://evil.example");
                u.token("k1", &c)
            }),
        ),
        (
            "another audience",
            Box::new(|u, n| {
                let mut c = u.claims("h", n, None);
                c["aud"] = json!("someone-else");
                u.token("k1", &c)
            }),
        ),
        (
            "expired",
            Box::new(move |u, n| {
                let mut c = u.claims("h", n, None);
                c["exp"] = json!(now - 600);
                u.token("k1", &c)
            }),
        ),
        (
            "another nonce",
            Box::new(|u, _| u.token("k1", &u.claims("h", "not-the-nonce", None))),
        ),
        (
            "a forged signature",
            Box::new(|u, n| {
                let forger = ed_key();
                jws(
                    &json!({"alg": "EdDSA", "kid": "k1"}),
                    &u.claims("h", n, None),
                    |m| forger.sign(m).as_ref().to_vec(),
                )
            }),
        ),
        ("garbage", Box::new(|_, _| "not.a.jwt".into())),
    ];
    for (what, craft) in &cases {
        let mut b = Browser::new(&s);
        let r = through(&mut b, &up, |n| craft(&up, n)).await;
        assert_eq!(r.status, 502, "{what}: {}", text(&r));
        assert!(text(&r).contains("did not work"), "{what}");
        assert_eq!(b.forward().await.status, 401, "{what}");
    }
    assert_eq!(users(&s).await, before, "nothing was created");
    assert_eq!(
        up.state.lock().unwrap().jwks_reads,
        1,
        "the key set is kept"
    );

    // A rotated key: a token names a key the kept set lacks, so the set is read again,
    // once, and the new key checks it.
    tokio::time::sleep(latchkey::upstream::KEYS_REFETCH_GAP).await;
    up.set(|u| u.keys.push(jwk("k2", &up.k2)));
    let mut b = Browser::new(&s);
    let r = through(&mut b, &up, |n| up.token("k2", &up.claims("rot", n, None))).await;
    assert_eq!(r.status, 303, "{}", text(&r));
    assert_eq!(up.state.lock().unwrap().jwks_reads, 2);
    // A key nobody published: not read again so soon (the bound), refused.
    let k3 = ed_key();
    let mut b = Browser::new(&s);
    let r = through(&mut b, &up, |n| {
        jws(
            &json!({"alg": "EdDSA", "kid": "k3"}),
            &up.claims("h", n, None),
            |m| k3.sign(m).as_ref().to_vec(),
        )
    })
    .await;
    assert_eq!(r.status, 502);
    assert_eq!(up.state.lock().unwrap().jwks_reads, 2);
    let before = before + 1;

    // The upstream's error=, a replayed state, a state from another browser, a failed
    // exchange.
    let mut b = Browser::new(&s);
    let q = begin(&mut b, "/ui/upstream/corp/start").await;
    let r = b
        .get(&format!(
            "/ui/upstream/corp/callback?state={}&error=access_denied",
            q["state"]
        ))
        .await;
    assert_eq!(r.status, 400);
    let q = begin(&mut b, "/ui/upstream/corp/start").await;
    up.answer_with(&up.token("k1", &up.claims("h2", &q["nonce"], None)));
    let mut thief = Browser::new(&s);
    assert_eq!(callback(&mut thief, &q["state"], "c").await.status, 400);
    // The thief's try spent it: the right browser cannot use it either.
    assert_eq!(callback(&mut b, &q["state"], "c").await.status, 400);
    let q = begin(&mut b, "/ui/upstream/corp/start").await;
    up.answer_with(&up.token("k1", &up.claims("h3", &q["nonce"], None)));
    assert_eq!(callback(&mut b, &q["state"], "c").await.status, 303);
    assert_eq!(
        callback(&mut b, &q["state"], "c").await.status,
        400,
        "replayed"
    );
    up.set(|u| u.token = Some((500, json!({"error": "server_error"}))));
    let mut c = Browser::new(&s);
    let q = begin(&mut c, "/ui/upstream/corp/start").await;
    assert_eq!(callback(&mut c, &q["state"], "c").await.status, 502);
    assert_eq!(users(&s).await, before + 1, "only h3 signed up");
    assert_eq!(b.get("/ui/upstream/nope/start").await.status, 404);

    let log = s.log();
    assert!(!log.contains(CLIENT_SECRET), "the secret reached the log");
    assert!(
        log.contains("door=\"upstream\"") || log.contains("\"door\":\"upstream\""),
        "{log}"
    );
}

#[tokio::test]
async fn an_upstream_that_never_answers_fails_within_ten_seconds() {
    // Accepts connections and says nothing.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((c, _)) = silent.accept().await {
            held.push(c);
        }
    });
    let smtp = Smtp::start(&[]);
    let s = downstream(&smtp, &format!("http://{addr}"), "").await;
    let mut b = Browser::new(&s);
    let t = Instant::now();
    let r = b.get("/ui/upstream/corp/start").await;
    assert_eq!(r.status, 502, "{}", text(&r));
    assert!(t.elapsed() < Duration::from_secs(14), "{:?}", t.elapsed());
    assert!(t.elapsed() >= Duration::from_secs(9));
    hold.abort();

    // A provider that answers discovery but never the code exchange: the callback
    // gives up within 10 s too, and nothing is created.
    let up = FakeUp::start().await;
    let s = downstream(&smtp, &up.base, "signup = true").await;
    let before = users(&s).await;
    let mut b = Browser::new(&s);
    let q = begin(&mut b, "/ui/upstream/corp/start").await;
    up.set(|u| u.hang = true);
    let t = Instant::now();
    let r = callback(&mut b, &q["state"], "c").await;
    assert_eq!(r.status, 502, "{}", text(&r));
    assert!(t.elapsed() < Duration::from_secs(14), "{:?}", t.elapsed());
    assert_eq!(users(&s).await, before);
    assert!(
        s.log().contains("reason=\"unreachable\"")
            || s.log().contains("\"reason\":\"unreachable\"")
    );
}

/// Signs in on latchkey `up` (a second process, the upstream) through its pages, for a
/// browser sent to `authorize` (an absolute URL on `up`): the callback URL it sends the
/// browser back to.
async fn sign_in_upstream(bu: &mut Browser<'_>, authorize: &str, who: &str) -> String {
    let path = authorize.split_once("://").unwrap().1;
    let path = &path[path.find('/').unwrap()..];
    let r = bu.get(path).await;
    assert_eq!(r.status, 303, "{}", text(&r));
    let login = r.header("location").unwrap().to_owned();
    let rd = query_of(&format!("http://x{login}"))["rd"].clone();
    let r = bu.sign_in(who, PW, &rd).await;
    assert_eq!(r.status, 303, "{}", text(&r));
    let back = r.header("location").unwrap().to_owned();
    let back = back
        .split_once("://")
        .map_or(back.clone(), |(_, p)| p[p.find('/').unwrap()..].to_owned());
    let r = bu.get(&back).await;
    assert_eq!(r.status, 302, "{}", text(&r));
    r.header("location").unwrap().to_owned()
}

/// In Chromium, at a desktop's width and a phone's: the login page's button, the
/// upstream approving at once, the account page with the linked identity; axe-core finds
/// no WCAG A or AA violation on the login page, the account page or a failure's page.
#[tokio::test]
async fn chromium_signs_in_through_the_upstream_and_every_page_passes_axe() {
    use crate::browser::Chrome;
    use fantoccini::Locator;
    let smtp = Smtp::start(&[]);
    let up = FakeUp::start().await;
    let (_server, port) = crate::browser::portal_server(
        &format!(
            "[[upstream]]\nid = \"corp\"\nname = \"Corp SSO\"\nissuer = \"{}\"\n\
             client_id = \"latchkey\"\nclient_secret = \"{CLIENT_SECRET}\"\nsignup = true\n",
            up.base
        ),
        &smtp,
    )
    .await;
    let base = format!("http://auth.lk.test:{port}");
    let mut report = Vec::new();
    for (width, height, tag) in [(1280, 900, "desktop"), (360, 740, "360px")] {
        let now = now_ms() / 1000;
        let sub = format!("chrome-{tag}");
        up.set(|u| {
            u.token = None;
            u.auto.as_mut().unwrap().0 = json!({"iss": up.base, "aud": "latchkey",
                "sub": sub, "iat": now, "exp": now + 300, "name": "Chris",
                "email": format!("{sub}@example.com"), "email_verified": true});
        });
        let b = Chrome::start(width, height).await;
        b.c.goto(&format!("{base}/ui/login")).await.unwrap();
        b.until(Locator::Css("ul.upstreams a")).await.unwrap();
        assert!(
            b.fits().await,
            "the login page scrolls sideways at {width} px"
        );
        for f in b.axe().await {
            report.push(format!("/ui/login at {width} px: {f}"));
        }
        b.shot(&format!("login-upstream-{tag}")).await;
        b.click("ul.upstreams a").await;
        b.reaches(&format!("{base}/ui/account")).await;
        b.until(Locator::Css("ul.upstreams")).await.unwrap();
        assert!(b.text("ul.upstreams").await.contains("Corp SSO"));
        assert!(
            b.fits().await,
            "the account page scrolls sideways at {width} px"
        );
        for f in b.axe().await {
            report.push(format!("/ui/account at {width} px: {f}"));
        }
        b.shot(&format!("account-upstream-{tag}")).await;
        b.c.goto(&format!(
            "{base}/ui/upstream/corp/callback?state=forged&code=x"
        ))
        .await
        .unwrap();
        b.until(Locator::Css("main p")).await.unwrap();
        assert!(b.text("main").await.contains("did not work"));
        for f in b.axe().await {
            report.push(format!("the failure page at {width} px: {f}"));
        }
        b.close().await;
    }
    assert!(report.is_empty(), "{report:#?}");
}

/// The ```toml block of docs/guide/10 that starts with `first`.
fn guide_block(first: &str) -> String {
    let guide = include_str!("../../docs/guide/10-upstream.md");
    let start = guide
        .find(&format!("```toml\n{first}"))
        .expect("the guide's block")
        + 8;
    let len = guide[start..].find("```").unwrap();
    guide[start..start + len].to_string()
}

/// The guide's worked example, as printed: another latchkey (`sso.example.com`) is the
/// upstream of this one (`auth.example.com`); its proven address and its groups come
/// along.
#[tokio::test]
async fn another_latchkey_is_the_upstream_as_the_guide_sets_it_up() {
    let smtp = Smtp::start(&[]);
    let (down_port, up_port) = (free_port(), free_port());
    let up_base = format!("http://127.0.0.1:{up_port}");
    let down_base = format!("http://127.0.0.1:{down_port}");
    let here = |block: String| {
        block
            .replace("https://sso.example.com", &up_base)
            .replace("https://auth.example.com", &down_base)
    };
    let up = Server::start(&format!(
        "[server]\nlisten = \"127.0.0.1:{up_port}\"\npublic_url = \"{up_base}\"\n\
         [tokens]\nissuer = \"{up_base}\"\n\
         [admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n{}\n{}",
        smtp.config("none"),
        here(guide_block("[[oidc.clients]]"))
    ))
    .await;
    proven(&up, &smtp, "liv").await;
    for s in [&up] {
        s.group(ADMIN, "family").await;
    }
    up.admin_req(Method::PUT, "/admin/groups/family/members/liv", Some(ADMIN))
        .await
        .expect(204);
    let secret_file = up.config_path().with_file_name("corp-secret");
    std::fs::write(
        &secret_file,
        "a-long-random-secret-shared-with-auth-example\n",
    )
    .unwrap();
    let down = Server::start(&format!(
        "[server]\nlisten = \"127.0.0.1:{down_port}\"\npublic_url = \"{down_base}\"\n\
         [admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n{}",
        here(guide_block("[[upstream]]\nid = \"corp\""))
            .replace("/run/secrets/corp", secret_file.to_str().unwrap())
    ))
    .await;
    down.group(ADMIN, "family").await;
    let mut bd = Browser::new(&down);
    let page = text(&bd.get("/ui/login").await);
    assert!(page.contains("Sign in with Corp SSO"), "{page}");
    let r = bd.get("/ui/upstream/corp/start").await;
    assert_eq!(r.status, 303, "{}", text(&r));
    let authorize = r.header("location").unwrap().to_owned();
    assert!(authorize.starts_with(&format!("{up_base}/oidc/authorize?")));
    let mut bu = Browser::new(&up);
    let back = sign_in_upstream(&mut bu, &authorize, "liv").await;
    assert!(
        back.starts_with(&format!("{down_base}/ui/upstream/corp/callback?")),
        "{back}"
    );
    let r = bd.get(&back[down_base.len()..]).await;
    assert_eq!(r.status, 303, "{}", text(&r));
    assert_eq!(bd.forward().await.status, 200);
    let u = user(&down, "liv@example.com").await;
    assert_eq!(u["email_verified"], true, "the upstream's proven address");
    assert_eq!(u["groups"], json!(["family"]), "the upstream's groups");
    assert!(!down.log().contains("a-long-random-secret"));
}

/// panva's oidc-provider (npm), started by the test: the script prints its issuer.
struct NodeOp {
    child: std::process::Child,
    issuer: String,
}

impl Drop for NodeOp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NodeOp {
    fn start(redirect_uri: &str) -> NodeOp {
        use std::io::BufRead as _;
        let port = free_port();
        // Run from beside its packages (an ES module finds them from where it is).
        let script = node_modules().join("oidc_provider_op.mjs");
        std::fs::copy(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/interop/oidc_provider_op.mjs"
            ),
            &script,
        )
        .unwrap();
        let mut child = std::process::Command::new("node")
            .arg(script)
            .env("NODE_PATH", node_modules())
            .env("PORT", port.to_string())
            .env("CLIENT_SECRET", CLIENT_SECRET)
            .env("REDIRECT_URI", redirect_uri)
            .current_dir(node_modules().parent().unwrap())
            .stdout(std::process::Stdio::piped())
            // Its start-up warnings (development keys and pages) go to a file.
            .stderr(
                std::fs::File::create(
                    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("oidc-provider.log"),
                )
                .unwrap(),
            )
            .spawn()
            .expect("node");
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let issuer = loop {
            let mut line = String::new();
            assert!(
                out.read_line(&mut line).unwrap() > 0,
                "oidc-provider stopped"
            );
            if let Some(i) = line.trim().strip_prefix("issuer ") {
                break i.to_owned();
            }
        };
        // Its later notices go on being read (a closed pipe would stop it).
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        NodeOp { child, issuer }
    }
}

/// A client that keeps cookies per host and follows nothing by itself.
async fn raw_get(url: &str, cookies: &mut Vec<String>) -> (u16, Option<String>, String) {
    let client = reqwest_client();
    let r = client
        .get(url)
        .header("cookie", cookies.join("; "))
        .send()
        .await
        .unwrap();
    keep_cookies(&r, cookies);
    let status = r.status().as_u16();
    let loc = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, loc, r.text().await.unwrap())
}

async fn raw_post(
    url: &str,
    form: &[(&str, &str)],
    cookies: &mut Vec<String>,
) -> (u16, Option<String>) {
    let r = reqwest_client()
        .post(url)
        .header("cookie", cookies.join("; "))
        .form(form)
        .send()
        .await
        .unwrap();
    keep_cookies(&r, cookies);
    let loc = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    (r.status().as_u16(), loc)
}

fn keep_cookies(r: &openidconnect::reqwest::Response, cookies: &mut Vec<String>) {
    for v in r.headers().get_all("set-cookie") {
        let pair = v.to_str().unwrap().split(';').next().unwrap().to_owned();
        let name = pair.split('=').next().unwrap().to_owned();
        cookies.retain(|c| !c.starts_with(&format!("{name}=")));
        cookies.push(pair);
    }
}

fn reqwest_client() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn absolute(base: &str, loc: &str) -> String {
    if loc.starts_with("http") {
        loc.to_owned()
    } else {
        format!("{base}{loc}")
    }
}

#[tokio::test]
async fn panvas_oidc_provider_is_the_upstream() {
    let smtp = Smtp::start(&[]);
    let port = free_port();
    let down_base = format!("http://127.0.0.1:{port}");
    let op = NodeOp::start(&format!("{down_base}/ui/upstream/corp/callback"));
    let down = Server::start(&format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{down_base}\"\n\
         [admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n{}\n\
         [[upstream]]\nid = \"corp\"\nname = \"Panva\"\nissuer = \"{}\"\n\
         client_id = \"latchkey\"\nclient_secret = \"{CLIENT_SECRET}\"\nsignup = true\n\
         groups_claim = \"groups\"\nscopes = [\"openid\", \"email\", \"profile\", \"groups\"]\n",
        smtp.config("none"),
        op.issuer
    ))
    .await;
    down.group(ADMIN, "family").await;
    let mut bd = Browser::new(&down);
    let r = bd.get("/ui/upstream/corp/start").await;
    assert_eq!(r.status, 303, "{}", text(&r));
    let mut jar = Vec::new();
    let mut next = r.header("location").unwrap().to_owned();
    // Through the provider's own pages: the login form, the consent form, until it
    // sends the browser back to latchkey.
    for _ in 0..12 {
        if next.starts_with(&down_base) {
            break;
        }
        let (status, loc, page) = raw_get(&next, &mut jar).await;
        if let Some(loc) = loc {
            next = absolute(&op.issuer, &loc);
            continue;
        }
        assert_eq!(status, 200, "{page}");
        let action = page
            .split("action=\"")
            .nth(1)
            .and_then(|a| a.split('"').next())
            .expect("a form")
            .replace("&amp;", "&");
        // The form's hidden fields, and a login (the account id) where it asks for one.
        let mut fields: Vec<(String, String)> = page
            .split("<input")
            .skip(1)
            .filter(|i| i.contains("type=\"hidden\""))
            .filter_map(|i| Some((attr(i, "name")?, attr(i, "value").unwrap_or_default())))
            .collect();
        if page.contains("name=\"login\"") {
            fields.push(("login".into(), "pat-sub".into()));
            fields.push(("password".into(), "anything".into()));
        }
        let fields: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (_, loc) = raw_post(&absolute(&op.issuer, &action), &fields, &mut jar).await;
        next = absolute(&op.issuer, &loc.expect("a redirect after the form"));
    }
    assert!(next.starts_with(&down_base), "{next}");
    let r = bd.get(&next[down_base.len()..]).await;
    assert_eq!(r.status, 303, "{}", text(&r));
    assert_eq!(bd.forward().await.status, 200);
    let u = user(&down, "pat@example.com").await;
    assert_eq!(u["email_verified"], true);
    assert_eq!(u["groups"], json!(["family"]));
    assert_eq!(u["identities"][0]["subject"], "pat-sub");
}

/// The value of attribute `name` in the text of one HTML tag.
fn attr(tag: &str, name: &str) -> Option<String> {
    let tag = tag.split('>').next()?;
    let v = tag.split(&format!("{name}=\"")).nth(1)?.split('"').next()?;
    Some(v.replace("&amp;", "&"))
}
