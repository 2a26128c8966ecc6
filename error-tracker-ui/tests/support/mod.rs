//! Shared by the UI tests: a real SQLite store on a temporary file, seeded
//! through `Store::write`, a real server on 127.0.0.1, and a small HTTP/1.1
//! client over `TcpStream`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use error_tracker::{
    FrameSnapshot, Grouped, Occurrence, PanicInfo, RequestContext, SqliteStore, StackFrame, StoreWrite, Timestamp,
    Variable,
};
use error_tracker_ui::ErrorTrackerUi;

/// serde_json's `json!`, as the tracker's own [`error_tracker::Value`].
macro_rules! json {
    ($($t:tt)+) => {
        serde_json::from_value::<error_tracker::Value>(serde_json::json!($($t)+)).expect("a JSON value")
    };
}

/// An occurrence with every field filled, `secs_ago` seconds old.
pub fn occurrence(name: &str, message: &str, secs_ago: u64) -> Occurrence {
    let var = |n: &str, v: error_tracker::Value| Variable { name: n.to_owned(), value: v };
    Occurrence {
        id: format!("00000000-0000-4000-8000-{:012}", secs_ago),
        exception_name: name.to_owned(),
        message: message.to_owned(),
        sources: vec!["connection refused".to_owned(), "os error 111".to_owned()],
        backtrace: vec![
            StackFrame { function: "std::rt::lang_start".into(), file: None, line: None, in_app: false },
            StackFrame {
                function: "shop::orders::load".into(),
                file: Some("src/orders.rs".into()),
                line: Some(42),
                in_app: true,
            },
            StackFrame {
                function: "tokio::runtime::park".into(),
                file: Some("tokio/src/park.rs".into()),
                line: Some(7),
                in_app: false,
            },
            StackFrame {
                function: "core::ops::function::FnOnce::call_once".into(),
                file: None,
                line: None,
                in_app: false,
            },
        ],
        thread: Some("worker-3".into()),
        timestamp: Timestamp::now().saturating_sub(Duration::from_secs(secs_ago)),
        host: "web-1".into(),
        pid: 4242,
        release: Some("1.2.3".into()),
        panic: None,
        frames: vec![FrameSnapshot {
            function: "shop::orders::load".into(),
            file: Some("src/orders.rs".into()),
            line: Some(40),
            function_line: None,
            args: vec![var("order_id", json!(17)), var("password", json!("**************"))],
            locals: vec![var("cart", json!({"items": [1, 2], "total_cents": 1999}))],
        }],
        request: Some(RequestContext {
            method: "POST".into(),
            url: "https://shop.example/orders/17?verbose=1".into(),
            path: "/orders/17".into(),
            route: Some("/orders/{id}".into()),
            headers: vec![("user-agent".into(), "curl/8.0".into()), ("authorization".into(), "**************".into())],
            query: vec![("verbose".into(), "1".into())],
            body: Some(json!({"quantity": 2})),
            client_addr: Some("203.0.113.9:5555".into()),
            custom: vec![var("user_id", json!(7))],
        }),
        extra: vec![var("attempt", json!(3))],
        site: None,
        breadcrumbs: Vec::new(),
        spans: Vec::new(),
        error_backtrace: Vec::new(),
    }
}

/// Adds panic details to an occurrence.
pub fn with_panic(mut o: Occurrence, message: &str) -> Occurrence {
    o.panic = Some(PanicInfo { message: message.to_owned(), location: Some("src/main.rs:1:1".into()) });
    o
}

pub fn grouped(hash: &str, occurrence: Occurrence) -> Grouped {
    Grouped { hash: hash.to_owned(), occurrence, times: 1, count_only: false }
}

/// A SQLite store on a temporary file.
pub struct TestStore {
    pub store: Arc<SqliteStore>,
    pub dir: tempfile::TempDir,
}

impl TestStore {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path().join("errors.sqlite"), 100).unwrap());
        Self { store, dir }
    }

    pub fn write(&self, batch: &[Grouped]) {
        self.store.write(batch).unwrap();
    }
}

/// A server running `ui` on an ephemeral loopback port, on its own thread.
pub struct Server {
    pub addr: SocketAddr,
}

impl Server {
    pub fn start(ui: ErrorTrackerUi) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                error_tracker_ui::serve(listener, ui).await.unwrap();
            });
        });
        Self { addr }
    }

    pub fn get(&self, path: &str) -> Response {
        request(self.addr, "GET", path, &[], b"")
    }

    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        request(self.addr, "GET", path, headers, b"")
    }

    pub fn post_form(&self, path: &str, form: &str) -> Response {
        request(self.addr, "POST", path, &[("content-type", "application/x-www-form-urlencoded")], form.as_bytes())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// A parsed response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body with the HTML escapes that the templates write undone, for
    /// checking what a reader sees (the XSS tests check the raw body).
    pub fn text(&self) -> String {
        self.body
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&#x2f;", "/")
            .replace("&amp;", "&")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One request on a new connection (`Connection: close`), read to the end.
/// The `Host` is the server's address unless `headers` hold one.
pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).expect("UTF-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete response");
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Response { status, headers, body: body.to_owned() }
}

/// The CSRF token of the first action form on a page.
pub fn csrf_token(html: &str) -> String {
    let at = html.find("name=\"csrf_token\" value=\"").expect("an action form") + "name=\"csrf_token\" value=\"".len();
    html[at..].split('"').next().unwrap().to_owned()
}

/// Strings that would run script if any stored text reached the page unescaped.
pub const CORPUS: &[&str] = &[
    "<script>window.__xss=1</script>",
    "\"><img src=x onerror=\"window.__xss=1\">",
    "'><img src=x onerror='window.__xss=1'>",
    "javascript:window.__xss=1",
    "</pre></td></table><svg onload=window.__xss=1>",
    "<a href=\"javascript:window.__xss=1\">click</a>",
    "{{ 7*7 }}{% raw %}",
];

/// One group whose every stored string is hostile, and one whose hash is.
pub fn hostile_groups() -> Vec<error_tracker::Grouped> {
    let mut out = Vec::new();
    for (i, payload) in CORPUS.iter().enumerate() {
        let p = |s: &str| format!("{s}{payload}");
        let var = |n: &str| Variable { name: p(n), value: json!(p("value")) };
        let mut o = with_panic(occurrence(&p("shop::Error"), &p("message"), i as u64 + 1), payload);
        o.sources = vec![p("source")];
        o.host = p("host");
        o.thread = Some(p("thread"));
        o.release = Some(p("release"));
        o.extra = vec![var("extra"), Variable { name: "nested".into(), value: json!({ p("key"): [p("item")] }) }];
        o.frames = vec![FrameSnapshot {
            function: p("function"),
            file: Some(p("file")),
            line: Some(1),
            function_line: None,
            args: vec![var("arg")],
            locals: vec![var("local")],
        }];
        o.backtrace[1].function = p("bt");
        o.backtrace[1].file = Some(p("btfile"));
        o.backtrace[0].function = p("lib");
        let r = o.request.as_mut().unwrap();
        r.method = p("GET");
        r.url = p("https://x/");
        r.path = p("/path");
        r.route = Some(p("/route"));
        r.headers = vec![(p("x-header"), p("header-value")), ("referer".into(), payload.to_string())];
        r.query = vec![(p("q"), p("v"))];
        r.body = Some(json!(p("body")));
        r.client_addr = Some(p("addr"));
        r.custom = vec![var("custom")];
        out.push(grouped(&format!("xss{i}"), o));
    }
    out.push(grouped(CORPUS[1], occurrence("shop::HostileHash", "a custom fingerprint", 1)));
    out
}
