//! Real clients, unmodified: Authlib (OAuth2 password and refresh grants), PyJWT through
//! the JWKS, pyseto through PASERK (see `support::python`).

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
