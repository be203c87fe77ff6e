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
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, InputError> {
        match self.body_kind() {
            BodyKind::Json => parse_json(self.body),
            BodyKind::Missing => Err(InputError::NoContentType),
            _ => Err(InputError::NotJsonContentType),
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
/// target struct are refused by serde. The error says what is wrong in the server's own
/// words: never a value from the body, never a type name.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, InputError> {
    serde_json::from_slice(body).map_err(|e| json_error(&e))
}

/// Why a request's body could not be read, in the server's own words: the member when it
/// is one of ours (serde names fields of our own structs), never a value that was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputError {
    /// No `Content-Type` where a JSON body was wanted.
    NoContentType,
    /// Another `Content-Type` where a JSON body was wanted.
    NotJsonContentType,
    /// Not a JSON document.
    NotJson,
    /// A member given more than once.
    Repeated(String),
    /// A member that is missing.
    Missing(String),
    /// A member of the wrong type.
    WrongType,
    /// A form parameter whose bytes are not UTF-8.
    FormNotUtf8,
    /// A form parameter given more than once.
    FormRepeated(String),
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputError::NoContentType => f.write_str("Content-Type: application/json is required"),
            InputError::NotJsonContentType => {
                f.write_str("unsupported Content-Type; send application/json")
            }
            InputError::NotJson => f.write_str("malformed JSON body: not a JSON document"),
            InputError::Repeated(m) => {
                write!(f, "malformed JSON body: `{m}` is given more than once")
            }
            InputError::Missing(m) => write!(f, "malformed JSON body: `{m}` is missing"),
            InputError::WrongType => {
                f.write_str("malformed JSON body: a member has the wrong type")
            }
            InputError::FormNotUtf8 => f.write_str("a form parameter is not UTF-8"),
            InputError::FormRepeated(k) => write!(f, "parameter `{k}` given more than once"),
        }
    }
}

impl std::error::Error for InputError {}

impl From<InputError> for String {
    fn from(e: InputError) -> String {
        e.to_string()
    }
}

/// What kind of mistake a JSON error is, for a client.
fn json_error(e: &serde_json::Error) -> InputError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => InputError::NotJson,
        Category::Data => {
            let text = e.to_string();
            let named = ["duplicate field `", "missing field `"]
                .iter()
                .find_map(|p| text.strip_prefix(p).map(|rest| (p, rest)))
                .and_then(|(p, rest)| rest.split_once('`').map(|(field, _)| (p, field)));
            match named {
                Some((p, field)) if p.starts_with("duplicate") => {
                    InputError::Repeated(field.to_owned())
                }
                Some((_, field)) => InputError::Missing(field.to_owned()),
                None => InputError::WrongType,
            }
        }
    }
}

/// A JSON object whose members are all different: a duplicate member is refused
/// instead of the last one winning.
pub fn parse_json_object(
    body: &[u8],
) -> Result<serde_json::Map<String, serde_json::Value>, InputError> {
    parse_json::<UniqueObject>(body).map(|o| o.0)
}

struct UniqueObject(serde_json::Map<String, serde_json::Value>);

impl<'de> serde::Deserialize<'de> for UniqueObject {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = UniqueObject;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<UniqueObject, A::Error> {
                let mut m = serde_json::Map::new();
                while let Some((k, v)) = a.next_entry::<String, serde_json::Value>()? {
                    if m.contains_key(&k) {
                        return Err(serde::de::Error::custom("duplicate field `member`"));
                    }
                    m.insert(k, v);
                }
                Ok(UniqueObject(m))
            }
        }
        d.deserialize_map(V)
    }
}

/// Parses an `application/x-www-form-urlencoded` body. Every parameter may appear at
/// most once (RFC 6749 §3.2); empty values count as absent. Decoding is strict: a name
/// or value whose bytes are not UTF-8 (`%FF`) is refused, not replaced.
pub fn parse_form(body: &[u8]) -> Result<BTreeMap<String, String>, InputError> {
    let decode = |raw: &[u8]| -> Result<String, InputError> {
        let spaced: Vec<u8> = raw
            .iter()
            .map(|b| if *b == b'+' { b' ' } else { *b })
            .collect();
        let bytes: Vec<u8> = percent_encoding::percent_decode(&spaced).collect();
        String::from_utf8(bytes).map_err(|_| InputError::FormNotUtf8)
    };
    let mut out = BTreeMap::new();
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let mut kv = pair.splitn(2, |b| *b == b'=');
        let k = decode(kv.next().unwrap_or_default())?;
        let v = decode(kv.next().unwrap_or_default())?;
        if out.contains_key(&k) {
            return Err(InputError::FormRepeated(k));
        }
        out.insert(k, v);
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

/// The scheme and the credentials of an `Authorization` value: `1*SP` between them
/// (RFC 9110 §11.4, RFC 6750 §2.1).
fn split_scheme(value: &str) -> (&str, &str) {
    match value.split_once(' ') {
        Some((scheme, rest)) => (scheme, rest.trim_start_matches(' ')),
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

/// The bearer token of a request that may also carry it in a form body (RFC 6750 §2.2:
/// `access_token` in an `application/x-www-form-urlencoded` POST, `form_body`). A token
/// offered both ways, a body that does not parse, or a malformed token is `Malformed`.
pub fn parse_bearer_or_form(headers: &HeaderMap, form_body: Option<&[u8]>) -> Bearer {
    let in_header = parse_bearer(headers);
    let Some(body) = form_body else {
        return in_header;
    };
    let Ok(mut form) = parse_form(body) else {
        return Bearer::Malformed;
    };
    match (form.remove("access_token"), in_header) {
        (None, h) => h,
        (Some(_), Bearer::Token(_) | Bearer::Malformed) => Bearer::Malformed,
        (Some(t), Bearer::Missing) if t.len() <= MAX_TOKEN_LEN && is_b64token(&t) => {
            Bearer::Token(t)
        }
        (Some(_), Bearer::Missing) => Bearer::Malformed,
    }
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
/// A secret that does not decode (a lone `%`, say) is taken as it was sent.
pub fn parse_basic(headers: &HeaderMap) -> Option<ClientCredentials> {
    let (id, raw) = parse_basic_raw(headers)?;
    let (secret, raw_secret) = match form_decode(&raw.0) {
        Some(d) if d != raw.0 => (Secret(d), Some(raw)),
        Some(d) => (Secret(d), None),
        None => (raw, None),
    };
    Some(ClientCredentials {
        id: form_decode(&id)?,
        secret,
        raw_secret,
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

/// A password prepared as RFC 8265's OpaqueString profile says (non-ASCII spaces mapped
/// to ASCII space, NFC), so that every way of typing the same characters gives the same
/// bytes to hash; `None` when the profile refuses it (control characters, unassigned
/// code points, empty).
pub fn prepare_password(password: &str) -> Option<String> {
    use precis_profiles::precis_core::profile::PrecisFastInvocation as _;
    if password.len() > MAX_PASSWORD_BYTES {
        return None;
    }
    precis_profiles::OpaqueString::enforce(password)
        .ok()
        .map(|p| p.into_owned())
}

/// Characters as people see them (extended grapheme clusters): `a` followed by seven
/// combining marks is one.
pub fn visible_length(s: &str) -> usize {
    unicode_segmentation::UnicodeSegmentation::graphemes(s, true).count()
}

/// Whether a new password is too weak: refused by the OpaqueString profile, shorter than
/// `min_length` characters as people see them, longer than [`MAX_PASSWORD_BYTES`], one
/// repeated character, a very common password, or the same as the account's own username
/// or email (`identities`).
pub fn is_weak_password(password: &str, min_length: usize, identities: &[&str]) -> bool {
    let Some(prepared) = prepare_password(password) else {
        return true;
    };
    let lower = prepared.to_lowercase();
    visible_length(&prepared) < min_length
        || prepared.chars().all(|c| prepared.starts_with(c))
        || COMMON_PASSWORDS.lines().any(|l| l == lower)
        || identities.iter().any(|i| i.to_lowercase() == lower)
}

/// Longest username, characters.
pub const MAX_USERNAME_CHARS: usize = 64;

/// A username as RFC 8265's UsernameCaseMapped profile enforces it (width-mapped,
/// case-mapped, NFC; no spaces, controls or invisible characters, one direction), then
/// latchkey's own rules: 1 to 64 characters and no `@` (so a login is never ambiguous
/// between username and email). The result is what is stored and compared; `None`: not
/// an acceptable username. (Look-alikes of existing names in other scripts are refused by
/// the store, which indexes usernames by their confusable skeleton.)
pub fn canonical_username(s: &str) -> Option<String> {
    use precis_profiles::precis_core::profile::PrecisFastInvocation as _;
    let enforced = precis_profiles::UsernameCaseMapped::enforce(s).ok()?;
    let n = enforced.chars().count();
    ((1..=MAX_USERNAME_CHARS).contains(&n) && !enforced.contains('@'))
        .then(|| enforced.into_owned())
}

/// What a sign-in's login names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// An email address (lowercased; the store compares emails case-insensitively).
    Email(String),
    /// A username, canonical.
    Username(String),
}

/// The account a login names as typed (username or email, in any width or case), or
/// `None` when it cannot name one.
pub fn canonical_login(s: &str) -> Option<Login> {
    use precis_profiles::precis_core::profile::PrecisFastInvocation as _;
    let s = s.trim();
    if valid_email(s) {
        return Some(Login::Email(s.to_ascii_lowercase()));
    }
    // A fullwidth @ or letters are mapped first; what then reads as an email is one.
    let mapped = precis_profiles::UsernameCaseMapped::enforce(s).ok()?;
    if valid_email(&mapped) {
        return Some(Login::Email(mapped.into_owned()));
    }
    canonical_username(s).map(Login::Username)
}

/// Whether `s` is an acceptable username (see [`canonical_username`]).
pub fn valid_username(s: &str) -> bool {
    canonical_username(s).is_some()
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
        // 1*SP: two spaces are allowed.
        assert_eq!(
            parse_bearer(&auth("Bearer  abc")),
            Bearer::Token("abc".into())
        );
        assert_eq!(parse_bearer(&auth("Bearer =abc")), Bearer::Malformed);
        let long = format!("Bearer {}", "a".repeat(MAX_TOKEN_LEN + 1));
        assert_eq!(parse_bearer(&auth(&long)), Bearer::Malformed);
        let mut two = auth("Bearer a");
        two.append(header::AUTHORIZATION, HeaderValue::from_static("Bearer b"));
        assert_eq!(parse_bearer(&two), Bearer::Malformed);
    }

    #[test]
    fn a_bearer_token_may_come_in_a_form_body_but_not_twice() {
        let none = HeaderMap::new();
        assert_eq!(
            parse_bearer_or_form(&none, Some(b"access_token=abc")),
            Bearer::Token("abc".into())
        );
        assert_eq!(parse_bearer_or_form(&none, Some(b"x=1")), Bearer::Missing);
        assert_eq!(parse_bearer_or_form(&none, None), Bearer::Missing);
        assert_eq!(
            parse_bearer_or_form(&auth("Bearer abc"), Some(b"access_token=abc")),
            Bearer::Malformed
        );
        assert_eq!(
            parse_bearer_or_form(&none, Some(b"access_token=a&access_token=b")),
            Bearer::Malformed
        );
        assert_eq!(
            parse_bearer_or_form(&none, Some(b"access_token=a%20b")),
            Bearer::Malformed
        );
        assert_eq!(
            parse_bearer_or_form(&auth("Bearer abc"), Some(b"")),
            Bearer::Token("abc".into())
        );
    }

    #[test]
    fn basic_is_form_decoded() {
        // "my%20id:p%3Ass+w" base64
        let b64 = base64::engine::general_purpose::STANDARD.encode("my%20id:p%3Ass+w");
        let c = parse_basic(&auth(&format!("Basic {b64}"))).unwrap();
        assert_eq!(c.id, "my id");
        assert_eq!(c.secret, Secret("p:ss w".into()));
        // The secret as sent goes along (a client that did not encode it), and one that
        // does not decode is taken as sent.
        assert_eq!(c.raw_secret, Some(Secret("p%3Ass+w".into())));
        let b64 = base64::engine::general_purpose::STANDARD.encode("id:100%");
        let c = parse_basic(&auth(&format!("Basic {b64}"))).unwrap();
        assert_eq!((c.secret, c.raw_secret), (Secret("100%".into()), None));
        assert!(parse_basic(&auth("Basic !!!")).is_none());
        assert!(parse_basic(&auth("Bearer abc")).is_none());
    }

    #[test]
    fn json_errors_echo_nothing_sent() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct T {
            n: u64,
        }
        for (body, want) in [
            (
                &br#"{"n":"secret-value"}"#[..],
                "a member has the wrong type",
            ),
            (br#"{"n":1,"n":2}"#, "`n` is given more than once"),
            (b"{}", "`n` is missing"),
            (b"{not json", "not a JSON document"),
        ] {
            let e = parse_json::<T>(body).unwrap_err().to_string();
            assert!(e.ends_with(want), "{e}");
            assert!(!e.contains("secret") && !e.contains("u64"), "{e}");
        }
        assert!(parse_json_object(br#"{"a":1,"a":2}"#).is_err());
        assert_eq!(parse_json_object(br#"{"a":1,"b":2}"#).unwrap().len(), 2);
    }

    #[test]
    fn form_refuses_duplicates() {
        assert!(parse_form(b"a=1&a=2").is_err());
        let f = parse_form(b"a=1&b=&c=x+y").unwrap();
        assert_eq!(f.get("a").map(String::as_str), Some("1"));
        assert!(!f.contains_key("b"));
        assert_eq!(f.get("c").map(String::as_str), Some("x y"));
        // Not UTF-8: refused, never replaced (%FF and %FE would both be U+FFFD).
        for bad in [&b"u=%FF"[..], b"u=%FE", b"u=%80", b"%FF=1"] {
            assert!(parse_form(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_form(b"u=%C3%A9")
                .unwrap()
                .get("u")
                .map(String::as_str),
            Some("\u{e9}")
        );
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
    fn usernames_are_compared_as_people_read_them() {
        // Width-mapped and case-mapped: one name.
        assert_eq!(
            canonical_username("ＪｉｍＣａｒｒｅｙ").as_deref(),
            Some("jimcarrey")
        );
        assert_eq!(
            canonical_username("JimCarrey").as_deref(),
            Some("jimcarrey")
        );
        // NFD and NFC are one name.
        assert_eq!(
            canonical_username("jose\u{301}"),
            canonical_username("jos\u{e9}")
        );
        // Invisible, control and space characters are refused.
        for bad in [
            "jim\u{200b}carrey",
            "jim\u{202e}carrey",
            "jim\tcarrey",
            "jim carrey",
        ] {
            assert_eq!(canonical_username(bad), None, "{bad:?}");
        }
        // A fullwidth @ is an @: never a username.
        assert_eq!(canonical_username("victim\u{ff20}example.com"), None);
        assert_eq!(
            canonical_login("victim\u{ff20}example.com"),
            Some(Login::Email("victim@example.com".into()))
        );
        assert_eq!(
            canonical_login("Jim@Example.com"),
            Some(Login::Email("jim@example.com".into()))
        );
        assert_eq!(
            canonical_login("ＪＩＭ"),
            Some(Login::Username("jim".into()))
        );
    }

    #[test]
    fn passwords_are_prepared_and_counted_as_seen() {
        assert_eq!(
            prepare_password("pa\u{301}ssword!"),
            prepare_password("p\u{e1}ssword!")
        );
        assert_eq!(prepare_password("a\u{3000}b").as_deref(), Some("a b"));
        assert_eq!(prepare_password("bell\u{7}"), None);
        // One letter and seven combining marks: one character, however many bytes.
        let stacked = format!("a{}", "\u{301}".repeat(7));
        assert_eq!(visible_length(&stacked), 1);
        assert!(is_weak_password(&stacked, 8, &[]));
        assert!(!is_weak_password("ünïcödé pässwörd", 8, &[]));
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
