//! The service's components, each with the state it needs and the methods over it: the
//! [`Tokens`] (signing and verifying access tokens), the [`Guards`] of credential checks
//! (the password hasher, lockouts, per-source buckets, client secrets) and the
//! [`Outgoing`] mail (the mailer and its quotas). The service (`Service`) holds one of
//! each beside the store, the configuration, the server key and the clock.

use crate::clock::UnixMillis;
use std::sync::Arc;

use protocol::{Bearer, ClientCredentials, Failure, Transport};
use storage::UserRecord;

use super::{internal, secs_i64, seen::Seen};
use crate::config::Checked;
use crate::limits::{IpBuckets, Lockouts, Quota, Source};
use crate::mail::{MailError, Mailer, Purpose};
use crate::password::Hasher;
use crate::primitives::{b64url, random_bytes, sha256};
use crate::signer::keys::KeyRing;
use crate::signer::{Claims, VerifyError};

/// Access tokens: the key ring that signs and verifies them, and, on a shared store,
/// what bearer checks read.
pub(super) struct Tokens {
    pub(super) keys: KeyRing,
    issuer: String,
    access_ttl: std::time::Duration,
    /// What bearer checks read, while the store has not changed (see `seen`).
    pub(super) seen: Arc<Seen>,
    /// Woken when another server changed the signing keys.
    pub(super) changed: Arc<tokio::sync::Notify>,
}

impl Tokens {
    pub(super) fn new(cfg: &Checked, keys: KeyRing, seen: Arc<Seen>) -> Tokens {
        Tokens {
            keys,
            issuer: cfg.tokens.issuer.clone(),
            access_ttl: cfg.tokens.access_ttl,
            seen,
            changed: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Signs an access token for `user` in family `sid`, issued at `now_ms`.
    pub(super) fn sign(
        &self,
        user: &UserRecord,
        sid: &str,
        amr: &[String],
        now_ms: UnixMillis,
    ) -> Result<(String, Claims), Failure> {
        let now = now_ms.secs();
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: user.id.clone(),
            iat: now,
            exp: now.saturating_add(secs_i64(self.access_ttl)),
            nbf: None,
            jti: b64url(&random_bytes::<16>().map_err(|e| internal("randomness", e))?),
            sid: sid.to_owned(),
            role: user.role.clone(),
            amr: amr.to_vec(),
        };
        let token = self
            .keys
            .sign(&claims)
            .map_err(|e| internal("signing", e))?;
        Ok((token, claims))
    }

    /// Verifies an access token at `now_ms`: signature, time, issuer. The session is the
    /// caller's to check against the store.
    pub(super) fn verify(&self, bearer: Bearer, now_ms: UnixMillis) -> Result<Claims, Failure> {
        let token = match bearer {
            Bearer::Missing => return Err(Failure::MissingToken),
            Bearer::Malformed => return Err(Failure::TokenInvalid),
            Bearer::Token(t) => t,
        };
        self.keys.verify(&token, now_ms).map_err(|e| {
            tracing::debug!(reason = %e, "access token refused");
            match e {
                VerifyError::Expired => Failure::TokenExpired,
                _ => Failure::TokenInvalid,
            }
        })
    }
}

/// The guards of credential checks.
pub(super) struct Guards {
    pub(super) hasher: Hasher,
    pub(super) lockouts: Lockouts,
    ip_buckets: IpBuckets,
    /// SHA-256 of each `[oauth]` client's secret, by client id.
    clients: Vec<(String, [u8; 32])>,
    /// SHA-256 of each OpenID Connect client's secret (confidential clients), by id.
    oidc_clients: Vec<(String, [u8; 32])>,
}

impl Guards {
    pub(super) fn new(cfg: &Checked, hasher: Hasher, lockouts: Lockouts) -> Guards {
        Guards {
            hasher,
            lockouts,
            ip_buckets: IpBuckets::new(cfg.limits.per_ip_per_minute),
            clients: cfg
                .oauth
                .clients
                .iter()
                .map(|c| (c.id.clone(), sha256(c.secret.as_bytes())))
                .collect(),
            oidc_clients: cfg
                .oidc_clients
                .iter()
                .filter_map(|c| c.secret_hash.map(|h| (c.id.clone(), h)))
                .collect(),
        }
    }

    /// Takes one request of `source` from its bucket (credential routes), or says how
    /// many seconds to wait.
    pub(super) fn rate_limit(&self, source: Source, now: UnixMillis) -> Result<(), Failure> {
        self.ip_buckets
            .take(source, now)
            .map_err(|retry_after| Failure::Transport(Transport::RateLimited { retry_after }))
    }

    /// Checks client credentials in constant time (over every configured client): an
    /// `[oauth]` client's; with `or_oidc` (introspection, revocation), also an OpenID
    /// Connect client's that has a secret.
    pub(super) fn check_client(&self, c: &ClientCredentials, or_oidc: bool) -> Result<(), Failure> {
        use subtle::ConstantTimeEq as _;
        // The decoded secret and the one as sent (the same when decoding changed nothing).
        let given = sha256(c.secret.0.as_bytes());
        let raw = c
            .raw_secret
            .as_ref()
            .map_or(given, |r| sha256(r.0.as_bytes()));
        let want = sha256(c.id.as_bytes());
        let mut ok = subtle::Choice::from(0u8);
        let oidc: &[(String, [u8; 32])] = if or_oidc { &self.oidc_clients } else { &[] };
        for (id, secret) in self.clients.iter().chain(oidc) {
            let id_eq = sha256(id.as_bytes()).ct_eq(&want);
            ok |= id_eq & (secret.ct_eq(&given) | secret.ct_eq(&raw));
        }
        if bool::from(ok) {
            Ok(())
        } else {
            Err(Failure::InvalidClient)
        }
    }
}

/// Outgoing mail: the mailer, and the codes mailed per hour (per address and source,
/// per address from every source, per source over every address).
pub(super) struct Outgoing {
    mailer: Mailer,
    pair: Quota,
    address: Quota,
    source: Quota,
    metrics: Arc<crate::metrics::Metrics>,
}

impl Outgoing {
    pub(super) fn new(
        cfg: &Checked,
        mailer: Mailer,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Outgoing {
        let per_hour = cfg.limits.mails_per_hour;
        let hour = std::time::Duration::from_secs(3600);
        Outgoing {
            mailer,
            pair: Quota::new(per_hour, hour),
            address: Quota::new(per_hour.saturating_mul(4), hour),
            source: Quota::new(per_hour.saturating_mul(20), hour),
            metrics,
        }
    }

    /// Takes one mail from the quotas of `email` for `source` at `now` (sources the
    /// account knows, `known`, are exempt from the per-address quota over every source).
    pub(super) fn take_quota(
        &self,
        email: &str,
        source: Source,
        known: bool,
        now: UnixMillis,
    ) -> Result<(), Failure> {
        let address = quota_address(email);
        let pair = format!("{address}|{source:?}");
        let source_key = format!("{source:?}");
        let limited = |retry_after| Failure::Transport(Transport::RateLimited { retry_after });
        self.pair.check(&pair, now).map_err(limited)?;
        if !known {
            self.address.check(&address, now).map_err(limited)?;
        }
        self.source.check(&source_key, now).map_err(limited)?;
        self.pair.take(&pair, now).map_err(limited)?;
        if !known {
            self.address.take(&address, now).map_err(limited)?;
        }
        self.source.take(&source_key, now).map_err(limited)
    }

    /// Sends `purpose` to `to`.
    pub(super) async fn send(
        &self,
        to: &str,
        purpose: Purpose<'_>,
        lang: crate::i18n::Lang,
    ) -> Result<(), Failure> {
        match self.mailer.send(to, purpose, lang).await {
            Ok(()) => {
                self.metrics.mail(true);
                Ok(())
            }
            Err(e) => {
                self.metrics.mail(false);
                tracing::warn!(error = %e, "mail not sent");
                Err(match e {
                    MailError::Refused(_) => Failure::InvalidEmail,
                    MailError::Unavailable(_) => Failure::MailUnavailable,
                })
            }
        }
    }
}

/// The address a mail quota counts: lowercased, without a `+tag` in the local part
/// (`ann+1@x.org` and `Ann+2@x.org` are one mailbox).
pub fn quota_address(email: &str) -> String {
    let lower = email.to_ascii_lowercase();
    match lower.rsplit_once('@') {
        Some((local, domain)) => {
            let local = local.split('+').next().unwrap_or(local);
            format!("{local}@{domain}")
        }
        None => lower,
    }
}
