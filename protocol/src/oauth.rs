//! Family `oauth` (seed 001): OAuth2-style password grant, mounted at `/` by default.
//!
//! `POST /users` signs up; `POST /auth/token` speaks both the seed's JSON dialect and
//! RFC 6749 form encoding (password and refresh_token grants, client authentication by
//! HTTP Basic); `POST /auth/refresh-token` is the seed's client-less refresh;
//! `GET /users/me` is the bearer-authenticated call. Errors follow RFC 6749 §5.2.

use http::{header, HeaderValue, Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

use crate::doc::{ns, obj, s, RouteDoc};
use crate::input::{
    canonical_username, parse_form, parse_json, valid_email, BodyKind, Ctx, Request,
};
use crate::ops::{
    Failure, NewUser, Operation, Outcome, SecondFactor, Secret, Tokens, Transport, UserOp, UserView,
};
use crate::reply::{rfc3339_ms, Reply};
use crate::table::{Call, Family, Render, Route};

/// The family's entry for the adapter table.
pub static FAMILY: Family = Family {
    name: "oauth",
    default_mount: "/",
    routes: ROUTES,
    reject: error,
    error_schema: || obj(&["error"], json!({"error": s(), "error_description": s()})),
};

static ROUTES: &[Route] = &[
    Route {
        method: Method::POST,
        path: "/users",
        name: "signup",
        credential: true,
        decode: signup,
        doc: || {
            RouteDoc::new(
                "Create an account",
                Some(obj(
                    &["email", "password", "user_name"],
                    json!({"email": s(), "password": s(), "user_name": s(), "role": s()}),
                )),
                None,
                (201, Some(user_schema())),
            )
        },
    },
    Route {
        method: Method::POST,
        path: "/auth/token",
        name: "token",
        credential: true,
        decode: token,
        doc: || RouteDoc {
            summary: "Password or refresh_token grant (seed JSON or RFC 6749 form)",
            json: Some(obj(
                &["grant_type"],
                json!({"grant_type": s(), "user_name": s(), "password": s(), "refresh_token": s(), "mfa_code": s()}),
            )),
            form: Some(obj(
                &["grant_type"],
                json!({"grant_type": s(), "username": s(), "password": s(), "refresh_token": s(), "scope": s(), "mfa_code": s()}),
            )),
            query: &[],
            auth: Some("basic"),
            ok: (
                200,
                Some(json!({"oneOf": [seed_token_schema(), rfc_token_schema()]})),
            ),
        },
    },
    Route {
        method: Method::POST,
        path: "/auth/refresh-token",
        name: "refresh",
        credential: true,
        decode: refresh,
        doc: || {
            RouteDoc::new(
                "Rotate a refresh token",
                Some(obj(&["refresh_token"], json!({"refresh_token": s()}))),
                None,
                (200, Some(seed_token_schema())),
            )
        },
    },
    Route {
        method: Method::GET,
        path: "/users/me",
        name: "me",
        credential: false,
        decode: |req| {
            Ok(Call::new(
                Operation::as_user(req.bearer(), UserOp::CurrentUser),
                render_user,
            ))
        },
        doc: || {
            RouteDoc::new(
                "The current user",
                None,
                Some("bearer"),
                (200, Some(user_schema())),
            )
        },
    },
    Route {
        method: Method::POST,
        path: "/oauth/introspect",
        name: "introspect",
        credential: true,
        decode: |req| {
            let (client, token, hint) = token_form(req)?;
            Ok(Call::new(
                Operation::Introspect {
                    token,
                    hint,
                    client,
                },
                render_introspection,
            ))
        },
        doc: || RouteDoc {
            summary: "RFC 7662 token introspection",
            json: None,
            form: Some(obj(
                &["token"],
                json!({"token": s(), "token_type_hint": s()}),
            )),
            query: &[],
            auth: Some("basic"),
            ok: (
                200,
                Some(obj(&["active"], json!({"active": {"type": "boolean"}}))),
            ),
        },
    },
    Route {
        method: Method::POST,
        path: "/oauth/revoke",
        name: "revoke",
        credential: true,
        decode: |req| {
            let (client, token, _) = token_form(req)?;
            Ok(Call::new(Operation::Revoke { token, client }, |_, _| {
                Reply::empty(StatusCode::OK).no_store()
            }))
        },
        doc: || RouteDoc {
            summary: "RFC 7009 token revocation",
            json: None,
            form: Some(obj(
                &["token"],
                json!({"token": s(), "token_type_hint": s()}),
            )),
            query: &[],
            auth: Some("basic"),
            ok: (200, None),
        },
    },
];

fn user_schema() -> serde_json::Value {
    obj(
        &["id", "created_at", "updated_at", "role"],
        json!({"id": s(), "created_at": s(), "updated_at": s(), "user_name": ns(), "email": ns(), "role": s()}),
    )
}

fn seed_token_schema() -> serde_json::Value {
    obj(
        &[
            "access_token",
            "refresh_token",
            "token_type",
            "expires_in",
            "expires_at",
            "_id",
        ],
        json!({"created_at": s(), "updated_at": s(), "access_token": s(), "expires_at": s(), "expires_in": {"type": "integer"},
               "refresh_token": s(), "token_type": s(), "user_name": ns(), "_id": s()}),
    )
}

fn rfc_token_schema() -> serde_json::Value {
    obj(
        &["access_token", "token_type", "expires_in", "refresh_token"],
        json!({"access_token": s(), "token_type": s(), "expires_in": {"type": "integer"}, "refresh_token": s()}),
    )
}

fn invalid_request(description: impl Into<String>) -> Reply {
    Reply::json(
        StatusCode::BAD_REQUEST,
        &json!({"error": "invalid_request", "error_description": description.into()}),
    )
    .no_store()
}

fn invalid_client() -> Reply {
    Reply::json(
        StatusCode::UNAUTHORIZED,
        &json!({"error": "invalid_client", "error_description": "client authentication failed"}),
    )
    .with(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Basic realm="latchkey""#),
    )
    .no_store()
}

fn required(v: Option<String>, name: &str) -> Result<String, Reply> {
    match v {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(invalid_request(format!("`{name}` is required"))),
    }
}

#[derive(Deserialize)]
struct SignUpBody {
    email: Option<String>,
    password: Option<String>,
    role: Option<String>,
    user_name: Option<String>,
}

#[derive(Deserialize)]
struct TokenBody {
    grant_type: Option<String>,
    #[serde(alias = "username")]
    user_name: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
    mfa_code: Option<String>,
}

#[derive(Deserialize)]
struct RefreshBody {
    refresh_token: Option<String>,
}

fn signup(req: &Request) -> Result<Call, Reply> {
    let b: SignUpBody = req.json().map_err(invalid_request)?;
    let email = required(b.email, "email")?;
    if !valid_email(&email) {
        return Err(invalid_request("`email` is not a valid email address"));
    }
    let user_name = canonical_username(&required(b.user_name, "user_name")?).ok_or_else(|| {
        invalid_request(
            "`user_name` must be 1 to 64 characters without `@`, spaces, controls or invisible characters",
        )
    })?;
    let password = required(b.password, "password")?;
    let role = match b.role {
        Some(r) if r.is_empty() => return Err(invalid_request("`role` is empty")),
        r => r,
    };
    Ok(Call::new(
        Operation::SignUp {
            user: NewUser {
                email: Some(email),
                username: Some(user_name),
                password: Some(Secret(password)),
                role,
                ..NewUser::default()
            },
            sign_in: false,
        },
        |_, o| match o {
            Outcome::User(u) => Reply::json(StatusCode::CREATED, &user_json(&u)),
            _ => unexpected(),
        },
    ))
}

fn token(req: &Request) -> Result<Call, Reply> {
    let client = req.basic().ok_or_else(invalid_client)?;
    let (body, render): (TokenBody, Render) = match req.body_kind() {
        BodyKind::Json => (
            parse_json::<TokenBody>(req.body).map_err(invalid_request)?,
            render_seed_token,
        ),
        BodyKind::Form => {
            let mut f = parse_form(req.body).map_err(invalid_request)?;
            let body = TokenBody {
                grant_type: f.remove("grant_type"),
                user_name: f.remove("username"),
                password: f.remove("password"),
                refresh_token: f.remove("refresh_token"),
                mfa_code: f.remove("mfa_code"),
            };
            (body, render_rfc_token)
        }
        BodyKind::Missing => return Err(invalid_request("a Content-Type is required")),
        BodyKind::Other => {
            return Err(invalid_request(
                "send application/x-www-form-urlencoded or application/json",
            ))
        }
    };
    let op = match required(body.grant_type, "grant_type")?.as_str() {
        "password" => {
            let login_field = if req.body_kind() == BodyKind::Form {
                "username"
            } else {
                "user_name"
            };
            Operation::PasswordSignIn {
                login: required(body.user_name, login_field)?,
                password: Secret(required(body.password, "password")?),
                client: Some(client),
                activate: false,
                second: SecondFactor::Inline(body.mfa_code.filter(|c| !c.trim().is_empty())),
            }
        }
        "refresh_token" => Operation::Refresh {
            refresh_token: required(body.refresh_token, "refresh_token")?,
            client: Some(client),
        },
        _ => {
            return Err(Reply::json(
                StatusCode::BAD_REQUEST,
                &json!({"error": "unsupported_grant_type"}),
            )
            .no_store())
        }
    };
    Ok(Call::new(op, render))
}

fn refresh(req: &Request) -> Result<Call, Reply> {
    // The seed's own example posts JSON with curl's default form Content-Type, so a JSON
    // document is accepted whatever the declared type, and a form too.
    let body: RefreshBody = match req.body_kind() {
        BodyKind::Form if !req.body.starts_with(b"{") => {
            let mut f = parse_form(req.body).map_err(invalid_request)?;
            RefreshBody {
                refresh_token: f.remove("refresh_token"),
            }
        }
        BodyKind::Missing if req.body.is_empty() => {
            return Err(invalid_request("`refresh_token` is required"))
        }
        _ => parse_json(req.body).map_err(invalid_request)?,
    };
    Ok(Call::new(
        Operation::Refresh {
            refresh_token: required(body.refresh_token, "refresh_token")?,
            client: None,
        },
        render_seed_token,
    ))
}

/// RFC 7662 §2.1 / RFC 7009 §2.1: a form body, client authentication required.
fn token_form(
    req: &Request,
) -> Result<(crate::ops::ClientCredentials, String, Option<String>), Reply> {
    let client = req.basic().ok_or_else(invalid_client)?;
    if req.body_kind() != BodyKind::Form {
        return Err(invalid_request("send application/x-www-form-urlencoded"));
    }
    let mut f = parse_form(req.body).map_err(invalid_request)?;
    let token = required(f.remove("token"), "token")?;
    Ok((client, token, f.remove("token_type_hint")))
}

fn user_json(u: &UserView) -> serde_json::Value {
    json!({
        "id": u.id,
        "created_at": rfc3339_ms(u.created_at),
        "updated_at": rfc3339_ms(u.updated_at),
        "user_name": u.username,
        "email": u.email,
        "role": u.role,
    })
}

fn seed_tokens(t: &Tokens) -> serde_json::Value {
    json!({
        "created_at": rfc3339_ms(t.family_created_at),
        "updated_at": rfc3339_ms(t.issued_at),
        "access_token": t.access_token,
        "expires_at": rfc3339_ms(t.expires_at),
        "expires_in": t.expires_in,
        "refresh_token": t.refresh_token,
        "token_type": "Bearer",
        "user_name": t.user.username.as_ref().or(t.user.email.as_ref()),
        "_id": t.family_id,
    })
}

fn rfc_tokens(t: &Tokens) -> serde_json::Value {
    json!({
        "access_token": t.access_token,
        "token_type": "Bearer",
        "expires_in": t.expires_in,
        "refresh_token": t.refresh_token,
    })
}

fn introspection(i: Option<&crate::ops::Introspection>) -> serde_json::Value {
    match i {
        None => json!({"active": false}),
        Some(i) => json!({
            "active": true,
            "token_type": i.token_type,
            "sub": i.sub,
            "username": i.username,
            "sid": i.sid,
            "exp": i.exp,
            "iat": i.iat,
            "iss": i.iss,
            "jti": i.jti,
            "role": i.role,
            "amr": i.amr,
            "groups": i.groups,
            "client_id": i.client_id,
        }),
    }
}

/// An outcome this family's routes never ask for: an internal error.
fn unexpected() -> Reply {
    error(Failure::Transport(Transport::Internal))
}

fn render_user(_: &Ctx, o: Outcome) -> Reply {
    match o {
        Outcome::User(u) => Reply::json(StatusCode::OK, &user_json(&u)),
        _ => unexpected(),
    }
}

fn render_seed_token(_: &Ctx, o: Outcome) -> Reply {
    match o {
        Outcome::Tokens(t) => Reply::json(StatusCode::OK, &seed_tokens(&t)).no_store(),
        _ => unexpected(),
    }
}

fn render_rfc_token(_: &Ctx, o: Outcome) -> Reply {
    match o {
        Outcome::Tokens(t) => Reply::json(StatusCode::OK, &rfc_tokens(&t)).no_store(),
        _ => unexpected(),
    }
}

fn render_introspection(_: &Ctx, o: Outcome) -> Reply {
    match o {
        Outcome::Introspection(i) => {
            Reply::json(StatusCode::OK, &introspection(i.as_deref())).no_store()
        }
        _ => unexpected(),
    }
}

/// Every failure in this family's format (RFC 6749 §5.2 for the token routes, RFC 6750
/// §3 for the bearer-authenticated one).
fn error(f: Failure) -> Reply {
    let e = |status: StatusCode, code: &str, description: &str| {
        Reply::json(
            status,
            &json!({"error": code, "error_description": description}),
        )
        .no_store()
    };
    match f {
        Failure::WeakPassword => e(
            StatusCode::BAD_REQUEST,
            "weak_password",
            "the password is too weak",
        ),
        Failure::EmailTaken | Failure::UsernameTaken => e(
            StatusCode::CONFLICT,
            "user_exists",
            "user_name or email already taken",
        ),
        Failure::RoleNotAllowed => e(
            StatusCode::FORBIDDEN,
            "role_not_allowed",
            "this role cannot be chosen at sign-up",
        ),
        Failure::InvalidClient => invalid_client(),
        Failure::InvalidCredentials => e(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "invalid user_name or password",
        ),
        Failure::Disabled => e(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the account is disabled",
        ),
        Failure::Blocked => e(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the account is blocked",
        ),
        Failure::Unverified => e(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the account is not activated yet",
        ),
        Failure::RefreshInvalid => e(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "invalid refresh token",
        ),
        Failure::RefreshExpired => e(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "expired refresh token",
        ),
        Failure::MissingToken => e(
            StatusCode::UNAUTHORIZED,
            "missing_token",
            "a bearer token is required",
        )
        .bearer_challenge(false),
        Failure::TokenInvalid => e(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "invalid access token",
        )
        .bearer_challenge(true),
        Failure::TokenExpired => e(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the access token expired",
        )
        .bearer_challenge(true),
        Failure::LockedOut { retry_after } => e(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "too many failed sign-ins; try later",
        )
        .retry_after(retry_after),
        Failure::Transport(Transport::RateLimited { retry_after }) => e(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests; try later",
        )
        .retry_after(retry_after),
        Failure::Transport(Transport::Overloaded { retry_after }) => e(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the server is busy; try later",
        )
        .retry_after(retry_after),
        Failure::Transport(Transport::PayloadTooLarge) => e(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "request body too large",
        ),
        Failure::Transport(Transport::Timeout) => e(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the request took too long",
        )
        .retry_after(1),
        Failure::InvalidEmail => e(StatusCode::BAD_REQUEST, "invalid_request", "invalid email"),
        Failure::InvalidField(fe) => e(StatusCode::BAD_REQUEST, "invalid_request", &fe.to_string()),
        Failure::MailUnavailable => e(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "mail server unavailable",
        ),
        Failure::MfaRequired => e(
            StatusCode::UNAUTHORIZED,
            "mfa_required",
            "this account has a second factor: send mfa_code (a TOTP or recovery code) with the password",
        ),
        Failure::InvalidMfaCode => e(
            StatusCode::UNAUTHORIZED,
            "invalid_mfa_code",
            "the TOTP or recovery code is wrong or was used already",
        ),
        Failure::Transport(Transport::Internal) => e(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal error",
        ),
        // What the family's routes never cause (the session family's codes, passkeys),
        // and any failure added later: the dialect's default.
        _ => e(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "not supported here",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Bearer;
    use crate::testing::{ctx, tokens, user};
    use http::HeaderMap;

    fn req<'a>(
        method: &'a Method,
        path: &'a str,
        headers: &'a HeaderMap,
        body: &'a [u8],
    ) -> Request<'a> {
        static CTX: std::sync::OnceLock<Ctx> = std::sync::OnceLock::new();
        let ctx = CTX.get_or_init(|| Ctx {
            base_url: "http://x".into(),
            min_password_length: 8,
        });
        Request {
            ctx,
            method,
            path,
            query: None,
            headers,
            body,
        }
    }

    fn route(name: &str) -> &'static Route {
        ROUTES.iter().find(|r| r.name == name).unwrap()
    }

    #[test]
    fn every_error_carries_a_description() {
        for f in crate::testing::every_failure() {
            let r = error(f);
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            assert!(v["error"].is_string(), "{f:?}: {v}");
            assert!(v["error_description"].is_string(), "{f:?}: {v}");
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn body_json(r: &Reply) -> serde_json::Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    const BASIC: &str = "Basic d2ViOmNoYW5nZS1tZQ=="; // web:change-me

    #[test]
    fn signup_fields() {
        let h = headers(&[("content-type", "application/json")]);
        let ok = br#"{"email":"a@example.com","password":"pw","user_name":"a","role":"manager"}"#;
        let c = (route("signup").decode)(&req(&Method::POST, "/users", &h, ok)).unwrap();
        let r = c.answer.reply(&FAMILY, &ctx(), Ok(Outcome::User(user())));
        assert_eq!(r.status, StatusCode::CREATED);
        let bad = br#"{"email":"nope","password":"pw","user_name":"a"}"#;
        let r = (route("signup").decode)(&req(&Method::POST, "/users", &h, bad)).unwrap_err();
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(body_json(&r)["error"], "invalid_request");
        let dup =
            br#"{"email":"a@example.com","email":"b@example.com","password":"pw","user_name":"a"}"#;
        assert!((route("signup").decode)(&req(&Method::POST, "/users", &h, dup)).is_err());
        let none = HeaderMap::new();
        assert!((route("signup").decode)(&req(&Method::POST, "/users", &none, ok)).is_err());
    }

    #[test]
    fn token_dialects() {
        let json_h = headers(&[
            ("content-type", "application/json"),
            ("authorization", BASIC),
        ]);
        let c = (route("token").decode)(&req(
            &Method::POST,
            "/auth/token",
            &json_h,
            br#"{"grant_type":"password","user_name":"a","password":"p"}"#,
        ))
        .unwrap();
        let r = c.answer.reply(&FAMILY, &ctx(), Ok(tokens()));
        assert_eq!(body_json(&r)["_id"], "fam", "the seed's shape");
        assert!(matches!(c.op, Operation::PasswordSignIn { ref login, .. } if login == "a"));

        let form_h = headers(&[
            ("content-type", "application/x-www-form-urlencoded"),
            ("authorization", BASIC),
        ]);
        let c = (route("token").decode)(&req(
            &Method::POST,
            "/auth/token",
            &form_h,
            b"grant_type=refresh_token&refresh_token=abc",
        ))
        .unwrap();
        let r = c.answer.reply(&FAMILY, &ctx(), Ok(tokens()));
        assert!(body_json(&r).get("_id").is_none(), "RFC 6749's shape");
        assert_eq!(body_json(&r)["token_type"], "Bearer");
        assert!(
            matches!(c.op, Operation::Refresh { ref refresh_token, client: Some(_) } if refresh_token == "abc")
        );

        let r = (route("token").decode)(&req(
            &Method::POST,
            "/auth/token",
            &form_h,
            b"grant_type=client_credentials",
        ))
        .unwrap_err();
        assert_eq!(body_json(&r)["error"], "unsupported_grant_type");
        let r = (route("token").decode)(&req(
            &Method::POST,
            "/auth/token",
            &form_h,
            b"grant_type=password&username=a",
        ))
        .unwrap_err();
        assert_eq!(body_json(&r)["error"], "invalid_request");

        let no_client = headers(&[("content-type", "application/x-www-form-urlencoded")]);
        let r = (route("token").decode)(&req(
            &Method::POST,
            "/auth/token",
            &no_client,
            b"grant_type=password",
        ))
        .unwrap_err();
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.headers.iter().any(|(k, _)| k == header::WWW_AUTHENTICATE));
    }

    #[test]
    fn refresh_accepts_the_seeds_curl() {
        // curl -d '{"refresh_token": "x"}' sends form Content-Type with a JSON body.
        let h = headers(&[("content-type", "application/x-www-form-urlencoded")]);
        let c = (route("refresh").decode)(&req(
            &Method::POST,
            "/auth/refresh-token",
            &h,
            br#"{"refresh_token": "x"}"#,
        ))
        .unwrap();
        assert!(
            matches!(c.op, Operation::Refresh { ref refresh_token, client: None } if refresh_token == "x")
        );
        let r = (route("refresh").decode)(&req(&Method::POST, "/auth/refresh-token", &h, b"{}"))
            .unwrap_err();
        assert_eq!(body_json(&r)["error"], "invalid_request");
    }

    #[test]
    fn me_and_errors() {
        let h = HeaderMap::new();
        let c = (route("me").decode)(&req(&Method::GET, "/users/me", &h, b"")).unwrap();
        assert_eq!(
            c.op,
            Operation::as_user(Bearer::Missing, UserOp::CurrentUser)
        );
        let r = c.answer.reply(&FAMILY, &ctx(), Err(Failure::MissingToken));
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let r = c.answer.reply(&FAMILY, &ctx(), Err(Failure::TokenInvalid));
        let www = r
            .headers
            .iter()
            .find(|(k, _)| k == header::WWW_AUTHENTICATE)
            .unwrap();
        assert!(www.1.to_str().unwrap().contains("invalid_token"));
        for (f, description) in [
            (Failure::TokenExpired, "the access token expired"),
            (Failure::RefreshExpired, "expired refresh token"),
        ] {
            assert_eq!(body_json(&error(f))["error_description"], description);
        }
        let r = c.answer.reply(
            &FAMILY,
            &ctx(),
            Err(Failure::Transport(Transport::RateLimited {
                retry_after: 7,
            })),
        );
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(r
            .headers
            .iter()
            .any(|(k, v)| k == header::RETRY_AFTER && v == "7"));
    }
}
