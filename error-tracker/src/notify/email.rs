//! [`EmailNotifier`]: notification emails over SMTP, with lettre.

use std::time::Duration;

use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{SmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::ClientId;

use super::{Notification, Notifier, NotifyError, SmtpSettings, SmtpTls};
use crate::init_error::InitError;
use crate::notify::Setup;

/// Sends each notification as an email with a plain-text and an HTML part.
///
/// Every email has a `Message-ID` of `<notification id@sender's domain>`
/// ([`Notification::id`]), the same on every try, so that a mail system can
/// drop a copy. When the server takes the message but does not confirm it
/// within the timeout, the email is not sent again
/// ([`NotifyError::Unconfirmed`]): most servers queue a message before they
/// answer, so a resend would be a second copy.
///
/// [`init`](crate::init) makes one from the configuration when
/// `APP_ERROR_SEND_NOTIFICATION` is on: the sender
/// (`APP_ERROR_EMAIL_SENDER`), the recipients (`APP_ERROR_RECIPIENT_EMAIL`)
/// and the server ([`Config::smtp`], or `APP_ERROR_SMTP_HOST` and friends).
///
/// ```
/// use error_tracker::notify::{EmailNotifier, SmtpSettings, SmtpTls};
/// let smtp = SmtpSettings::new("127.0.0.1", 2525).tls(SmtpTls::None);
/// let mail = EmailNotifier::new(smtp, "errors@example.com", ["oncall@example.com"]).unwrap();
/// let config = error_tracker::Config::default().notifier(mail);
/// # let _ = config;
/// ```
#[derive(Clone)]
pub struct EmailNotifier {
    host: String,
    port: u16,
    tls: Option<(SmtpTls, TlsParameters)>,
    hello: ClientId,
    credentials: Option<Credentials>,
    timeout: Duration,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl std::fmt::Debug for EmailNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailNotifier").field("from", &self.from).field("to", &self.to).finish_non_exhaustive()
    }
}

impl EmailNotifier {
    /// Sends from `from` to every address of `to` through `smtp`. Fails when
    /// an address cannot be parsed or there is no recipient.
    pub fn new<I, S>(smtp: SmtpSettings, from: &str, to: I) -> Result<Self, NotifyError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let parse = |a: &str| a.trim().parse::<Mailbox>().map_err(|e| NotifyError::Smtp(format!("address {a:?}: {e}")));
        let from = parse(from)?;
        let to = to.into_iter().map(|a| parse(a.as_ref())).collect::<Result<Vec<_>, _>>()?;
        if to.is_empty() {
            return Err(NotifyError::Smtp("no recipient".to_owned()));
        }
        let tls = |host: &str| {
            TlsParameters::new(host.to_owned()).map_err(|e| NotifyError::Smtp(format!("TLS for {host}: {e}")))
        };
        let tls = match smtp.tls {
            SmtpTls::None => None,
            mode => Some((mode, tls(&smtp.host)?)),
        };
        let hello = gethostname::gethostname().to_string_lossy().into_owned();
        let credentials =
            smtp.username.as_ref().map(|u| Credentials::new(u.clone(), smtp.password.clone().unwrap_or_default()));
        Ok(Self {
            host: smtp.host,
            port: smtp.port,
            tls,
            hello: ClientId::Domain(if hello.is_empty() { "localhost".to_owned() } else { hello }),
            credentials,
            timeout: smtp.timeout,
            from,
            to,
        })
    }

    /// The notifier `APP_ERROR_SEND_NOTIFICATION` asks for, with a clear
    /// error naming the missing setting.
    pub(crate) fn from_config(c: &Setup<'_>) -> Result<Self, InitError> {
        let missing = |name: &'static str, reason: &str| InitError::InvalidSetting {
            name,
            value: String::new(),
            reason: format!("{reason}, needed to send notification emails (APP_ERROR_SEND_NOTIFICATION)"),
        };
        let Some(smtp) = c.settings.smtp.clone() else {
            return Err(missing("APP_ERROR_SMTP_HOST", "no SMTP server set"));
        };
        let Some(from) = c.email_sender else {
            return Err(missing("APP_ERROR_EMAIL_SENDER", "no sender set"));
        };
        if c.recipient_emails.is_empty() {
            return Err(missing("APP_ERROR_RECIPIENT_EMAIL", "no recipient set"));
        }
        Self::new(smtp, from, c.recipient_emails).map_err(|e| InitError::InvalidSetting {
            name: "APP_ERROR_RECIPIENT_EMAIL",
            value: c.recipient_emails.join(","),
            reason: e.to_string(),
        })
    }

    fn message(&self, n: &Notification) -> Result<Message, NotifyError> {
        // Quoted-printable keeps the raw mail readable and every line short.
        let part = |kind: ContentType, text: String| {
            let body = Body::new_with_encoding(text, ContentTransferEncoding::QuotedPrintable)
                .map_err(|_| NotifyError::Smtp("the body cannot be encoded".to_owned()))?;
            Ok::<_, NotifyError>(SinglePart::builder().header(kind).body(body))
        };
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(n.subject.clone())
            .message_id(Some(format!("<{}@{}>", n.id, self.from.email.domain())));
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        builder
            .multipart(
                MultiPart::alternative()
                    .singlepart(part(ContentType::TEXT_PLAIN, n.body.clone())?)
                    .singlepart(part(ContentType::TEXT_HTML, n.html_body())?),
            )
            .map_err(|e| NotifyError::Smtp(e.to_string()))
    }
}

impl EmailNotifier {
    /// The conversation, step by step (lettre's `SmtpTransport` does the
    /// same in one call), so that a failure is known to come before the
    /// message left (retried) or after (unconfirmed, not resent).
    fn send(&self, message: &Message) -> Result<(), NotifyError> {
        let peer = || format!("smtp://{}:{}", self.host, self.port);
        let before = |e: SmtpError| refused(e).unwrap_or_else(|e| NotifyError::Transport { peer: peer(), reason: e });
        let wrapper = match &self.tls {
            Some((SmtpTls::Tls, params)) => Some(params),
            _ => None,
        };
        let mut conn =
            SmtpConnection::connect((self.host.as_str(), self.port), Some(self.timeout), &self.hello, wrapper, None)
                .map_err(before)?;
        let result = (|| {
            if let Some((SmtpTls::StartTls, params)) = &self.tls {
                conn.starttls(params, &self.hello).map_err(before)?;
            }
            if let Some(c) = &self.credentials {
                conn.auth(DEFAULT_MECHANISMS, c).map_err(before)?;
            }
            let envelope = message.envelope();
            conn.command(Mail::new(envelope.from().cloned(), Vec::new())).map_err(before)?;
            for to in envelope.to() {
                conn.command(Rcpt::new(to.clone(), Vec::new())).map_err(before)?;
            }
            conn.command(Data).map_err(before)?;
            // From here the server may hold the message, answered or not.
            let formatted = message.formatted();
            let sent = match String::from_utf8(formatted) {
                // One write for the message and its end: lettre's `message`
                // writes them apart, and the second small write then waits
                // for the server's delayed ACK (Nagle: 40 ms a mail).
                Ok(text) => conn.command(DotStuffed(&text)),
                Err(e) => conn.message(e.as_bytes()),
            };
            sent.map_err(|e| {
                refused(e).unwrap_or_else(|reason| NotifyError::Unconfirmed {
                    peer: peer(),
                    reason: format!("the message was sent, then: {reason}"),
                })
            })?;
            Ok(())
        })();
        if result.is_ok() {
            let _ = conn.quit();
        } else {
            conn.abort();
        }
        result
    }
}

/// A message as the DATA section carries it (RFC 5321 4.5.2): a line that
/// starts with a dot gets another, and `CRLF . CRLF` ends it.
struct DotStuffed<'a>(&'a str);

impl std::fmt::Display for DotStuffed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.0;
        if text.starts_with('.') {
            f.write_str(".")?;
        }
        f.write_str(&text.replace("\r\n.", "\r\n.."))?;
        if !text.ends_with("\r\n") {
            f.write_str("\r\n")?;
        }
        f.write_str(".\r\n")
    }
}

/// An SMTP reply that refuses (4xx for now, 5xx for good) as a
/// [`NotifyError`]; any other failure as its text.
fn refused(e: SmtpError) -> Result<NotifyError, String> {
    if e.is_permanent() {
        Ok(NotifyError::Smtp(e.to_string()))
    } else if e.is_transient() {
        Ok(NotifyError::SmtpTransient(e.to_string()))
    } else {
        Err(e.to_string())
    }
}

impl Notifier for EmailNotifier {
    fn channel_name(&self) -> String {
        "email".to_owned()
    }

    fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let message = self.message(n)?;
        self.send(&message)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_line_starting_with_a_dot_is_stuffed_and_the_end_is_marked() {
        let stuffed = super::DotStuffed(".top\r\nmid\r\n.\r\n..two\r\nend").to_string();
        assert_eq!(stuffed, "..top\r\nmid\r\n..\r\n...two\r\nend\r\n.\r\n");
        assert_eq!(super::DotStuffed("a\r\n").to_string(), "a\r\n.\r\n");
    }
}
