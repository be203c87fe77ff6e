//! Samples for the families' unit tests.

use crate::input::Ctx;
use crate::ops::{Outcome, Tokens, UserView};

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
