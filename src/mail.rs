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

use crate::config;

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
    /// Someone asked for a code for an address without an account, and sign-up is off.
    NoAccount,
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

/// The message for `purpose`, signed by `issuer` (the `mfa.issuer` name).
pub fn render(purpose: Purpose, issuer: &str) -> Message {
    match purpose {
        Purpose::Code { code, minutes } => Message {
            subject: format!("Your {issuer} sign-in code: {code}"),
            text: format!(
                "Your sign-in code is:\n\n    {code}\n\nIt expires in {minutes} minutes and works once.\n\n\
                 If you did not ask to sign in, ignore this message: nobody can sign in without the code.\n\n-- {issuer}\n"
            ),
            html: format!(
                "<!doctype html><html><body style=\"font-family:sans-serif\">\
                 <p>Your sign-in code is:</p>\
                 <p style=\"font-size:1.6em;font-family:monospace;letter-spacing:0.1em\"><strong>{}</strong></p>\
                 <p>It expires in {minutes} minutes and works once.</p>\
                 <p style=\"color:#666\">If you did not ask to sign in, ignore this message: nobody can sign in without the code.</p>\
                 <p>&mdash; {}</p></body></html>",
                html_escape(code),
                html_escape(issuer)
            ),
        },
        Purpose::NoAccount => Message {
            subject: format!("Sign-in attempt at {issuer}"),
            text: format!(
                "Someone asked to sign in to {issuer} with this address, but there is no account for it.\n\n\
                 If it was you, use the address you signed up with. Otherwise, ignore this message.\n\n-- {issuer}\n"
            ),
            html: format!(
                "<!doctype html><html><body style=\"font-family:sans-serif\">\
                 <p>Someone asked to sign in to {0} with this address, but there is no account for it.</p>\
                 <p>If it was you, use the address you signed up with. Otherwise, ignore this message.</p>\
                 <p>&mdash; {0}</p></body></html>",
                html_escape(issuer)
            ),
        },
    }
}

/// Splits `Name <address>` (or a bare address) into its parts.
pub fn parse_mailbox(s: &str) -> Option<(String, String)> {
    let s = s.trim();
    match (s.rfind('<'), s.ends_with('>')) {
        (Some(i), true) => {
            let name = s.get(..i)?.trim().trim_matches('"').to_owned();
            let addr = s.get(i + 1..s.len() - 1)?.trim().to_owned();
            (addr.contains('@') && !addr.contains(['<', '>', ' '])).then_some((name, addr))
        }
        _ => {
            (s.contains('@') && !s.contains(['<', '>', ' '])).then(|| (String::new(), s.to_owned()))
        }
    }
}

/// Sends mail as configured.
#[derive(Debug, Clone)]
pub struct Mailer {
    cfg: config::Mail,
    from_name: String,
    from_addr: String,
    issuer: String,
}

impl Mailer {
    /// A mailer for the `[mail]` section (already validated).
    pub fn new(cfg: &config::Mail, issuer: &str) -> Result<Mailer, String> {
        let (from_name, from_addr) =
            parse_mailbox(&cfg.from).ok_or("mail.from is not `Name <address>`")?;
        Ok(Mailer {
            cfg: cfg.clone(),
            from_name,
            from_addr,
            issuer: issuer.to_owned(),
        })
    }

    /// Sends `purpose` to `to`.
    pub async fn send(&self, to: &str, purpose: Purpose<'_>) -> Result<(), MailError> {
        let msg = render(purpose, &self.issuer);
        if self.cfg.transport == "log" {
            // The log transport exists to show the message to whoever runs the server.
            tracing::info!(target: "latchkey::mail", to, subject = %msg.subject, "mail (log transport):\n{}", msg.text);
            return Ok(());
        }
        let body = MessageBuilder::new()
            .from((self.from_name.as_str(), self.from_addr.as_str()))
            .to(to)
            .subject(msg.subject.as_str())
            .text_body(msg.text.as_str())
            .html_body(msg.html.as_str())
            .write_to_vec()
            .map_err(|e| MailError::Unavailable(e.to_string()))?;
        let limit = Duration::from_secs(self.cfg.timeout);
        match tokio::time::timeout(limit, self.deliver(to, &body)).await {
            Ok(r) => r,
            Err(_) => Err(MailError::Unavailable("timed out".into())),
        }
    }

    async fn deliver(&self, to: &str, body: &[u8]) -> Result<(), MailError> {
        let smtp = &self.cfg.smtp;
        let mut builder = SmtpClientBuilder::new(smtp.host.clone(), smtp.port)
            .map_err(MailError::Unavailable)?
            .timeout(Duration::from_secs(self.cfg.timeout))
            .helo_host("latchkey")
            .implicit_tls(smtp.tls == "implicit");
        if !smtp.username.is_empty() {
            builder = builder.credentials((smtp.username.clone(), smtp.password.clone()));
        }
        let unavailable = |e: mail_send::Error| MailError::Unavailable(e.to_string());
        if smtp.tls == "none" {
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
    fn mailboxes() {
        assert_eq!(
            parse_mailbox("latchkey <no-reply@localhost>"),
            Some(("latchkey".into(), "no-reply@localhost".into()))
        );
        assert_eq!(
            parse_mailbox("a@b.c"),
            Some((String::new(), "a@b.c".into()))
        );
        assert_eq!(
            parse_mailbox("\"X Y\" <x@y.z>"),
            Some(("X Y".into(), "x@y.z".into()))
        );
        assert_eq!(parse_mailbox("nope"), None);
        assert_eq!(parse_mailbox("a <b>"), None);
    }

    #[test]
    fn code_message_is_readable() {
        let m = render(
            Purpose::Code {
                code: "ABCD-EFGH-JKMN",
                minutes: 10,
            },
            "latchkey",
        );
        assert!(m.subject.contains("ABCD-EFGH-JKMN"));
        assert!(m.text.contains("ABCD-EFGH-JKMN") && m.text.contains("10 minutes"));
        assert!(m.html.contains("<strong>ABCD-EFGH-JKMN</strong>"));
        let n = render(Purpose::NoAccount, "<x>");
        assert!(n.html.contains("&lt;x&gt;") && !n.html.contains("<x>"));
    }
}
