//! Prometheus metrics (text exposition format 0.0.4), served by the admin API at
//! `GET /metrics`. Counters are atomics or small label maps; gauges (hashing queue, store
//! size, users) are read at scrape time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Upper bounds of the latency histogram buckets, seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Every metric latchkey keeps.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, &'static str, u16), u64>>,
    latency: Mutex<BTreeMap<(&'static str, &'static str), Histogram>>,
    sign_ins: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    portal_sign_ins: Mutex<BTreeMap<&'static str, u64>>,
    oidc: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    access: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    revocations: Mutex<BTreeMap<String, u64>>,
    rotations: AtomicU64,
    mails_sent: AtomicU64,
    mails_failed: AtomicU64,
    lockouts: AtomicU64,
    shed: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the scrape reads live.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    /// Sign-ins/sign-ups waiting for a hashing thread.
    pub hash_queue: u64,
    /// Bytes of the store file.
    pub store_bytes: u64,
    /// Users.
    pub users: u64,
    /// Verified tokens cached.
    pub token_cache: u64,
}

impl Metrics {
    /// One request done.
    pub fn request(&self, family: &'static str, route: &'static str, status: u16, seconds: f64) {
        *lock(&self.requests)
            .entry((family, route, status))
            .or_insert(0) += 1;
        let mut l = lock(&self.latency);
        let h = l.entry((family, route)).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                if let Some(c) = h.counts.get_mut(i) {
                    *c += 1;
                }
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// A sign-in finished: `method` pwd / otp, `result` ok / failed.
    pub fn sign_in(&self, method: &'static str, result: &'static str) {
        *lock(&self.sign_ins).entry((method, result)).or_insert(0) += 1;
    }

    /// A browser signed in on the portal by `method` (pwd, code).
    pub fn portal_sign_in(&self, method: &'static str) {
        *lock(&self.portal_sign_ins).entry(method).or_insert(0) += 1;
    }

    /// An OpenID Connect step: `what` is `authorization` (a code given), or the token
    /// grant (`authorization_code`, `refresh_token`); `result` ok / failed.
    pub fn oidc(&self, what: &'static str, result: &'static str) {
        *lock(&self.oidc).entry((what, result)).or_insert(0) += 1;
    }

    /// A forward-auth decision of the access rules: the deciding `policy`, the `decision`.
    pub fn access(&self, policy: &'static str, decision: &'static str) {
        *lock(&self.access).entry((policy, decision)).or_insert(0) += 1;
    }

    /// A refresh family was revoked for `cause`.
    pub fn revoked(&self, cause: &str) {
        *lock(&self.revocations).entry(cause.to_owned()).or_insert(0) += 1;
    }

    /// A refresh token was rotated.
    pub fn rotation(&self) {
        self.rotations.fetch_add(1, Ordering::Relaxed);
    }

    /// A mail was sent (`true`) or failed.
    pub fn mail(&self, sent: bool) {
        if sent {
            &self.mails_sent
        } else {
            &self.mails_failed
        }
        .fetch_add(1, Ordering::Relaxed);
    }

    /// An account (or login) got locked.
    pub fn lockout(&self) {
        self.lockouts.fetch_add(1, Ordering::Relaxed);
    }

    /// A request was shed by the hashing queue.
    pub fn shed(&self) {
        self.shed.fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition text.
    pub fn render(&self, g: Gauges) -> String {
        let mut o = String::new();
        let head = |o: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        head(
            &mut o,
            "latchkey_requests_total",
            "counter",
            "HTTP requests by family, route and status.",
        );
        for ((f, r, s), n) in lock(&self.requests).iter() {
            let _ = writeln!(
                o,
                "latchkey_requests_total{{family=\"{f}\",route=\"{r}\",status=\"{s}\"}} {n}"
            );
        }
        head(
            &mut o,
            "latchkey_request_duration_seconds",
            "histogram",
            "Time to answer a request.",
        );
        for ((f, r), h) in lock(&self.latency).iter() {
            for (b, c) in BUCKETS.iter().zip(h.counts.iter()) {
                let _ = writeln!(o, "latchkey_request_duration_seconds_bucket{{family=\"{f}\",route=\"{r}\",le=\"{b}\"}} {c}");
            }
            let _ = writeln!(o, "latchkey_request_duration_seconds_bucket{{family=\"{f}\",route=\"{r}\",le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(
                o,
                "latchkey_request_duration_seconds_sum{{family=\"{f}\",route=\"{r}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                o,
                "latchkey_request_duration_seconds_count{{family=\"{f}\",route=\"{r}\"}} {}",
                h.count
            );
        }
        head(
            &mut o,
            "latchkey_sign_ins_total",
            "counter",
            "Sign-ins by method (pwd, otp) and result (ok, failed).",
        );
        for ((m, r), n) in lock(&self.sign_ins).iter() {
            let _ = writeln!(
                o,
                "latchkey_sign_ins_total{{method=\"{m}\",result=\"{r}\"}} {n}"
            );
        }
        head(
            &mut o,
            "latchkey_portal_sign_ins_total",
            "counter",
            "Portal sessions opened, by the first factor's method (pwd, code).",
        );
        for (m, n) in lock(&self.portal_sign_ins).iter() {
            let _ = writeln!(o, "latchkey_portal_sign_ins_total{{method=\"{m}\"}} {n}");
        }
        head(
            &mut o,
            "latchkey_oidc_total",
            "counter",
            "OpenID Connect authorizations (codes given) and token grants, by result.",
        );
        for ((w, r), n) in lock(&self.oidc).iter() {
            let _ = writeln!(o, "latchkey_oidc_total{{step=\"{w}\",result=\"{r}\"}} {n}");
        }
        head(
            &mut o,
            "latchkey_access_decisions_total",
            "counter",
            "Forward-auth decisions of the access rules, by deciding policy and decision.",
        );
        for ((p, d), n) in lock(&self.access).iter() {
            let _ = writeln!(
                o,
                "latchkey_access_decisions_total{{policy=\"{p}\",decision=\"{d}\"}} {n}"
            );
        }
        head(
            &mut o,
            "latchkey_family_revocations_total",
            "counter",
            "Refresh families revoked, by cause.",
        );
        for (c, n) in lock(&self.revocations).iter() {
            let _ = writeln!(o, "latchkey_family_revocations_total{{cause=\"{c}\"}} {n}");
        }
        let counters = [
            (
                "latchkey_refresh_rotations_total",
                "Refresh tokens rotated.",
                &self.rotations,
            ),
            (
                "latchkey_mails_sent_total",
                "Mails handed to the transport.",
                &self.mails_sent,
            ),
            (
                "latchkey_mails_failed_total",
                "Mails the transport refused or could not send.",
                &self.mails_failed,
            ),
            (
                "latchkey_lockouts_total",
                "Accounts (or logins) locked after repeated failures.",
                &self.lockouts,
            ),
            (
                "latchkey_hash_shed_total",
                "Sign-ins and sign-ups shed because the hashing queue was full.",
                &self.shed,
            ),
        ];
        for (name, help, v) in counters {
            head(&mut o, name, "counter", help);
            let _ = writeln!(o, "{name} {}", v.load(Ordering::Relaxed));
        }
        let gauges = [
            (
                "latchkey_hash_queue_depth",
                "Sign-ins and sign-ups waiting for a hashing thread.",
                g.hash_queue,
            ),
            (
                "latchkey_store_size_bytes",
                "Size of the store file.",
                g.store_bytes,
            ),
            ("latchkey_users", "Users in the store.", g.users),
            (
                "latchkey_token_cache_entries",
                "Verified access tokens cached.",
                g.token_cache,
            ),
        ];
        for (name, help, v) in gauges {
            head(&mut o, name, "gauge", help);
            let _ = writeln!(o, "{name} {v}");
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.request("oauth", "token", 200, 0.003);
        m.request("oauth", "token", 200, 0.2);
        m.sign_in("pwd", "ok");
        m.revoked("reuse");
        let t = m.render(Gauges {
            hash_queue: 3,
            ..Gauges::default()
        });
        assert!(t.contains(
            "latchkey_requests_total{family=\"oauth\",route=\"token\",status=\"200\"} 2"
        ));
        assert!(t.contains("latchkey_request_duration_seconds_bucket{family=\"oauth\",route=\"token\",le=\"0.005\"} 1"));
        assert!(t.contains("latchkey_request_duration_seconds_bucket{family=\"oauth\",route=\"token\",le=\"+Inf\"} 2"));
        assert!(t.contains("latchkey_sign_ins_total{method=\"pwd\",result=\"ok\"} 1"));
        assert!(t.contains("latchkey_family_revocations_total{cause=\"reuse\"} 1"));
        assert!(t.contains("latchkey_hash_queue_depth 3"));
    }
}
