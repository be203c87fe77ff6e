//! The portal's pages: compile-time templates (maud escapes every value it is given).
//! No inline script or style, no external asset: the style sheet and the passkey script
//! (the only script, for what needs one: WebAuthn) are served by the portal itself.
//! Every page works without the script; only passkeys need it.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::config::PortalSettings;
use crate::service::portal::SessionInfo;

/// What every page's frame shows.
pub struct Frame<'a> {
    /// The portal's settings (name, logo, path).
    pub portal: &'a PortalSettings,
    /// The page's title.
    pub title: &'a str,
    /// An error to show at the top.
    pub error: Option<&'a str>,
    /// A notice (something done) to show at the top.
    pub notice: Option<&'a str>,
    /// A wider page (the account page).
    pub wide: bool,
}

/// The frame around a page's content.
pub fn layout(f: &Frame<'_>, content: Markup) -> Markup {
    let p = f.portal;
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="same-origin";
                title { (f.title) " · " (p.title) }
                link rel="stylesheet" href={ (p.path) "/style.css" };
                @if p.accent.is_some() {
                    link rel="stylesheet" href={ (p.path) "/theme.css" };
                }
            }
            body {
                main class=[f.wide.then_some("wide")] {
                    div class="brand" {
                        @if let Some(logo) = &p.logo_url {
                            img src=(logo) alt="";
                        }
                        span { (p.title) }
                    }
                    h1 { (f.title) }
                    @if let Some(e) = f.error {
                        p class="error" role="alert" id="error" { (e) }
                    }
                    @if let Some(n) = f.notice {
                        p class="notice" role="status" { (n) }
                    }
                    (content)
                }
                @if let Some((text, url)) = &p.footer {
                    footer { a href=(url) { (text) } }
                }
            }
        }
    }
}

/// The accent the configuration chose, as the sheet that sets it.
pub fn theme_css(accent: &str) -> String {
    format!(":root {{ --accent: {accent}; }}\n")
}

fn hidden(csrf: &str, rd: Option<&str>) -> Markup {
    html! {
        input type="hidden" name="csrf" value=(csrf);
        @if let Some(rd) = rd {
            input type="hidden" name="rd" value=(rd);
        }
    }
}

/// The sign-in page: password, or a mailed code; a link to reset the password; with
/// `passkeys`, a passkey (the browser may offer one in the username field, too).
pub fn login(
    path: &str,
    csrf: &str,
    rd: Option<&str>,
    login: &str,
    error: bool,
    passkeys: bool,
    signup: bool,
) -> Markup {
    let described = error.then_some("error");
    let autocomplete = if passkeys {
        "username webauthn"
    } else {
        "username"
    };
    html! {
        @if passkeys {
            div id="passkey" class="passkey" hidden
                data-start={ (path) "/passkey/login/start" }
                data-finish={ (path) "/passkey/login/finish" }
                data-csrf=(csrf) data-rd=[rd] {
                button type="button" id="passkey-signin" { "Sign in with a passkey" }
                p class="error" role="alert" id="passkey-error" hidden {}
                p class="or" { "or" }
            }
        }
        form method="post" action={ (path) "/login" } {
            (hidden(csrf, rd))
            label for="username" { "Username or email" }
            input type="text" id="username" name="username" value=(login)
                autocomplete=(autocomplete) autocapitalize="none" spellcheck="false"
                required autofocus aria-describedby=[described];
            label for="password" { "Password" }
            input type="password" id="password" name="password"
                autocomplete="current-password" required aria-describedby=[described];
            button type="submit" { "Sign in" }
        }
        p class="hint" { a href={ (path) "/forgot" } { "Forgot your password?" } }
        p class="or" { "or" }
        form method="post" action={ (path) "/code" } {
            (hidden(csrf, rd))
            label for="email" { "Email me a sign-in code" }
            input type="email" id="email" name="email" autocomplete="email" required;
            button type="submit" class="secondary" { "Send code" }
        }
        @if signup {
            p class="hint" {
                "New here? " a href={ (path) "/signup" (rd_query(rd)) } { "Create an account" }
            }
        }
        @if passkeys {
            script src={ (path) "/passkey.js" } defer {}
        }
    }
}

/// The page where a mailed sign-in code is typed.
pub fn code(path: &str, csrf: &str, rd: Option<&str>) -> Markup {
    html! {
        p { "If the address can sign in here, a code is on its way. It works once, for a few minutes." }
        form method="post" action={ (path) "/code/verify" } {
            (hidden(csrf, rd))
            label for="code" { "Code from the email" }
            input type="text" id="code" name="code" autocomplete="one-time-code"
                autocapitalize="characters" spellcheck="false" required autofocus;
            button type="submit" { "Sign in" }
        }
        p class="hint" { a href={ (path) "/login" } { "Back to sign-in" } }
    }
}

/// `?rd=...` for a link that keeps where the browser goes after signing in.
fn rd_query(rd: Option<&str>) -> String {
    rd.map(|r| {
        let mut q = "?rd=".to_owned();
        q.extend(form_urlencoded::byte_serialize(r.as_bytes()));
        q
    })
    .unwrap_or_default()
}

/// Creating an account: an address (proven by a mailed code) and, if wanted, a password.
pub fn signup(path: &str, csrf: &str, rd: Option<&str>, email: &str, min_length: usize) -> Markup {
    html! {
        form method="post" action={ (path) "/signup" } {
            (hidden(csrf, rd))
            label for="email" { "Your email address" }
            input type="email" id="email" name="email" value=(email) autocomplete="email"
                required autofocus;
            label for="password" { "Password (optional)" }
            input type="password" id="password" name="password" autocomplete="new-password"
                aria-describedby="password-hint";
            p class="hint" id="password-hint" {
                "At least " (min_length) " characters, not a common one. Leave it empty to "
                "sign in with a code by email each time."
            }
            button type="submit" { "Create account" }
        }
        p class="hint" {
            "We email you a code: the account is made when you type it in. "
            a href={ (path) "/login" (rd_query(rd)) } { "Back to sign-in" }
        }
    }
}

/// The second step: a TOTP or recovery code.
pub fn mfa(path: &str, csrf: &str, rd: Option<&str>) -> Markup {
    html! {
        form method="post" action={ (path) "/mfa" } {
            (hidden(csrf, rd))
            label for="mfa_code" { "Code from your authenticator app" }
            // Not a digits-only keypad: recovery codes have letters.
            input type="text" id="mfa_code" name="mfa_code" inputmode="text"
                autocapitalize="characters" autocomplete="one-time-code" spellcheck="false"
                required autofocus;
            p class="hint" { "No phone at hand? A recovery code works too." }
            button type="submit" { "Continue" }
        }
        p class="hint" { a href={ (path) "/login" } { "Start again" } }
    }
}

/// Asking for a password-reset code.
pub fn forgot(path: &str, csrf: &str) -> Markup {
    html! {
        form method="post" action={ (path) "/forgot" } {
            (hidden(csrf, None))
            label for="email" { "Your account's email address" }
            input type="email" id="email" name="email" autocomplete="email" required autofocus;
            button type="submit" { "Send a reset code" }
        }
        p class="hint" { a href={ (path) "/login" } { "Back to sign-in" } }
    }
}

/// Typing the reset code and the new password.
pub fn reset(path: &str, csrf: &str, email: &str) -> Markup {
    html! {
        p { "If an account has this address, a code is on its way to it." }
        form method="post" action={ (path) "/reset" } {
            (hidden(csrf, None))
            label for="email" { "Email address" }
            input type="email" id="email" name="email" value=(email) autocomplete="email" required;
            label for="code" { "Code from the email" }
            input type="text" id="code" name="code" autocomplete="one-time-code"
                spellcheck="false" required autofocus;
            label for="new_password" { "New password" }
            input type="password" id="new_password" name="new_password"
                autocomplete="new-password" required;
            button type="submit" { "Set the new password" }
        }
    }
}

/// What the account page shows.
pub struct Account<'a> {
    /// The portal's path.
    pub path: &'a str,
    /// The form token.
    pub csrf: &'a str,
    /// Username, if any.
    pub username: Option<&'a str>,
    /// Email, if any.
    pub email: Option<&'a str>,
    /// Whether the email is proven.
    pub email_verified: bool,
    /// Whether TOTP is on.
    pub totp: bool,
    /// Whether the account has a password.
    pub has_password: bool,
    /// Live sessions.
    pub sessions: &'a [SessionInfo],
    /// The visitor's own session.
    pub current: &'a str,
    /// The account's passkeys; `None`: passkeys are off.
    pub passkeys: Option<&'a [protocol::PasskeyView]>,
}

/// A time as people read it: `2026-12-02 06:30 UTC`.
fn when(ms: i64) -> String {
    let t = protocol::reply::rfc3339_ms(ms);
    match (t.get(..10), t.get(11..16)) {
        (Some(d), Some(hm)) => format!("{d} {hm} UTC"),
        _ => t,
    }
}

/// How a session signed in, in words, from its `amr`: the first factor (a passkey, a
/// password, or a code by email: the only way `otp` comes first) and, with `mfa`, the
/// second (an authenticator app's code or a recovery code: the `amr` does not tell them
/// apart).
fn methods(amr: &[String]) -> String {
    let has = |m: &str| amr.iter().any(|a| a == m);
    let first = if has("hwk") {
        "passkey"
    } else if has("pwd") {
        "password"
    } else if has("otp") {
        "code by email"
    } else {
        "unknown method"
    };
    if has("mfa") {
        format!("{first} + authenticator app or recovery code")
    } else {
        first.to_owned()
    }
}

/// The account page.
pub fn account(a: &Account<'_>) -> Markup {
    let path = a.path;
    html! {
        dl {
            @if let Some(u) = a.username { dt { "Username" } dd { (u) } }
            @if let Some(e) = a.email {
                dt { "Email" }
                dd { (e) @if !a.email_verified { " (not verified)" } }
            }
            dt { "Two-step sign-in" }
            dd { @if a.totp { "on (authenticator app)" } @else { "off" } }
        }
        form method="post" action={ (path) "/logout" } {
            (hidden(a.csrf, None))
            button type="submit" class="secondary" { "Sign out" }
        }

        h2 { "Sessions" }
        ul class="sessions" {
            @for s in a.sessions {
                li {
                    @if let Some(app) = &s.app {
                        strong { (app) } ": "
                    }
                    "Signed in " time datetime=(protocol::reply::rfc3339_ms(s.created_at)) { (when(s.created_at)) }
                    " with " (methods(&s.amr))
                    @if s.id == a.current {
                        " — " strong { "this browser" }
                    } @else {
                        " "
                        form class="inline" method="post" action={ (path) "/sessions/end" } {
                            (hidden(a.csrf, None))
                            input type="hidden" name="id" value=(s.id);
                            button type="submit" class="danger" aria-label={ "Sign out the session of " (when(s.created_at)) } { "Sign out" }
                        }
                    }
                }
            }
        }

        h2 { "Authenticator app" }
        @if a.totp {
            form method="post" action={ (path) "/totp/disable" } {
                (hidden(a.csrf, None))
                label for="disable_code" { "A current code, to turn two-step sign-in off" }
                input type="text" id="disable_code" name="code" inputmode="text"
                    autocapitalize="characters" autocomplete="one-time-code" required;
                button type="submit" class="danger" { "Turn off" }
            }
        } @else {
            p { "Ask for a code from an authenticator app at every password sign-in." }
            form method="post" action={ (path) "/totp/enroll" } {
                (hidden(a.csrf, None))
                button type="submit" { "Set up an authenticator app" }
            }
        }

        @if let Some(keys) = a.passkeys {
            (passkeys(a, keys))
        }

        @if a.has_password {
            h2 { "Password" }
        } @else {
            h2 { "Set a password" }
            p { "You sign in with a code by email. With a password you can sign in without one." }
        }
        form method="post" action={ (path) "/password" } {
            (hidden(a.csrf, None))
            @if a.has_password {
                label for="current_password" { "Current password" }
                input type="password" id="current_password" name="current_password"
                    autocomplete="current-password" required;
            }
            label for="new_password" { @if a.has_password { "New password" } @else { "Password" } }
            input type="password" id="new_password" name="new_password"
                autocomplete="new-password" required;
            button type="submit" { @if a.has_password { "Change password" } @else { "Set password" } }
        }
    }
}

/// The account page's passkeys: each with rename and remove, and adding one (script).
fn passkeys(a: &Account<'_>, keys: &[protocol::PasskeyView]) -> Markup {
    let path = a.path;
    html! {
        h2 { "Passkeys" }
        @if keys.is_empty() {
            p { "Sign in with your fingerprint, face or screen lock instead of a password." }
        }
        ul class="passkeys" {
            @for k in keys {
                li {
                    strong { (k.name) }
                    " — added " time datetime=(protocol::reply::rfc3339_ms(k.created_at)) { (when(k.created_at)) }
                    @if let Some(used) = k.last_used_at {
                        ", last used " time datetime=(protocol::reply::rfc3339_ms(used)) { (when(used)) }
                    }
                    form class="inline" method="post" action={ (path) "/passkeys/rename" } {
                        (hidden(a.csrf, None))
                        input type="hidden" name="id" value=(k.id);
                        input type="text" name="name" value=(k.name) maxlength="64" required
                            aria-label={ "New name for the passkey " (k.name) };
                        button type="submit" class="secondary" { "Rename" }
                    }
                    form class="inline" method="post" action={ (path) "/passkeys/remove" } {
                        (hidden(a.csrf, None))
                        input type="hidden" name="id" value=(k.id);
                        button type="submit" class="danger" aria-label={ "Remove the passkey " (k.name) } { "Remove" }
                    }
                }
            }
        }
        div id="passkey-add" hidden
            data-start={ (path) "/passkey/register/start" }
            data-finish={ (path) "/passkey/register/finish" }
            data-csrf=(a.csrf) {
            label for="passkey-name" { "Name of the new passkey (optional)" }
            input type="text" id="passkey-name" maxlength="64" placeholder="e.g. work laptop";
            button type="button" id="passkey-add-button" { "Add a passkey" }
            p class="error" role="alert" id="passkey-error" hidden {}
        }
        noscript { p class="hint" { "Adding a passkey needs JavaScript." } }
        script src={ (path) "/passkey.js" } defer {}
    }
}

/// Enrolment: the secret (as a QR code, a link and text) and the first code.
pub fn totp_setup(path: &str, csrf: &str, secret: &str, otpauth: &str, qr: Option<&str>) -> Markup {
    html! {
        p { "Scan this with your authenticator app, or type the key into it." }
        @if let Some(svg) = qr {
            (PreEscaped(svg))
        }
        p { a href=(otpauth) { "Open in an authenticator app" } }
        p class="secret" aria-label="Key" { (secret) }
        form method="post" action={ (path) "/totp/confirm" } {
            (hidden(csrf, None))
            label for="code" { "The code the app shows now" }
            input type="text" id="code" name="code" inputmode="numeric"
                autocomplete="one-time-code" required autofocus;
            button type="submit" { "Turn on" }
        }
    }
}

/// The recovery codes, shown once.
pub fn recovery_codes(path: &str, codes: &[String]) -> Markup {
    html! {
        p { "Keep these recovery codes somewhere safe. Each one works once, in place of a code from the app. They are not shown again." }
        ul class="codes" { @for c in codes { li { (c) } } }
        p { a class="button" href={ (path) "/account" } { "Done" } }
    }
}

fn scope_lines(scope: &str) -> Vec<&'static str> {
    let mut out = vec!["Know who you are (your account id)"];
    for s in scope.split(' ') {
        match s {
            "email" => out.push("See your email address"),
            "profile" => out.push("See your name and username"),
            "offline_access" => out.push("Stay signed in when you are away"),
            _ => {}
        }
    }
    out
}

/// Asking the person whether an app may sign them in.
pub fn consent(
    app: &str,
    who: &str,
    scope: &str,
    csrf: &str,
    hidden: &[(String, String)],
) -> Markup {
    html! {
        p { strong { (app) } " wants to sign you in as " strong { (who) } ". It will be able to:" }
        ul { @for l in scope_lines(scope) { li { (l) } } }
        form method="post" action="/oidc/authorize" {
            input type="hidden" name="csrf" value=(csrf);
            @for (k, v) in hidden {
                input type="hidden" name=(k) value=(v);
            }
            button type="submit" name="decision" value="allow" { "Allow" }
            " "
            button type="submit" name="decision" value="deny" class="secondary" { "Deny" }
        }
    }
}

/// Asking before an app signs the person out.
pub fn confirm_logout(app: &str, csrf: &str, hidden: &[(String, String)]) -> Markup {
    html! {
        p { (app) " asks to sign you out of this server." }
        form method="post" action="/oidc/logout" {
            input type="hidden" name="csrf" value=(csrf);
            @for (k, v) in hidden {
                input type="hidden" name=(k) value=(v);
            }
            button type="submit" { "Sign out" }
        }
    }
}

/// The Form Post Response Mode's page: the answer to an app as a form to its redirect
/// URI, sent by the portal's `form_post.js` at once, or by its button without scripts.
pub fn form_post(path: &str, app: &str, action: &str, fields: &[(&str, &str)]) -> Markup {
    html! {
        p { "Taking you back to " (app) "." }
        form id="form-post" method="post" action=(action) {
            @for (k, v) in fields {
                input type="hidden" name=(k) value=(v);
            }
            button type="submit" { "Continue" }
        }
        script src={ (path) "/form_post.js" } {}
    }
}

/// An error page with a way back.
pub fn trouble(path: &str, message: &str) -> Markup {
    html! {
        p { (message) }
        p { a href={ (path) "/login" } { "Go to sign-in" } }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sessions_name_how_they_signed_in() {
        let amr = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(super::methods(&amr(&["otp"])), "code by email");
        assert_eq!(
            super::methods(&amr(&["otp", "mfa"])),
            "code by email + authenticator app or recovery code"
        );
        assert_eq!(
            super::methods(&amr(&["pwd", "otp", "mfa"])),
            "password + authenticator app or recovery code"
        );
        assert_eq!(super::methods(&amr(&["pwd"])), "password");
        assert_eq!(super::methods(&amr(&["hwk"])), "passkey");
    }
}
