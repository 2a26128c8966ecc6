//! The peers notifications go to, on loopback, started by the tests: an
//! SMTP server speaking the protocol (EHLO, MAIL, RCPT, DATA, QUIT) and an
//! HTTP server standing in for webhooks, Slack, GitHub, Jira and ticketing
//! endpoints. Each keeps what it received, with when (since it started),
//! and can be made slow, hanging or down.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a connection may stay silent before the server drops it.
const IDLE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------- SMTP

/// One mail as the SMTP server received it.
#[derive(Debug, Clone)]
pub struct Mail {
    /// When it was in, since the server started.
    pub at: Duration,
    pub from: String,
    pub to: Vec<String>,
    /// The DATA section as sent (headers and MIME parts, dot-unstuffed).
    pub raw: String,
}

impl Mail {
    /// A header's value, unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.raw.split("\r\n\r\n").next().unwrap_or("");
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    /// The decoded body of the part with this content type.
    pub fn part(&self, content_type: &str) -> String {
        let start = self.raw.find(&format!("Content-Type: {content_type}")).expect("the part is there");
        let rest = &self.raw[start..];
        let body_start = rest.find("\r\n\r\n").expect("part headers end") + 4;
        let body = &rest[body_start..];
        let end = body.find("\r\n--").unwrap_or(body.len());
        decode_quoted_printable(&body[..end])
    }

    /// The whole mail with its quoted-printable escapes decoded, as a
    /// reader sees it.
    pub fn decoded(&self) -> String {
        decode_quoted_printable(&self.raw)
    }
}

fn decode_quoted_printable(s: &str) -> String {
    let joined = s.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = joined.get(i + 1..i + 3).filter(|_| bytes[i] == b'=');
        if let Some(b) = escaped.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How the SMTP server behaves, from its next connection on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpMode {
    Up,
    /// Every connection is closed at once, before the greeting.
    Down,
    /// The answer to the message's end comes after this long (the mail is
    /// kept as soon as it is in: a slow answer does not undo it).
    SlowData(Duration),
}

/// An SMTP server that keeps every mail.
pub struct SmtpServer {
    pub port: u16,
    /// When it started: the origin of [`Mail::at`].
    pub start: Instant,
    mode: Arc<Mutex<SmtpMode>>,
    mails: Arc<Mutex<Vec<Mail>>>,
    refused: Arc<AtomicU64>,
}

impl SmtpServer {
    pub fn start(mode: SmtpMode) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind SMTP");
        let s = SmtpServer {
            port: listener.local_addr().expect("address").port(),
            start: Instant::now(),
            mode: Arc::new(Mutex::new(mode)),
            mails: Arc::default(),
            refused: Arc::default(),
        };
        let (mode, mails, refused, start) = (s.mode.clone(), s.mails.clone(), s.refused.clone(), s.start);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let m = *mode.lock().unwrap();
                if m == SmtpMode::Down {
                    refused.fetch_add(1, Ordering::SeqCst);
                    drop(stream);
                    continue;
                }
                let mails = mails.clone();
                std::thread::spawn(move || {
                    let _ = smtp_session(stream, m, &mails, start);
                });
            }
        });
        s
    }

    pub fn set(&self, mode: SmtpMode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    /// The mails whose text contains `needle`.
    pub fn mails_about(&self, needle: &str) -> Vec<Mail> {
        self.mails.lock().unwrap().iter().filter(|m| m.raw.contains(needle)).cloned().collect()
    }

    /// The connections closed while [`SmtpMode::Down`].
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::SeqCst)
    }
}

fn smtp_session(stream: TcpStream, mode: SmtpMode, mails: &Mutex<Vec<Mail>>, start: Instant) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IDLE))?;
    stream.set_nodelay(true)?;
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream);
    out.write_all(b"220 peers.test ESMTP ready\r\n")?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_owned();
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            out.write_all(b"250-peers.test\r\n250 8BITMIME\r\n")?;
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") || upper.starts_with("RSET") {
            out.write_all(b"250 OK\r\n")?;
        } else if upper.starts_with("MAIL FROM:") {
            from = angle(&cmd);
            to.clear();
            out.write_all(b"250 OK\r\n")?;
        } else if upper.starts_with("RCPT TO:") {
            to.push(angle(&cmd));
            out.write_all(b"250 OK\r\n")?;
        } else if upper == "DATA" {
            out.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
            let mut raw = String::new();
            loop {
                line.clear();
                if input.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                raw.push_str(line.strip_prefix('.').filter(|_| line.starts_with("..")).unwrap_or(&line));
            }
            mails.lock().unwrap().push(Mail { at: start.elapsed(), from: from.clone(), to: to.clone(), raw });
            if let SmtpMode::SlowData(d) = mode {
                std::thread::sleep(d);
            }
            out.write_all(b"250 OK queued\r\n")?;
        } else if upper == "QUIT" {
            out.write_all(b"221 Bye\r\n")?;
            return Ok(());
        } else {
            out.write_all(b"502 Command not implemented\r\n")?;
        }
    }
}

/// The address between `<` and `>` of a `MAIL FROM:` or `RCPT TO:`.
fn angle(cmd: &str) -> String {
    let start = cmd.find('<').map_or(0, |i| i + 1);
    let end = cmd[start..].find('>').map_or(cmd.len(), |i| start + i);
    cmd[start..end].to_owned()
}

// ---------------------------------------------------------------- HTTP

/// One request as the HTTP server received it.
#[derive(Debug, Clone)]
pub struct Request {
    /// When it came, since the server started.
    pub at: Duration,
    pub method: String,
    pub path: String,
    /// Names in lower case.
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Request {
    /// The body as JSON, `Null` when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// What the HTTP server does with a request.
pub enum Answer {
    /// This status, with this JSON body.
    Json(u16, String),
    /// Nothing: the connection is held this long, then closed.
    Hang(Duration),
}

/// How an [`HttpServer`] answers: given each request and the server's base
/// URL (`http://127.0.0.1:port`, for links in the answer).
type Answers = dyn Fn(&Request, &str) -> Answer + Send + Sync;

/// An HTTP/1.1 server that keeps every request and answers with
/// `answers`, given each request and the server's base URL (for links in
/// the answer).
pub struct HttpServer {
    /// `http://127.0.0.1:port`.
    pub base: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl HttpServer {
    pub fn start(answers: impl Fn(&Request, &str) -> Answer + Send + Sync + 'static) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind HTTP");
        let h = HttpServer {
            base: format!("http://{}", listener.local_addr().expect("address")),
            requests: Arc::default(),
        };
        let answers: Arc<Answers> = Arc::new(answers);
        let (requests, base, start) = (h.requests.clone(), h.base.clone(), Instant::now());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (requests, base, answers) = (requests.clone(), base.clone(), answers.clone());
                std::thread::spawn(move || {
                    let _ = http_session(stream, &requests, &base, &*answers, start);
                });
            }
        });
        h
    }

    /// The requests for which `pred` says yes, in the order they came.
    pub fn requests(&self, pred: impl Fn(&Request) -> bool) -> Vec<Request> {
        self.requests.lock().unwrap().iter().filter(|r| pred(r)).cloned().collect()
    }

    /// The requests whose path starts with `path`.
    pub fn requests_to(&self, path: &str) -> Vec<Request> {
        self.requests(|r| r.path.starts_with(path))
    }
}

fn http_session(
    stream: TcpStream,
    keep: &Mutex<Vec<Request>>,
    base: &str,
    answers: &Answers,
    start: Instant,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IDLE))?;
    stream.set_nodelay(true)?;
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
        let mut headers = HashMap::new();
        loop {
            line.clear();
            input.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let len = headers.get("content-length").and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
        let mut body = vec![0; len];
        input.read_exact(&mut body)?;
        let body = String::from_utf8_lossy(&body).into_owned();
        let req = Request { at: start.elapsed(), method, path, headers, body };
        keep.lock().unwrap().push(req.clone());
        let (status, answer) = match answers(&req, base) {
            Answer::Json(status, answer) => (status, answer),
            Answer::Hang(d) => {
                std::thread::sleep(d);
                return Ok(());
            }
        };
        let head = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            answer.len()
        );
        // One write: a second small one would wait for the client's delayed ACK (Nagle).
        out.write_all(format!("{head}{answer}").as_bytes())?;
    }
}
