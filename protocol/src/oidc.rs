//! OpenID Connect's requests as pure translation, beside the families: the
//! authorization request's parameters checked against the registered clients, and the
//! `claims` parameter. No store, no signer: the provider's endpoints (the root crate's
//! `portal::oidc`) call these, and the fuzz target `oidc_authorize` calls them as they
//! do.

use std::collections::BTreeMap;

/// Scopes latchkey knows; others are ignored (RFC 6749 §3.3).
pub const SCOPES: [&str; 5] = ["openid", "profile", "email", "groups", "offline_access"];
/// Longest `state` and `nonce` taken (they travel in URLs).
pub const MAX_PARAM: usize = 512;

/// What an authorization request is checked against, of a registered client.
pub trait Client {
    /// Its id.
    fn id(&self) -> &str;
    /// The name pages show.
    fn name(&self) -> &str;
    /// Its exact redirect URIs.
    fn redirect_uris(&self) -> &[String];
    /// Whether it has no secret (a browser or native app: PKCE is required).
    fn is_public(&self) -> bool;
}

/// Why an authorization request is refused: a page (the client or its redirect URI is
/// not to be trusted with a redirect), or a redirect back with an RFC 6749 error.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Shown on a page; nothing is sent anywhere.
    Page(&'static str),
    /// Sent back to the (registered) redirect URI.
    Back {
        /// Where.
        redirect_uri: String,
        /// Whether as a posted form (`response_mode=form_post`).
        form_post: bool,
        /// The client's name (the form_post page says where it goes).
        client_name: String,
        /// The client's state.
        state: Option<String>,
        /// The error code.
        error: &'static str,
        /// Its description.
        description: &'static str,
    },
}

/// An authorization request whose every parameter was checked.
#[derive(Debug)]
pub struct AuthzRequest<'c, C> {
    /// The client.
    pub client: &'c C,
    /// One of its registered redirect URIs.
    pub redirect_uri: String,
    /// Whether the answer goes back as a posted form (`response_mode=form_post`).
    pub form_post: bool,
    /// Its state.
    pub state: Option<String>,
    /// The scopes granted: `openid` and those of [`SCOPES`] it asked for.
    pub scope: String,
    /// Its nonce.
    pub nonce: Option<String>,
    /// The PKCE challenge (S256): present for every public client.
    pub challenge: Option<String>,
    /// `prompt=none`.
    pub none: bool,
    /// `prompt=login`.
    pub login: bool,
    /// `prompt=consent`.
    pub consent: bool,
    /// `max_age`, seconds.
    pub max_age: Option<u64>,
    /// The `acr` values one of which the sign-in must meet (an essential `acr` of the
    /// `claims` parameter).
    pub acr_values: Option<Vec<String>>,
}

/// Reads the `claims` parameter (OIDC Core §5.5): the scopes that carry the claims it
/// asks for (`email`, `email_verified`: `email`; `name`, `preferred_username`:
/// `profile`; `groups`: `groups`), and the values an essential `acr` must take. Claims latchkey does not
/// have are ignored; anything that is not the parameter's shape is `None`.
pub fn read_claims_request(text: &str) -> Option<(Vec<&'static str>, Option<Vec<String>>)> {
    use serde_json::Value;
    let Value::Object(req) = serde_json::from_str::<Value>(text).ok()? else {
        return None;
    };
    let mut scopes = Vec::new();
    let mut acr = None;
    for (target, asked) in &req {
        if !matches!(target.as_str(), "id_token" | "userinfo") {
            continue;
        }
        let Value::Object(asked) = asked else {
            return None;
        };
        for (name, spec) in asked {
            let spec = match spec {
                Value::Null => None,
                Value::Object(o) => Some(o),
                _ => return None,
            };
            match name.as_str() {
                "email" | "email_verified" => scopes.push("email"),
                "name" | "preferred_username" => scopes.push("profile"),
                "groups" => scopes.push("groups"),
                "acr" => {
                    let essential = spec
                        .and_then(|o| o.get("essential"))
                        .is_some_and(|e| e == &Value::Bool(true));
                    let values: Vec<String> = match spec {
                        Some(o) => match (o.get("value"), o.get("values")) {
                            (Some(Value::String(v)), None) => vec![v.clone()],
                            (None, Some(Value::Array(vs))) => vs
                                .iter()
                                .map(|v| v.as_str().map(str::to_owned))
                                .collect::<Option<Vec<_>>>()?,
                            (None, None) => Vec::new(),
                            _ => return None,
                        },
                        None => Vec::new(),
                    };
                    if essential && !values.is_empty() {
                        acr = Some(values);
                    }
                }
                _ => {}
            }
        }
    }
    Some((scopes, acr))
}

/// Checks the parameters of an authorization request against the `clients` (pure: the
/// fuzz target calls it as the endpoint does).
pub fn check_authorize<'c, C: Client>(
    p: &BTreeMap<String, String>,
    clients: &'c [C],
) -> Result<AuthzRequest<'c, C>, Refusal> {
    let get = |k: &str| p.get(k).map(String::as_str);
    let client = get("client_id")
        .and_then(|id| clients.iter().find(|c| c.id() == id))
        .ok_or(Refusal::Page(
            "The app that sent you here is not known to this server.",
        ))?;
    let redirect_uri = get("redirect_uri")
        .filter(|r| client.redirect_uris().iter().any(|u| u == r))
        .ok_or(Refusal::Page(
            "The app asked to send you to an address it did not register. Nothing was sent.",
        ))?
        .to_owned();
    let state = get("state").map(str::to_owned);
    // Known before anything else is checked: errors go back the way the client asked.
    let form_post = get("response_mode") == Some("form_post");
    let back = |error: &'static str, description: &'static str| Refusal::Back {
        redirect_uri: redirect_uri.clone(),
        form_post,
        client_name: client.name().to_owned(),
        // Echoed whatever its length (RFC 6749 §4.1.2.1: the exact value), even when it
        // is the reason for the refusal.
        state: state.clone(),
        error,
        description,
    };
    if state.as_ref().is_some_and(|s| s.len() > MAX_PARAM) {
        return Err(back("invalid_request", "state is too long"));
    }
    if get("request").is_some() {
        return Err(back(
            "request_not_supported",
            "request objects are not supported",
        ));
    }
    if get("request_uri").is_some() {
        return Err(back(
            "request_uri_not_supported",
            "request_uri is not supported",
        ));
    }
    if get("response_type") != Some("code") {
        return Err(back(
            "unsupported_response_type",
            "response_type must be code",
        ));
    }
    if get("response_mode").is_some_and(|m| m != "query" && m != "form_post") {
        return Err(back(
            "invalid_request",
            "response_mode must be query or form_post",
        ));
    }
    let asked: Vec<&str> = get("scope").unwrap_or_default().split(' ').collect();
    if !asked.contains(&"openid") {
        return Err(back("invalid_scope", "scope must contain openid"));
    }
    let (implied, acr_values) = match get("claims") {
        None => (Vec::new(), None),
        Some(c) if c.len() > MAX_PARAM * 4 => {
            return Err(back("invalid_request", "claims is too long"))
        }
        Some(c) => read_claims_request(c).ok_or_else(|| {
            back(
                "invalid_request",
                "claims must be a JSON object of id_token and userinfo requests",
            )
        })?,
    };
    let scope: Vec<&str> = SCOPES
        .into_iter()
        .filter(|s| asked.contains(s) || implied.contains(s))
        .collect();
    let challenge = get("code_challenge").map(str::to_owned);
    match (get("code_challenge_method"), &challenge) {
        (Some("S256"), Some(c))
            if c.len() == 43
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') => {}
        (Some("S256"), Some(_)) => {
            return Err(back(
                "invalid_request",
                "code_challenge is not an S256 challenge",
            ))
        }
        (_, Some(_)) => {
            return Err(back(
                "invalid_request",
                "code_challenge_method must be S256 (plain is not accepted)",
            ))
        }
        (Some(_), None) => return Err(back("invalid_request", "code_challenge is missing")),
        (None, None) if client.is_public() => {
            return Err(back(
                "invalid_request",
                "a public client must use PKCE (code_challenge, S256)",
            ))
        }
        (None, None) => {}
    }
    let nonce = get("nonce").map(str::to_owned);
    if nonce.as_ref().is_some_and(|n| n.len() > MAX_PARAM) {
        return Err(back("invalid_request", "nonce is too long"));
    }
    let prompt: Vec<&str> = get("prompt")
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    if prompt
        .iter()
        .any(|x| !matches!(*x, "none" | "login" | "consent" | "select_account"))
    {
        return Err(back("invalid_request", "unknown prompt value"));
    }
    let none = prompt.contains(&"none");
    if none && prompt.len() > 1 {
        return Err(back("invalid_request", "prompt=none goes alone"));
    }
    let max_age = match get("max_age").map(str::parse::<u64>) {
        None => None,
        Some(Ok(m)) => Some(m),
        Some(Err(_)) => {
            return Err(back(
                "invalid_request",
                "max_age must be a number of seconds",
            ))
        }
    };
    Ok(AuthzRequest {
        client,
        redirect_uri: redirect_uri.clone(),
        form_post,
        state,
        scope: scope.join(" "),
        nonce,
        challenge,
        none,
        login: prompt.contains(&"login"),
        consent: prompt.contains(&"consent"),
        max_age,
        acr_values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct App(bool);

    impl Client for App {
        fn id(&self) -> &str {
            "app"
        }
        fn name(&self) -> &str {
            "The App"
        }
        fn redirect_uris(&self) -> &[String] {
            static URIS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
            URIS.get_or_init(|| vec!["https://app.example/cb".into()])
        }
        fn is_public(&self) -> bool {
            self.0
        }
    }

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn claims_ask_for_scopes_and_an_essential_acr() {
        let (scopes, acr) = read_claims_request(
            r#"{"userinfo":{"email":null},"id_token":{"acr":{"essential":true,"values":["a","b"]}}}"#,
        )
        .unwrap();
        assert_eq!(scopes, ["email"]);
        assert_eq!(acr, Some(vec!["a".to_owned(), "b".to_owned()]));
        // Not essential: no requirement.
        let (_, acr) = read_claims_request(r#"{"id_token":{"acr":{"value":"a"}}}"#).unwrap();
        assert_eq!(acr, None);
        for bad in [
            "[]",
            r#"{"id_token":[]}"#,
            r#"{"id_token":{"acr":{"values":[1]}}}"#,
        ] {
            assert!(read_claims_request(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_request_is_checked_against_its_client() {
        let clients = [App(true)];
        let ok = [
            ("client_id", "app"),
            ("redirect_uri", "https://app.example/cb"),
            ("response_type", "code"),
            ("scope", "email openid unknown"),
            ("code_challenge_method", "S256"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
        ];
        let a = check_authorize(&params(&ok), &clients).unwrap();
        assert_eq!(a.scope, "openid email");
        // Unknown client, or a redirect URI it did not register: a page, nothing sent.
        let mut p = params(&ok);
        p.insert("redirect_uri".into(), "https://evil.example/cb".into());
        assert!(matches!(
            check_authorize(&p, &clients),
            Err(Refusal::Page(_))
        ));
        // A public client without PKCE: sent back, with its state.
        let mut p = params(&ok);
        p.remove("code_challenge");
        p.remove("code_challenge_method");
        p.insert("state".into(), "s".into());
        match check_authorize(&p, &clients) {
            Err(Refusal::Back { state, error, .. }) => {
                assert_eq!((state.as_deref(), error), (Some("s"), "invalid_request"))
            }
            other => panic!("{other:?}"),
        }
        assert!(check_authorize(&p, &[App(false)]).is_ok());
    }
}
