//! Real clients, unmodified: Authlib (OAuth2 password and refresh grants), PyJWT through
//! the JWKS, pyseto through PASERK (see `support::python`); pyoidc and panva's
//! openid-client as OpenID Connect relying parties (`support::node_modules`).

use std::path::Path;
use std::process::Command;

use crate::support::*;

async fn run_clients(format: &str, algorithm: &str) {
    let s = Server::start(&format!("[tokens]\nformat = \"{format}\"\nalgorithm = \"{algorithm}\"\nissuer = \"https://auth.interop.test\"\n")).await;
    let py = tokio::task::spawn_blocking(python).await.unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/clients.py");
    let base = s.base.clone();
    let alg = algorithm.to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(py)
            .arg(script)
            .args([base.as_str(), alg.as_str(), "https://auth.interop.test"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{algorithm}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("interop ok"));
}

#[tokio::test]
async fn authlib_and_pyjwt_with_eddsa() {
    run_clients("jwt", "EdDSA").await;
}

#[tokio::test]
async fn authlib_and_pyjwt_with_es256() {
    run_clients("jwt", "ES256").await;
}

#[tokio::test]
async fn authlib_and_pyseto_with_v4_public() {
    run_clients("paseto", "v4.public").await;
}

/// Drives a relying-party library's process through the browser's part of its flows (the
/// line protocol of `tests/interop/pyoidc_rp.py` and `openid_client_rp.mjs`), with `b`,
/// a browser signed in on `s`, until the process says `<done>`.
async fn drive_rp(
    mut child: std::process::Child,
    s: &Server,
    b: &mut crate::portal::Browser<'_>,
    done: &str,
) {
    use std::io::{BufRead, BufReader, Write};
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let path_of = |url: &str| url.strip_prefix(s.base.as_str()).unwrap_or(url).to_string();
    let query_of = |loc: &str| {
        loc.split_once('?')
            .map(|(_, q)| q.to_string())
            .unwrap_or_default()
    };
    let mut finished = false;
    while let Some(line) = tokio::time::timeout(std::time::Duration::from_secs(60), rx.recv())
        .await
        .expect("the RP went silent")
    {
        let (kind, url) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let answer = match kind {
            "AUTH" => {
                let r = b.get(&path_of(url)).await;
                assert_eq!(r.status, 302, "{}", String::from_utf8_lossy(&r.body));
                format!("CALLBACK {}", query_of(r.header("location").unwrap()))
            }
            "AUTH_FP" => {
                let r = b.get(&path_of(url)).await;
                assert_eq!(r.status, 200);
                let (_, fields) =
                    crate::hardening::form_post_fields(&String::from_utf8_lossy(&r.body));
                let form = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&fields)
                    .finish();
                format!("FORM {form}")
            }
            "LOGOUT" => {
                // A cross-site sign-out is confirmed on the page, as a person would.
                let r = b.get(&path_of(url)).await;
                assert_eq!(r.status, 200, "the confirmation page");
                let html = String::from_utf8_lossy(&r.body).to_string();
                let fields = crate::hardening::hidden_fields(&html);
                let pairs: Vec<(&str, &str)> = fields
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let r = b.post("/oidc/logout", &pairs).await;
                assert_eq!(r.status, 303, "{}", String::from_utf8_lossy(&r.body));
                format!("LOGGED_OUT {}", query_of(r.header("location").unwrap()))
            }
            d if line == done || d == done => {
                finished = true;
                break;
            }
            other => panic!("the RP said: {other} {url}"),
        };
        eprintln!("rp: {kind} -> {}", answer.split(' ').next().unwrap_or(""));
        writeln!(stdin, "{answer}").unwrap();
        stdin.flush().unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        finished && out.status.success(),
        "the RP failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A relying party's process: `program script` for client `app` of the provider at
/// `base`, its standard input and output for [`drive_rp`].
fn rp(program: &Path, script: &Path, base: &str) -> std::process::Child {
    Command::new(program)
        .arg(script)
        .args([
            base,
            "app",
            crate::oidc::SECRET,
            "http://127.0.0.1:9/cb",
            "http://127.0.0.1:9/bye",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// A provider (the portal, client `app`) and a browser signed in on it.
async fn provider_with_a_person(smtp: &Smtp) -> (Server, String) {
    let (s, base) = crate::oidc::provider(smtp).await;
    oauth_signup(&s, "rp", crate::policy::PW).await;
    (s, base)
}

/// pyoidc, unmodified: code + PKCE, userinfo by POST body (its default) and GET, refresh,
/// form_post, RP-initiated logout (issue 23).
#[tokio::test]
async fn pyoidc_completes_every_flow() {
    let smtp = Smtp::start(&[]);
    let (s, base) = provider_with_a_person(&smtp).await;
    let mut b = crate::portal::Browser::new(&s);
    b.sign_in("rp", crate::policy::PW, "/ui/account").await;
    let py = tokio::task::spawn_blocking(python).await.unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/pyoidc_rp.py");
    drive_rp(rp(&py, &script, &base), &s, &mut b, "pyoidc ok").await;
}

/// panva's openid-client 6.x, unmodified: the same flows (issue 23).
#[tokio::test]
async fn openid_client_completes_every_flow() {
    let smtp = Smtp::start(&[]);
    let (s, base) = provider_with_a_person(&smtp).await;
    let mut b = crate::portal::Browser::new(&s);
    b.sign_in("rp", crate::policy::PW, "/ui/account").await;
    let dir = tokio::task::spawn_blocking(node_modules).await.unwrap();
    let script = dir.join("openid_client_rp.mjs");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/openid_client_rp.mjs"),
        &script,
    )
    .unwrap();
    drive_rp(
        rp(Path::new("node"), &script, &base),
        &s,
        &mut b,
        "openid-client ok",
    )
    .await;
}
