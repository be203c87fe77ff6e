//! `latchkey bench-bounds`: the machine's limits the load benchmark compares against,
//! measured through the same modules the server uses.
//!
//! - hashing bound: scrypt hashes per second at the configured parameters with one thread
//!   per core (the password module's own hasher);
//! - one-verify bound: access-token verifications per second on one core, for JWT EdDSA
//!   and PASETO v4.public (the signer module's own verifiers).

use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::Secret;
use serde_json::{json, Value};
use storage::SigningKeyRecord;

use crate::config::Checked;
use crate::limits::Source;
use crate::password::Hasher;
use crate::signer::TokenAlg;
use crate::signer::{keys, Claims, Rules};

fn verify_rate(alg: TokenAlg, for_how_long: Duration) -> Result<f64, String> {
    let (kid, secret) = keys::generate(alg).map_err(|e| e.to_string())?;
    let signer = keys::build(
        alg,
        &[SigningKeyRecord {
            kid,
            alg: alg.id().into(),
            secret,
            created_at: crate::clock::UnixMillis::EPOCH,
            retired_at: None,
        }],
        1800,
    )
    .map_err(|e| e.to_string())?;
    let now = 1_800_000_000;
    let claims = Claims {
        iss: "http://localhost:8080".into(),
        sub: "0123456789abcdef0123456789abcdef".into(),
        iat: now,
        exp: now + 1800,
        nbf: None,
        jti: "bench".into(),
        sid: "fedcba9876543210fedcba9876543210".into(),
        role: "user".into(),
        amr: vec!["pwd".into()],
    };
    let token = signer.sign(&claims).map_err(|e| e.to_string())?;
    let rules = Rules::new(
        "http://localhost:8080",
        crate::clock::UnixMillis::from_secs(now),
    );
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < for_how_long {
        for _ in 0..100 {
            signer.verify(&token, &rules).map_err(|e| e.to_string())?;
        }
        n += 100;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// One forward-auth decision of this configuration's access rules (bench.py gives 50,
/// the last matching `photos.bench.test`), in µs: the rules alone, on one core.
fn access_decision_us(cfg: &Checked, for_how_long: Duration) -> f64 {
    use crate::access::{Target, Who};
    let groups = vec!["family".to_string()];
    let who = Who {
        id: "0123456789abcdef0123456789abcdef",
        email: Some("u00000@example.com"),
        username: Some("u00000"),
        groups: &groups,
        two_factors: false,
    };
    let target = Target {
        host: "photos.bench.test",
        path: "/album/2024?page=3",
        method: "GET",
        ip: std::net::IpAddr::from([127, 0, 0, 1]),
    };
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < for_how_long {
        for _ in 0..100 {
            std::hint::black_box(cfg.access.decide(&target, Some(&who)));
        }
        n += 100;
    }
    started.elapsed().as_secs_f64() * 1e6 / n as f64
}

/// Measures both bounds; `seconds` per measurement.
pub fn measure(cfg: &Checked, seconds: f64) -> Result<Value, String> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let threads = cfg.password.hash_threads;
    let scrypt = &cfg.password.scrypt;
    let per = Duration::from_secs_f64(seconds);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let (hashes, one_hash_ms) = rt.block_on(async {
        let hasher = Arc::new(Hasher::new(scrypt, threads, threads).map_err(|e| e.to_string())?);
        // One hash alone, for its latency.
        let t = Instant::now();
        hasher
            .hash(Secret("bench password".into()), Source::LOCAL)
            .await
            .map_err(|e| e.to_string())?;
        let one = t.elapsed().as_secs_f64() * 1000.0;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..threads {
            let h = hasher.clone();
            // One source per task: the hasher's fair share does not limit the bound.
            let source = Source::of(std::net::IpAddr::from([
                10,
                0,
                0,
                u8::try_from(i % 250).unwrap_or(0),
            ]));
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                while started.elapsed() < per {
                    if h.hash(Secret("bench password".into()), source)
                        .await
                        .is_ok()
                    {
                        n += 1;
                    }
                }
                n
            }));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await.map_err(|e| e.to_string())?;
        }
        Ok::<_, String>((total as f64 / started.elapsed().as_secs_f64(), one))
    })?;
    Ok(json!({
        "cores": cores,
        "hash_threads": threads,
        "scrypt": {"log_n": scrypt.log_n, "r": scrypt.r, "p": scrypt.p},
        "hashes_per_sec": hashes,
        "one_hash_ms": one_hash_ms,
        "access_decision_us": access_decision_us(cfg, per),
        "verify_per_sec_per_core": {
            "jwt:EdDSA": verify_rate(TokenAlg::JwtEdDsa, per)?,
            "paseto:v4.public": verify_rate(TokenAlg::PasetoV4Public, per)?,
        },
    }))
}
