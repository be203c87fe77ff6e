//! Family `toolkit` (seed 002): identity-toolkit style, mounted at `/api/auth` by default.
//!
//! Errors are `{"error":{"code":<status>,"message":"<CODE>"}}`; `AuthResponse` carries
//! `expiresIn` as a string of seconds, as the identity-toolkit convention has it.

use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

use crate::doc::{ns, obj, s, RouteDoc};
use crate::input::{canonical_username, valid_email, Ctx, Request};
use crate::ops::{
    Bearer, Failure, NewUser, Operation, Outcome, Reauth, SecondFactor, Secret, Tokens, Transport,
    UserOp, UserView,
};
use crate::reply::{rfc3339_ms, Reply};
use crate::table::{Call, Family, Route};

/// The family's entry for the adapter table.
pub static FAMILY: Family = Family {
    name: "toolkit",
    default_mount: "/api/auth",
    routes: ROUTES,
    reject: error,
    error_schema: || {
        obj(
            &["error"],
            json!({"error": obj(&["code", "message"], json!({"code": {"type": "integer"}, "message": s()}))}),
        )
    },
};

static ROUTES: &[Route] = &[
    Route {
        method: Method::POST,
        path: "/accounts:signUp",
        name: "signup",
        credential: true,
        decode: signup,
        doc: || {
            RouteDoc::new(
                "Sign up",
                Some(obj(
                    &["username", "password"],
                    json!({"username": s(), "password": s(), "displayName": s(), "email": s()}),
                )),
                None,
                (201, Some(auth_response_schema())),
            )
        },
    },
    Route {
        method: Method::POST,
        path: "/accounts:signInWithPassword",
        name: "signin",
        credential: true,
        decode: signin,
        doc: || {
            RouteDoc::new(
                "Sign in with username (or email) and password",
                Some(obj(
                    &["username", "password"],
                    json!({"username": s(), "password": s()}),
                )),
                None,
                (
                    200,
                    Some(json!({"oneOf": [auth_response_schema(), obj(
                        &["mfaPendingCredential", "mfaInfo", "localId"],
                        json!({"mfaPendingCredential": s(), "mfaInfo": {"type": "array"}, "localId": s()}),
                    )]})),
                ),
            )
        },
    },
    Route {
        method: Method::POST,
        path: "/accounts/mfaSignIn:finalize",
        name: "mfa_finalize",
        credential: true,
        decode: finalize,
        doc: || {
            RouteDoc::new(
                "Finish a sign-in with the second factor (TOTP or recovery code)",
                Some(obj(
                    &["mfaPendingCredential", "totpVerificationInfo"],
                    json!({"mfaPendingCredential": s(), "totpVerificationInfo": obj(&["verificationCode"], json!({"verificationCode": s()}))}),
                )),
                None,
                (200, Some(auth_response_schema())),
            )
        },
    },
    Route {
        method: Method::POST,
        path: "/token:refresh",
        name: "refresh",
        credential: true,
        decode: |req| {
            let b: RefreshBody = req.json().map_err(bad_request)?;
            let refresh_token = present(b.refresh_token)
                .ok_or_else(|| fail(StatusCode::BAD_REQUEST, "MISSING_REFRESH_TOKEN"))?;
            Ok(Call::new(
                Operation::Refresh {
                    refresh_token,
                    client: None,
                },
                render_auth,
            ))
        },
        doc: || {
            RouteDoc::new(
                "Exchange a refresh token",
                Some(obj(&["refreshToken"], json!({"refreshToken": s()}))),
                None,
                (200, Some(auth_response_schema())),
            )
        },
    },
    Route {
        method: Method::POST,
        path: "/accounts:lookup",
        name: "lookup",
        credential: false,
        decode: |req| {
            Ok(Call::new(
                Operation::as_user(id_token(req)?, UserOp::CurrentUser),
                |_, o| match o {
                    Outcome::User(u) => Reply::json(StatusCode::OK, &user(&u)),
                    _ => unexpected(),
                },
            ))
        },
        doc: || {
            RouteDoc::new(
                "The user of an id token",
                Some(obj(&[], json!({"idToken": s()}))),
                Some("bearer"),
                (
                    200,
                    Some(obj(
                        &["localId", "disabled"],
                        json!({"localId": s(), "username": ns(), "displayName": ns(), "email": ns(), "createdAt": s(), "lastLoginAt": ns(), "disabled": {"type": "boolean"}, "emailVerified": {"type": "boolean"}}),
                    )),
                ),
            )
        },
    },
    Route {
        method: Method::POST,
        path: "/accounts:delete",
        name: "delete",
        credential: false,
        decode: |req| {
            Ok(Call::new(
                Operation::as_user(id_token(req)?, UserOp::DeleteAccount),
                |_, _| Reply::empty(StatusCode::NO_CONTENT),
            ))
        },
        doc: || {
            RouteDoc::new(
                "Delete the account of an id token",
                Some(obj(&[], json!({"idToken": s()}))),
                Some("bearer"),
                (204, None),
            )
        },
    },
    Route {
        method: Method::POST,
        path: "/accounts:sendOobCode",
        name: "send_oob_code",
        credential: true,
        decode: send_oob_code,
        doc: || {
            RouteDoc::new(
                "Mail a code: PASSWORD_RESET (with email) or VERIFY_EMAIL (with idToken)",
                Some(obj(
                    &["requestType"],
                    json!({"requestType": {"type": "string", "enum": ["PASSWORD_RESET", "VERIFY_EMAIL"]}, "email": s(), "idToken": s()}),
                )),
                None,
                (200, Some(obj(&["email"], json!({"email": s()})))),
            )
        },
    },
    Route {
        method: Method::POST,
        path: "/accounts:resetPassword",
        name: "reset_password",
        credential: true,
        decode: |req| {
            let b: ResetBody = req.json().map_err(bad_request)?;
            let code = present(b.oob_code)
                .ok_or_else(|| fail(StatusCode::BAD_REQUEST, "MISSING_OOB_CODE"))?;
            let new_password = b
                .new_password
                .filter(|p| !p.is_empty())
                .ok_or_else(|| fail(StatusCode::BAD_REQUEST, "WEAK_PASSWORD"))?;
            Ok(Call::new(
                Operation::ResetPassword {
                    email: None,
                    code,
                    new_password: Secret(new_password),
                },
                |_, o| match o {
                    Outcome::PasswordReset { email } => Reply::json(
                        StatusCode::OK,
                        &json!({"email": email, "requestType": "PASSWORD_RESET"}),
                    ),
                    _ => unexpected(),
                },
            ))
        },
        doc: || {
            RouteDoc::new(
                "Set a new password with the mailed code",
                Some(obj(
                    &["oobCode", "newPassword"],
                    json!({"oobCode": s(), "newPassword": s()}),
                )),
                None,
                (
                    200,
                    Some(obj(
                        &["email", "requestType"],
                        json!({"email": s(), "requestType": s()}),
                    )),
                ),
            )
        },
    },
    Route {
        method: Method::POST,
        path: "/accounts:update",
        name: "update",
        credential: true,
        decode: update,
        doc: || {
            RouteDoc::new(
                "Prove the email with {oobCode}, or change the password with {idToken, password} (a sign-in of the last 5 minutes)",
                Some(obj(
                    &[],
                    json!({"oobCode": s(), "idToken": s(), "password": s()}),
                )),
                None,
                (
                    200,
                    Some(json!({"oneOf": [obj(
                        &["email", "emailVerified"],
                        json!({"email": s(), "emailVerified": {"type": "boolean"}}),
                    ), auth_response_schema()]})),
                ),
            )
        },
    },
];

fn auth_response_schema() -> serde_json::Value {
    obj(
        &[
            "localId",
            "idToken",
            "refreshToken",
            "expiresIn",
            "tokenType",
        ],
        json!({"localId": s(), "username": ns(), "displayName": ns(), "email": ns(), "idToken": s(), "refreshToken": s(), "expiresIn": s(), "tokenType": s()}),
    )
}

/// `{"error":{"code":<status>,"message":"<CODE>"}}`.
fn fail(status: StatusCode, message: &str) -> Reply {
    Reply::json(
        status,
        &json!({"error": {"code": status.as_u16(), "message": message}}),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignUpBody {
    username: Option<String>,
    password: Option<String>,
    display_name: Option<String>,
    email: Option<String>,
}

#[derive(Deserialize)]
struct SignInBody {
    username: Option<String>,
    password: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RefreshBody {
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdTokenBody {
    id_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OobBody {
    request_type: Option<String>,
    email: Option<String>,
    id_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResetBody {
    oob_code: Option<String>,
    new_password: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateBody {
    oob_code: Option<String>,
    password: Option<String>,
    email: Option<String>,
}

fn present(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

fn bad_request(_: crate::input::InputError) -> Reply {
    fail(StatusCode::BAD_REQUEST, "INVALID_REQUEST")
}

/// The id token from the body (`idToken`) or, failing that, the bearer header.
fn id_token(req: &Request) -> Result<Bearer, Reply> {
    if !req.body.is_empty() {
        let b: IdTokenBody = req.json().map_err(bad_request)?;
        if let Some(t) = b.id_token {
            return Ok(if t.is_empty() || t.len() > crate::input::MAX_TOKEN_LEN {
                Bearer::Malformed
            } else {
                Bearer::Token(t)
            });
        }
    }
    Ok(req.bearer())
}

/// `accounts:sendOobCode`: a reset code to an address, or a verification code to the
/// id token's account. Both answer `{"email"}` (for a reset, the address as sent: whether
/// an account has it is not told).
fn send_oob_code(req: &Request) -> Result<Call, Reply> {
    let b: OobBody = req.json().map_err(bad_request)?;
    match b.request_type.as_deref() {
        Some("PASSWORD_RESET") => {
            let email = present(b.email)
                .map(|e| e.trim().to_owned())
                .ok_or_else(|| fail(StatusCode::BAD_REQUEST, "MISSING_EMAIL"))?;
            if !valid_email(&email) {
                return Err(fail(StatusCode::BAD_REQUEST, "INVALID_EMAIL"));
            }
            Ok(Call::new(
                Operation::ForgotPassword { email },
                render_mailed,
            ))
        }
        Some("VERIFY_EMAIL") => {
            let bearer = match b.id_token {
                Some(t) if t.is_empty() || t.len() > crate::input::MAX_TOKEN_LEN => {
                    Bearer::Malformed
                }
                Some(t) => Bearer::Token(t),
                None => req.bearer(),
            };
            Ok(Call::new(
                Operation::as_user(bearer, UserOp::VerifyEmailStart),
                render_mailed,
            ))
        }
        Some(_) => Err(fail(StatusCode::BAD_REQUEST, "INVALID_REQ_TYPE")),
        None => Err(fail(StatusCode::BAD_REQUEST, "MISSING_REQ_TYPE")),
    }
}

fn render_mailed(_: &Ctx, o: Outcome) -> Reply {
    match o {
        Outcome::MailedTo { email } => Reply::json(StatusCode::OK, &json!({"email": email})),
        _ => unexpected(),
    }
}

/// `accounts:update`: `{oobCode}` proves the email; `{idToken, password}` changes the
/// password and answers fresh tokens. Other changes are not offered here.
fn update(req: &Request) -> Result<Call, Reply> {
    let b: UpdateBody = req.json().map_err(bad_request)?;
    if let Some(code) = present(b.oob_code) {
        return Ok(Call::new(
            Operation::VerifyEmailCode { code },
            |_, o| match o {
                Outcome::EmailVerified { email } => Reply::json(
                    StatusCode::OK,
                    &json!({"email": email, "emailVerified": true}),
                ),
                _ => unexpected(),
            },
        ));
    }
    if b.email.is_some() {
        // An address is changed only by a code mailed to it (the session family's
        // `/session/email`); Firebase's unverified direct change is not offered.
        return Err(fail(StatusCode::BAD_REQUEST, "OPERATION_NOT_ALLOWED"));
    }
    let Some(password) = b.password else {
        return Err(fail(StatusCode::BAD_REQUEST, "INVALID_REQUEST"));
    };
    if password.is_empty() {
        return Err(fail(StatusCode::BAD_REQUEST, "WEAK_PASSWORD"));
    }
    Ok(Call::new(
        Operation::as_user(
            id_token(req)?,
            UserOp::ChangePassword {
                reauth: Reauth::RecentSignIn,
                new_password: Secret(password),
                fresh_tokens: true,
            },
        ),
        render_auth,
    ))
}

fn signup(req: &Request) -> Result<Call, Reply> {
    let b: SignUpBody = req.json().map_err(bad_request)?;
    let username =
        present(b.username).ok_or_else(|| fail(StatusCode::BAD_REQUEST, "MISSING_USERNAME"))?;
    let username = canonical_username(&username)
        .ok_or_else(|| fail(StatusCode::BAD_REQUEST, "INVALID_USERNAME"))?;
    let password = b
        .password
        .filter(|p| !p.is_empty())
        .ok_or_else(|| fail(StatusCode::BAD_REQUEST, "MISSING_PASSWORD"))?;
    let email = present(b.email);
    if email.as_deref().is_some_and(|e| !valid_email(e)) {
        return Err(fail(StatusCode::BAD_REQUEST, "INVALID_EMAIL"));
    }
    Ok(Call::new(
        Operation::SignUp {
            user: NewUser {
                email,
                username: Some(username),
                password: Some(Secret(password)),
                display_name: present(b.display_name),
                ..NewUser::default()
            },
            sign_in: true,
        },
        |_, o| match o {
            Outcome::Tokens(t) => Reply::json(StatusCode::CREATED, &auth_response(&t)).no_store(),
            _ => unexpected(),
        },
    ))
}

fn signin(req: &Request) -> Result<Call, Reply> {
    let b: SignInBody = req.json().map_err(bad_request)?;
    let login =
        present(b.username).ok_or_else(|| fail(StatusCode::BAD_REQUEST, "MISSING_USERNAME"))?;
    let password = b
        .password
        .filter(|p| !p.is_empty())
        .ok_or_else(|| fail(StatusCode::BAD_REQUEST, "MISSING_PASSWORD"))?;
    Ok(Call::new(
        Operation::PasswordSignIn {
            login,
            password: Secret(password),
            client: None,
            activate: false,
            second: SecondFactor::Later,
        },
        |ctx, o| match o {
            // The identity-toolkit's MFA step: no tokens yet, a pending credential.
            Outcome::MfaPending {
                credential,
                user_id,
            } => Reply::json(
                StatusCode::OK,
                &json!({
                    "mfaPendingCredential": credential,
                    "mfaInfo": [{"mfaEnrollmentId": "totp", "displayName": "TOTP", "totpInfo": {}}],
                    "localId": user_id,
                }),
            )
            .no_store(),
            o => render_auth(ctx, o),
        },
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FinalizeBody {
    mfa_pending_credential: Option<String>,
    totp_verification_info: Option<TotpInfo>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TotpInfo {
    verification_code: Option<String>,
}

fn finalize(req: &Request) -> Result<Call, Reply> {
    let b: FinalizeBody = req.json().map_err(bad_request)?;
    let pending = present(b.mfa_pending_credential)
        .ok_or_else(|| fail(StatusCode::BAD_REQUEST, "MISSING_MFA_PENDING_CREDENTIAL"))?;
    let code = present(b.totp_verification_info.and_then(|t| t.verification_code))
        .ok_or_else(|| fail(StatusCode::BAD_REQUEST, "MISSING_VERIFICATION_CODE"))?;
    Ok(Call::new(
        Operation::MfaFinalize { pending, code },
        render_auth,
    ))
}

fn auth_response(t: &Tokens) -> serde_json::Value {
    json!({
        "localId": t.user.id,
        "username": t.user.username,
        "displayName": t.user.display_name,
        "email": t.user.email,
        "idToken": t.access_token,
        "refreshToken": t.refresh_token,
        "expiresIn": t.expires_in.to_string(),
        "tokenType": "Bearer",
    })
}

fn user(u: &UserView) -> serde_json::Value {
    json!({
        "localId": u.id,
        "username": u.username,
        "displayName": u.display_name,
        "email": u.email,
        "createdAt": rfc3339_ms(u.created_at),
        "lastLoginAt": u.last_login_at.map(rfc3339_ms),
        "disabled": u.state == "disabled" || u.state == "blocked",
        "emailVerified": u.email_verified,
    })
}

/// An outcome this family's routes never ask for: an internal error.
fn unexpected() -> Reply {
    error(Failure::Transport(Transport::Internal))
}

fn render_auth(_: &Ctx, o: Outcome) -> Reply {
    match o {
        Outcome::Tokens(t) => Reply::json(StatusCode::OK, &auth_response(&t)).no_store(),
        _ => unexpected(),
    }
}

/// Every failure in this family's format.
fn error(f: Failure) -> Reply {
    let s = StatusCode::BAD_REQUEST;
    let u = StatusCode::UNAUTHORIZED;
    match f {
        Failure::WeakPassword => fail(s, "WEAK_PASSWORD"),
        Failure::EmailTaken => fail(s, "EMAIL_ALREADY_EXISTS"),
        Failure::UsernameTaken => fail(s, "USERNAME_ALREADY_EXISTS"),
        Failure::RoleNotAllowed => fail(StatusCode::FORBIDDEN, "ROLE_NOT_ALLOWED"),
        Failure::InvalidClient | Failure::InvalidCredentials => fail(u, "WRONG_CREDENTIALS"),
        Failure::RefreshInvalid => fail(u, "INVALID_REFRESH_TOKEN"),
        Failure::RefreshExpired => fail(u, "EXPIRED_REFRESH_TOKEN"),
        Failure::MissingToken => fail(u, "INVALID_ID_TOKEN").bearer_challenge(false),
        Failure::TokenInvalid => fail(u, "INVALID_ID_TOKEN").bearer_challenge(true),
        Failure::TokenExpired => fail(u, "EXPIRED_ID_TOKEN").bearer_challenge(true),
        Failure::Disabled | Failure::Blocked => fail(StatusCode::FORBIDDEN, "USER_DISABLED"),
        Failure::Unverified => fail(StatusCode::FORBIDDEN, "USER_NOT_VERIFIED"),
        Failure::LockedOut { retry_after }
        | Failure::Transport(Transport::RateLimited { retry_after }) => {
            fail(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_ATTEMPTS_TRY_LATER")
                .retry_after(retry_after)
        }
        Failure::Transport(Transport::Overloaded { retry_after }) => {
            fail(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE").retry_after(retry_after)
        }
        Failure::Transport(Transport::PayloadTooLarge) => {
            fail(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE")
        }
        Failure::Transport(Transport::Timeout) => {
            fail(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE").retry_after(1)
        }
        Failure::Transport(Transport::Internal) => {
            fail(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR")
        }
        Failure::InvalidEmail => fail(s, "INVALID_EMAIL"),
        Failure::InvalidField(fe) => fail(
            s,
            match fe.field {
                "email" => "INVALID_EMAIL",
                "username" => "INVALID_USERNAME",
                "display_name" => "INVALID_DISPLAY_NAME",
                _ => "INVALID_ARGUMENT",
            },
        ),
        Failure::MailUnavailable => fail(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"),
        Failure::InvalidMfaCode => fail(s, "INVALID_MFA_CODE"),
        Failure::InvalidMfaPending => fail(s, "INVALID_MFA_PENDING_CREDENTIAL"),
        // The password grant of this dialect always asks for the pending credential.
        Failure::MfaRequired => fail(u, "MFA_REQUIRED"),
        Failure::InvalidCode => fail(s, "INVALID_OOB_CODE"),
        Failure::ReauthRequired => fail(s, "CREDENTIAL_TOO_OLD_LOGIN_AGAIN"),
        // What the family's routes never cause (the session family's codes, passkeys),
        // and any failure added later: the dialect's default.
        _ => fail(s, "INVALID_REQUEST"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue};

    fn call(name: &str, headers: &HeaderMap, body: &[u8]) -> Result<Call, Reply> {
        let ctx = Ctx {
            base_url: "http://x/api/auth".into(),
            min_password_length: 8,
        };
        let route = ROUTES.iter().find(|r| r.name == name).unwrap();
        (route.decode)(&Request {
            ctx: &ctx,
            method: &Method::POST,
            path: route.path,
            query: None,
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

    fn message(r: &Reply) -> String {
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["error"]["code"], r.status.as_u16());
        v["error"]["message"].as_str().unwrap().to_string()
    }

    #[test]
    fn signup_errors() {
        let h = json_headers();
        assert_eq!(
            message(&call("signup", &h, br#"{"password":"x"}"#).unwrap_err()),
            "MISSING_USERNAME"
        );
        assert_eq!(
            message(&call("signup", &h, br#"{"username":"a"}"#).unwrap_err()),
            "MISSING_PASSWORD"
        );
        assert_eq!(
            message(
                &call(
                    "signup",
                    &h,
                    br#"{"username":"a","password":"p","email":"x"}"#
                )
                .unwrap_err()
            ),
            "INVALID_EMAIL"
        );
        assert_eq!(
            message(&call("signup", &h, b"{").unwrap_err()),
            "INVALID_REQUEST"
        );
        let c = call(
            "signup",
            &h,
            br#"{"username":"a","password":"p","displayName":"A"}"#,
        )
        .unwrap();
        let r = c.answer.reply(
            &FAMILY,
            &crate::testing::ctx(),
            Ok(crate::testing::tokens()),
        );
        assert_eq!(r.status, StatusCode::CREATED);
        assert!(matches!(c.op, Operation::SignUp { sign_in: true, .. }));
    }

    #[test]
    fn id_token_from_body_or_header() {
        let h = json_headers();
        let c = call("lookup", &h, br#"{"idToken":"abc"}"#).unwrap();
        assert_eq!(
            c.op,
            Operation::as_user(Bearer::Token("abc".into()), UserOp::CurrentUser)
        );
        let mut h2 = HeaderMap::new();
        h2.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_static("Bearer xyz"),
        );
        let c = call("delete", &h2, b"").unwrap();
        assert_eq!(
            c.op,
            Operation::as_user(Bearer::Token("xyz".into()), UserOp::DeleteAccount)
        );
        let c = call("lookup", &HeaderMap::new(), b"").unwrap();
        assert_eq!(
            c.op,
            Operation::as_user(Bearer::Missing, UserOp::CurrentUser)
        );
    }

    #[test]
    fn error_codes() {
        assert_eq!(
            error(Failure::InvalidCredentials).status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(message(&error(Failure::MissingToken)), "INVALID_ID_TOKEN");
        assert_eq!(message(&error(Failure::TokenExpired)), "EXPIRED_ID_TOKEN");
        assert_eq!(
            message(&error(Failure::RefreshExpired)),
            "EXPIRED_REFRESH_TOKEN"
        );
        assert_eq!(message(&error(Failure::Blocked)), "USER_DISABLED");
        let r = error(Failure::LockedOut { retry_after: 60 });
        assert_eq!(message(&r), "TOO_MANY_ATTEMPTS_TRY_LATER");
        assert!(r
            .headers
            .iter()
            .any(|(k, v)| k == http::header::RETRY_AFTER && v == "60"));
    }
}
