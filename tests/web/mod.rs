//! What the axum and actix-web integration tests share: a plain HTTP/1.1
//! client over `std::net::TcpStream`, readers of the store, and the checks,
//! run against the example apps served on an ephemeral loopback port.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use error_tracker::Value;
use error_tracker::{GroupQuery, Occurrence, PageRequest, StoreQuery};
use error_tracker_suite as support;

/// serde_json's `json!`, as the tracker's own [`error_tracker::Value`].
macro_rules! json {
    ($($t:tt)+) => {
        serde_json::from_value::<error_tracker::Value>(serde_json::json!($($t)+)).expect("a JSON value")
    };
}

/// Set in the child process that runs with track-all on.
pub const TRACK_ALL_CHILD: &str = "ERROR_TRACKER_WEB_TRACK_ALL_CHILD";

/// The secrets sent by [`check_context_and_masking`]; none may be stored.
const BEARER: &str = "tok-secret-123abc";
const SESSION: &str = "sess-secret-456";
const NESTED_PASSWORD: &str = "nested-pw-789";
const QUERY_TOKEN: &str = "qs-secret-321";

/// An HTTP response: the status and the (de-chunked) body.
pub struct Reply {
    pub status: u16,
    pub body: String,
}

/// Sends one request on a new connection and reads the whole response.
pub fn send(addr: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    exchange(addr, head.as_bytes(), &[body])
}

/// Sends a body in chunks (`Transfer-Encoding: chunked`, no length given).
pub fn send_chunked(addr: SocketAddr, target: &str, content_type: &str, chunks: &[Vec<u8>]) -> Reply {
    let head = format!(
        "POST {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: {content_type}\r\n\
         Transfer-Encoding: chunked\r\n\r\n"
    );
    let mut framed: Vec<Vec<u8>> = Vec::new();
    for c in chunks {
        let mut f = format!("{:x}\r\n", c.len()).into_bytes();
        f.extend_from_slice(c);
        f.extend_from_slice(b"\r\n");
        framed.push(f);
    }
    framed.push(b"0\r\n\r\n".to_vec());
    let parts: Vec<&[u8]> = framed.iter().map(Vec::as_slice).collect();
    exchange(addr, head.as_bytes(), &parts)
}

pub fn get(addr: SocketAddr, target: &str) -> Reply {
    send(addr, "GET", target, &[], b"")
}

fn exchange(addr: SocketAddr, head: &[u8], body: &[&[u8]]) -> Reply {
    let mut s = TcpStream::connect(addr).expect("connect to the app");
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    s.write_all(head).expect("send the head");
    for part in body {
        s.write_all(part).expect("send the body");
    }
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read the response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    Reply { status, body: if chunked { dechunk(body) } else { body.to_owned() } }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Every stored occurrence.
pub fn occurrences(db: &Path) -> Vec<Occurrence> {
    support::flush();
    let store = support::open(&db.to_path_buf());
    let groups = store
        .list_groups(&GroupQuery { page: PageRequest { page: 1, per_page: 10_000 }, ..Default::default() })
        .expect("list groups");
    groups
        .items
        .iter()
        .flat_map(|g| store.occurrences(&g.hash, PageRequest { page: 1, per_page: 100 }).expect("occurrences").items)
        .collect()
}

/// The occurrences recorded while serving `path`.
pub fn at_path(db: &Path, path: &str) -> Vec<Occurrence> {
    occurrences(db).into_iter().filter(|o| o.request.as_ref().is_some_and(|r| r.path == path)).collect()
}

fn header<'a>(o: &'a Occurrence, name: &str) -> Option<&'a str> {
    o.request.as_ref()?.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// A JSON body with a password 3 levels deep, a bearer token, a session
/// cookie and a secret query parameter: the context is stored, the secrets are not.
pub fn check_context_and_masking(addr: SocketAddr, db: &Path) {
    let body = json!({"user": "alice", "profile": {"security": {"password": NESTED_PASSWORD, "hint": "pet"}}});
    let reply = send(
        addr,
        "POST",
        &format!("/login?next=%2Fhome&token={QUERY_TOKEN}"),
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &format!("Bearer {BEARER}")),
            ("Cookie", &format!("sessionid={SESSION}; theme=dark")),
            ("X-Request-Id", "req-42"),
        ],
        body.to_string().as_bytes(),
    );
    assert_eq!(reply.status, 500, "{}", reply.body);

    let found = at_path(db, "/login");
    assert_eq!(found.len(), 1, "one occurrence for the failed login: {found:#?}");
    let o = &found[0];
    assert!(o.exception_name.ends_with("LoginError"), "{}", o.exception_name);
    let r = o.request.as_ref().expect("request context");
    assert_eq!(r.method, "POST");
    assert_eq!(r.route.as_deref(), Some("/login"));
    assert!(r.url.starts_with(&format!("http://{addr}/login?")), "{}", r.url);
    assert!(r.url.contains("token=**************"), "{}", r.url);
    assert!(r.client_addr.as_deref().is_some_and(|a| a.starts_with("127.0.0.1:")), "{:?}", r.client_addr);
    assert!(r.query.contains(&("next".to_owned(), "/home".to_owned())), "{:?}", r.query);
    assert!(r.query.contains(&("token".to_owned(), "**************".to_owned())), "{:?}", r.query);
    assert_eq!(header(o, "authorization"), Some("**************"));
    assert_eq!(header(o, "cookie"), Some("**************"));
    assert_eq!(header(o, "x-request-id"), Some("req-42"));
    assert_eq!(
        r.body,
        Some(json!({"user": "alice", "profile": {"security": {"password": "**************", "hint": "pet"}}}))
    );
    // The tracked function's own `password` argument.
    let frame = o.frames.iter().find(|f| f.function.ends_with("check_login")).expect("check_login frame");
    let password = frame.args.iter().find(|v| v.name == "password").expect("password argument");
    assert_eq!(password.value, Value::String("**************".into()));
    assert_eq!(frame.args.iter().find(|v| v.name == "user").map(|v| &v.value), Some(&json!("alice")));

    let bytes = support::database_bytes(db);
    for secret in [BEARER, SESSION, NESTED_PASSWORD, QUERY_TOKEN] {
        assert!(!support::contains_bytes(&bytes, secret.as_bytes()), "{secret} was stored");
    }
    assert!(support::contains_bytes(&bytes, b"req-42"), "the scan reads the stored context");
}

/// An error recorded after `.await`s, maybe on another worker thread, holds
/// the route pattern of its request.
pub fn check_route_pattern(addr: SocketAddr, db: &Path) {
    assert_eq!(get(addr, "/users/7").status, 200);
    assert_eq!(get(addr, "/users/not-a-number").status, 500);
    let found = at_path(db, "/users/not-a-number");
    assert_eq!(found.len(), 1, "{found:#?}");
    let r = found[0].request.as_ref().expect("context");
    assert_eq!(r.route.as_deref(), Some("/users/{id}"));
    assert!(found[0].exception_name.ends_with("ParseIntError"), "{}", found[0].exception_name);
    assert!(at_path(db, "/users/7").is_empty(), "a success records nothing");
}

/// A `?` to a 500 is recorded once, by the tracked function, not again by the layer.
pub fn check_error_recorded_once(addr: SocketAddr, db: &Path) {
    assert_eq!(get(addr, "/fail").status, 500);
    let found = at_path(db, "/fail");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].exception_name.ends_with("io::error::Error"), "{}", found[0].exception_name);
}

/// A 5xx response that nothing recorded is recorded by the integration.
pub fn check_unrecorded_5xx(addr: SocketAddr, db: &Path) {
    assert_eq!(get(addr, "/maintenance").status, 503);
    let found = at_path(db, "/maintenance");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].exception_name, "ServiceUnavailable");
}

/// A panicking handler: the client gets a 500, the next request works, and
/// the panic is stored with the request's context.
pub fn check_panic(addr: SocketAddr, db: &Path) {
    let reply = get(addr, "/panic?attempt=1");
    assert_eq!(reply.status, 500);
    assert_eq!(get(addr, "/").status, 200, "the server still answers");
    let found = at_path(db, "/panic");
    assert_eq!(found.len(), 1, "the panic once, not again as a 500: {found:#?}");
    let o = &found[0];
    assert_eq!(o.exception_name, "panic");
    assert_eq!(o.message, "the boom route always panics");
    assert_eq!(o.request.as_ref().expect("context").query, [("attempt".to_owned(), "1".to_owned())]);
}

/// 4xx responses are recorded only when track-all is on.
pub fn check_4xx(addr: SocketAddr, db: &Path, track_all: bool) {
    let missing = if track_all { "/no-such-page-child" } else { "/no-such-page" };
    assert_eq!(get(addr, missing).status, 404);
    assert_eq!(get(addr, "/private").status, 401);
    // The UI is mounted at the prefix (loopback clients may see it), and
    // the tracker does not track its own pages.
    let ui = get(addr, "/dev/error/");
    assert_eq!(ui.status, 200, "{}", ui.body);
    assert!(ui.body.contains("<html"), "{}", ui.body);
    assert_eq!(get(addr, "/dev/error/no-such-ui-page").status, 404);
    assert!(at_path(db, "/dev/error/no-such-ui-page").is_empty());
    let not_found = at_path(db, missing);
    let unauthorized = at_path(db, "/private");
    if track_all {
        assert_eq!(not_found.len(), 1, "{not_found:#?}");
        assert_eq!(not_found[0].exception_name, "NotFound");
        assert_eq!(unauthorized.len(), 1, "{unauthorized:#?}");
        assert_eq!(unauthorized[0].exception_name, "Unauthorized");
    } else {
        assert!(not_found.is_empty() && unauthorized.is_empty(), "{not_found:#?} {unauthorized:#?}");
    }
}

/// A JSON body past the capture limit, sent in chunks with no length:
/// the handler still streams all of it, and the context says it was not captured.
pub fn check_large_body_streams(addr: SocketAddr) {
    let chunks: Vec<Vec<u8>> = (0..5).map(|_| vec![b' '; 30 * 1024]).collect();
    let reply = send_chunked(addr, "/upload", "application/json", &chunks);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body.trim(), (5 * 30 * 1024).to_string());
    // Under the limit, the body is read before the handler and given back whole.
    let small: Vec<Vec<u8>> = vec![b"{\"a\":".to_vec(), b"1}".to_vec()];
    let reply = send_chunked(addr, "/upload", "application/json", &small);
    assert_eq!(reply.body.trim(), "7");
}

/// A custom context builder: the default context, plus a data-center name
/// and a user token that the key rules must mask.
pub struct WithDataCenter;

impl error_tracker::ContextBuilder for WithDataCenter {
    fn build(
        &self,
        request: &error_tracker::RequestView<'_>,
        masking: &dyn error_tracker::Masking,
    ) -> error_tracker::RequestContext {
        let mut context = error_tracker::DefaultContextBuilder.build(request, masking);
        context.custom.push(error_tracker::Variable { name: "data_center".into(), value: json!("eu-west-1") });
        context.custom.push(error_tracker::Variable { name: "user_token".into(), value: json!("custom-secret-654") });
        context
    }
}

/// What [`WithDataCenter`] added is stored, masked by the key rules.
pub fn check_custom_context(db: &Path) {
    let found = at_path(db, "/login");
    let r = found[0].request.as_ref().expect("context");
    let custom = |name: &str| r.custom.iter().find(|v| v.name == name).map(|v| v.value.clone());
    assert_eq!(custom("data_center"), Some(json!("eu-west-1")));
    assert_eq!(custom("user_token"), Some(json!("**************")));
    assert!(!support::contains_bytes(&support::database_bytes(db), b"custom-secret-654"));
}

/// Runs `test_name` of this test binary again in a child process with track-all on.
pub fn run_track_all_child(test_name: &str) {
    support::run_child(test_name, &[(TRACK_ALL_CHILD, "1")]);
}
