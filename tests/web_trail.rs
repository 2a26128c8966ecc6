//! The axum example with the `tracing` layer: an error in a handler carries
//! what its own request logged (not what other requests logged on the same
//! worker threads in between) and the spans it was in, masked.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{Value, json};
use tracing_subscriber::prelude::*;

#[path = "../examples/axum_app.rs"]
#[allow(dead_code)]
mod axum_app;

fn server() -> (SocketAddr, PathBuf) {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    let db = error_tracker_suite::init_once(|c| c);
    let addr = *ADDR.get_or_init(|| {
        tracing_subscriber::registry().with(error_tracker::integrations::tracing::layer()).init();
        // One worker: every request runs on the same thread.
        error_tracker_suite::serve_on_loopback(1, |listener| async {
            axum_app::serve(listener, None).await.expect("serve");
        })
    });
    (addr, db)
}

fn column(db: &PathBuf, column: &str, message: &str) -> Value {
    error_tracker_suite::flush();
    let conn = rusqlite::Connection::open(db).expect("open");
    let text: Option<String> = conn
        .query_row(
            &format!("SELECT {column} FROM occurrences WHERE message = ?1 ORDER BY id DESC LIMIT 1"),
            [message],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("no occurrence {message:?}: {e}"));
    text.map_or(Value::Null, |t| serde_json::from_str(&t).expect("JSON"))
}

fn messages(breadcrumbs: &Value) -> Vec<&str> {
    breadcrumbs.as_array().expect("breadcrumbs").iter().map(|b| b["message"].as_str().expect("message")).collect()
}

#[test]
fn a_handlers_error_carries_its_requests_breadcrumbs_and_spans() {
    let (addr, db) = server();
    let get = |path: &str| error_tracker_suite::http_get(addr, path);
    assert!(get("/fail").starts_with("HTTP/1.1 500"));
    assert!(get("/users/abc").starts_with("HTTP/1.1 500"));
    let body = r#"{"user":"alice","profile":{"security":{"password":"hunter2"}}}"#;
    let login = error_tracker_suite::http_exchange(
        addr,
        &format!(
            "POST /login HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(login.starts_with("HTTP/1.1 500"), "{login}");
    assert!(get("/maintenance").starts_with("HTTP/1.1 503"));

    let parse = "invalid digit found in string";
    assert_eq!(messages(&column(&db, "breadcrumbs", parse)), ["loading the user"], "only its own request's");
    assert_eq!(
        column(&db, "spans", parse),
        json!([
            {"name": "request", "target": "web_trail::axum_app", "fields": [
                {"name": "method", "value": "GET"}, {"name": "path", "value": "/users/abc"}]},
            {"name": "parse_user_id", "target": "web_trail::axum_app", "fields": [{"name": "raw", "value": "abc"}]},
        ])
    );
    let settings = column(&db, "breadcrumbs", "No such file or directory (os error 2)");
    assert_eq!(messages(&settings), ["reading the settings"]);

    // A 503 that nothing recorded is recorded after the handler, with what
    // its request logged.
    let maintenance = column(&db, "breadcrumbs", "GET /maintenance returned 503 Service Unavailable");
    assert_eq!(messages(&maintenance), ["maintenance mode: refusing the request"]);

    let login = column(&db, "breadcrumbs", "no account accepts these credentials for \"alice\"");
    let mask = error_tracker::DEFAULT_MASK_WITH;
    assert_eq!(login[0]["fields"], json!([{"name": "user", "value": "alice"}, {"name": "password", "value": mask}]));
    let stored = error_tracker_suite::database_bytes(&db);
    assert!(!stored.windows(7).any(|w| w == b"hunter2"), "the password is nowhere");
}
