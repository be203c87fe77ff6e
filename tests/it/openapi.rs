//! `GET /openapi.json` describes every mounted route (it is generated from the adapter
//! table), and schemathesis, fuzzing every operation from it, finds no 5xx and no response
//! outside its documented status and schema.

use std::process::Command;

use crate::support::*;

const PW: &str = "correct horse battery";

fn schemathesis(base: &str, extra: &[&str]) -> (bool, String) {
    let py = python();
    let bin = py.parent().unwrap().join("schemathesis");
    // Its example cache goes to a scratch directory, not the repository.
    let scratch = tempfile::tempdir().unwrap();
    let out = Command::new(bin)
        .current_dir(scratch.path())
        .args(["run", &format!("{base}/openapi.json"), "-u", base])
        .args(["-c", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"])
        .args(["-n", "10", "--phases", "examples,fuzzing", "--request-timeout", "10", "--generation-deterministic"])
        .args(extra)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn schemathesis_finds_no_5xx_and_no_schema_mismatch() {
    let s = Server::start(
        "[password]\nhash_queue = 1000\n[limits]\nper_ip_per_minute = 0\nlockout_failures = 1000000\nlockout_failures_total = 1000000\nmails_per_hour = 1000000\n",
    )
    .await;
    let doc = s.get("/openapi.json", &[]).await.expect(200);
    assert_eq!(doc["openapi"], "3.1.0");
    // Every route of every mounted family is in it, with its method.
    for (path, method) in [
        ("/users", "post"),
        ("/auth/token", "post"),
        ("/api/auth/accounts:lookup", "post"),
        ("/api/v0/user/verify", "get"),
        ("/session/mfa/totp", "delete"),
        ("/oauth/introspect", "post"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing"
        );
    }
    let base = s.base.clone();
    let (ok, out) = tokio::task::spawn_blocking(move || schemathesis(&base, &[]))
        .await
        .unwrap();
    assert!(ok && out.contains(" passed"), "{out}");
    // The summary: "N generated, N passed" and nothing failed.
    let cases = out
        .lines()
        .find(|l| l.contains(" generated,"))
        .unwrap_or_default();
    assert!(
        !cases.contains("failed") && !cases.contains("error"),
        "{out}"
    );
    // Again with a valid token, so the authenticated routes answer for real.
    oauth_signup(&s, "fuzzed", PW).await;
    let t = oauth_login(&s, "fuzzed", PW).await.expect(200);
    let header = format!(
        "Authorization: Bearer {}",
        t["access_token"].as_str().unwrap()
    );
    let base = s.base.clone();
    let (ok, out) = tokio::task::spawn_blocking(move || schemathesis(&base, &["-H", &header]))
        .await
        .unwrap();
    assert!(ok && out.contains(" passed"), "{out}");
    s.get("/healthz", &[]).await.expect(200);
}
