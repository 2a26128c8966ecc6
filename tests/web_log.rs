//! The `log` integration while the axum integration serves requests: an
//! error in a handler carries what its own request logged through `log`,
//! not what other requests logged on the same worker thread in between,
//! and a secret key is masked.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use error_tracker::integrations::axum::ErrorTrackerLayer;
use serde_json::Value;

#[error_tracker::track_exception]
fn parse_id(raw: &str) -> Result<u32, std::num::ParseIntError> {
    raw.parse()
}

async fn order(Path(raw): Path<String>) -> Result<String, (axum::http::StatusCode, String)> {
    log::info!(raw = raw.as_str(), api_key = "k-secret-42"; "loading order {raw}");
    match parse_id(&raw) {
        Ok(id) => Ok(format!("order {id}")),
        Err(e) => {
            error_tracker::record_exception!(e);
            Err((axum::http::StatusCode::BAD_REQUEST, "bad id".into()))
        }
    }
}

fn server() -> (SocketAddr, PathBuf) {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    let db = error_tracker_suite::init_once(|c| c);
    let addr = *ADDR.get_or_init(|| {
        error_tracker::integrations::log::Logger::alone().init(log::LevelFilter::Info).expect("the only logger");
        // One worker: every request runs on the same thread.
        error_tracker_suite::serve_on_loopback(1, |listener| async {
            let app = Router::new().route("/orders/{raw}", get(order)).layer(ErrorTrackerLayer::new());
            axum::serve(listener, app).await.expect("serve");
        })
    });
    (addr, db)
}

#[test]
fn a_handlers_error_carries_what_its_request_logged_through_log() {
    let (addr, db) = server();
    // Requests that log and succeed, on the same worker thread, before the
    // failing one: their records are theirs, not the failing request's.
    for id in 1..=3 {
        assert!(error_tracker_suite::http_get(addr, &format!("/orders/{id}")).starts_with("HTTP/1.1 200"));
    }
    assert!(error_tracker_suite::http_get(addr, "/orders/x7").starts_with("HTTP/1.1 400"));

    error_tracker_suite::flush();
    let conn = rusqlite::Connection::open(&db).expect("open");
    let (breadcrumbs, request): (String, Option<String>) = conn
        .query_row(
            "SELECT breadcrumbs, request_data FROM occurrences WHERE message = ?1",
            ["invalid digit found in string"],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("the occurrence");
    let breadcrumbs: Value = serde_json::from_str(&breadcrumbs).expect("JSON");
    let messages: Vec<&str> =
        breadcrumbs.as_array().expect("array").iter().map(|b| b["message"].as_str().unwrap()).collect();
    assert_eq!(messages, ["loading order x7"], "only its own request's");
    let mask = error_tracker::DEFAULT_MASK_WITH;
    assert_eq!(
        breadcrumbs[0]["fields"],
        serde_json::json!([{"name": "raw", "value": "x7"}, {"name": "api_key", "value": mask}])
    );
    assert!(request.is_some_and(|r| r.contains("/orders/x7")), "the request's context");
    let stored = error_tracker_suite::database_bytes(&db);
    assert!(!stored.windows(11).any(|w| w == b"k-secret-42"), "the key is nowhere");
}
