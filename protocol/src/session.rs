//! Family `session` (seed 000): passwordless email codes and TOTP MFA, mounted at
//! `/session` by default.
//!
//! `POST /login` mails a session code; `POST /verify` redeems it (authenticated,
//! mfa_required, or invalid_session_code); `POST /token` turns a refresh token into an
//! access token (rotating it); `GET /me` is the authenticated call; `POST /logout` ends the
//! family; `/mfa/totp` enrols, confirms and disables TOTP. Errors are
//! `{"error":"<code>"}`, with `error_description` where the seed has a sentence.

use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

use crate::doc::{any_object, ns, obj, s, RouteDoc};
use crate::input::{valid_email, Ctx, Request};
use crate::ops::{Failure, Operation, Outcome, Reauth, Secret, Transport, UserOp};
use crate::reply::{rfc3339_ms, Reply};
use crate::table::{Call, Family, Route};

/// The family's entry for the adapter table.
pub static FAMILY: Family = Family {
    name: "session",
    default_mount: "/session",
    routes: ROUTES,
    reject: error,
    error_schema: || json!({"type": "object", "properties": {"error": s(), "status": s(), "error_description": s()}}),
};

static ROUTES: &[Route] = &[
    Route {
        method: Method::POST,
        path: "/login",
        name: "login",
        credential: true,
        decode: |req| {
            let email = email_of(req)?;
            Ok(Call::new(Operation::RequestCode { email }, render))
        },
        doc: || {
            RouteDoc::new(
                "Mail a one-time session code",
                Some(obj(&["email"], json!({"email": s()}))),
                None,
                (202, Some(obj(&["status"], json!({"status": s()})))),
            )
        },
    },
    Route {
        method: Method::POST,
        path: "/verify",
        name: "verify",
        credential: true,
        decode: |req| {
            let b: VerifyBody = req.json().map_err(|_| invalid_request())?;
            let session_code = nonblank(b.session_code)
                .ok_or_else(|| code(StatusCode::BAD_REQUEST, "invalid_session_code"))?;
            let op = Operation::RedeemCode {
                code: session_code,
                mfa_code: nonblank(b.mfa_code),
            };
            Ok(Call::new(op, render_verify).refusing_with(verify_error))
        },
        doc: || {
            RouteDoc::new(
                "Redeem a session code (and the TOTP or recovery code)",
                Some(obj(
                    &["session_code"],
                    json!({"session_code": s(), "mfa_code": s()}),
                )),
                None,
                (
                    200,
                    Some(obj(
                        &["status"],
                        json!({"status": s(), "refresh_token": s(), "user_id": s()}),
                    )),
                ),
            )
        },
    },
    Route {
        method: Method::POST,
        path: "/token",
        name: "token",
        credential: true,
        decode: |req| {
            let refresh_token = refresh_token(req)?;
            Ok(Call::new(
                Operation::Refresh {
                    refresh_token,
                    client: None,
                },
                render,
            ))
        },
        doc: || {
            RouteDoc::new(
                "Access token for a refresh token (rotated)",
                Some(obj(&["refresh_token"], json!({"refresh_token": s()}))),
                None,
                (
                    200,
                    Some(obj(
                        &["access_token", "token_type", "expires_in", "refresh_token"],
                        json!({"access_token": s(), "token_type": s(), "expires_in": {"type": "integer"}, "refresh_token": s()}),
                    )),
                ),
            )
        },
    },
    Route {
        method: Method::GET,
        path: "/me",
        name: "me",
        credential: false,
        decode: |req| {
            Ok(Call::new(
                Operation::as_user(req.bearer(), UserOp::CurrentUser),
                render,
            ))
        },
        doc: || {
            RouteDoc::new(
                "The current user",
                None,
                Some("bearer"),
                (
                    200,
                    Some(obj(
                        &["id", "mfa_enabled", "created_at"],
                        json!({"id": s(), "email": ns(), "email_verified": {"type": "boolean"}, "mfa_enabled": {"type": "boolean"}, "created_at": s()}),
                    )),
                ),
            )
        },
    },
    Route {
        method: Method::POST,
        path: "/logout",
        name: "logout",
        credential: false,
        decode: |req| {
            let refresh_token = refresh_token(req)?;
            Ok(Call::new(Operation::Logout { refresh_token }, render))
        },
        doc: || {
            RouteDoc::new(
                "End the refresh family",
                Some(obj(&["refresh_token"], json!({"refresh_token": s()}))),
                None,
                (204, None),
            )
        },
    },
    Route {
        method: Method::POST,
        path: "/mfa/totp",
        name: "totp_enroll",
        credential: false,
        decode: |req| {
            Ok(Call::new(
                Operation::as_user(req.bearer(), UserOp::TotpEnroll),
                render,
            ))
        },
        doc: || {
            RouteDoc::new(
                "Start TOTP enrolment",
                Some(any_object()),
                Some("bearer"),
                (
                    200,
                    Some(obj(
                        &["secret", "otpauth_url"],
                        json!({"secret": s(), "otpauth_url": s()}),
                    )),
                ),
            )
        },
    },
    Route {
        method: Method::POST,
        path: "/mfa/totp/confirm",
        name: "totp_confirm",
        credential: true,
        decode: |req| {
            let (bearer, code) = bearer_and_code(req)?;
            Ok(Call::new(
                Operation::as_user(bearer, UserOp::TotpConfirm { code }),
                render,
            ))
        },
        doc: || {
            RouteDoc::new(
                "Confirm TOTP with a first code; answers the recovery codes",
                Some(obj(&["code"], json!({"code": s()}))),
                Some("bearer"),
                (
                    200,
                    Some(obj(
                        &["mfa_enabled", "recovery_codes"],
                        json!({"mfa_enabled": {"type": "boolean"}, "recovery_codes": {"type": "array", "items": s()}}),
                    )),
                ),
            )
        },
    },
    Route {
        method: Method::DELETE,
        path: "/mfa/totp",
        name: "totp_disable",
        credential: true,
        decode: |req| {
            let (bearer, code) = bearer_and_code(req)?;
            Ok(Call::new(
                Operation::as_user(bearer, UserOp::TotpDisable { code }),
                render,
            ))
        },
        doc: || {
            RouteDoc::new(
                "Turn TOTP off",
                Some(obj(&["code"], json!({"code": s()}))),
                Some("bearer"),
                (204, None),
            )
        },
    },
    Route {
        method: Method::POST,
        path: "/email/verify/start",
        name: "email_verify_start",
        credential: true,
        decode: |req| {
            Ok(Call::new(
                Operation::as_user(req.bearer(), UserOp::VerifyEmailStart),
                render,
            ))
        },
        doc: || {
            RouteDoc::new(
                "Mail a code that proves the account's email address",
                None,
                Some("bearer"),
                (202, Some(obj(&["status"], json!({"status": s()})))),
            )
        },
    },
    Route {
        method: Method::POST,
        path: "/email/verify",
        name: "email_verify",
        credential: true,
        decode: |req| {
            let (bearer, code) = bearer_and_code(req)?;
            Ok(Call::new(
                Operation::as_user(bearer, UserOp::VerifyEmail { code }),
                render,
            ))
        },
        doc: || {
            RouteDoc::new(
                "Prove the account's email address with the mailed code",
                Some(obj(&["code"], json!({"code": s()}))),
                Some("bearer"),
                (
                    200,
                    Some(obj(
                        &["email_verified"],
                        json!({"email_verified": {"type": "boolean"}}),
                    )),
                ),
            )
        },
    },
    Route {
        method: Method::POST,
        path: "/mfa/recovery-codes",
        name: "recovery_codes",
        credential: true,
        decode: |req| {
            let (bearer, code) = bearer_and_code(req)?;
            Ok(Call::new(
                Operation::as_user(bearer, UserOp::RecoveryCodes { code }),
                render,
            ))
        },
        doc: || {
            RouteDoc::new(
                "Replace the recovery codes",
                Some(obj(&["code"], json!({"code": s()}))),
                Some("bearer"),
                (
                    200,
                    Some(obj(
                        &["recovery_codes"],
                        json!({"recovery_codes": {"type": "array", "items": s()}}),
                    )),
                ),
            )
        },
    },
    Route {
        method: Method::POST,
        path: "/password/forgot",
        name: "password_forgot",
        credential: true,
        decode: |req| {
            let email = email_of(req)?;
            Ok(Call::new(Operation::ForgotPassword { email }, render))
        },
        doc: || {
            RouteDoc::new(
                "Mail a password-reset code (answered alike whether or not an account has the address)",
                Some(obj(&["email"], json!({"email": s()}))),
                None,
                (202, Some(obj(&["status"], json!({"status": s()})))),
            )
        },
    },
    Route {
        method: Method::POST,
        path: "/password/reset",
        name: "password_reset",
        credential: true,
        decode: |req| {
            let b: ResetBody = req.json().map_err(|_| invalid_request())?;
            let email = nonblank(b.email)
                .map(|e| e.trim().to_owned())
                .filter(|e| valid_email(e))
                .ok_or_else(invalid_email)?;
            let typed =
                nonblank(b.code).ok_or_else(|| code(StatusCode::BAD_REQUEST, "invalid_code"))?;
            let new_password = b
                .new_password
                .filter(|p| !p.is_empty())
                .ok_or_else(|| code(StatusCode::BAD_REQUEST, "weak_password"))?;
            let op = Operation::ResetPassword {
                email: Some(email),
                code: typed,
                new_password: Secret(new_password),
            };
            Ok(Call::new(op, render))
        },
        doc: || {
            RouteDoc::new(
                "Set a new password with the mailed reset code",
                Some(obj(
                    &["email", "code", "new_password"],
                    json!({"email": s(), "code": s(), "new_password": s()}),
                )),
                None,
                (200, Some(obj(&["status"], json!({"status": s()})))),
            )
        },
    },
    Route {
        method: Method::POST,
        path: "/password",
        name: "password_change",
        credential: true,
        decode: |req| {
            let b: ChangePasswordBody = req.json().map_err(|_| invalid_request())?;
            let new_password = b
                .new_password
                .filter(|p| !p.is_empty())
                .ok_or_else(|| code(StatusCode::BAD_REQUEST, "weak_password"))?;
            let current = b.current_password.filter(|p| !p.is_empty()).map(Secret);
            let op = Operation::as_user(
                req.bearer(),
                UserOp::ChangePassword {
                    reauth: Reauth::Password(current),
                    new_password: Secret(new_password),
                    fresh_tokens: false,
                },
            );
            Ok(Call::new(op, render))
        },
        doc: || {
            RouteDoc::new(
                "Change the password (the current one required when the account has one); other sessions end",
                Some(obj(
                    &["new_password"],
                    json!({"current_password": s(), "new_password": s()}),
                )),
                Some("bearer"),
                (200, Some(obj(&["status"], json!({"status": s()})))),
            )
        },
    },
    Route {
        method: Method::POST,
        path: "/email",
        name: "email_change",
        credential: true,
        decode: |req| {
            let email = email_of(req)?;
            Ok(Call::new(
                Operation::as_user(req.bearer(), UserOp::ChangeEmailStart { email }),
                render,
            ))
        },
        doc: || {
            RouteDoc::new(
                "Start changing the address: a code to the new one, a notice to the old one",
                Some(obj(&["email"], json!({"email": s()}))),
                Some("bearer"),
                (202, Some(obj(&["status"], json!({"status": s()})))),
            )
        },
    },
    Route {
        method: Method::POST,
        path: "/email/confirm",
        name: "email_change_confirm",
        credential: true,
        decode: |req| {
            let (bearer, code) = bearer_and_code(req)?;
            Ok(Call::new(
                Operation::as_user(bearer, UserOp::ChangeEmailConfirm { code }),
                render,
            ))
        },
        doc: || {
            RouteDoc::new(
                "Switch to the new address with the code mailed to it",
                Some(obj(&["code"], json!({"code": s()}))),
                Some("bearer"),
                (
                    200,
                    Some(obj(
                        &["email", "email_verified"],
                        json!({"email": s(), "email_verified": {"type": "boolean"}}),
                    )),
                ),
            )
        },
    },
    Route {
        method: Method::POST,
        path: "/passkeys/register/start",
        name: "passkey_register_start",
        credential: false,
        decode: |req| {
            empty_or_object(req)?;
            let op = Operation::as_user(req.bearer(), UserOp::PasskeyRegisterStart);
            Ok(Call::new(op, render))
        },
        doc: || {
            RouteDoc::new(
                "Start registering a passkey (WebAuthn creation options)",
                Some(any_object()),
                Some("bearer"),
                (200, Some(passkey_challenge_doc())),
            )
        },
    },
    Route {
        method: Method::POST,
        path: "/passkeys/register/finish",
        name: "passkey_register_finish",
        credential: true,
        decode: |req| {
            let b: PasskeyFinishBody = req.json().map_err(|_| invalid_request())?;
            let (ceremony, credential) = b.parts()?;
            let op = Operation::as_user(
                req.bearer(),
                UserOp::PasskeyRegisterFinish {
                    ceremony,
                    name: nonblank(b.name),
                    credential,
                },
            );
            Ok(Call::new(op, render))
        },
        doc: || {
            RouteDoc::new(
                "Finish a passkey registration (RegistrationResponseJSON)",
                Some(obj(
                    &["ceremony", "credential"],
                    json!({"ceremony": s(), "name": s(), "credential": any_object()}),
                )),
                Some("bearer"),
                (201, Some(passkey_doc())),
            )
        },
    },
    Route {
        method: Method::POST,
        path: "/passkeys/login/start",
        name: "passkey_login_start",
        credential: true,
        decode: |req| {
            empty_or_object(req)?;
            Ok(Call::new(Operation::PasskeyLoginStart, render))
        },
        doc: || {
            RouteDoc::new(
                "Start a sign-in with a passkey (WebAuthn request options; no username)",
                Some(any_object()),
                None,
                (200, Some(passkey_challenge_doc())),
            )
        },
    },
    Route {
        method: Method::POST,
        path: "/passkeys/login/finish",
        name: "passkey_login_finish",
        credential: true,
        decode: |req| {
            let b: PasskeyFinishBody = req.json().map_err(|_| invalid_request())?;
            let (ceremony, credential) = b.parts()?;
            let op = Operation::PasskeyLoginFinish {
                ceremony,
                credential,
            };
            Ok(Call::new(op, render_verify))
        },
        doc: || {
            RouteDoc::new(
                "Finish a sign-in with a passkey (AuthenticationResponseJSON)",
                Some(obj(
                    &["ceremony", "credential"],
                    json!({"ceremony": s(), "credential": any_object()}),
                )),
                None,
                (
                    200,
                    Some(obj(
                        &["status", "refresh_token", "user_id"],
                        json!({"status": s(), "refresh_token": s(), "user_id": s()}),
                    )),
                ),
            )
        },
    },
    Route {
        method: Method::GET,
        path: "/passkeys",
        name: "passkeys",
        credential: false,
        decode: |req| {
            let op = Operation::as_user(req.bearer(), UserOp::PasskeyList);
            Ok(Call::new(op, render))
        },
        doc: || {
            RouteDoc::new(
                "The account's passkeys",
                None,
                Some("bearer"),
                (200, Some(json!({"type": "array", "items": passkey_doc()}))),
            )
        },
    },
    Route {
        method: Method::PATCH,
        path: "/passkeys/{id}",
        name: "passkey_rename",
        credential: false,
        decode: |req| {
            let b: RenameBody = req.json().map_err(|_| invalid_request())?;
            let op = Operation::as_user(
                req.bearer(),
                UserOp::PasskeyRename {
                    id: passkey_id(req)?,
                    name: nonblank(b.name).ok_or_else(invalid_request)?,
                },
            );
            Ok(Call::new(op, render_renamed))
        },
        doc: || {
            RouteDoc::new(
                "Rename a passkey",
                Some(obj(&["name"], json!({"name": s()}))),
                Some("bearer"),
                (200, Some(passkey_doc())),
            )
        },
    },
    Route {
        method: Method::DELETE,
        path: "/passkeys/{id}",
        name: "passkey_delete",
        credential: false,
        decode: |req| {
            let op = Operation::as_user(
                req.bearer(),
                UserOp::PasskeyDelete {
                    id: passkey_id(req)?,
                },
            );
            Ok(Call::new(op, render))
        },
        doc: || {
            RouteDoc::new(
                "Remove a passkey (not the account's last way in)",
                None,
                Some("bearer"),
                (204, None),
            )
        },
    },
];

fn code(status: StatusCode, code: &str) -> Reply {
    Reply::json(status, &json!({"error": code}))
}

fn invalid_request() -> Reply {
    code(StatusCode::BAD_REQUEST, "invalid_request")
}

fn invalid_email() -> Reply {
    Reply::json(
        StatusCode::BAD_REQUEST,
        &json!({"error": "invalid_email", "error_description": "invalid email... try again !"}),
    )
}

#[derive(Deserialize)]
struct PasskeyFinishBody {
    ceremony: Option<String>,
    name: Option<String>,
    credential: Option<serde_json::Value>,
}

impl PasskeyFinishBody {
    /// The ceremony and the credential object; anything else is a malformed request.
    fn parts(&self) -> Result<(String, serde_json::Value), Reply> {
        let ceremony = nonblank(self.ceremony.clone()).ok_or_else(invalid_request)?;
        match &self.credential {
            Some(c @ serde_json::Value::Object(_)) => Ok((ceremony, c.clone())),
            _ => Err(invalid_request()),
        }
    }
}

#[derive(Deserialize)]
struct RenameBody {
    name: Option<String>,
}

/// A body that is empty or a JSON object (the starts of the passkey ceremonies take `{}`).
fn empty_or_object(req: &Request) -> Result<(), Reply> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    req.json::<serde_json::Map<String, serde_json::Value>>()
        .map(|_| ())
        .map_err(|_| invalid_request())
}

/// The passkey id of `/passkeys/{id}`.
fn passkey_id(req: &Request) -> Result<String, Reply> {
    crate::table::path_id("/passkeys/", req.path)
        .map(str::to_owned)
        .ok_or_else(invalid_request)
}

fn passkey_doc() -> serde_json::Value {
    obj(
        &["id", "name", "created_at"],
        json!({"id": s(), "name": s(), "created_at": s(), "last_used_at": ns()}),
    )
}

fn passkey_challenge_doc() -> serde_json::Value {
    obj(
        &["ceremony", "publicKey"],
        json!({"ceremony": s(), "publicKey": any_object()}),
    )
}

fn passkey_json(p: &crate::ops::PasskeyView) -> serde_json::Value {
    json!({"id": p.id, "name": p.name, "created_at": rfc3339_ms(p.created_at), "last_used_at": p.last_used_at.map(rfc3339_ms)})
}

#[derive(Deserialize)]
struct LoginBody {
    email: Option<String>,
}

/// `{"email"}`, trimmed and checked.
fn email_of(req: &Request) -> Result<String, Reply> {
    let b: LoginBody = req.json().map_err(|_| invalid_email())?;
    let email = nonblank(b.email)
        .map(|e| e.trim().to_owned())
        .ok_or_else(invalid_email)?;
    if !valid_email(&email) {
        return Err(invalid_email());
    }
    Ok(email)
}

#[derive(Deserialize)]
struct ResetBody {
    email: Option<String>,
    code: Option<String>,
    new_password: Option<String>,
}

#[derive(Deserialize)]
struct ChangePasswordBody {
    current_password: Option<String>,
    new_password: Option<String>,
}

#[derive(Deserialize)]
struct VerifyBody {
    session_code: Option<String>,
    mfa_code: Option<String>,
}

#[derive(Deserialize)]
struct RefreshBody {
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct CodeBody {
    code: Option<String>,
}

fn nonblank(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

fn refresh_token(req: &Request) -> Result<String, Reply> {
    let b: RefreshBody = req.json().map_err(|_| invalid_request())?;
    nonblank(b.refresh_token).ok_or_else(invalid_request)
}

/// TOTP confirm and disable, recovery codes: a bearer token and `{"code"}`.
fn bearer_and_code(req: &Request) -> Result<(crate::ops::Bearer, String), Reply> {
    let b: CodeBody = req.json().map_err(|_| invalid_request())?;
    let code = nonblank(b.code).ok_or_else(invalid_request)?;
    Ok((req.bearer(), code))
}

/// `/verify` answers tokens as the seed's "authenticated" status.
fn render_verify(ctx: &Ctx, o: Outcome) -> Reply {
    match o {
        Outcome::Tokens(t) => Reply::json(
            StatusCode::OK,
            &json!({"status": "authenticated", "refresh_token": t.refresh_token, "user_id": t.user.id}),
        )
        .no_store(),
        o => render(ctx, o),
    }
}

/// A renamed passkey is answered 200 (a registered one 201).
fn render_renamed(ctx: &Ctx, o: Outcome) -> Reply {
    match o {
        Outcome::Passkey(p) => Reply::json(StatusCode::OK, &passkey_json(&p)),
        o => render(ctx, o),
    }
}

/// `/verify` answers a wrong second factor with the seed's `mfa_required` status.
fn verify_error(f: Failure) -> Reply {
    match f {
        Failure::InvalidMfaCode => Reply::json(
            StatusCode::UNAUTHORIZED,
            &json!({"status": "mfa_required", "error": "invalid_mfa_code"}),
        ),
        f => error(f),
    }
}

fn render(_ctx: &Ctx, o: Outcome) -> Reply {
    match o {
        Outcome::CodeSent | Outcome::MailedTo { .. } => {
            Reply::json(StatusCode::ACCEPTED, &json!({"status": "code_sent"}))
        }
        Outcome::MfaRequired => Reply::json(StatusCode::OK, &json!({"status": "mfa_required"})),
        Outcome::EmailVerified { .. } => {
            Reply::json(StatusCode::OK, &json!({"email_verified": true}))
        }
        Outcome::PasswordReset { .. } => {
            Reply::json(StatusCode::OK, &json!({"status": "password_reset"}))
        }
        Outcome::PasswordChanged => {
            Reply::json(StatusCode::OK, &json!({"status": "password_changed"}))
        }
        Outcome::EmailChanged { email } => Reply::json(
            StatusCode::OK,
            &json!({"email": email, "email_verified": true}),
        ),
        Outcome::Tokens(t) => Reply::json(
            StatusCode::OK,
            &json!({"access_token": t.access_token, "token_type": "Bearer", "expires_in": t.expires_in, "refresh_token": t.refresh_token}),
        )
        .no_store(),
        Outcome::User(u) => Reply::json(
            StatusCode::OK,
            &json!({"id": u.id, "email": u.email, "email_verified": u.email_verified, "mfa_enabled": u.mfa_enabled, "created_at": rfc3339_ms(u.created_at)}),
        ),
        Outcome::TotpEnrollment { secret, otpauth_url } => {
            Reply::json(StatusCode::OK, &json!({"secret": secret, "otpauth_url": otpauth_url})).no_store()
        }
        Outcome::MfaEnabled { recovery_codes } => Reply::json(
            StatusCode::OK,
            &json!({"mfa_enabled": true, "recovery_codes": recovery_codes}),
        )
        .no_store(),
        Outcome::RecoveryCodes(codes) => {
            Reply::json(StatusCode::OK, &json!({"recovery_codes": codes})).no_store()
        }
        Outcome::Done => Reply::empty(StatusCode::NO_CONTENT),
        Outcome::PasskeyChallenge {
            ceremony,
            public_key,
        } => Reply::json(
            StatusCode::OK,
            &json!({"ceremony": ceremony, "publicKey": public_key}),
        )
        .no_store(),
        Outcome::Passkey(p) => Reply::json(StatusCode::CREATED, &passkey_json(&p)),
        Outcome::Passkeys(all) => Reply::json(
            StatusCode::OK,
            &serde_json::Value::Array(all.iter().map(passkey_json).collect()),
        ),
        // Outcomes of other families' operations never reach this one.
        Outcome::Introspection(_) | Outcome::MfaPending { .. } | Outcome::Session { .. } => {
            error(Failure::Transport(Transport::Internal))
        }
    }
}

/// Every failure in this family's format.
fn error(f: Failure) -> Reply {
    let bad = StatusCode::BAD_REQUEST;
    let unauthorized = StatusCode::UNAUTHORIZED;
    match f {
        Failure::InvalidEmail => invalid_email(),
        Failure::InvalidField(fe) if fe.field == "email" => invalid_email(),
        Failure::InvalidField(fe) => Reply::json(
            bad,
            &json!({"error": "invalid_request", "error_description": fe.to_string()}),
        ),
        Failure::MfaRequired | Failure::InvalidMfaPending => code(unauthorized, "mfa_required"),
        Failure::RefreshInvalid | Failure::RefreshExpired => code(unauthorized, "invalid_token"),
        Failure::MissingToken => code(unauthorized, "missing_token").bearer_challenge(false),
        Failure::TokenInvalid | Failure::TokenExpired => {
            code(unauthorized, "invalid_token").bearer_challenge(true)
        }
        Failure::Disabled | Failure::Unverified => code(StatusCode::FORBIDDEN, "account_disabled"),
        Failure::LockedOut { retry_after } => {
            code(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts").retry_after(retry_after)
        }
        Failure::Transport(Transport::RateLimited { retry_after }) => {
            code(StatusCode::TOO_MANY_REQUESTS, "rate_limited").retry_after(retry_after)
        }
        Failure::Transport(Transport::Overloaded { retry_after }) => {
            code(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable")
                .retry_after(retry_after)
        }
        Failure::Transport(Transport::Timeout) => {
            code(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable").retry_after(1)
        }
        Failure::Transport(Transport::PayloadTooLarge) => {
            code(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request")
        }
        Failure::Transport(Transport::Internal) => {
            code(StatusCode::INTERNAL_SERVER_ERROR, "server_error")
        }
        Failure::EmailTaken => code(bad, "email_taken"),
        Failure::InvalidCredentials => code(bad, "invalid_credentials"),
        Failure::ReauthRequired => Reply::json(
            bad,
            &json!({"error": "reauthentication_required", "error_description": "sign in again first (a password change may give current_password instead)"}),
        ),
        Failure::LastSignInMethod => Reply::json(
            StatusCode::CONFLICT,
            &json!({"error": "last_sign_in_method", "error_description": "the account's last way in: add a password or another passkey first"}),
        ),
        Failure::UsernameTaken | Failure::RoleNotAllowed | Failure::InvalidClient => {
            invalid_request()
        }
        // The others (and any failure added later): the default answer, which is this
        // family's.
        f => {
            let (status, c, _) = f.default_answer();
            code(status, c)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Bearer;
    use http::{HeaderMap, HeaderValue};

    fn call(name: &str, headers: &HeaderMap, body: &[u8]) -> Result<Call, Reply> {
        let ctx = Ctx {
            base_url: "http://x/session".into(),
            min_password_length: 8,
        };
        let route = ROUTES.iter().find(|r| r.name == name).unwrap();
        (route.decode)(&Request {
            ctx: &ctx,
            method: &route.method,
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

    fn body(r: &Reply) -> serde_json::Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    /// The codes this family answered before it took the default answer for them.
    #[test]
    fn the_default_answer_is_this_familys() {
        let bad = StatusCode::BAD_REQUEST;
        let conflict = StatusCode::CONFLICT;
        for (f, status, c) in [
            (
                Failure::MailUnavailable,
                StatusCode::SERVICE_UNAVAILABLE,
                "mail_unavailable",
            ),
            (Failure::InvalidSessionCode, bad, "invalid_session_code"),
            (Failure::InvalidMfaCode, bad, "invalid_mfa_code"),
            (Failure::MfaNotPending, conflict, "mfa_not_pending"),
            (Failure::MfaAlreadyEnabled, conflict, "mfa_already_enabled"),
            (Failure::MfaNotEnabled, conflict, "mfa_not_enabled"),
            (Failure::InvalidCode, bad, "invalid_code"),
            (Failure::Blocked, StatusCode::FORBIDDEN, "account_blocked"),
            (Failure::WeakPassword, bad, "weak_password"),
            (Failure::InvalidPasskey, bad, "invalid_passkey"),
            (Failure::PasskeyNotFound, StatusCode::NOT_FOUND, "not_found"),
        ] {
            let r = error(f);
            assert_eq!(r.status, status, "{f:?}");
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(v["error"], c, "{f:?}");
        }
    }

    #[test]
    fn login_checks_the_address() {
        let h = json_headers();
        let r = call("login", &h, br#"{"email":"nope"}"#).unwrap_err();
        assert_eq!(
            body(&r),
            json!({"error": "invalid_email", "error_description": "invalid email... try again !"})
        );
        assert!(call("login", &h, b"{}").is_err());
        let c = call("login", &h, br#"{"email":" a@example.com "}"#).unwrap();
        assert_eq!(
            c.op,
            Operation::RequestCode {
                email: "a@example.com".into()
            }
        );
    }

    #[test]
    fn verify_token_and_errors() {
        let h = json_headers();
        let c = call(
            "verify",
            &h,
            br#"{"session_code":"ABCD-EFGH-JKMN","mfa_code":"123456"}"#,
        )
        .unwrap();
        assert_eq!(
            c.op,
            Operation::RedeemCode {
                code: "ABCD-EFGH-JKMN".into(),
                mfa_code: Some("123456".into())
            }
        );
        assert_eq!(
            body(&call("verify", &h, b"{}").unwrap_err())["error"],
            "invalid_session_code"
        );
        assert_eq!(
            body(&call("token", &h, br#"{"refresh_token":""}"#).unwrap_err())["error"],
            "invalid_request"
        );
        assert_eq!(
            body(&call("token", &h, b"[").unwrap_err())["error"],
            "invalid_request"
        );
        let r = verify_error(Failure::InvalidMfaCode);
        assert_eq!(
            (r.status, body(&r)),
            (
                StatusCode::UNAUTHORIZED,
                json!({"status": "mfa_required", "error": "invalid_mfa_code"})
            )
        );
        assert_eq!(
            error(Failure::InvalidMfaCode).status,
            StatusCode::BAD_REQUEST
        );
        let r = error(Failure::MissingToken);
        assert_eq!(body(&r)["error"], "missing_token");
        assert!(
            r.headers
                .iter()
                .any(|(k, v)| k == http::header::WWW_AUTHENTICATE
                    && v == r#"Bearer realm="latchkey""#)
        );
        let c = call("me", &HeaderMap::new(), b"").unwrap();
        assert_eq!(
            c.op,
            Operation::as_user(Bearer::Missing, UserOp::CurrentUser)
        );
    }
}
