//! The administration pages (issue 27): who may use them (members of `[admin]
//! ui_group` with two factors; step-up for one; 403 for others; 404 when off), what they
//! do (users, groups, the audit log), each action an audit event naming the admin, the
//! session's form token on every action; and in Chromium with the keyboard at 360 px,
//! with axe-core finding no WCAG A or AA violation.

use fantoccini::key::Key;
use fantoccini::Locator;
use http::Method;
use serde_json::Value;

use crate::browser::{portal_server, Chrome};
use crate::policy::{account_with_totp, PW};
use crate::portal::{csrf_of, Browser};
use crate::support::*;

const ADMIN: &str = "admin-token-0123456789abcdef";

fn text(r: &Resp) -> String {
    String::from_utf8_lossy(&r.body).to_string()
}

async fn make_admin(s: &Server, user: &str) {
    s.group(ADMIN, "admins").await;
    s.admin_req(
        Method::PUT,
        &format!("/admin/groups/admins/members/{user}"),
        Some(ADMIN),
    )
    .await
    .expect(204);
}

/// A browser signed in as `user` with a recovery code as its second factor.
async fn signed_in_two_factors<'a>(s: &'a Server, user: &str, recovery: &str) -> Browser<'a> {
    let mut b = Browser::new(s);
    let r = b.sign_in(user, PW, "").await;
    assert_eq!(r.header("location"), Some("/ui/mfa"), "{}", text(&r));
    let csrf = b.csrf("/ui/mfa").await;
    let r = b
        .post("/ui/mfa", &[("csrf", &csrf), ("mfa_code", recovery)])
        .await;
    assert_eq!(r.status, 303, "{}", text(&r));
    b
}

async fn events(s: &Server, q: &str) -> Vec<Value> {
    s.admin_req(Method::GET, &format!("/admin/audit?{q}"), Some(ADMIN))
        .await
        .expect(200)["events"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn the_admin_pages_are_for_admins_with_two_factors_and_every_action_is_told() {
    let smtp = Smtp::start(&[]);
    let s = Server::start(&format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n{}",
        smtp.config("none")
    ))
    .await;
    let (_, _, recovery) = account_with_totp(&s, &smtp, "root").await;
    make_admin(&s, "root").await;
    oauth_signup(&s, "bob", PW).await;
    oauth_signup(&s, "carl", PW).await;
    make_admin(&s, "carl").await;
    let root = s
        .admin_req(Method::GET, "/admin/users/root", Some(ADMIN))
        .await
        .expect(200);
    let root_id = root["id"].as_str().unwrap().to_owned();

    // Signed out: the login page, and back here after.
    let mut anon = Browser::new(&s);
    let r = anon.get("/ui/admin/users").await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.header("location"),
        Some("/ui/login?rd=%2Fui%2Fadmin%2Fusers")
    );
    // Not an admin: 403. An admin with one factor: step-up.
    let mut bob = Browser::new(&s);
    bob.sign_in("bob", PW, "").await;
    assert_eq!(bob.get("/ui/admin/users").await.status, 403);
    let mut carl = Browser::new(&s);
    carl.sign_in("carl", PW, "").await;
    let r = carl.get("/ui/admin/users").await;
    assert_eq!(
        r.header("location"),
        Some("/ui/stepup?rd=%2Fui%2Fadmin%2Fusers")
    );

    let mut b = signed_in_two_factors(&s, "root", &recovery[0]).await;
    let page = text(&b.get("/ui/admin/users?q=bo").await);
    assert!(
        page.contains("bob@example.com") && !page.contains("carl@example.com"),
        "{page}"
    );
    let bob_id = s
        .admin_req(Method::GET, "/admin/users/bob", Some(ADMIN))
        .await
        .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let user_page = format!("/ui/admin/users/{bob_id}");
    let csrf = csrf_of(&text(&b.get(&user_page).await));

    // Without the form token: refused, nothing done.
    let r = b.post(&format!("{user_page}/disable"), &[]).await;
    assert_eq!(r.status, 403);
    // Disable: bob's sessions end; the event names root, through the admin pages.
    let r = b
        .post(&format!("{user_page}/disable"), &[("csrf", &csrf)])
        .await;
    assert_eq!(
        r.header("location"),
        Some(format!("{user_page}?done=changed").as_str())
    );
    assert_eq!(bob.forward().await.status, 401);
    let e = events(&s, "event=user_disabled").await;
    assert_eq!(e[0]["actor"], root_id.as_str());
    assert_eq!(e[0]["door"], "admin");
    assert_eq!(e[0]["user"], bob_id.as_str());
    for action in ["enable", "block", "unblock", "sign-out"] {
        let r = b
            .post(&format!("{user_page}/{action}"), &[("csrf", &csrf)])
            .await;
        assert_eq!(r.status, 303, "{action}: {}", text(&r));
    }
    let names: Vec<String> = events(&s, &format!("user={bob_id}"))
        .await
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    for want in [
        "user_enabled",
        "user_blocked",
        "user_unblocked",
        "signed_out_everywhere",
    ] {
        assert!(names.contains(&want.to_string()), "{want}: {names:?}");
    }

    // A new user, mailed a code to set a password.
    let new_csrf = csrf_of(&text(&b.get("/ui/admin/users/new").await));
    let r = b
        .post(
            "/ui/admin/users/new",
            &[
                ("csrf", &new_csrf),
                ("email", "dora@example.com"),
                ("username", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", text(&r));
    smtp.wait_mail("dora@example.com", 1).await;
    let created = events(&s, "event=user_created&user=dora@example.com").await;
    assert_eq!(created[0]["actor"], root_id.as_str());

    // Groups: create, add, remove, delete.
    let gcsrf = csrf_of(&text(&b.get("/ui/admin/groups").await));
    let r = b
        .post(
            "/ui/admin/groups",
            &[("csrf", &gcsrf), ("name", "Family"), ("description", "")],
        )
        .await;
    assert_eq!(
        r.header("location"),
        Some("/ui/admin/groups/family?done=group-created")
    );
    let r = b
        .post(
            "/ui/admin/groups/family/add",
            &[("csrf", &gcsrf), ("user", "dora@example.com")],
        )
        .await;
    assert_eq!(r.status, 303);
    let g = text(&b.get("/ui/admin/groups/family").await);
    assert!(g.contains("dora@example.com"), "{g}");
    let r = b
        .post(
            "/ui/admin/groups/family/remove",
            &[("csrf", &gcsrf), ("user", "dora@example.com")],
        )
        .await;
    assert_eq!(r.status, 303);
    // Deleting needs the confirmation.
    let r = b
        .post("/ui/admin/groups/family/delete", &[("csrf", &gcsrf)])
        .await;
    assert_eq!(r.status, 404);
    let r = b
        .post(
            "/ui/admin/groups/family/delete",
            &[("csrf", &gcsrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(
        r.header("location"),
        Some("/ui/admin/groups?done=group-deleted")
    );

    // The audit log page, filtered by user.
    let a = text(&b.get(&format!("/ui/admin/audit?user={bob_id}")).await);
    assert!(
        a.contains("user_blocked") && !a.contains("group_created"),
        "{a}"
    );

    // Delete, after a confirmation page.
    let confirm = text(&b.get(&format!("{user_page}/delete")).await);
    assert!(confirm.contains("bob@example.com"), "{confirm}");
    let r = b
        .post(&format!("{user_page}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, 200, "no confirmation: the page asks again");
    let r = b
        .post(
            &format!("{user_page}/delete"),
            &[("csrf", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(r.header("location"), Some("/ui/admin/users?done=deleted"));
    assert_eq!(
        s.admin_req(Method::GET, "/admin/users/bob", Some(ADMIN))
            .await
            .status,
        404
    );
    assert_eq!(
        events(&s, "event=user_deleted").await[0]["actor"],
        root_id.as_str()
    );
}

#[tokio::test]
async fn without_a_ui_group_there_are_no_admin_pages() {
    let smtp = Smtp::start(&[]);
    let s = Server::start(&format!(
        "[admin]\nui_group = \"\"\n{}",
        smtp.config("none")
    ))
    .await;
    let mut b = Browser::new(&s);
    assert_eq!(b.get("/ui/admin/users").await.status, 404);
}

#[tokio::test]
async fn the_admin_pages_work_with_the_keyboard_at_360_px_and_pass_axe() {
    let smtp = Smtp::start(&[]);
    let (s, port) = portal_server(
        &format!("[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n"),
        &smtp,
    )
    .await;
    let (_, _, recovery) = account_with_totp(&s, &smtp, "root").await;
    make_admin(&s, "root").await;
    oauth_signup(&s, "eli", PW).await;
    s.admin_req(Method::PUT, "/admin/groups/admins/members/eli", Some(ADMIN))
        .await
        .expect(204);
    let eli = s
        .admin_req(Method::GET, "/admin/users/eli", Some(ADMIN))
        .await
        .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let base = format!("http://auth.lk.test:{port}");
    let mut report = Vec::new();
    for (i, (width, height, tag)) in [(1280, 900, "desktop"), (360, 740, "360px")]
        .iter()
        .enumerate()
    {
        let b = Chrome::start(*width, *height).await;
        b.c.goto(&format!("{base}/ui/admin/users")).await.unwrap();
        b.until(Locator::Id("username")).await.unwrap();
        b.type_keys(&format!("root{}{PW}{}", Key::Tab, Key::Enter))
            .await;
        b.until(Locator::Id("mfa_code")).await.unwrap();
        b.type_keys(&format!("{}{}", recovery[i], Key::Enter)).await;
        b.reaches(&format!("{base}/ui/admin/users")).await;
        for page in [
            "/ui/admin/users".to_owned(),
            format!("/ui/admin/users/{eli}"),
            format!("/ui/admin/users/{eli}/delete"),
            "/ui/admin/users/new".to_owned(),
            "/ui/admin/groups".to_owned(),
            "/ui/admin/groups/admins".to_owned(),
            "/ui/admin/audit".to_owned(),
        ] {
            b.c.goto(&format!("{base}{page}")).await.unwrap();
            b.until(Locator::Css("nav.admin")).await.unwrap();
            assert!(b.fits().await, "{page} scrolls sideways at {width} px");
            for f in b.axe().await {
                report.push(format!("{page} at {width} px: {f}"));
            }
        }
        b.shot(&format!("admin-audit-{tag}")).await;
        // The keyboard alone: search for eli, open the first result.
        b.c.goto(&format!("{base}/ui/admin/users")).await.unwrap();
        b.until(Locator::Id("q")).await.unwrap();
        b.c.find(Locator::Id("q"))
            .await
            .unwrap()
            .send_keys(&format!("eli{}", Key::Enter))
            .await
            .unwrap();
        b.until(Locator::Css("tbody a")).await.unwrap();
        assert!(b.text("tbody").await.contains("eli@example.com"));
        b.shot(&format!("admin-users-{tag}")).await;
        b.close().await;
    }
    assert!(report.is_empty(), "{report:#?}");
}
