//! The portal's pages: compile-time templates (maud escapes every value it is given).
//! No inline script or style, no external asset: the style sheet and the passkey script
//! (the only script, for what needs one: WebAuthn) are served by the portal itself.
//! Every page works without the script; only passkeys need it.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::config::PortalSettings;
use crate::i18n::{Arg, Lang};
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
    /// The page's language.
    pub lang: Lang,
    /// Where the language switch brings the browser back to (this page).
    pub here: &'a str,
}

/// The frame around a page's content.
pub fn layout(f: &Frame<'_>, content: Markup) -> Markup {
    let p = f.portal;
    html! {
        (DOCTYPE)
        html lang=(f.lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="same-origin";
                title { (f.lang.tf("page-title", &[("title", f.title.into()), ("name", p.title.as_str().into())])) }
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
                footer {
                    nav class="langs" aria-label=(f.lang.t("language-switch")) {
                        @for l in Lang::all().filter(|l| *l != f.lang) {
                            a href=(switch_url(&p.path, l, f.here)) lang=(l.code()) hreflang=(l.code()) { (l.name()) }
                            " "
                        }
                    }
                    @if let Some((text, url)) = &p.footer {
                        a href=(url) { (text) }
                    }
                }
            }
        }
    }
}

/// The accent the configuration chose, as the sheet that sets it.
pub fn theme_css(accent: &str) -> String {
    format!(":root {{ --accent: {accent}; }}\n")
}

/// The language switch's link: `<path>/lang?to=<code>&back=<here>`.
fn switch_url(path: &str, to: Lang, here: &str) -> String {
    let mut u = format!("{path}/lang?to={}&back=", to.code());
    u.extend(form_urlencoded::byte_serialize(here.as_bytes()));
    u
}

/// `text` (a message given `MARK` for one of its values) around the markup `inner`
/// that stands for that value: a sentence stays whole for its translators while a
/// value in it is an element (a `<time>`).
fn around(text: &str, inner: Markup) -> Markup {
    let (before, after) = text.split_once(MARK).unwrap_or((text, ""));
    html! { (before) (inner) (after) }
}

/// What [`around`] splits at.
const MARK: &str = "\u{1}";

pub(super) fn hidden(csrf: &str, rd: Option<&str>) -> Markup {
    html! {
        input type="hidden" name="csrf" value=(csrf);
        @if let Some(rd) = rd {
            input type="hidden" name="rd" value=(rd);
        }
    }
}

/// What the sign-in page offers.
pub struct Login<'a> {
    /// The portal's path.
    pub path: &'a str,
    /// The form token.
    pub csrf: &'a str,
    /// Where to go after signing in.
    pub rd: Option<&'a str>,
    /// The login typed before.
    pub login: &'a str,
    /// Whether the page shows an error (the fields point to it).
    pub error: bool,
    /// Passkeys are on.
    pub passkeys: bool,
    /// The sign-up page is on.
    pub signup: bool,
    /// The upstreams to sign in through: `(id, name)`.
    pub upstreams: &'a [(String, String)],
}

/// The sign-in page: password, or a mailed code; a link to reset the password; with
/// `passkeys`, a passkey (the browser may offer one in the username field, too).
pub fn login(l: Lang, p: &Login<'_>) -> Markup {
    let (path, csrf, rd) = (p.path, p.csrf, p.rd);
    let described = p.error.then_some("error");
    let autocomplete = if p.passkeys {
        "username webauthn"
    } else {
        "username"
    };
    html! {
        @if !p.upstreams.is_empty() {
            ul class="upstreams" {
                @for (id, name) in p.upstreams {
                    li {
                        a class="button secondary" href={ (path) "/upstream/" (id) "/start" (rd_query(rd)) } {
                            (l.tf("login-with", &[("name", name.into())]))
                        }
                    }
                }
            }
            p class="or" { (l.t("login-or")) }
        }
        @if p.passkeys {
            (passkey_sign_in(l, path, csrf, rd))
        }
        form method="post" action={ (path) "/login" } {
            (hidden(csrf, rd))
            label for="username" { (l.t("login-username")) }
            input type="text" id="username" name="username" value=(p.login)
                autocomplete=(autocomplete) autocapitalize="none" spellcheck="false"
                required autofocus aria-describedby=[described];
            label for="password" { (l.t("login-password")) }
            input type="password" id="password" name="password"
                autocomplete="current-password" required aria-describedby=[described];
            button type="submit" { (l.t("login-submit")) }
        }
        p class="hint" { a href={ (path) "/forgot" } { (l.t("login-forgot")) } }
        p class="or" { (l.t("login-or")) }
        form method="post" action={ (path) "/code" } {
            (hidden(csrf, rd))
            label for="email" { (l.t("login-code-label")) }
            input type="email" id="email" name="email" autocomplete="email" required;
            button type="submit" class="secondary" { (l.t("login-code-submit")) }
        }
        @if p.signup {
            p class="hint" {
                (l.t("login-new-here")) " "
                a href={ (path) "/signup" (rd_query(rd)) } { (l.t("login-create-account")) }
            }
        }
        @if p.passkeys {
            script src={ (path) "/passkey.js" } defer {}
        }
    }
}

/// Signing in with a passkey (the portal's script runs it; hidden without the script):
/// the sign-in page's, and the step-up page's (a passkey counts two factors).
fn passkey_sign_in(l: Lang, path: &str, csrf: &str, rd: Option<&str>) -> Markup {
    html! {
        div id="passkey" class="passkey" hidden
            data-start={ (path) "/passkey/login/start" }
            data-finish={ (path) "/passkey/login/finish" }
            data-refused=(l.t("passkeys-refused"))
            data-csrf=(csrf) data-rd=[rd] {
            button type="button" id="passkey-signin" { (l.t("login-passkey")) }
            p class="error" role="alert" id="passkey-error" hidden {}
            p class="or" { (l.t("login-or")) }
        }
    }
}

/// The page where a mailed sign-in code is typed.
pub fn code(l: Lang, path: &str, csrf: &str, rd: Option<&str>) -> Markup {
    html! {
        p { (l.t("code-sent")) }
        form method="post" action={ (path) "/code/verify" } {
            (hidden(csrf, rd))
            label for="code" { (l.t("code-label")) }
            input type="text" id="code" name="code" autocomplete="one-time-code"
                autocapitalize="characters" spellcheck="false" required autofocus;
            button type="submit" { (l.t("code-submit")) }
        }
        p class="hint" { a href={ (path) "/login" } { (l.t("back-to-sign-in")) } }
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
pub fn signup(
    l: Lang,
    path: &str,
    csrf: &str,
    rd: Option<&str>,
    email: &str,
    min_length: usize,
) -> Markup {
    html! {
        form method="post" action={ (path) "/signup" } {
            (hidden(csrf, rd))
            label for="email" { (l.t("signup-email")) }
            input type="email" id="email" name="email" value=(email) autocomplete="email"
                required autofocus;
            label for="password" { (l.t("signup-password")) }
            input type="password" id="password" name="password" autocomplete="new-password"
                aria-describedby="password-hint";
            p class="hint" id="password-hint" {
                (l.tf("signup-password-hint", &[("min", min_length.into())]))
            }
            button type="submit" { (l.t("signup-submit")) }
        }
        p class="hint" {
            (l.t("signup-how")) " "
            a href={ (path) "/login" (rd_query(rd)) } { (l.t("back-to-sign-in")) }
        }
    }
}

/// The form that asks a second factor (a TOTP or recovery code), posted to `action`.
fn second_factor_form(l: Lang, action: &str, csrf: &str, rd: Option<&str>) -> Markup {
    html! {
        form method="post" action=(action) {
            (hidden(csrf, rd))
            label for="mfa_code" { (l.t("mfa-label")) }
            // Not a digits-only keypad: recovery codes have letters.
            input type="text" id="mfa_code" name="mfa_code" inputmode="text"
                autocapitalize="characters" autocomplete="one-time-code" spellcheck="false"
                required autofocus;
            p class="hint" { (l.t("mfa-hint")) }
            button type="submit" { (l.t("mfa-submit")) }
        }
    }
}

/// The second step: a TOTP or recovery code.
pub fn mfa(l: Lang, path: &str, csrf: &str, rd: Option<&str>) -> Markup {
    html! {
        (second_factor_form(l, &format!("{path}/mfa"), csrf, rd))
        p class="hint" { a href={ (path) "/login" } { (l.t("mfa-restart")) } }
    }
}

/// Step-up: the second factor of a session that has one (an app asks for two), or, with
/// none enrolled, how to add one. With `passkey` (the signed-out form token), a passkey
/// too: signing in with one counts two factors.
pub fn step_up(
    l: Lang,
    path: &str,
    csrf: &str,
    rd: Option<&str>,
    enrolled: bool,
    passkey: Option<&str>,
) -> Markup {
    html! {
        @if let Some(pre) = passkey {
            p { (l.t("stepup-passkey")) }
            (passkey_sign_in(l, path, pre, rd))
            script src={ (path) "/passkey.js" } defer {}
        }
        @if enrolled {
            p { (l.t("stepup-why")) }
            (second_factor_form(l, &format!("{path}/stepup"), csrf, rd))
        } @else if passkey.is_none() {
            p { (l.t("stepup-none")) }
            p { a class="button" href={ (path) "/account" } { (l.t("stepup-setup")) } }
        }
    }
}

/// A browser refused by an app's access rules: which app, who is signed in, signing out.
pub fn refused(l: Lang, path: &str, app: &str, who: &str, csrf: Option<&str>) -> Markup {
    html! {
        p { (l.tf("refused-text", &[("app", app.into()), ("who", who.into())])) }
        @if let Some(csrf) = csrf {
            form method="post" action={ (path) "/logout" } {
                (hidden(csrf, None))
                button type="submit" class="secondary" { (l.t("refused-sign-out")) }
            }
        }
    }
}

/// Asking for a password-reset code.
pub fn forgot(l: Lang, path: &str, csrf: &str) -> Markup {
    html! {
        form method="post" action={ (path) "/forgot" } {
            (hidden(csrf, None))
            label for="email" { (l.t("forgot-email")) }
            input type="email" id="email" name="email" autocomplete="email" required autofocus;
            button type="submit" { (l.t("forgot-submit")) }
        }
        p class="hint" { a href={ (path) "/login" } { (l.t("back-to-sign-in")) } }
    }
}

/// Typing the reset code and the new password.
pub fn reset(l: Lang, path: &str, csrf: &str, email: &str) -> Markup {
    html! {
        p { (l.t("reset-sent")) }
        form method="post" action={ (path) "/reset" } {
            (hidden(csrf, None))
            label for="email" { (l.t("reset-email")) }
            input type="email" id="email" name="email" value=(email) autocomplete="email" required;
            label for="code" { (l.t("reset-code")) }
            input type="text" id="code" name="code" autocomplete="one-time-code"
                spellcheck="false" required autofocus;
            label for="new_password" { (l.t("reset-new-password")) }
            input type="password" id="new_password" name="new_password"
                autocomplete="new-password" required;
            button type="submit" { (l.t("reset-submit")) }
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
    /// The upstreams, with the account's identity at each; `None`: none configured.
    pub upstreams: Option<&'a Vec<UpstreamLink>>,
    /// The account's last sign-ins, newest first (from the audit log).
    pub sign_ins: &'a [crate::service::audit::SignInView],
}

/// An upstream as the account page lists it.
pub struct UpstreamLink {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The account's identity there, if linked.
    pub linked: Option<crate::service::IdentityView>,
    /// The link that starts linking (with the session's form token).
    pub start: String,
}

/// A time as people read it: `2026-12-02 06:30 UTC`.
fn when(ms: i64) -> String {
    let t = protocol::reply::rfc3339_ms(ms);
    match (t.get(..10), t.get(11..16)) {
        (Some(d), Some(hm)) => format!("{d} {hm} UTC"),
        _ => t,
    }
}

/// A `<time>` element of `ms`.
pub(super) fn time(ms: i64) -> Markup {
    html! { time datetime=(protocol::reply::rfc3339_ms(ms)) { (when(ms)) } }
}

/// How a session signed in, in words, from its `amr`: the first factor (a passkey, a
/// password, or a code by email: the only way `otp` comes first) and, with `mfa`, the
/// second (an authenticator app's code or a recovery code: the `amr` does not tell them
/// apart).
fn methods(l: Lang, amr: &[String]) -> String {
    let has = |m: &str| amr.iter().any(|a| a == m);
    let first = if has("ext") {
        "method-upstream"
    } else if has("hwk") {
        "method-passkey"
    } else if has("pwd") {
        "method-password"
    } else if has("otp") {
        "method-code"
    } else {
        "method-unknown"
    };
    let first = l.t(first);
    if has("mfa") {
        l.tf("method-with-second", &[("method", Arg::Text(&first))])
    } else {
        first
    }
}

/// The account page.
pub fn account(l: Lang, a: &Account<'_>) -> Markup {
    let path = a.path;
    html! {
        dl {
            @if let Some(u) = a.username { dt { (l.t("account-username")) } dd { (u) } }
            @if let Some(e) = a.email {
                dt { (l.t("account-email")) }
                dd { (e) @if !a.email_verified { " " (l.t("account-not-verified")) } }
            }
            dt { (l.t("account-two-step")) }
            dd {
                @if a.totp { (l.t("account-two-step-on")) } @else { (l.t("account-two-step-off")) }
            }
        }
        form method="post" action={ (path) "/logout" } {
            (hidden(a.csrf, None))
            button type="submit" class="secondary" { (l.t("account-sign-out")) }
        }

        h2 { (l.t("account-sessions")) }
        ul class="sessions" {
            @for s in a.sessions {
                li {
                    @if let Some(app) = &s.app {
                        strong { (l.tf("account-app-prefix", &[("app", app.into())])) } " "
                    }
                    (around(
                        &l.tf("account-session-line", &[
                            ("when", MARK.into()),
                            ("method", Arg::Text(&methods(l, &s.amr))),
                        ]),
                        time(s.created_at.millis()),
                    ))
                    @if s.id == a.current {
                        " — " strong { (l.t("account-this-browser")) }
                    } @else {
                        " "
                        form class="inline" method="post" action={ (path) "/sessions/end" } {
                            (hidden(a.csrf, None))
                            input type="hidden" name="id" value=(s.id);
                            button type="submit" class="danger"
                                aria-label=(l.tf("account-end-session", &[("when", Arg::Text(&when(s.created_at.millis())))])) {
                                (l.t("account-sign-out"))
                            }
                        }
                    }
                }
            }
        }

        @if !a.sign_ins.is_empty() {
            h2 { (l.t("account-recent")) }
            ul class="sign-ins" {
                @for s in a.sign_ins {
                    li {
                        (time(s.at.millis()))
                        " — " (door_words(l, s.door.as_deref()))
                        @if let Some(ip) = &s.ip { " — " (l.tf("account-from", &[("ip", ip.into())])) }
                    }
                }
            }
        }

        h2 { (l.t("account-authenticator")) }
        @if a.totp {
            form method="post" action={ (path) "/totp/disable" } {
                (hidden(a.csrf, None))
                label for="disable_code" { (l.t("account-totp-disable-label")) }
                input type="text" id="disable_code" name="code" inputmode="text"
                    autocapitalize="characters" autocomplete="one-time-code" required;
                button type="submit" class="danger" { (l.t("account-totp-disable")) }
            }
        } @else {
            p { (l.t("account-totp-pitch")) }
            form method="post" action={ (path) "/totp/enroll" } {
                (hidden(a.csrf, None))
                button type="submit" { (l.t("account-totp-enroll")) }
            }
        }

        @if let Some(keys) = a.passkeys {
            (passkeys(l, a, keys))
        }

        @if let Some(ups) = a.upstreams {
            (upstreams(l, a, ups))
        }

        @if a.has_password {
            h2 { (l.t("account-password")) }
        } @else {
            h2 { (l.t("account-set-password")) }
            p { (l.t("account-set-password-why")) }
        }
        form method="post" action={ (path) "/password" } {
            (hidden(a.csrf, None))
            @if a.has_password {
                label for="current_password" { (l.t("account-current-password")) }
                input type="password" id="current_password" name="current_password"
                    autocomplete="current-password" required;
            }
            label for="new_password" {
                @if a.has_password { (l.t("account-new-password")) } @else { (l.t("account-password-only")) }
            }
            input type="password" id="new_password" name="new_password"
                autocomplete="new-password" required;
            button type="submit" {
                @if a.has_password { (l.t("account-change-password")) } @else { (l.t("account-set-password-submit")) }
            }
        }
    }
}

/// A door, in words.
fn door_words(l: Lang, door: Option<&str>) -> String {
    l.t(match door {
        Some("portal") => "door-portal",
        Some("oidc") => "door-oidc",
        Some("passkey") => "door-passkey",
        Some("upstream") => "door-upstream",
        Some("admin") => "door-admin",
        Some(_) => "door-app",
        None => "door-unknown",
    })
}

/// The account page's upstreams: the linked identities (with unlink) and a link for
/// each upstream not linked.
fn upstreams(l: Lang, a: &Account<'_>, ups: &[UpstreamLink]) -> Markup {
    let path = a.path;
    html! {
        h2 { (l.t("upstream-title")) }
        p { (l.t("upstream-pitch")) }
        ul class="upstreams" {
            @for u in ups {
                li {
                    @if let Some(i) = &u.linked {
                        strong { (u.name) }
                        @if let Some(e) = &i.email { " (" (e) ")" }
                        " — " (around(&l.tf("upstream-linked-on", &[("when", MARK.into())]), time(i.linked_at.millis())))
                        " "
                        form class="inline" method="post" action={ (path) "/account/upstream/" (u.id) "/unlink" } {
                            (hidden(a.csrf, None))
                            button type="submit" class="danger"
                                aria-label=(l.tf("upstream-unlink-label", &[("name", (&u.name).into())])) {
                                (l.t("upstream-unlink"))
                            }
                        }
                    } @else {
                        a class="button secondary" href=(u.start) {
                            (l.tf("upstream-link", &[("name", (&u.name).into())]))
                        }
                    }
                }
            }
        }
    }
}

/// The account page's passkeys: each with rename and remove, and adding one (script).
fn passkeys(l: Lang, a: &Account<'_>, keys: &[protocol::PasskeyView]) -> Markup {
    let path = a.path;
    html! {
        h2 { (l.t("passkeys-title")) }
        @if keys.is_empty() {
            p { (l.t("passkeys-pitch")) }
        }
        ul class="passkeys" {
            @for k in keys {
                li {
                    strong { (k.name) }
                    " — " (around(&l.tf("passkeys-added", &[("when", MARK.into())]), time(k.created_at)))
                    @if let Some(used) = k.last_used_at {
                        ", " (around(&l.tf("passkeys-last-used", &[("when", MARK.into())]), time(used)))
                    }
                    form class="inline" method="post" action={ (path) "/passkeys/rename" } {
                        (hidden(a.csrf, None))
                        input type="hidden" name="id" value=(k.id);
                        input type="text" name="name" value=(k.name) maxlength="64" required
                            aria-label=(l.tf("passkeys-new-name", &[("name", (&k.name).into())]));
                        button type="submit" class="secondary" { (l.t("passkeys-rename")) }
                    }
                    form class="inline" method="post" action={ (path) "/passkeys/remove" } {
                        (hidden(a.csrf, None))
                        input type="hidden" name="id" value=(k.id);
                        button type="submit" class="danger"
                            aria-label=(l.tf("passkeys-remove-label", &[("name", (&k.name).into())])) {
                            (l.t("passkeys-remove"))
                        }
                    }
                }
            }
        }
        div id="passkey-add" hidden
            data-start={ (path) "/passkey/register/start" }
            data-finish={ (path) "/passkey/register/finish" }
            data-refused=(l.t("passkeys-refused"))
            data-csrf=(a.csrf) {
            label for="passkey-name" { (l.t("passkeys-name-label")) }
            input type="text" id="passkey-name" maxlength="64" placeholder=(l.t("passkeys-name-example"));
            button type="button" id="passkey-add-button" { (l.t("passkeys-add")) }
            p class="error" role="alert" id="passkey-error" hidden {}
        }
        noscript { p class="hint" { (l.t("passkeys-needs-script")) } }
        script src={ (path) "/passkey.js" } defer {}
    }
}

/// Enrolment: the secret (as a QR code, a link and text) and the first code.
pub fn totp_setup(
    l: Lang,
    path: &str,
    csrf: &str,
    secret: &str,
    otpauth: &str,
    qr: Option<&str>,
) -> Markup {
    html! {
        p { (l.t("totp-scan")) }
        @if let Some(svg) = qr {
            (PreEscaped(svg))
        }
        p { a href=(otpauth) { (l.t("totp-open")) } }
        p class="secret" aria-label=(l.t("totp-key")) { (secret) }
        form method="post" action={ (path) "/totp/confirm" } {
            (hidden(csrf, None))
            label for="code" { (l.t("totp-code")) }
            input type="text" id="code" name="code" inputmode="numeric"
                autocomplete="one-time-code" required autofocus;
            button type="submit" { (l.t("totp-submit")) }
        }
    }
}

/// The recovery codes, shown once.
pub fn recovery_codes(l: Lang, path: &str, codes: &[String]) -> Markup {
    html! {
        p { (l.t("totp-recovery")) }
        ul class="codes" { @for c in codes { li { (c) } } }
        p { a class="button" href={ (path) "/account" } { (l.t("totp-done")) } }
    }
}

fn scope_lines(l: Lang, scope: &str) -> Vec<String> {
    let mut out = vec![l.t("consent-sub")];
    for s in scope.split(' ') {
        match s {
            "email" => out.push(l.t("consent-email")),
            "profile" => out.push(l.t("consent-profile")),
            "groups" => out.push(l.t("consent-groups")),
            "offline_access" => out.push(l.t("consent-offline")),
            _ => {}
        }
    }
    out
}

/// Asking the person whether an app may sign them in.
pub fn consent(
    l: Lang,
    app: &str,
    who: &str,
    scope: &str,
    csrf: &str,
    hidden: &[(String, String)],
) -> Markup {
    html! {
        p { (l.tf("consent-intro", &[("app", app.into()), ("who", who.into())])) }
        ul { @for line in scope_lines(l, scope) { li { (line) } } }
        form method="post" action="/oidc/authorize" {
            input type="hidden" name="csrf" value=(csrf);
            @for (k, v) in hidden {
                input type="hidden" name=(k) value=(v);
            }
            button type="submit" name="decision" value="allow" { (l.t("consent-allow")) }
            " "
            button type="submit" name="decision" value="deny" class="secondary" { (l.t("consent-deny")) }
        }
    }
}

/// Asking before an app signs the person out.
pub fn confirm_logout(l: Lang, app: &str, csrf: &str, hidden: &[(String, String)]) -> Markup {
    html! {
        p { (l.tf("logout-ask", &[("app", app.into())])) }
        form method="post" action="/oidc/logout" {
            input type="hidden" name="csrf" value=(csrf);
            @for (k, v) in hidden {
                input type="hidden" name=(k) value=(v);
            }
            button type="submit" { (l.t("logout-submit")) }
        }
    }
}

/// The Form Post Response Mode's page: the answer to an app as a form to its redirect
/// URI, sent by the portal's `form_post.js` at once, or by its button without scripts.
pub fn form_post(l: Lang, path: &str, app: &str, action: &str, fields: &[(&str, &str)]) -> Markup {
    html! {
        p { (l.tf("back-taking", &[("app", app.into())])) }
        form id="form-post" method="post" action=(action) {
            @for (k, v) in fields {
                input type="hidden" name=(k) value=(v);
            }
            button type="submit" { (l.t("back-continue")) }
        }
        script src={ (path) "/form_post.js" } {}
    }
}

/// An error page with a way back.
pub fn trouble(l: Lang, path: &str, message: &str) -> Markup {
    html! {
        p { (message) }
        p { a href={ (path) "/login" } { (l.t("trouble-go-sign-in")) } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_name_how_they_signed_in() {
        let amr = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let en = |v: &[&str]| methods(Lang::EN, &amr(v));
        assert_eq!(en(&["otp"]), "code by email");
        assert_eq!(
            en(&["otp", "mfa"]),
            "code by email + authenticator app or recovery code"
        );
        assert_eq!(
            en(&["pwd", "otp", "mfa"]),
            "password + authenticator app or recovery code"
        );
        assert_eq!(en(&["pwd"]), "password");
        assert_eq!(en(&["hwk"]), "passkey");
        let de = Lang::from_code("de").unwrap();
        assert_ne!(methods(de, &amr(&["pwd"])), "password");
    }

    #[test]
    fn a_value_in_a_sentence_becomes_its_element() {
        let text = Lang::EN.tf("passkeys-added", &[("when", MARK.into())]);
        let m = around(&text, html! { time { "then" } }).into_string();
        assert_eq!(m, "added <time>then</time>");
    }
}
