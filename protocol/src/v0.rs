//! Family `v0` (seed 003): registration with field-level errors, mounted at `/api/v0` by
//! default.
//!
//! Errors are `{"error":{"<attribute>":[{"error":"<CODE>","description":"<text>"}]}}`,
//! every failing attribute at once; unexpected failures answer the seed's 500 sentence.
//! Users show their integer `id`; accounts are created unverified and activated by
//! `GET /user/verify`, which takes credentials from a JSON body, the query string or
//! `Authorization: Basic`.

use http::{Method, StatusCode};
use serde_json::{json, Map, Value};

use crate::doc::{ns, obj, s, RouteDoc};
use crate::input::{is_weak_password, parse_basic_raw, parse_form, valid_email, Request};
use crate::ops::{
    Failure, NewUser, Operation, Outcome, SecondFactor, Secret, Tokens, Transport, UserOp, UserView,
};
use crate::reply::{rfc3339_ms, Reply};
use crate::table::{Call, Family, Route};

/// The family's entry for the adapter table.
pub static FAMILY: Family = Family {
    name: "v0",
    default_mount: "/api/v0",
    routes: ROUTES,
    reject: error,
    error_schema: || obj(&["error"], json!({"error": {"type": ["object", "string"]}})),
};

static ROUTES: &[Route] = &[
    Route {
        method: Method::POST,
        path: "/user",
        name: "signup",
        credential: true,
        decode: decode_signup,
        doc: || {
            RouteDoc::new(
                "Register (unverified)",
                Some(obj(
                    &[
                        "email",
                        "first_name",
                        "last_name",
                        "password",
                        "password_confirmation",
                    ],
                    json!({"email": s(), "first_name": s(), "last_name": s(), "password": s(), "password_confirmation": s()}),
                )),
                None,
                (200, Some(obj(&["message"], json!({"message": s()})))),
            )
        },
    },
    Route {
        method: Method::GET,
        path: "/user/verify",
        name: "verify",
        credential: true,
        decode: decode_verify,
        doc: || RouteDoc {
            summary: "Verify credentials (query, body or Basic), activate, start a session",
            json: None,
            form: None,
            query: &["email", "password", "mfa_code"],
            auth: Some("basic"),
            ok: (200, Some(profile_schema(true))),
        },
    },
    Route {
        method: Method::POST,
        path: "/token",
        name: "refresh",
        credential: true,
        decode: decode_refresh,
        doc: || {
            RouteDoc::new(
                "Rotate a refresh token",
                Some(obj(&["refresh_token"], json!({"refresh_token": s()}))),
                None,
                (
                    200,
                    Some(obj(
                        &["access_token", "refresh_token", "expires_at"],
                        json!({"access_token": s(), "refresh_token": s(), "expires_at": s()}),
                    )),
                ),
            )
        },
    },
    Route {
        method: Method::GET,
        path: "/user",
        name: "profile",
        credential: false,
        decode: |req| {
            Ok(Call::new(
                Operation::as_user(req.bearer(), UserOp::CurrentUser),
                |_, o| match o {
                    Outcome::User(u) => Reply::json(StatusCode::OK, &Value::Object(profile(&u))),
                    _ => unexpected(),
                },
            ))
        },
        doc: || {
            RouteDoc::new(
                "The current user's profile",
                None,
                Some("bearer"),
                (200, Some(profile_schema(false))),
            )
        },
    },
];

fn profile_schema(tokens: bool) -> Value {
    let mut p = json!({"id": {"type": "integer"}, "email": ns(), "created_at": s(), "updated_at": s(), "activity_status": {"type": "integer"},
                       "image_url": {"type": "null"}, "user_type": {"type": "integer"}, "first_name": ns(), "last_name": ns(),
                       "birthdate": {"type": "null"}, "code_nationality": {"type": "null"}, "location": {"type": "null"}, "cv": {"type": "object"}});
    let mut req = vec!["id", "activity_status", "cv"];
    if let (true, Some(m)) = (tokens, p.as_object_mut()) {
        m.insert("access_token".into(), s());
        m.insert("refresh_token".into(), s());
        req.extend(["access_token", "refresh_token"]);
    }
    obj(&req, p)
}

/// The seed's answer to unexpected failures.
pub const INTERNAL_MESSAGE: &str =
    "Please try again later. If this error persists, we recommend to contact our support team.";

const ERR_BLANK: (&str, &str) = ("ERR_BLANK", "Attribute is blank");
const BLANK: (&str, &str) = ("blank", "Attribute is blank");
const CONFIRMATION: (&str, &str) = ("confirmation", "Attribute doesn't match password");
const ERR_INVALID: (&str, &str) = ("ERR_INVALID", "Attribute is malformed or unknown");
const ERR_TAKEN: (&str, &str) = ("ERR_TAKEN", "Attribute is taken");
const ERR_DISABLED: (&str, &str) = (
    "ERR_DISABLED",
    "The login for the given credentials is disabled",
);
const ERR_BLOCKED: (&str, &str) = ("ERR_BLOCKED", "Proceeding is restricted");
const ERR_MFA_REQUIRED: (&str, &str) = (
    "ERR_MFA_REQUIRED",
    "This account has a second factor: send mfa_code (a TOTP or recovery code)",
);
const ERR_RATE: (&str, &str) = ("ERR_RATE_LIMITED", "Too many requests, try again later");
const ERR_UNAVAILABLE: (&str, &str) = ("ERR_UNAVAILABLE", "The service is busy, try again later");
const ERR_TOO_LARGE: (&str, &str) = ("ERR_TOO_LARGE", "Request body too large");

/// Field errors, gathered in request order.
#[derive(Default)]
struct Errors(Vec<(String, (&'static str, &'static str))>);

impl Errors {
    fn add(&mut self, attribute: &str, e: (&'static str, &'static str)) {
        self.0.push((attribute.to_owned(), e));
    }

    fn reply(self, status: StatusCode) -> Reply {
        let mut map = Map::new();
        for (attr, (code, description)) in self.0 {
            let entry = map.entry(attr).or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = entry {
                list.push(json!({"error": code, "description": description}));
            }
        }
        Reply::json(status, &json!({"error": map}))
    }
}

fn one(status: StatusCode, attribute: &str, e: (&'static str, &'static str)) -> Reply {
    let mut errs = Errors::default();
    errs.add(attribute, e);
    errs.reply(status)
}

/// The request body as a JSON object, or the family's error.
fn object(req: &Request) -> Result<Map<String, Value>, Reply> {
    let bad = || one(StatusCode::BAD_REQUEST, "body", ERR_INVALID);
    if req.body_kind() != crate::input::BodyKind::Json {
        return Err(bad());
    }
    // Duplicate members are refused, as in every other family.
    crate::input::parse_json_object(req.body).map_err(|_| bad())
}

const SIGNUP_FIELDS: [&str; 5] = [
    "email",
    "first_name",
    "last_name",
    "password",
    "password_confirmation",
];

/// Reads a string attribute: `Ok(None)` when absent or null, `Err` when not a string.
fn string(body: &Map<String, Value>, key: &str) -> Result<Option<String>, ()> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(()),
    }
}

fn valid_name(s: &str) -> bool {
    crate::fields::plain_text(s, crate::fields::MAX_NAME_CHARS).is_some()
}

fn decode_signup(req: &Request) -> Result<Call, Reply> {
    let body = object(req)?;
    let mut errs = Errors::default();
    let get = |key: &str, errs: &mut Errors| match string(&body, key) {
        Ok(v) => v,
        Err(()) => {
            errs.add(key, ERR_INVALID);
            None
        }
    };
    let email = get("email", &mut errs);
    let first = get("first_name", &mut errs);
    let last = get("last_name", &mut errs);
    let password = get("password", &mut errs);
    let confirmation = get("password_confirmation", &mut errs);
    for key in body.keys().filter(|k| !SIGNUP_FIELDS.contains(&k.as_str())) {
        errs.add(key, ERR_INVALID);
    }
    let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
    match &email {
        e if blank(e) => errs.add("email", ERR_BLANK),
        Some(e) if !valid_email(e.trim()) => errs.add("email", ERR_INVALID),
        _ => {}
    }
    for (key, v) in [("first_name", &first), ("last_name", &last)] {
        match v {
            v if blank(v) => errs.add(key, ERR_BLANK),
            Some(s) if !valid_name(s) => errs.add(key, ERR_INVALID),
            _ => {}
        }
    }
    match &password {
        None => errs.add("password", ERR_BLANK),
        Some(p) if p.trim().is_empty() => errs.add("password", BLANK),
        Some(p) => {
            let ident: Vec<&str> = email.iter().map(|e| e.trim()).collect();
            if is_weak_password(p, req.ctx.min_password_length, &ident) {
                errs.add("password", ERR_INVALID);
            }
        }
    }
    match (&confirmation, &password) {
        (None, _) => errs.add("password_confirmation", ERR_BLANK),
        (Some(c), Some(p)) if c != p => errs.add("password_confirmation", CONFIRMATION),
        _ => {}
    }
    if !errs.0.is_empty() {
        return Err(errs.reply(StatusCode::BAD_REQUEST));
    }
    Ok(Call::new(
        Operation::SignUp {
            user: NewUser {
                email: email.map(|e| e.trim().to_owned()),
                password: password.map(Secret),
                first_name: first.map(|s| s.trim().to_owned()),
                last_name: last.map(|s| s.trim().to_owned()),
                unverified: true,
                ..NewUser::default()
            },
            sign_in: false,
        },
        |ctx, _| {
            Reply::json(
                StatusCode::OK,
                &json!({"message": format!("Account registered! Please activate your account at GET {}/user/verify", ctx.base_url)}),
            )
        },
    ))
}

/// `email`, `password` and `mfa_code` of a request.
#[derive(Default)]
struct Credentials {
    email: Option<String>,
    password: Option<String>,
    mfa_code: Option<String>,
}

/// Credentials of `GET /user/verify`: JSON body, else query string, else Basic header
/// (whose `mfa_code` may then ride in the query string).
fn credentials(req: &Request) -> Result<Credentials, Reply> {
    if !req.body.is_empty() {
        let body = object(req)?;
        let field =
            |k: &str| string(&body, k).map_err(|()| one(StatusCode::BAD_REQUEST, k, ERR_INVALID));
        return Ok(Credentials {
            email: field("email")?,
            password: field("password")?,
            mfa_code: field("mfa_code")?,
        });
    }
    let mut query = match req.query.filter(|q| !q.is_empty()) {
        Some(q) => parse_form(q.as_bytes())
            .map_err(|_| one(StatusCode::BAD_REQUEST, "query", ERR_INVALID))?,
        None => Default::default(),
    };
    let mfa_code = query.remove("mfa_code");
    if query.contains_key("email") || query.contains_key("password") {
        return Ok(Credentials {
            email: query.remove("email"),
            password: query.remove("password"),
            mfa_code,
        });
    }
    if let Some((user, password)) = parse_basic_raw(req.headers) {
        return Ok(Credentials {
            email: Some(user),
            password: Some(password.0),
            mfa_code,
        });
    }
    Ok(Credentials {
        mfa_code,
        ..Credentials::default()
    })
}

fn decode_verify(req: &Request) -> Result<Call, Reply> {
    let c = credentials(req)?;
    let mut errs = Errors::default();
    let email = c.email.filter(|e| !e.trim().is_empty());
    let password = c.password.filter(|p| !p.is_empty());
    let mfa_code = c.mfa_code.filter(|m| !m.trim().is_empty());
    if email.is_none() {
        errs.add("email", ERR_BLANK);
    }
    if password.is_none() {
        errs.add("password", ERR_BLANK);
    }
    match (email, password) {
        (Some(e), Some(p)) => Ok(Call::new(
            Operation::PasswordSignIn {
                login: e.trim().to_owned(),
                password: Secret(p),
                client: None,
                activate: true,
                second: SecondFactor::Inline(mfa_code),
            },
            |_, o| match o {
                Outcome::Tokens(t) => Reply::json(StatusCode::OK, &session(&t)).no_store(),
                _ => unexpected(),
            },
        )),
        _ => Err(errs.reply(StatusCode::BAD_REQUEST)),
    }
}

fn decode_refresh(req: &Request) -> Result<Call, Reply> {
    let body = object(req)?;
    match string(&body, "refresh_token") {
        Ok(Some(t)) if !t.is_empty() => Ok(Call::new(
            Operation::Refresh {
                refresh_token: t,
                client: None,
            },
            |_, o| {
                match o {
                Outcome::Tokens(t) => Reply::json(
                    StatusCode::OK,
                    &json!({"access_token": t.access_token, "refresh_token": t.refresh_token, "expires_at": rfc3339_ms(t.expires_at)}),
                )
                .no_store(),
                _ => unexpected(),
            }
            },
        )),
        Ok(_) => Err(one(StatusCode::BAD_REQUEST, "refresh_token", ERR_BLANK)),
        Err(()) => Err(one(StatusCode::BAD_REQUEST, "refresh_token", ERR_INVALID)),
    }
}

fn date(ms: i64) -> String {
    rfc3339_ms(ms).chars().take(10).collect()
}

fn profile(u: &UserView) -> Map<String, Value> {
    let v = json!({
        "id": u.num,
        "email": u.email,
        "created_at": date(u.created_at),
        "updated_at": date(u.updated_at),
        "activity_status": i32::from(u.state == "active"),
        "image_url": null,
        "user_type": 0,
        "first_name": u.first_name,
        "last_name": u.last_name,
        "birthdate": null,
        "code_nationality": null,
        "location": null,
        "cv": {"description": "", "rating_score": 0.0, "reviews": [], "last_activities": [], "tags": []},
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn session(t: &Tokens) -> Value {
    let mut p = profile(&t.user);
    p.insert(
        "refresh_token".into(),
        Value::String(t.refresh_token.clone()),
    );
    p.insert("access_token".into(), Value::String(t.access_token.clone()));
    Value::Object(p)
}

/// An outcome this family's routes never ask for: an internal error.
fn unexpected() -> Reply {
    error(Failure::Transport(Transport::Internal))
}

/// Every failure in this family's format.
fn error(f: Failure) -> Reply {
    let bad = StatusCode::BAD_REQUEST;
    let unauthorized = StatusCode::UNAUTHORIZED;
    match f {
        Failure::WeakPassword => one(bad, "password", ERR_INVALID),
        Failure::EmailTaken => one(StatusCode::UNPROCESSABLE_ENTITY, "email", ERR_TAKEN),
        Failure::UsernameTaken => one(StatusCode::UNPROCESSABLE_ENTITY, "username", ERR_TAKEN),
        Failure::RoleNotAllowed => one(StatusCode::FORBIDDEN, "role", ERR_INVALID),
        Failure::InvalidClient | Failure::InvalidCredentials => {
            one(unauthorized, "password", ERR_INVALID)
        }
        Failure::RefreshInvalid | Failure::RefreshExpired => {
            one(unauthorized, "refresh_token", ERR_INVALID)
        }
        Failure::MissingToken => {
            one(unauthorized, "access_token", ERR_BLANK).bearer_challenge(false)
        }
        Failure::TokenInvalid | Failure::TokenExpired => {
            one(unauthorized, "access_token", ERR_INVALID).bearer_challenge(true)
        }
        Failure::Disabled | Failure::Unverified => one(bad, "system", ERR_DISABLED),
        Failure::Blocked => one(StatusCode::FORBIDDEN, "system", ERR_BLOCKED),
        Failure::LockedOut { retry_after } => {
            one(StatusCode::FORBIDDEN, "system", ERR_BLOCKED).retry_after(retry_after)
        }
        Failure::Transport(Transport::RateLimited { retry_after }) => {
            one(StatusCode::TOO_MANY_REQUESTS, "system", ERR_RATE).retry_after(retry_after)
        }
        Failure::Transport(Transport::Overloaded { retry_after }) => {
            one(StatusCode::SERVICE_UNAVAILABLE, "system", ERR_UNAVAILABLE).retry_after(retry_after)
        }
        Failure::Transport(Transport::Timeout) => {
            one(StatusCode::SERVICE_UNAVAILABLE, "system", ERR_UNAVAILABLE).retry_after(1)
        }
        Failure::Transport(Transport::PayloadTooLarge) => {
            one(StatusCode::PAYLOAD_TOO_LARGE, "body", ERR_TOO_LARGE)
        }
        Failure::Transport(Transport::Internal) => Reply::json(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"error": INTERNAL_MESSAGE}),
        ),
        Failure::InvalidEmail => one(bad, "email", ERR_INVALID),
        Failure::InvalidField(fe) => one(bad, fe.field, ERR_INVALID),
        Failure::MailUnavailable => one(StatusCode::SERVICE_UNAVAILABLE, "system", ERR_UNAVAILABLE),
        Failure::MfaRequired => one(unauthorized, "mfa_code", ERR_MFA_REQUIRED),
        Failure::InvalidMfaCode => one(unauthorized, "mfa_code", ERR_INVALID),
        // What the family's routes never cause (the session family's codes, passkeys),
        // and any failure added later: the dialect's default.
        _ => one(bad, "body", ERR_INVALID),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Ctx;
    use http::{HeaderMap, HeaderValue};

    fn ctx() -> Ctx {
        Ctx {
            base_url: "http://localhost:8080/api/v0".into(),
            min_password_length: 8,
        }
    }

    fn call(
        name: &str,
        query: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Call, Reply> {
        let ctx = ctx();
        let route = ROUTES.iter().find(|r| r.name == name).unwrap();
        (route.decode)(&Request {
            ctx: &ctx,
            method: &route.method,
            path: route.path,
            query,
            headers,
            body,
        })
    }

    fn json_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h
    }

    fn errors(r: &Reply) -> Value {
        serde_json::from_slice::<Value>(&r.body).unwrap()["error"].clone()
    }

    #[test]
    fn every_field_error_at_once() {
        let body = br#"{"email":"nope","first_name":" ","password":"","password_confirmation":"x","age":3}"#;
        let r = call("signup", None, &json_headers(), body).unwrap_err();
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let e = errors(&r);
        assert_eq!(e["email"][0]["error"], "ERR_INVALID");
        assert_eq!(e["first_name"][0]["error"], "ERR_BLANK");
        assert_eq!(e["last_name"][0]["error"], "ERR_BLANK");
        assert_eq!(e["password"][0]["error"], "blank");
        assert_eq!(e["password_confirmation"][0]["error"], "confirmation");
        assert_eq!(e["age"][0]["error"], "ERR_INVALID");
        assert_eq!(e["first_name"][0]["description"], "Attribute is blank");

        let r = call("signup", None, &json_headers(), br#"{"email":"a@example.com","first_name":"A","last_name":"B","password":"password","password_confirmation":"password"}"#).unwrap_err();
        assert_eq!(errors(&r)["password"][0]["error"], "ERR_INVALID", "weak");
        let r = call("signup", None, &json_headers(), br#"{"email":5}"#).unwrap_err();
        assert_eq!(errors(&r)["email"][0]["error"], "ERR_INVALID");
        assert_eq!(errors(&r)["password"][0]["error"], "ERR_BLANK");
    }

    #[test]
    fn signup_ok_is_unverified() {
        let body = br#"{"email":"a@example.com","first_name":"John Robert","last_name":"Doe","password":"correct horse","password_confirmation":"correct horse"}"#;
        let c = call("signup", None, &json_headers(), body).unwrap();
        match &c.op {
            Operation::SignUp {
                user,
                sign_in: false,
            } => assert!(user.unverified && user.username.is_none()),
            other => panic!("{other:?}"),
        }
        let r = c.answer.reply(&FAMILY, &ctx(), Ok(Outcome::Done));
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["message"], "Account registered! Please activate your account at GET http://localhost:8080/api/v0/user/verify");
    }

    #[test]
    fn verify_credentials_from_body_query_or_basic() {
        let want = |c: Call| match c.op {
            Operation::PasswordSignIn {
                login,
                password,
                activate: true,
                ..
            } => (login, password.0),
            other => panic!("{other:?}"),
        };
        let c = call(
            "verify",
            None,
            &json_headers(),
            br#"{"email":"a@x.io","password":"pw"}"#,
        )
        .unwrap();
        assert_eq!(want(c), ("a@x.io".into(), "pw".into()));
        let c = call(
            "verify",
            Some("email=a%2Bb%40x.io&password=p+w"),
            &HeaderMap::new(),
            b"",
        )
        .unwrap();
        assert_eq!(want(c), ("a+b@x.io".into(), "p w".into()));
        let mut h = HeaderMap::new();
        // a+b@x.io:p+w, not form-decoded
        h.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_static("Basic YStiQHguaW86cCt3"),
        );
        let c = call("verify", None, &h, b"").unwrap();
        assert_eq!(want(c), ("a+b@x.io".into(), "p+w".into()));
        let r = call("verify", None, &HeaderMap::new(), b"").unwrap_err();
        let e = errors(&r);
        assert_eq!(
            (
                e["email"][0]["error"].as_str(),
                e["password"][0]["error"].as_str()
            ),
            (Some("ERR_BLANK"), Some("ERR_BLANK"))
        );
    }

    #[test]
    fn duplicate_members_are_refused() {
        let body = br#"{"email":"a@example.com","email":"b@example.com","first_name":"A","last_name":"B","password":"correct horse","password_confirmation":"correct horse"}"#;
        let r = call("signup", None, &json_headers(), body).unwrap_err();
        assert_eq!(errors(&r)["body"][0]["error"], "ERR_INVALID");
    }

    #[test]
    fn error_shapes() {
        let r = error(Failure::Transport(Transport::Internal));
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            serde_json::from_slice::<Value>(&r.body).unwrap()["error"],
            INTERNAL_MESSAGE
        );
        assert_eq!(
            errors(&error(Failure::EmailTaken))["email"][0]["error"],
            "ERR_TAKEN"
        );
        assert_eq!(
            error(Failure::EmailTaken).status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            errors(&error(Failure::Blocked))["system"][0]["error"],
            "ERR_BLOCKED"
        );
        assert_eq!(
            errors(&error(Failure::Disabled))["system"][0]["error"],
            "ERR_DISABLED"
        );
        assert_eq!(
            error(Failure::InvalidCredentials).status,
            StatusCode::UNAUTHORIZED
        );
    }
}
