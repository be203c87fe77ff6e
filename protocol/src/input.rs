//! The untrusted input of a request and the strict parsers every family shares:
//! bodies (JSON, form), `Authorization` headers (Bearer, Basic), emails and usernames.

use std::collections::BTreeMap;

use base64::Engine as _;
use http::{header, HeaderMap, Method};
use serde::de::DeserializeOwned;

use crate::ops::{Bearer, ClientCredentials, Secret};

/// Longest bearer token accepted; anything longer is refused unread.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// What a family knows of where it is mounted and of the policies it may check itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ctx {
    /// `server.public_url` + the family's mount prefix, without a trailing slash.
    pub base_url: String,
    /// `password.min_length`.
    pub min_password_length: usize,
}

/// A request as the families see it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Where the family is mounted.
    pub ctx: &'a Ctx,
    /// Method.
    pub method: &'a Method,
    /// Path below the family's mount prefix, starting with `/`.
    pub path: &'a str,
    /// Raw query string, if any.
    pub query: Option<&'a str>,
    /// Headers.
    pub headers: &'a HeaderMap,
    /// The whole body (already bounded by the server).
    pub body: &'a [u8],
}

/// The body's declared media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// `application/json`.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// Anything else.
    Other,
    /// No `Content-Type` header.
    Missing,
}

impl Request<'_> {
    /// The media type of the body, ignoring parameters such as `charset`.
    pub fn body_kind(&self) -> BodyKind {
        let Some(v) = self.headers.get(header::CONTENT_TYPE) else {
            return BodyKind::Missing;
        };
        let Ok(v) = v.to_str() else {
            return BodyKind::Other;
        };
        let media = v.split(';').next().unwrap_or("").trim();
        if media.eq_ignore_ascii_case("application/json") {
            BodyKind::Json
        } else if media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            BodyKind::Form
        } else {
            BodyKind::Other
        }
    }

    /// Decodes a JSON body into `T`, which must be declared `Content-Type: application/json`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, String> {
        match self.body_kind() {
            BodyKind::Json => parse_json(self.body),
            BodyKind::Missing => Err("Content-Type: application/json is required".into()),
            _ => Err("unsupported Content-Type; send application/json".into()),
        }
    }

    /// The bearer token, if any (RFC 6750 §2.1).
    pub fn bearer(&self) -> Bearer {
        parse_bearer(self.headers)
    }

    /// Client credentials from `Authorization: Basic` (RFC 6749 §2.3.1); `None` when the
    /// header is absent or not well-formed.
    pub fn basic(&self) -> Option<ClientCredentials> {
        parse_basic(self.headers)
    }
}

/// Parses a JSON document completely (trailing bytes refused). Duplicate fields of the
/// target struct are refused by serde.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("malformed JSON body: {e}"))
}

/// Parses an `application/x-www-form-urlencoded` body. Every parameter may appear at
/// most once (RFC 6749 §3.2); empty values count as absent.
pub fn parse_form(body: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(format!("parameter `{k}` given more than once"));
        }
    }
    out.retain(|_, v| !v.is_empty());
    Ok(out)
}

fn single_authorization(headers: &HeaderMap) -> Result<Option<&str>, ()> {
    let mut all = headers.get_all(header::AUTHORIZATION).iter();
    let Some(first) = all.next() else {
        return Ok(None);
    };
    if all.next().is_some() {
        return Err(());
    }
    first.to_str().map(Some).map_err(|_| ())
}

fn split_scheme(value: &str) -> (&str, &str) {
    match value.split_once(' ') {
        Some((scheme, rest)) => (scheme, rest),
        None => (value, ""),
    }
}

/// RFC 6750 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(t: &str) -> bool {
    let body = t.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// The bearer token of the `Authorization` header.
pub fn parse_bearer(headers: &HeaderMap) -> Bearer {
    let value = match single_authorization(headers) {
        Ok(None) => return Bearer::Missing,
        Ok(Some(v)) => v,
        Err(()) => return Bearer::Malformed,
    };
    let (scheme, token) = split_scheme(value);
    if !scheme.eq_ignore_ascii_case("bearer") {
        // Some other scheme: no bearer credentials were offered.
        return Bearer::Missing;
    }
    if token.len() > MAX_TOKEN_LEN || !is_b64token(token) {
        return Bearer::Malformed;
    }
    Bearer::Token(token.to_owned())
}

/// The user and password of an `Authorization: Basic` header (RFC 7617), as sent.
pub fn parse_basic_raw(headers: &HeaderMap) -> Option<(String, Secret)> {
    let value = single_authorization(headers).ok()??;
    let (scheme, b64) = split_scheme(value);
    if !scheme.eq_ignore_ascii_case("basic") || b64.len() > 4096 {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), Secret(password.to_owned())))
}

/// OAuth client credentials of an `Authorization: Basic` header. Per RFC 6749 §2.3.1 both
/// parts are form-urlencoded before base64; they are decoded here.
pub fn parse_basic(headers: &HeaderMap) -> Option<ClientCredentials> {
    let (id, secret) = parse_basic_raw(headers)?;
    Some(ClientCredentials {
        id: form_decode(&id)?,
        secret: Secret(form_decode(&secret.0)?),
    })
}

fn form_decode(s: &str) -> Option<String> {
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Whether `s` is a syntactically acceptable email address: `local@domain`, printable
/// ASCII local part, a dotted domain of letters, digits and hyphens, 254 bytes at most.
pub fn valid_email(s: &str) -> bool {
    if s.len() > 254 {
        return false;
    }
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    local_ok && domain_ok
}

/// A few hundred of the most common passwords; any of them is weak whatever its length.
static COMMON_PASSWORDS: &str = include_str!("../../fixtures/common-passwords.txt");

/// Longest password accepted, bytes (bounds the work one request can ask for).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Whether a new password is too weak: shorter than `min_length` characters, longer than
/// [`MAX_PASSWORD_BYTES`], one repeated character, a very common password, or the same
/// as the account's own username or email (`identities`).
pub fn is_weak_password(password: &str, min_length: usize, identities: &[&str]) -> bool {
    let lower = password.to_lowercase();
    password.chars().count() < min_length
        || password.len() > MAX_PASSWORD_BYTES
        || password.chars().all(|c| password.starts_with(c))
        || COMMON_PASSWORDS.lines().any(|l| l == lower)
        || identities.iter().any(|i| i.to_lowercase() == lower)
}

/// Whether `s` is an acceptable username: 1 to 64 characters, no `@` (so a login is
/// never ambiguous between username and email), no white space or control characters.
pub fn valid_username(s: &str) -> bool {
    let n = s.chars().count();
    (1..=64).contains(&n)
        && !s.contains('@')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn auth(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn bearer_forms() {
        assert_eq!(parse_bearer(&HeaderMap::new()), Bearer::Missing);
        assert_eq!(parse_bearer(&auth("Basic abc")), Bearer::Missing);
        assert_eq!(
            parse_bearer(&auth("Bearer a.b-c_d~")),
            Bearer::Token("a.b-c_d~".into())
        );
        assert_eq!(
            parse_bearer(&auth("bearer xyz==")),
            Bearer::Token("xyz==".into())
        );
        assert_eq!(parse_bearer(&auth("Bearer ")), Bearer::Malformed);
        assert_eq!(parse_bearer(&auth("Bearer a b")), Bearer::Malformed);
        assert_eq!(parse_bearer(&auth("Bearer =abc")), Bearer::Malformed);
        let long = format!("Bearer {}", "a".repeat(MAX_TOKEN_LEN + 1));
        assert_eq!(parse_bearer(&auth(&long)), Bearer::Malformed);
        let mut two = auth("Bearer a");
        two.append(header::AUTHORIZATION, HeaderValue::from_static("Bearer b"));
        assert_eq!(parse_bearer(&two), Bearer::Malformed);
    }

    #[test]
    fn basic_is_form_decoded() {
        // "my%20id:p%3Ass+w" base64
        let b64 = base64::engine::general_purpose::STANDARD.encode("my%20id:p%3Ass+w");
        let c = parse_basic(&auth(&format!("Basic {b64}"))).unwrap();
        assert_eq!(c.id, "my id");
        assert_eq!(c.secret, Secret("p:ss w".into()));
        assert!(parse_basic(&auth("Basic !!!")).is_none());
        assert!(parse_basic(&auth("Bearer abc")).is_none());
    }

    #[test]
    fn form_refuses_duplicates() {
        assert!(parse_form(b"a=1&a=2").is_err());
        let f = parse_form(b"a=1&b=&c=x+y").unwrap();
        assert_eq!(f.get("a").map(String::as_str), Some("1"));
        assert!(!f.contains_key("b"));
        assert_eq!(f.get("c").map(String::as_str), Some("x y"));
    }

    #[test]
    fn emails_and_usernames() {
        for ok in [
            "a@example.com",
            "first.last+tag@sub.example.org",
            "x@a-b.io",
        ] {
            assert!(valid_email(ok), "{ok}");
        }
        for bad in [
            "", "a", "a@", "@b.c", "a@b", "a b@c.d", "a@-b.c", "a..b@c.d", "a@b..c",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
        assert!(valid_username("jimcarrey"));
        assert!(!valid_username("a@b"));
        assert!(!valid_username(""));
        assert!(!valid_username("a b"));
        assert!(!valid_username(&"x".repeat(65)));
    }

    #[test]
    fn weak_passwords() {
        assert!(is_weak_password("short", 8, &[]));
        assert!(is_weak_password("password", 8, &[]));
        assert!(is_weak_password("P@ssw0rd!", 8, &[]));
        assert!(is_weak_password("aaaaaaaaaaaa", 8, &[]));
        assert!(is_weak_password("Jimcarrey99", 8, &["jimcarrey99"]));
        assert!(is_weak_password(&"x1".repeat(600), 8, &[]));
        assert!(!is_weak_password("correct horse battery", 8, &["jim"]));
    }
}
