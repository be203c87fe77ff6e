//! Outgoing mail: the session-code message, sent through SMTP (`mail-send`, plain,
//! STARTTLS or implicit TLS, optional authentication) or written to the log (`log`
//! transport, the shipped default: a fresh install works without a mail server).
//!
//! Sending is async on the reactor's I/O (never blocking it) and bounded by a timeout, so
//! a slow mail server delays only its own request. A recipient the server refuses with a
//! 5xx reply is told apart from a server that cannot be reached or fails.

use std::time::Duration;

use mail_send::mail_builder::MessageBuilder;
use mail_send::smtp::message::Parameters;
use mail_send::SmtpClientBuilder;

use std::sync::{Arc, Mutex};

use crate::config::{MailSettings, MailTransport, SmtpSettings, SmtpTls};
use crate::i18n::{Arg, Lang};

/// Why a message was not delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailError {
    /// The server refused the recipient (5xx reply to RCPT TO).
    Refused(String),
    /// The server could not be reached, timed out, or failed otherwise.
    Unavailable(String),
}

impl std::fmt::Display for MailError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MailError::Refused(m) => write!(f, "recipient refused: {m}"),
            MailError::Unavailable(m) => write!(f, "mail server unavailable: {m}"),
        }
    }
}

/// What a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose<'a> {
    /// A sign-in code, valid for `minutes`.
    Code {
        /// The code.
        code: &'a str,
        /// Minutes until it expires.
        minutes: u64,
    },
    /// A code that proves the address belongs to the account, valid for `minutes`.
    VerifyEmail {
        /// The code.
        code: &'a str,
        /// Minutes until it expires.
        minutes: u64,
    },
    /// Someone asked for a code for an address without an account, and sign-up is off.
    NoAccount,
    /// A password-reset code, valid for `minutes`.
    ResetPassword {
        /// The code.
        code: &'a str,
        /// Minutes until it expires.
        minutes: u64,
    },
    /// Someone asked to reset the password of an address without an account.
    ResetNoAccount,
    /// A code that moves the account to this (new) address, valid for `minutes`.
    ChangeEmail {
        /// The code.
        code: &'a str,
        /// Minutes until it expires.
        minutes: u64,
    },
    /// To the old address: a change to `new` was asked for.
    EmailChangeNotice {
        /// The address asked for.
        new: &'a str,
    },
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A message that carries a code: what it is for (message `what`), the code, when it
/// expires, and what to do when one did not ask for it (message `unasked`).
fn code_message(
    l: Lang,
    issuer: &str,
    what: &str,
    code: &str,
    minutes: u64,
    unasked: &str,
) -> Message {
    let what = l.t(what);
    let unasked = l.t(unasked);
    let expires = l.tf("mail-code-expires", &[("minutes", Arg::Count(minutes))]);
    let intro = l.tf("mail-code-intro", &[("what", Arg::Text(&what))]);
    let intro_html = l.tf("mail-code-intro-html", &[("what", Arg::Text(&what))]);
    Message {
        subject: l.tf(
            "mail-code-subject",
            &[("issuer", issuer.into()), ("what", Arg::Text(&what)), ("code", code.into())],
        ),
        text: format!("{intro}\n\n    {code}\n\n{expires}\n\n{unasked}\n\n-- {issuer}\n"),
        html: format!(
            "<!doctype html><html lang=\"{}\"><body style=\"font-family:sans-serif\">\
             <p>{}</p>\
             <p style=\"font-size:1.6em;font-family:monospace;letter-spacing:0.1em\"><strong>{}</strong></p>\
             <p>{}</p>\
             <p style=\"color:#666\">{}</p>\
             <p>&mdash; {}</p></body></html>",
            l.code(),
            html_escape(&intro_html),
            html_escape(code),
            html_escape(&expires),
            html_escape(&unasked),
            html_escape(issuer)
        ),
    }
}

/// A message without a code: what happened, and what to do about it.
fn notice(l: Lang, issuer: &str, subject: String, what: String, advice: &str) -> Message {
    let advice = l.t(advice);
    Message {
        subject,
        text: format!("{what}\n\n{advice}\n\n-- {issuer}\n"),
        html: format!(
            "<!doctype html><html lang=\"{}\"><body style=\"font-family:sans-serif\">\
             <p>{}</p><p>{}</p><p>&mdash; {}</p></body></html>",
            l.code(),
            html_escape(&what),
            html_escape(&advice),
            html_escape(issuer)
        ),
    }
}

/// The message for `purpose` in `l`, signed by `issuer` (the name mails carry).
pub fn render(purpose: Purpose, issuer: &str, l: Lang) -> Message {
    let by = |id: &str| l.tf(id, &[("issuer", issuer.into())]);
    match purpose {
        Purpose::Code { code, minutes } => code_message(
            l,
            issuer,
            "mail-what-sign-in",
            code,
            minutes,
            "mail-unasked-sign-in",
        ),
        Purpose::VerifyEmail { code, minutes } => code_message(
            l,
            issuer,
            "mail-what-verify",
            code,
            minutes,
            "mail-unasked-verify",
        ),
        Purpose::ResetPassword { code, minutes } => code_message(
            l,
            issuer,
            "mail-what-reset",
            code,
            minutes,
            "mail-unasked-reset",
        ),
        Purpose::ChangeEmail { code, minutes } => code_message(
            l,
            issuer,
            "mail-what-change",
            code,
            minutes,
            "mail-unasked-change",
        ),
        Purpose::ResetNoAccount => notice(
            l,
            issuer,
            by("mail-reset-none-subject"),
            by("mail-reset-none"),
            "mail-wrong-address",
        ),
        Purpose::EmailChangeNotice { new } => notice(
            l,
            issuer,
            by("mail-change-notice-subject"),
            l.tf(
                "mail-change-notice",
                &[("issuer", issuer.into()), ("new", new.into())],
            ),
            "mail-change-notice-advice",
        ),
        Purpose::NoAccount => notice(
            l,
            issuer,
            by("mail-no-account-subject"),
            by("mail-no-account"),
            "mail-wrong-address",
        ),
    }
}

/// A message kept by an [`Outbox`] mailer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The recipient.
    pub to: String,
    /// The subject.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
}

/// Messages kept in memory instead of sent: for running the service in-process (tests,
/// embedding), where the real transports are exercised by the integration tests.
#[derive(Debug, Clone, Default)]
pub struct Outbox(Arc<Mutex<Vec<Sent>>>);

impl Outbox {
    /// Every message so far, oldest first.
    pub fn messages(&self) -> Vec<Sent> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[derive(Debug, Clone)]
enum Transport {
    Configured(MailTransport),
    Outbox(Outbox),
}

/// Sends mail as configured.
#[derive(Debug, Clone)]
pub struct Mailer {
    transport: Transport,
    from_name: String,
    from_addr: String,
    timeout: Duration,
    issuer: String,
}

impl Mailer {
    /// A mailer for the `[mail]` settings.
    pub fn new(cfg: &MailSettings, issuer: &str) -> Mailer {
        Mailer {
            transport: Transport::Configured(cfg.transport.clone()),
            from_name: cfg.from_name.clone(),
            from_addr: cfg.from_address.clone(),
            timeout: cfg.timeout,
            issuer: issuer.to_owned(),
        }
    }

    /// A mailer that keeps every message in `outbox` instead of sending it.
    pub fn to_outbox(cfg: &MailSettings, issuer: &str, outbox: Outbox) -> Mailer {
        Mailer {
            transport: Transport::Outbox(outbox),
            ..Mailer::new(cfg, issuer)
        }
    }

    /// Sends `purpose` to `to`, in `lang`.
    pub async fn send(&self, to: &str, purpose: Purpose<'_>, lang: Lang) -> Result<(), MailError> {
        let msg = render(purpose, &self.issuer, lang);
        let smtp = match &self.transport {
            Transport::Configured(MailTransport::Log) => {
                // The log transport exists to show the message to whoever runs the server.
                tracing::info!(target: "latchkey::mail", to, subject = %msg.subject, "mail (log transport):\n{}", msg.text);
                return Ok(());
            }
            Transport::Outbox(o) => {
                o.0.lock().unwrap_or_else(|e| e.into_inner()).push(Sent {
                    to: to.to_owned(),
                    subject: msg.subject,
                    text: msg.text,
                });
                return Ok(());
            }
            Transport::Configured(MailTransport::Smtp(smtp)) => smtp,
        };
        let body = MessageBuilder::new()
            .from((self.from_name.as_str(), self.from_addr.as_str()))
            .to(to)
            .subject(msg.subject.as_str())
            .text_body(msg.text.as_str())
            .html_body(msg.html.as_str())
            .write_to_vec()
            .map_err(|e| MailError::Unavailable(e.to_string()))?;
        match tokio::time::timeout(self.timeout, self.deliver(smtp, to, &body)).await {
            Ok(r) => r,
            Err(_) => Err(MailError::Unavailable("timed out".into())),
        }
    }

    async fn deliver(&self, smtp: &SmtpSettings, to: &str, body: &[u8]) -> Result<(), MailError> {
        let mut builder = SmtpClientBuilder::new(smtp.host.clone(), smtp.port)
            .map_err(MailError::Unavailable)?
            .timeout(self.timeout)
            .helo_host("latchkey")
            .implicit_tls(smtp.tls == SmtpTls::Implicit);
        if let Some((user, password)) = &smtp.credentials {
            builder = builder.credentials((user.clone(), password.clone()));
        }
        let unavailable = |e: mail_send::Error| MailError::Unavailable(e.to_string());
        if smtp.tls == SmtpTls::None {
            let mut c = builder.connect_plain().await.map_err(unavailable)?;
            envelope(&mut c, &self.from_addr, to, body).await?;
            let _ = c.quit().await;
        } else {
            let mut c = builder.connect().await.map_err(unavailable)?;
            envelope(&mut c, &self.from_addr, to, body).await?;
            let _ = c.quit().await;
        }
        Ok(())
    }
}

async fn envelope<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    c: &mut mail_send::SmtpClient<T>,
    from: &str,
    to: &str,
    body: &[u8],
) -> Result<(), MailError> {
    let none = Parameters::default();
    c.mail_from(from, &none)
        .await
        .map_err(|e| MailError::Unavailable(e.to_string()))?;
    match c.rcpt_to(to, &none).await {
        Ok(()) => {}
        Err(mail_send::Error::UnexpectedReply(r)) if (500..600).contains(&r.code) => {
            return Err(MailError::Refused(format!("{} {}", r.code, r.message)))
        }
        Err(e) => return Err(MailError::Unavailable(e.to_string())),
    }
    c.data(body)
        .await
        .map_err(|e| MailError::Unavailable(e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_message_is_readable() {
        let m = render(
            Purpose::Code {
                code: "ABCD-EFGH-JKMN",
                minutes: 10,
            },
            "latchkey",
            Lang::EN,
        );
        assert_eq!(m.subject, "Your latchkey sign-in code: ABCD-EFGH-JKMN");
        assert!(m.text.contains("ABCD-EFGH-JKMN") && m.text.contains("10 minutes"));
        assert!(m.html.contains("<strong>ABCD-EFGH-JKMN</strong>"));
        let n = render(Purpose::NoAccount, "<x>", Lang::EN);
        assert!(n.html.contains("&lt;x&gt;") && !n.html.contains("<x>"));
    }

    #[test]
    fn messages_speak_the_readers_language() {
        let de = Lang::from_code("de").unwrap();
        let purpose = Purpose::ResetPassword {
            code: "ABCD-EFGH-JKMN",
            minutes: 1,
        };
        let m = render(purpose, "Familie", de);
        assert!(m.subject.contains("ABCD-EFGH-JKMN") && m.subject.contains("Familie"));
        assert_ne!(m.subject, render(purpose, "Familie", Lang::EN).subject);
        assert!(m.html.starts_with("<!doctype html><html lang=\"de\">"));
        assert!(m.text.contains("1 Minute"), "{}", m.text);
    }
}
