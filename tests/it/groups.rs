//! Groups (issue 25): the admin API and the command line of the contract, memberships
//! gone with their user or group, and what apps are told: the OIDC `groups` claim (id
//! token, userinfo), introspection, forward-auth's trusted headers. Both backends run it
//! (the suite runs on PostgreSQL too).

use http::Method;
use serde_json::{json, Value};

use crate::oidc::{authorize, exchange, query_of, s256};
use crate::portal::Browser;
use crate::support::*;

const PW: &str = "correct horse battery";
const ADMIN: &str = "admin-token-0123456789abcdef";
const SECRET: &str = "app-secret-0123456789";

async fn start(smtp: &Smtp) -> Server {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    Server::start(&format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{base}\"\n\
         [tokens]\nissuer = \"{base}\"\n\
         [admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n\
         [[oidc.clients]]\nid = \"app\"\nsecret = \"{SECRET}\"\n\
         redirect_uris = [\"http://127.0.0.1:9/cb\"]\n{}",
        smtp.config("none")
    ))
    .await
}

async fn admin(s: &Server, m: Method, path: &str) -> Resp {
    s.admin_req(m, path, Some(ADMIN)).await
}

fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&latchkey::primitives::b64url_decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn the_admin_api_keeps_groups_and_apps_are_told() {
    let smtp = Smtp::start(&[]);
    let s = start(&smtp).await;
    oauth_signup(&s, "ann", PW).await;
    oauth_signup(&s, "bob", PW).await;

    // Create: the name is lowered; taken and malformed names are refused.
    let r = s
        .admin_req_json(
            Method::POST,
            "/admin/groups",
            ADMIN,
            &json!({"name": "Family"}),
        )
        .await;
    assert_eq!(
        r.expect(201),
        json!({"name": "family", "description": null, "members": 0})
    );
    let r = s
        .admin_req_json(
            Method::POST,
            "/admin/groups",
            ADMIN,
            &json!({"name": "FAMILY"}),
        )
        .await;
    assert_eq!(r.expect(409)["error"], "group_exists");
    let r = s
        .admin_req_json(
            Method::POST,
            "/admin/groups",
            ADMIN,
            &json!({"name": "a b"}),
        )
        .await;
    assert_eq!(r.expect(400)["error"], "invalid_group_name");
    let body = json!({"name": "admins", "description": "Grafana's admins"});
    s.admin_req_json(Method::POST, "/admin/groups", ADMIN, &body)
        .await
        .expect(201);

    // Members, by email or username; adding twice is no error.
    for (g, u) in [
        ("family", "ann@example.com"),
        ("family", "bob"),
        ("admins", "ann"),
    ] {
        let r = admin(&s, Method::PUT, &format!("/admin/groups/{g}/members/{u}")).await;
        assert_eq!(r.status, 204, "{g} {u}");
    }
    assert_eq!(
        admin(&s, Method::PUT, "/admin/groups/family/members/bob")
            .await
            .status,
        204
    );
    let r = admin(&s, Method::PUT, "/admin/groups/nope/members/bob").await;
    assert_eq!(r.expect(404)["error"], "group_not_found");
    let r = admin(&s, Method::PUT, "/admin/groups/family/members/nobody").await;
    assert_eq!(r.expect(404)["error"], "user_not_found");
    let list = admin(&s, Method::GET, "/admin/groups").await.expect(200);
    assert_eq!(
        list["groups"],
        json!([
            {"name": "admins", "description": "Grafana's admins", "members": 1},
            {"name": "family", "description": null, "members": 2}
        ])
    );
    let family = admin(&s, Method::GET, "/admin/groups/Family")
        .await
        .expect(200);
    let emails: Vec<&str> = family["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails.len(), 2);
    assert!(emails.contains(&"ann@example.com") && emails.contains(&"bob@example.com"));
    let ann = admin(&s, Method::GET, "/admin/users/ann").await.expect(200);
    assert_eq!(ann["groups"], json!(["admins", "family"]));

    // Forward-auth names the user and its groups in the trusted headers.
    let t = oauth_login(&s, "ann", PW).await.expect(200);
    let access = t["access_token"].as_str().unwrap().to_string();
    let f = s
        .get("/auth/forward", &[("authorization", &bearer(&access))])
        .await;
    assert_eq!(f.status, 200);
    assert_eq!(f.header("remote-user"), Some("ann"));
    assert_eq!(f.header("remote-email"), Some("ann@example.com"));
    assert_eq!(f.header("remote-name"), Some(""));
    assert_eq!(f.header("remote-groups"), Some("admins,family"));
    assert_eq!(f.header("x-auth-username"), Some("ann"));
    // Introspection too.
    let i = s
        .post_form(
            "/oauth/introspect",
            &[("authorization", WEB_CLIENT)],
            &format!("token={access}"),
        )
        .await
        .expect(200);
    assert_eq!(i["groups"], json!(["admins", "family"]));

    // OpenID Connect: the scope `groups` gives the claim, in the id token and userinfo.
    let d = s
        .get("/.well-known/openid-configuration", &[])
        .await
        .expect(200);
    assert!(d["scopes_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("groups")));
    assert!(d["claims_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("groups")));
    let mut b = Browser::new(&s);
    assert_eq!(b.sign_in("ann", PW, "").await.status, 303);
    let v = "v".repeat(50);
    let q = format!(
        "response_type=code&client_id=app&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb\
         &scope=openid%20groups%20offline_access&state=S&nonce=N&code_challenge={}\
         &code_challenge_method=S256",
        s256(&v)
    );
    let (status, loc) = authorize(&mut b, &q).await;
    assert_eq!(status, 302, "{loc}");
    let code = query_of(&loc)["code"].clone();
    let body = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://127.0.0.1:9/cb"),
        ("code_verifier", v.as_str()),
    ];
    let t = exchange(&s, &body, Some(("app", SECRET))).await.expect(200);
    assert_eq!(
        claims_of(t["id_token"].as_str().unwrap())["groups"],
        json!(["admins", "family"])
    );
    let oidc_access = t["access_token"].as_str().unwrap().to_string();
    let info = s
        .get(
            "/oidc/userinfo",
            &[("authorization", &bearer(&oidc_access))],
        )
        .await
        .expect(200);
    assert_eq!(info["groups"], json!(["admins", "family"]));

    // A change counts at the next decision: removed from admins, the headers, userinfo
    // and a refreshed id token say so at once.
    let r = admin(
        &s,
        Method::DELETE,
        "/admin/groups/admins/members/ann@example.com",
    )
    .await;
    assert_eq!(r.status, 204);
    let f = s
        .get("/auth/forward", &[("authorization", &bearer(&access))])
        .await;
    assert_eq!(f.header("remote-groups"), Some("family"));
    let info = s
        .get(
            "/oidc/userinfo",
            &[("authorization", &bearer(&oidc_access))],
        )
        .await
        .expect(200);
    assert_eq!(info["groups"], json!(["family"]));
    let refresh = t["refresh_token"].as_str().unwrap();
    let t = exchange(
        &s,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        Some(("app", SECRET)),
    )
    .await
    .expect(200);
    assert_eq!(
        claims_of(t["id_token"].as_str().unwrap())["groups"],
        json!(["family"])
    );

    // The group goes: its memberships with it. The user goes: its memberships with it.
    assert_eq!(
        admin(&s, Method::DELETE, "/admin/groups/admins")
            .await
            .status,
        204
    );
    assert_eq!(
        admin(&s, Method::GET, "/admin/groups/admins").await.status,
        404
    );
    assert_eq!(
        admin(&s, Method::DELETE, "/admin/groups/admins")
            .await
            .status,
        404
    );
    admin(&s, Method::DELETE, "/admin/users/bob")
        .await
        .expect(200);
    let family = admin(&s, Method::GET, "/admin/groups/family")
        .await
        .expect(200);
    assert_eq!(family["members"].as_array().unwrap().len(), 1);
    let f = s
        .get("/auth/forward", &[("authorization", &bearer(&access))])
        .await;
    assert_eq!(f.header("remote-groups"), Some("family"));
    assert_eq!(
        admin(&s, Method::PATCH, "/admin/groups/family")
            .await
            .status,
        405
    );
}

#[tokio::test]
async fn the_command_line_runs_groups_with_the_server_up_or_down() {
    let smtp = Smtp::start(&[]);
    let mut s = start(&smtp).await;
    oauth_signup(&s, "cy", PW).await;
    oauth_signup(&s, "di", PW).await;
    let ok = |r: (i32, String, String)| {
        assert_eq!(r.0, 0, "{} {}", r.1, r.2);
        r.1
    };
    // Through the running server's admin API.
    let out = ok(s.cli(&["group", "create", "Lab", "--description", "the home lab"]));
    assert_eq!(out, "created group lab\n");
    let out = ok(s.cli(&["group", "add", "lab", "cy", "di@example.com"]));
    assert_eq!(out, "cy added to lab\ndi@example.com added to lab\n");
    let out = ok(s.cli(&["group", "list"]));
    assert!(
        out.lines()
            .any(|l| l.starts_with("lab ") && l.contains(" 2 ") && l.ends_with("the home lab")),
        "{out}"
    );
    let out = ok(s.cli(&["user", "show", "cy"]));
    assert_eq!(line_value(&out, "groups").as_deref(), Some("lab"), "{out}");
    let (code, _, err) = s.cli(&["group", "add", "nope", "cy"]);
    assert_ne!(code, 0);
    assert!(err.contains("no group with that name"), "{err}");
    // With the server stopped: on the store itself.
    s.stop();
    let out = ok(s.cli(&["group", "remove", "lab", "di"]));
    assert_eq!(out, "di removed from lab\n");
    let out = ok(s.cli(&["group", "show", "lab", "--json"]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["members"].as_array().unwrap().len(), 1);
    let (code, _, err) = s.cli(&["group", "delete", "lab"]);
    assert_ne!(code, 0);
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(
        ok(s.cli(&["group", "delete", "lab", "--yes"])),
        "deleted group lab\n"
    );
    let out = ok(s.cli(&["user", "show", "cy"]));
    assert_eq!(line_value(&out, "groups").as_deref(), Some("-"), "{out}");
    let (code, _, err) = s.cli(&["group", "create", "a/b"]);
    assert_ne!(code, 0);
    assert!(err.contains("1 to 64 of a-z"), "{err}");
}
