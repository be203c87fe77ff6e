//! An account's fields: the one definition of what may be stored in them, used by every
//! way in (the families' sign-ups, the service behind them, the admin API and command
//! line, `user import`). A field that passes here is safe to show on a page, to write in
//! a log line and to send in a header (`X-Auth-Role`, `Remote-Name`).

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory as _};

use crate::input::{canonical_username, valid_email};
pub use crate::ops::FieldError;

/// Longest display, first or last name, characters.
pub const MAX_NAME_CHARS: usize = 128;
/// Longest role, bytes.
pub const MAX_ROLE_LEN: usize = 64;

/// Whether `c` may stand in text people see: no controls, no format characters (bidi
/// overrides and isolates, zero-width joiners, the BOM), no line or paragraph separators,
/// no private-use, surrogate or unassigned code points.
pub fn is_plain_char(c: char) -> bool {
    !matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::PrivateUse
            | GeneralCategory::Surrogate
            | GeneralCategory::Unassigned
    )
}

/// `s` trimmed, when it is 1 to `max` characters of [`is_plain_char`].
pub fn plain_text(s: &str, max: usize) -> Option<&str> {
    let t = s.trim();
    let n = t.chars().count();
    ((1..=max).contains(&n) && t.chars().all(is_plain_char)).then_some(t)
}

/// Whether `role` is a role name: 1 to 64 of ASCII letters, digits, `_`, `-`, `.`, `:`
/// (it travels in headers and is compared byte for byte).
pub fn valid_role(role: &str) -> bool {
    (1..=MAX_ROLE_LEN).contains(&role.len())
        && role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b))
}

/// The fields of an account as given (any way in).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    /// Email address.
    pub email: Option<String>,
    /// Username, as typed.
    pub username: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Role.
    pub role: Option<String>,
}

impl Fields {
    /// The fields checked and in the form they are stored: the email trimmed (its case
    /// kept), the username canonical (RFC 8265), names trimmed; the first wrong field
    /// refuses them all.
    pub fn checked(self) -> Result<Fields, FieldError> {
        let err = |field, why| FieldError { field, why };
        let email = match self.email {
            Some(e) if !valid_email(e.trim()) => {
                return Err(err("email", "is not a valid address"))
            }
            e => e.map(|e| e.trim().to_owned()),
        };
        let username = match self.username {
            Some(u) => Some(canonical_username(&u).ok_or(err(
                "username",
                "must be 1 to 64 characters, without `@`, spaces, controls or invisible characters",
            ))?),
            None => None,
        };
        let name = |field, v: Option<String>| match v {
            Some(n) => plain_text(&n, MAX_NAME_CHARS)
                .map(|n| Some(n.to_owned()))
                .ok_or(err(
                    field,
                    "must be 1 to 128 characters, without controls or invisible characters",
                )),
            None => Ok(None),
        };
        let display_name = name("display_name", self.display_name)?;
        let first_name = name("first_name", self.first_name)?;
        let last_name = name("last_name", self.last_name)?;
        if self.role.as_deref().is_some_and(|r| !valid_role(r)) {
            return Err(err(
                "role",
                "must be 1 to 64 ASCII letters, digits, `_`, `-`, `.` or `:`",
            ));
        }
        Ok(Fields {
            email,
            username,
            display_name,
            first_name,
            last_name,
            role: self.role,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_refuse_what_hides_or_reorders_text() {
        assert_eq!(plain_text("  Ada Lovelace ", 128), Some("Ada Lovelace"));
        assert_eq!(plain_text("Zoë 李", 128), Some("Zoë 李"));
        for bad in [
            "",
            "   ",
            "a\u{202e}b",
            "a\u{2066}b",
            "a\u{200b}b",
            "a\nb",
            "a\u{2028}b",
            "\u{feff}a",
            "a\u{e000}",
        ] {
            assert_eq!(plain_text(bad, 128), None, "{bad:?}");
        }
        assert!(plain_text(&"x".repeat(128), 128).is_some());
        assert!(plain_text(&"x".repeat(129), 128).is_none());
    }

    #[test]
    fn roles_travel_in_headers() {
        assert!(valid_role("admin") && valid_role("org:team.lead_2-x"));
        for bad in [
            "",
            "a b",
            "a\r\nX-Auth-Role: admin",
            "rôle",
            &"r".repeat(65),
        ] {
            assert!(!valid_role(bad), "{bad:?}");
        }
    }

    #[test]
    fn every_field_is_checked_and_named() {
        let ok = Fields {
            email: Some(" a@example.com ".into()),
            username: Some("Ａda".into()),
            display_name: Some(" Ada ".into()),
            role: Some("user".into()),
            ..Fields::default()
        }
        .checked()
        .unwrap();
        assert_eq!(ok.email.as_deref(), Some("a@example.com"));
        assert_eq!(ok.username.as_deref(), Some("ada"));
        assert_eq!(ok.display_name.as_deref(), Some("Ada"));
        let field = |f: Fields| f.checked().unwrap_err().field;
        assert_eq!(
            field(Fields {
                email: Some("nope".into()),
                ..Fields::default()
            }),
            "email"
        );
        assert_eq!(
            field(Fields {
                username: Some("a b".into()),
                ..Fields::default()
            }),
            "username"
        );
        assert_eq!(
            field(Fields {
                display_name: Some("x".repeat(1 << 20)),
                ..Fields::default()
            }),
            "display_name"
        );
        assert_eq!(
            field(Fields {
                last_name: Some("a\u{202e}".into()),
                ..Fields::default()
            }),
            "last_name"
        );
        assert_eq!(
            field(Fields {
                role: Some("a\r\nb".into()),
                ..Fields::default()
            }),
            "role"
        );
    }
}
