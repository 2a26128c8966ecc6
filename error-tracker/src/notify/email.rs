//! [`EmailNotifier`]: notification emails over SMTP, with lettre.

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Message, SmtpTransport, Transport};

use super::{Notification, Notifier, NotifyError, SmtpSettings, SmtpTls};
use crate::config::{Config, InitError};

/// Sends each notification as an email with a plain-text and an HTML part.
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
    transport: SmtpTransport,
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
            SmtpTls::None => Tls::None,
            SmtpTls::StartTls => Tls::Required(tls(&smtp.host)?),
            SmtpTls::Tls => Tls::Wrapper(tls(&smtp.host)?),
        };
        let hello = gethostname::gethostname().to_string_lossy().into_owned();
        let mut builder = SmtpTransport::builder_dangerous(&smtp.host)
            .port(smtp.port)
            .tls(tls)
            .timeout(Some(smtp.timeout))
            .hello_name(ClientId::Domain(if hello.is_empty() { "localhost".to_owned() } else { hello }));
        if let Some(user) = &smtp.username {
            builder = builder.credentials(Credentials::new(user.clone(), smtp.password.clone().unwrap_or_default()));
        }
        Ok(Self { transport: builder.build(), from, to })
    }

    /// The notifier `APP_ERROR_SEND_NOTIFICATION` asks for, with a clear
    /// error naming the missing setting.
    pub(crate) fn from_config(c: &Config) -> Result<Self, InitError> {
        let missing = |name: &'static str, reason: &str| InitError::InvalidSetting {
            name,
            value: String::new(),
            reason: format!("{reason}, needed to send notification emails (APP_ERROR_SEND_NOTIFICATION)"),
        };
        let Some(smtp) = c.notify.smtp.clone() else {
            return Err(missing("APP_ERROR_SMTP_HOST", "no SMTP server set"));
        };
        let Some(from) = c.email_sender.as_deref() else {
            return Err(missing("APP_ERROR_EMAIL_SENDER", "no sender set"));
        };
        if c.recipient_emails.is_empty() {
            return Err(missing("APP_ERROR_RECIPIENT_EMAIL", "no recipient set"));
        }
        Self::new(smtp, from, &c.recipient_emails).map_err(|e| InitError::InvalidSetting {
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
        let mut builder = Message::builder().from(self.from.clone()).subject(n.subject.clone());
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

impl Notifier for EmailNotifier {
    fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let message = self.message(n)?;
        self.transport.send(&message).map(|_| ()).map_err(|e| {
            if e.is_permanent() || e.is_transient() {
                NotifyError::Smtp(e.to_string())
            } else {
                NotifyError::Transport { peer: "the SMTP server".to_owned(), reason: e.to_string() }
            }
        })
    }
}
