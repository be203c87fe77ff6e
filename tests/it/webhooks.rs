//! The audit log in the store and webhooks (issue 27): every door's events, written with
//! the change and read through the admin API (filters, a cursor that neither skips nor
//! repeats while events arrive), `latchkey audit` with the server running or stopped,
//! retention; webhooks verified by the `standardwebhooks` library (PyPI) in a real
//! receiver, retried on its schedule, surviving a kill -9, and delivered once by one of
//! several nodes.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use http::Method;
use serde_json::{json, Value};

use crate::portal::Browser;
use crate::support::*;

const PW: &str = "correct horse battery";
const ADMIN: &str = "admin-token-0123456789abcdef";
/// `whsec_` + base64 of 32 bytes.
const HOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw0e3f1eLw0vA=";

/// A receiver that verifies with `standardwebhooks` (tests/interop/webhook_receiver.py).
struct Receiver {
    child: std::process::Child,
    port: u16,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    fn start(fail_first: usize, mode: &str) -> Receiver {
        Receiver::start_on(free_port(), fail_first, mode)
    }

    fn start_on(port: u16, fail_first: usize, mode: &str) -> Receiver {
        use std::io::BufRead as _;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("messages.jsonl");
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/interop/webhook_receiver.py"
        );
        let mut child = std::process::Command::new(python())
            .arg(script)
            .arg(port.to_string())
            .arg(HOOK_SECRET)
            .arg(&out)
            .arg(fail_first.to_string())
            .arg(mode)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready");
        Receiver {
            child,
            port,
            out,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn messages(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The messages once there are at least `n` (at most 30 s).
    async fn wait(&self, n: usize) -> Vec<Value> {
        self.wait_for(n, Duration::from_secs(30)).await
    }

    /// The messages once there are at least `n` (at most `within`).
    async fn wait_for(&self, n: usize, within: Duration) -> Vec<Value> {
        let until = Instant::now() + within;
        loop {
            let m = self.messages();
            if m.len() >= n || Instant::now() > until {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn hook(url: &str, events: &[&str], schedule: &str) -> String {
    format!(
        "[[webhooks]]\nurl = \"{url}\"\nsecret = \"{HOOK_SECRET}\"\nevents = {}\n\
         retry_schedule = {schedule}\n",
        serde_json::to_string(events).unwrap()
    )
}

async fn server(smtp: &Smtp, extra: &str) -> Server {
    Server::start(&format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\ntoken = \"{ADMIN}\"\n{}\n{extra}",
        smtp.config("none")
    ))
    .await
}

async fn audit(s: &Server, query: &str) -> Value {
    s.admin_req(Method::GET, &format!("/admin/audit?{query}"), Some(ADMIN))
        .await
        .expect(200)
}

fn names(page: &Value) -> Vec<String> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits until the audit log holds an event named `name` (events of refusals are
/// written in the background).
async fn wait_event(s: &Server, name: &str) -> Value {
    for _ in 0..100 {
        let page = audit(s, &format!("event={name}")).await;
        if let Some(e) = page["events"].as_array().unwrap().last() {
            return e.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {name} event");
}

#[tokio::test]
async fn every_door_writes_the_audit_log_and_the_cursor_pages_without_gaps() {
    let smtp = Smtp::start(&[]);
    let s = server(&smtp, "").await;
    oauth_signup(&s, "ann", PW).await;
    oauth_login(&s, "ann", PW).await.expect(200);
    assert_eq!(oauth_login(&s, "ann", "wrong password").await.status, 400);
    let mut b = Browser::new(&s);
    assert_eq!(b.sign_in("ann", PW, "").await.status, 303);
    let ann = s
        .admin_req(Method::GET, "/admin/users/ann", Some(ADMIN))
        .await
        .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for path in ["disable", "enable"] {
        s.admin_req(
            Method::POST,
            &format!("/admin/users/ann/{path}"),
            Some(ADMIN),
        )
        .await
        .expect(200);
    }
    s.group(ADMIN, "family").await;
    s.admin_req(Method::PUT, "/admin/groups/family/members/ann", Some(ADMIN))
        .await
        .expect(204);
    let failed = wait_event(&s, "sign_in_failed").await;
    assert_eq!(failed["door"], "oauth");
    assert_eq!(failed["detail"]["method"], "pwd");

    // Ann's events, in order, each with its door, actor and address.
    let page = audit(&s, "user=ann").await;
    let events = page["events"].as_array().unwrap();
    let want = [
        "user_created",
        "sign_in",
        "sign_in",
        "user_disabled",
        "user_enabled",
        "group_member_added",
    ];
    assert_eq!(names(&page), want, "{page:#}");
    assert_eq!(page["next"], Value::Null);
    let e = &events[0];
    assert_eq!(
        (e["user"].as_str(), e["actor"].as_str()),
        (Some(ann.as_str()), Some(ann.as_str()))
    );
    assert_eq!(e["door"], "oauth");
    assert_eq!(e["ip"], "127.0.0.1");
    assert!(e["at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(events[1]["detail"], json!({"method": "pwd", "mfa": false}));
    assert_eq!(events[2]["door"], "portal");
    assert_eq!(events[3]["actor"], "admin-api");
    assert_eq!(events[3]["door"], "admin");
    assert_eq!(events[5]["detail"], json!({"group": "family"}));
    let ids: Vec<u64> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    // No secret in any detail.
    let all = audit(&s, "limit=1000").await.to_string();
    assert!(!all.contains(PW) && !all.contains("wrong password"));

    // Filters: the event, the time.
    assert_eq!(
        names(&audit(&s, "event=sign_in").await),
        ["sign_in", "sign_in"]
    );
    let later = audit(&s, "since=2999-01-01T00:00:00Z").await;
    assert_eq!(later["events"], json!([]));
    let since = events[3]["at"].as_str().unwrap();
    let from = audit(&s, &format!("user=ann&since={since}")).await;
    assert!(names(&from).len() <= 3 && names(&from).contains(&"user_disabled".to_string()));
    assert_eq!(
        s.admin_req(Method::GET, "/admin/audit?since=yesterday", Some(ADMIN))
            .await
            .status,
        400
    );

    // Pages of two, while new events arrive between them: every event once, in order.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut arrived = 0;
    loop {
        let page = audit(&s, &format!("limit=2&cursor={cursor}")).await;
        for e in page["events"].as_array().unwrap() {
            seen.push(e["id"].as_str().unwrap().parse::<u64>().unwrap());
        }
        if arrived < 3 {
            oauth_login(&s, "ann", PW).await.expect(200);
            arrived += 1;
        }
        match page["next"].as_str() {
            Some(n) => cursor = n.to_owned(),
            None => break,
        }
    }
    let total = audit(&s, "limit=1000").await["events"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(seen.len(), total, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[1] == w[0] + 1), "{seen:?}");

    // The account page shows the account's own sign-ins (disabling ended the session
    // above: a new one).
    assert_eq!(b.sign_in("ann", PW, "").await.status, 303);
    let page = String::from_utf8_lossy(&b.get("/ui/account").await.body).to_string();
    assert!(
        page.contains("Recent sign-ins") && page.contains("from 127.0.0.1"),
        "{page}"
    );

    // The command line: through the admin API while the server runs...
    let (code, out, err) = s.cli(&["audit", "--user", "ann", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 6 + 3 + 1);
    let first: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["event"], "user_created");
    let (_, out, _) = s.cli(&["audit", "--event", "user_disabled"]);
    assert!(
        out.contains("user_disabled") && out.contains("actor=admin-api"),
        "{out}"
    );

    // ... and deleting ann is recorded, also for an id that no longer finds her.
    s.admin_req(Method::DELETE, "/admin/users/ann", Some(ADMIN))
        .await
        .expect(200);
    let gone = audit(&s, &format!("user={ann}&event=user_deleted")).await;
    assert_eq!(names(&gone), ["user_deleted"]);
}

#[tokio::test]
async fn the_command_line_reads_a_stopped_store_and_off_means_off() {
    let smtp = Smtp::start(&[]);
    let mut s = server(&smtp, "").await;
    oauth_signup(&s, "bea", PW).await;
    s.stop();
    let (code, out, err) = s.cli(&["audit", "--event", "user_created"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("user_created") && out.contains("door=oauth"),
        "{out}"
    );
    // A change made by the command line on the stopped store names it.
    let (code, _, err) = s.cli(&["group", "create", "staff"]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = s.cli(&["audit", "--event", "group_created", "--json"]);
    let e: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (e["actor"].as_str(), e["door"].as_str()),
        (Some("cli"), Some("admin"))
    );

    let off = server(&smtp, "[audit]\nenabled = false\n").await;
    oauth_signup(&off, "cy", PW).await;
    oauth_login(&off, "cy", PW).await.expect(200);
    assert_eq!(audit(&off, "").await["events"], json!([]));
}

#[tokio::test]
async fn webhooks_reach_a_real_receiver_signed_as_standard_webhooks_says() {
    let smtp = Smtp::start(&[]);
    let r = Receiver::start(0, "");
    let s = server(
        &smtp,
        &hook(
            &r.url(),
            &[
                "user.created",
                "session.signed_in",
                "audit.sign_in_failed",
                "user.deleted",
            ],
            "[1, 1]",
        ),
    )
    .await;
    oauth_signup(&s, "dee", PW).await;
    oauth_login(&s, "dee", PW).await.expect(200);
    assert_eq!(oauth_login(&s, "dee", "nope nope nope").await.status, 400);
    s.admin_req(Method::DELETE, "/admin/users/dee", Some(ADMIN))
        .await
        .expect(200);
    let got = r.wait(4).await;
    assert!(got.iter().all(|m| m.get("invalid").is_none()), "{got:#?}");
    let mut types: Vec<&str> = got.iter().map(|m| m["type"].as_str().unwrap()).collect();
    types.sort();
    assert_eq!(
        types,
        [
            "audit.sign_in_failed",
            "session.signed_in",
            "user.created",
            "user.deleted"
        ],
        "{got:#?}"
    );
    let created = got.iter().find(|m| m["type"] == "user.created").unwrap();
    assert_eq!(created["data"]["user"]["username"], "dee");
    assert_eq!(created["data"]["user"]["email"], "dee@example.com");
    // The deleted account is still named in its message.
    let deleted = got.iter().find(|m| m["type"] == "user.deleted").unwrap();
    assert_eq!(deleted["data"]["user"]["username"], "dee");
    assert_eq!(deleted["data"]["actor"], "admin-api");
    let (code, out, _) = s.cli(&["webhooks", "status"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), format!("{} pending=0 failed=0", r.url()));
}

#[tokio::test]
async fn failures_are_retried_on_the_schedule_then_kept_as_failed() {
    let smtp = Smtp::start(&[]);
    // Fails the first two tries: the third (after 1 s and 1 s more) arrives.
    let r = Receiver::start(2, "");
    let s = server(&smtp, &hook(&r.url(), &["user.created"], "[1, 1]")).await;
    oauth_signup(&s, "eve", PW).await;
    let got = r.wait(1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["type"], "user.created");
    drop(s);

    // A receiver that always fails: tried 1 + 1 times, then failed for good.
    let always = Receiver::start(1000, "");
    let s = server(&smtp, &hook(&always.url(), &["user.created"], "[1]")).await;
    oauth_signup(&s, "fay", PW).await;
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let v = s
            .admin_req(Method::GET, "/admin/webhooks", Some(ADMIN))
            .await
            .expect(200);
        if v["endpoints"][0]["failed"] == 1 {
            assert_eq!(v["endpoints"][0]["pending"], 0);
            break;
        }
        assert!(Instant::now() < until, "{v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(s.log().contains("failed for good"));
}

#[tokio::test]
async fn a_receiver_that_never_answers_holds_no_request_and_a_kill_loses_nothing() {
    let smtp = Smtp::start(&[]);
    let port = free_port();
    let hang = Receiver::start_on(port, 0, "hang");
    let mut s = server(
        &smtp,
        &hook(
            &format!("http://127.0.0.1:{port}/hook"),
            &["user.created"],
            "[1]",
        ),
    )
    .await;
    // Sign-ups answer at once while the receiver holds every delivery.
    for name in ["gil", "hal", "ivy"] {
        let t = Instant::now();
        oauth_signup(&s, name, PW).await;
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Killed between the commit and any delivery: the messages are in the store.
    s.kill();
    drop(hang);
    let r = Receiver::start_on(port, 0, "");
    s.start_again();
    // What the killed node had claimed is due again once its lease ends.
    let within = latchkey::webhooks::LEASE + Duration::from_secs(15);
    let got = r.wait_for(3, within).await;
    let mut users: Vec<&str> = got
        .iter()
        .map(|m| m["data"]["user"]["username"].as_str().unwrap())
        .collect();
    users.sort();
    users.dedup();
    assert_eq!(users, ["gil", "hal", "ivy"], "{got:#?}");
}

#[tokio::test]
async fn several_nodes_deliver_each_message_once() {
    let r = Receiver::start(0, "");
    let nodes = crate::nodes::nodes(2, &hook(&r.url(), &["user.created"], "[1]")).await;
    for i in 0..20 {
        oauth_signup(&nodes[i % 2], &format!("user{i}"), PW).await;
    }
    let got = r.wait(20).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got_after = r.messages();
    assert_eq!(got.len(), 20);
    assert_eq!(got_after.len(), 20, "a message was delivered twice");
    let mut ids: Vec<&str> = got_after
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);
}

/// Retention: events older than `[audit] retention` go at the next sweep.
#[tokio::test]
async fn old_events_are_pruned_by_the_sweeper() {
    let p = InProcess::new(|c| c.audit.retention = 60);
    p.sign_up("jo", PW).await;
    let count = |p: &InProcess| {
        p.svc
            .store()
            .read(|r| storage::audit_page(r, &storage::AuditQuery::default(), 100))
            .unwrap()
            .len()
    };
    assert_eq!(count(&p), 1);
    p.advance(30.0);
    p.svc.sweep().await.unwrap();
    assert_eq!(count(&p), 1);
    p.advance(31.0);
    p.svc.sweep().await.unwrap();
    assert_eq!(count(&p), 0);
}

/// The account page's and the admin pages' recent events are the newest, read from the
/// newest back (not the first page of a long history).
#[tokio::test]
async fn recent_events_are_the_newest() {
    let p = InProcess::new(|_| {});
    let t = p.sign_up("kit", PW).await;
    let id = latchkey::primitives::b64url_decode(t.access_token.split('.').nth(1).unwrap())
        .map(|c| {
            serde_json::from_slice::<Value>(&c).unwrap()["sub"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .unwrap();
    for _ in 0..4 {
        p.advance(1.0);
        tokens(p.sign_in("kit", PW).await);
    }
    let last = p.svc.recent_sign_ins(&id, 2);
    assert_eq!(last.len(), 2);
    assert!(last[0].at > last[1].at, "{last:?}");
    assert_eq!(last[0].at.millis(), p.now_ms());
    let events = p.svc.recent_events(&id, 3);
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["event"], "sign_in");
}
