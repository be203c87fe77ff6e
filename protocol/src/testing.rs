//! Samples for the families' unit tests.

use crate::input::Ctx;
use crate::ops::{Failure, Outcome, Tokens, Transport, UserView};

pub fn ctx() -> Ctx {
    Ctx {
        base_url: "http://x".into(),
        min_password_length: 8,
    }
}

pub fn user() -> UserView {
    UserView {
        id: "0123456789abcdef0123456789abcdef".into(),
        num: 7,
        email: Some("a@example.com".into()),
        username: Some("a".into()),
        display_name: None,
        first_name: None,
        last_name: None,
        role: "user".into(),
        state: "active",
        created_at: 0,
        updated_at: 0,
        last_login_at: None,
        mfa_enabled: false,
        email_verified: false,
    }
}

pub fn tokens() -> Outcome {
    Outcome::Tokens(Tokens {
        access_token: "at".into(),
        expires_in: 1800,
        issued_at: 0,
        expires_at: 1_800_000,
        refresh_token: "rt".into(),
        family_id: "fam".into(),
        family_created_at: 0,
        user: user(),
    })
}

/// Every failure, once (the match below stops compiling when a variant is added, so the
/// list cannot fall behind).
pub fn every_failure() -> Vec<Failure> {
    let all = vec![
        Failure::WeakPassword,
        Failure::EmailTaken,
        Failure::UsernameTaken,
        Failure::RoleNotAllowed,
        Failure::InvalidClient,
        Failure::InvalidCredentials,
        Failure::RefreshInvalid,
        Failure::RefreshExpired,
        Failure::MissingToken,
        Failure::TokenInvalid,
        Failure::TokenExpired,
        Failure::Disabled,
        Failure::Blocked,
        Failure::Unverified,
        Failure::LockedOut { retry_after: 5 },
        Failure::Transport(Transport::RateLimited { retry_after: 5 }),
        Failure::Transport(Transport::Overloaded { retry_after: 1 }),
        Failure::Transport(Transport::PayloadTooLarge),
        Failure::Transport(Transport::Timeout),
        Failure::Transport(Transport::Internal),
        Failure::InvalidEmail,
        Failure::MailUnavailable,
        Failure::InvalidSessionCode,
        Failure::InvalidMfaCode,
        Failure::MfaNotPending,
        Failure::MfaAlreadyEnabled,
        Failure::MfaNotEnabled,
        Failure::MfaRequired,
        Failure::InvalidMfaPending,
        Failure::InvalidCode,
        Failure::ReauthRequired,
        Failure::InvalidPasskey,
        Failure::PasskeyNotFound,
        Failure::LastSignInMethod,
        Failure::InvalidField(crate::fields::FieldError {
            field: "display_name",
            why: "is too long",
        }),
    ];
    for f in &all {
        match f {
            Failure::WeakPassword
            | Failure::EmailTaken
            | Failure::UsernameTaken
            | Failure::RoleNotAllowed
            | Failure::InvalidClient
            | Failure::InvalidCredentials
            | Failure::RefreshInvalid
            | Failure::RefreshExpired
            | Failure::MissingToken
            | Failure::TokenInvalid
            | Failure::TokenExpired
            | Failure::Disabled
            | Failure::Blocked
            | Failure::Unverified
            | Failure::LockedOut { .. }
            | Failure::Transport(Transport::RateLimited { .. })
            | Failure::Transport(Transport::Overloaded { .. })
            | Failure::Transport(Transport::PayloadTooLarge)
            | Failure::Transport(Transport::Timeout)
            | Failure::Transport(Transport::Internal)
            | Failure::InvalidEmail
            | Failure::MailUnavailable
            | Failure::InvalidSessionCode
            | Failure::InvalidMfaCode
            | Failure::MfaNotPending
            | Failure::MfaAlreadyEnabled
            | Failure::MfaNotEnabled
            | Failure::MfaRequired
            | Failure::InvalidMfaPending
            | Failure::InvalidCode
            | Failure::ReauthRequired
            | Failure::InvalidPasskey
            | Failure::PasskeyNotFound
            | Failure::LastSignInMethod
            | Failure::InvalidField(_) => {}
        }
    }
    all
}
