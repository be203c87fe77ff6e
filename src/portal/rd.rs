//! Where a browser may be sent after signing in or out (`rd`): a path on this server, or
//! an http(s) URL on the public URL's host or under `[portal] cookie_domain`. Anything
//! else (other hosts, `//evil`, `javascript:`, backslashes, user names in the authority,
//! control characters) is refused, and the caller sends the browser to the account page.
//!
//! URLs are read by the WHATWG parser (`url`), the one browsers follow, so the host
//! checked here is the host a browser would go to.

/// The hosts `rd` may name.
#[derive(Debug, Clone)]
pub struct Targets<'a> {
    /// The public URL's host, lowercase.
    pub public_host: &'a str,
    /// `[portal] cookie_domain`, lowercase: it and its subdomains.
    pub cookie_domain: Option<&'a str>,
}

/// Longest `rd` followed.
pub const MAX_RD: usize = 2048;

/// The place to send the browser to, if `rd` may be followed: a relative path as given,
/// an absolute URL as the browser would write it.
pub fn safe_rd(rd: &str, t: &Targets<'_>) -> Option<String> {
    if rd.is_empty()
        || rd.len() > MAX_RD
        || !rd.bytes().all(|b| b.is_ascii_graphic())
        || rd.contains('\\')
    {
        return None;
    }
    if let Some(rest) = rd.strip_prefix('/') {
        if rest.starts_with('/') {
            return None;
        }
        // A path must stay on this host whatever a browser makes of it.
        let base = url::Url::parse("https://rd.invalid/").ok()?;
        let joined = base.join(rd).ok()?;
        return (joined.host_str() == Some("rd.invalid")).then(|| rd.to_owned());
    }
    let u = url::Url::parse(rd).ok()?;
    if !matches!(u.scheme(), "http" | "https") || !u.username().is_empty() || u.password().is_some()
    {
        return None;
    }
    let host = u.host_str()?.to_ascii_lowercase();
    let allowed = host == t.public_host
        || t.cookie_domain
            .is_some_and(|d| host == d || host.ends_with(&format!(".{d}")));
    // The browser's form of the URL can be longer than what was given ("https://h?q"
    // becomes "https://h/?q"); what is followed must be followed again unchanged.
    let out = u.to_string();
    (allowed && out.len() <= MAX_RD).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Targets<'static> = Targets {
        public_host: "auth.example.com",
        cookie_domain: Some("example.com"),
    };

    #[test]
    fn paths_and_own_hosts_are_followed() {
        for ok in [
            "/",
            "/ui/account",
            "/app?x=1&y=%2F#frag",
            "https://auth.example.com/x",
            "https://grafana.example.com/d/abc?orgId=1",
            "http://example.com/",
        ] {
            assert!(safe_rd(ok, &T).is_some(), "{ok}");
        }
        assert_eq!(
            safe_rd("https://App.Example.com/a b", &T),
            None,
            "spaces are not followed"
        );
        assert_eq!(
            safe_rd("https://App.Example.com/a", &T).as_deref(),
            Some("https://app.example.com/a")
        );
    }

    #[test]
    fn everything_else_is_refused() {
        for bad in [
            "",
            "//evil.com",
            "///evil.com",
            "/\\evil.com",
            "\\\\evil.com",
            "https://evil.com/",
            "https://example.com.evil.com/",
            "https://evilexample.com/",
            "https://auth.example.com@evil.com/",
            "https://user:pw@auth.example.com/",
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "data:text/html,x",
            "ftp://auth.example.com/",
            "https:evil.com",
            "https:/\\evil.com",
            "/\tevil",
            "https://auth.example.com/\n",
            "https://évil.com/",
            "relative/path",
            "evil.com",
        ] {
            assert_eq!(safe_rd(bad, &T), None, "{bad:?}");
        }
        let host_only = Targets {
            public_host: "localhost",
            cookie_domain: None,
        };
        assert!(safe_rd("http://localhost:8080/x", &host_only).is_some());
        assert!(safe_rd("http://localhost.evil/x", &host_only).is_none());
        assert!(safe_rd(&format!("/{}", "a".repeat(MAX_RD)), &host_only).is_none());
    }

    #[test]
    fn what_is_followed_is_followed_again_unchanged() {
        // Found by the `rd` fuzz target: the URL's written form grew past MAX_RD.
        let base = "https://auth.example.com?";
        let at_limit = format!("{base}{}", "a".repeat(MAX_RD - base.len()));
        assert_eq!(safe_rd(&at_limit, &T), None);
        let under = format!("{base}{}", "a".repeat(MAX_RD - 1 - base.len()));
        let out = safe_rd(&under, &T).expect("one byte under the limit");
        assert_eq!(out.len(), MAX_RD);
        assert_eq!(safe_rd(&out, &T), Some(out.clone()));
    }
}
