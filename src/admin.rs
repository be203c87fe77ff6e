//! The admin API, on its own listener (`admin.listen`), behind `Authorization: Bearer
//! <admin.token>`; off when the token is empty. Every route is a thin wrapper around the
//! service's `admin_*` operations, which the command line also calls directly.
//!
//! ```text
//! GET    /admin/users[?after=<num>&limit=<n>]    list, in the order users were made
//! POST   /admin/users  {"email","username","password","role",...}   create
//! GET    /admin/users/{key}                      show (key: id, number, email or username)
//! POST   /admin/users/{key}/disable|enable|block|unblock
//! POST   /admin/users/{key}/password  {"password"}  set it; every session is revoked
//! POST   /admin/users/{key}/role  {"role"}        set it
//! POST   /admin/users/{key}/reset-mfa             remove TOTP and recovery codes
//! GET    /admin/users/{key}/passkeys              the user's passkeys
//! DELETE /admin/users/{key}/passkeys/{id}         remove one (even the last)
//! DELETE /admin/users/{key}
//! GET    /admin/groups                           groups, with how many members
//! POST   /admin/groups  {"name","description"?}  create (409 group_exists)
//! GET    /admin/groups/{name}                    one, with its members
//! DELETE /admin/groups/{name}                    delete (every membership with it)
//! PUT    /admin/groups/{name}/members/{key}      add a user (idempotent)
//! DELETE /admin/groups/{name}/members/{key}      remove a user
//! GET    /admin/keys                             signing keys and their state
//! GET    /admin/stats                            users, families, session codes, store bytes
//! GET    /metrics                                Prometheus text format
//! POST   /admin/keys/rotate                      new signing key
//! POST   /admin/keys/{kid}/revoke                that key, at once (its tokens fail)
//! POST   /admin/tokens/inspect  {"token": ...}   verify a token, say why it is refused
//! POST   /admin/backup  {"path": "/abs/file"}    a consistent copy of the store (new file)
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use protocol::{Failure, Reply, Transport};
use serde_json::{json, Value};

use storage::StoreError;

use crate::service::admin::{AdminError, StateChange};
use crate::service::groups;
use crate::service::Service;

/// The admin API's state.
#[derive(Debug)]
pub struct Admin {
    service: Service,
    token_hash: [u8; 32],
}

impl Admin {
    /// The admin API over `service`, or `None` when `admin.token` is empty (off).
    pub fn new(service: Service) -> Option<Admin> {
        let token_hash =
            crate::primitives::sha256(service.config().admin.token.as_ref()?.as_bytes());
        Some(Admin {
            token_hash,
            service,
        })
    }

    fn authorized(&self, req: &Request<Incoming>) -> bool {
        use subtle::ConstantTimeEq as _;
        match protocol::input::parse_bearer(req.headers()) {
            protocol::Bearer::Token(t) => {
                bool::from(crate::primitives::sha256(t.as_bytes()).ct_eq(&self.token_hash))
            }
            _ => false,
        }
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Reply {
    Reply::json(status, &json!({"error": code, "message": message}))
}

fn admin_error(e: AdminError) -> Reply {
    match e {
        AdminError::NotFound => error(StatusCode::NOT_FOUND, "user_not_found", &e.to_string()),
        AdminError::Ambiguous => error(
            StatusCode::CONFLICT,
            "ambiguous_key",
            "that key names several users: say which with id:, num:, email: or username:",
        ),
        AdminError::NoSuchKey => error(
            StatusCode::NOT_FOUND,
            "key_not_found",
            "no signing key with that id",
        ),
        AdminError::NoSuchPasskey => error(
            StatusCode::NOT_FOUND,
            "passkey_not_found",
            "the user has no passkey with that id",
        ),
        AdminError::NoSuchGroup => error(StatusCode::NOT_FOUND, "group_not_found", &e.to_string()),
        AdminError::GroupExists => error(StatusCode::CONFLICT, "group_exists", &e.to_string()),
        AdminError::InvalidGroupName => error(
            StatusCode::BAD_REQUEST,
            "invalid_group_name",
            &e.to_string(),
        ),
        AdminError::Conflict(m) => error(StatusCode::CONFLICT, "conflict", m),
        AdminError::BadRequest(m) => error(StatusCode::BAD_REQUEST, "bad_request", &m),
        AdminError::Store(e @ StoreError::Exists(_)) => {
            error(StatusCode::CONFLICT, "file_exists", &e.to_string())
        }
        AdminError::Store(e @ StoreError::File { .. }) => {
            error(StatusCode::BAD_REQUEST, "bad_path", &e.to_string())
        }
        AdminError::Hash(crate::password::HashError::Overloaded) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "the password hashing queue is full; try again",
        ),
        e @ (AdminError::Store(_)
        | AdminError::Keys(_)
        | AdminError::Thread(_)
        | AdminError::Hash(_)
        | AdminError::Randomness(_)) => {
            tracing::error!(error = %e, "admin operation failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "internal error",
            )
        }
    }
}

fn ok(v: Result<Value, AdminError>) -> Reply {
    match v {
        Ok(v) => Reply::json(StatusCode::OK, &v).no_store(),
        Err(e) => admin_error(e),
    }
}

fn no_content(v: Result<Value, AdminError>) -> Reply {
    match v {
        Ok(_) => Reply::empty(StatusCode::NO_CONTENT),
        Err(e) => admin_error(e),
    }
}

fn created(v: Result<Value, AdminError>) -> Reply {
    match v {
        Ok(v) => Reply::json(StatusCode::CREATED, &v).no_store(),
        Err(e) => admin_error(e),
    }
}

/// The member `name` of a JSON object body, of type `T`.
fn member<T: serde::de::DeserializeOwned>(body: &[u8], name: &str) -> Option<T> {
    let mut v: Value = serde_json::from_slice(body).ok()?;
    serde_json::from_value(v.get_mut(name)?.take()).ok()
}

fn decode_segment(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The largest body the admin API reads.
const MAX_BODY: u64 = 64 * 1024;

async fn route(admin: Arc<Admin>, req: Request<Incoming>, peer: SocketAddr) -> Reply {
    if !admin.authorized(&req) {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid admin bearer token is required",
        )
        .with(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer realm="latchkey-admin""#),
        );
    }
    let (parts, body) = req.into_parts();
    let body = match crate::http::read_body(&parts.headers, body, MAX_BODY).await {
        Ok(b) => b,
        Err(Failure::Transport(Transport::PayloadTooLarge)) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "body over 64 KiB",
            )
        }
        Err(_) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "the body did not arrive in time",
            )
        }
    };
    // What the admin API changes is recorded as `admin-api`'s, from the caller's address.
    let svc = &admin.service.at(crate::service::audit::Context::admin(
        "admin-api",
        Some(peer.ip()),
    ));
    let segments: Vec<&str> = parts
        .uri
        .path()
        .trim_start_matches('/')
        .split('/')
        .collect();
    let m = &parts.method;
    match segments.as_slice() {
        ["admin", "users"] if m == Method::GET => {
            let mut after = None;
            let mut limit = 100;
            for (k, v) in form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()) {
                let n = match v.parse::<u64>() {
                    Ok(n) => n,
                    Err(_) => {
                        return error(
                            StatusCode::BAD_REQUEST,
                            "bad_request",
                            "after and limit are numbers",
                        )
                    }
                };
                match k.as_ref() {
                    "after" => after = Some(n),
                    "limit" => limit = usize::try_from(n).unwrap_or(usize::MAX),
                    _ => {}
                }
            }
            ok(svc.reads().list_users(after, limit))
        }
        ["admin", "users"] if m == Method::POST => match serde_json::from_slice(&body) {
            Ok(new) => created(svc.admin_create(new).await),
            Err(_) => error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "send a JSON object of email, username, display_name, password, role, \
                 email_verified (an email or a username at least)",
            ),
        },
        ["admin", "users", key] if m == Method::GET => ok(svc.admin_show(&decode_segment(key))),
        ["admin", "users", key] if m == Method::DELETE => {
            ok(svc.admin_delete(&decode_segment(key)).await)
        }
        ["admin", "users", key, "passkeys"] if m == Method::GET => ok(
            crate::service::admin::passkeys_json(svc.store(), &decode_segment(key)),
        ),
        ["admin", "users", key, "passkeys", id] if m == Method::DELETE => ok(svc
            .admin_remove_passkey(&decode_segment(key), &decode_segment(id))
            .await),
        ["admin", "users", key, "reset-mfa"] if m == Method::POST => {
            ok(svc.admin_reset_mfa(&decode_segment(key)).await)
        }
        ["admin", "users", key, "password"] if m == Method::POST => {
            match member::<protocol::Secret>(&body, "password") {
                Some(p) => ok(svc.admin_set_password(&decode_segment(key), p).await),
                None => error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "send {\"password\": \"...\"}",
                ),
            }
        }
        ["admin", "users", key, "role"] if m == Method::POST => {
            match member::<String>(&body, "role") {
                Some(r) => ok(svc.admin_set_role(&decode_segment(key), r).await),
                None => error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "send {\"role\": \"...\"}",
                ),
            }
        }
        ["admin", "users", key, action] if m == Method::POST => match StateChange::parse(action) {
            Some(change) => ok(svc.admin_change(&decode_segment(key), change).await),
            None => Reply::not_found(),
        },
        ["admin", "groups"] if m == Method::GET => ok(groups::list(svc.store())),
        ["admin", "audit"] if m == Method::GET => {
            let q = parts.uri.query().unwrap_or("");
            ok(crate::service::audit::AuditArgs::from_query(q)
                .and_then(|a| crate::service::audit::query(svc.store(), &a))
                .map_err(crate::service::admin::AdminError::from))
        }
        ["admin", "webhooks"] if m == Method::GET => {
            ok(crate::webhooks::status(svc.store(), &svc.config().webhooks))
        }
        ["admin", "groups"] if m == Method::POST => {
            let name = member::<String>(&body, "name");
            let description = member::<String>(&body, "description");
            match name {
                Some(n) => created(svc.admin_group_create(n, description).await),
                None => error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "send {\"name\": \"...\", \"description\": \"...\"}",
                ),
            }
        }
        ["admin", "groups", name] if m == Method::GET => {
            ok(groups::show(svc.store(), &decode_segment(name)))
        }
        ["admin", "groups", name] if m == Method::DELETE => {
            no_content(svc.admin_group_delete(decode_segment(name)).await)
        }
        ["admin", "groups", name, "members", key] if m == Method::PUT || m == Method::DELETE => {
            let change =
                svc.admin_group_member(decode_segment(name), decode_segment(key), m == Method::PUT);
            no_content(change.await)
        }
        ["metrics"] if m == Method::GET => {
            let mut r = Reply::empty(StatusCode::OK);
            r.body = svc.metrics().render(svc.gauges()).into_bytes();
            r.with(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            )
        }
        ["admin", "keys"] if m == Method::GET => ok(svc.reads().keys()),
        ["admin", "stats"] if m == Method::GET => ok(svc.admin_stats()),
        ["admin", "keys", "rotate"] if m == Method::POST => ok(svc.admin_rotate_keys().await),
        ["admin", "keys", kid, "revoke"] if m == Method::POST => {
            ok(svc.admin_revoke_key(&decode_segment(kid)).await)
        }
        ["admin", "tokens", "inspect"] if m == Method::POST => {
            match member::<String>(&body, "token") {
                Some(t) => ok(svc.reads().inspect(&t)),
                None => error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "send {\"token\": \"...\"}",
                ),
            }
        }
        ["admin", "backup"] if m == Method::POST => match member::<String>(&body, "path") {
            Some(p) => ok(svc.admin_backup(p.into()).await),
            None => error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "send {\"path\": \"/absolute/path/of/the/new/file\"}",
            ),
        },
        ["admin", "users"] | ["admin", "groups"] => {
            Reply::method_not_allowed(&[Method::GET, Method::POST])
        }
        ["admin", "groups", _] => Reply::method_not_allowed(&[Method::GET, Method::DELETE]),
        ["admin", "groups", _, "members", _] => {
            Reply::method_not_allowed(&[Method::PUT, Method::DELETE])
        }
        ["admin", "users", _] => Reply::method_not_allowed(&[Method::GET, Method::DELETE]),
        ["admin", "users", _, _]
        | ["admin", "keys", "rotate"]
        | ["admin", "keys", _, "revoke"]
        | ["admin", "tokens", "inspect"]
        | ["admin", "backup"] => Reply::method_not_allowed(&[Method::POST]),
        ["admin", "keys"] | ["admin", "stats"] | ["metrics"] => {
            Reply::method_not_allowed(&[Method::GET])
        }
        _ => Reply::not_found(),
    }
}

/// Handles one admin request.
pub async fn handle(
    admin: Arc<Admin>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    // A backup copies the whole store; everything else is quick.
    let limit = if path == "/admin/backup" {
        Duration::from_secs(3600)
    } else {
        Duration::from_secs(60)
    };
    let reply = match crate::http::contained(Box::pin(route(admin, req, peer)), limit).await {
        Ok(r) => r,
        Err(Failure::Transport(Transport::Timeout)) => {
            error(StatusCode::SERVICE_UNAVAILABLE, "timeout", "took too long")
        }
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error",
        ),
    };
    // Admin paths carry user keys (emails): log only the route's shape.
    let shape = path.split('/').take(3).collect::<Vec<_>>().join("/");
    tracing::info!(
        target: "latchkey::admin",
        method = %method,
        route = %shape,
        status = reply.status.as_u16(),
        micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX),
    );
    Ok(crate::http::to_response(reply))
}
