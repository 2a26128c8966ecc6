//! The actix-web integration, end to end: `examples/actix_app.rs` served on an
//! ephemeral loopback port, real HTTP requests, then the SQLite store read back.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

#[path = "../examples/actix_app.rs"]
#[allow(dead_code)]
mod actix_app;
mod web;

/// Initializes the tracker (track-all only in the child) and serves the app once per process.
fn server() -> (SocketAddr, PathBuf) {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    // This binary also checks a custom `ContextBuilder` (web_axum uses the default).
    let db = error_tracker_suite::init_once(|c| {
        c.track_all(std::env::var_os(web::TRACK_ALL_CHILD).is_some()).context_builder(web::WithDataCenter)
    });
    let addr = *ADDR.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(actix_app::serve(listener, None)).expect("serve");
        });
        addr
    });
    (addr, db)
}

#[test]
fn context_is_stored_and_secrets_are_not() {
    let (addr, db) = server();
    web::check_context_and_masking(addr, &db);
    web::check_custom_context(&db);
}

#[test]
fn errors_after_await_carry_the_route_pattern() {
    let (addr, db) = server();
    web::check_route_pattern(addr, &db);
}

#[test]
fn an_error_behind_a_500_is_recorded_once() {
    let (addr, db) = server();
    web::check_error_recorded_once(addr, &db);
}

#[test]
fn a_5xx_nothing_recorded_is_recorded() {
    let (addr, db) = server();
    web::check_unrecorded_5xx(addr, &db);
}

#[test]
fn a_panic_gives_a_500_and_the_next_request_works() {
    let (addr, db) = server();
    web::check_panic(addr, &db);
}

#[test]
fn a_large_body_still_streams() {
    let (addr, _) = server();
    web::check_large_body_streams(addr);
}

#[test]
fn four_xx_are_tracked_only_with_track_all() {
    if std::env::var_os(web::TRACK_ALL_CHILD).is_some() {
        return;
    }
    let (addr, db) = server();
    web::check_4xx(addr, &db, false);
    web::run_track_all_child("four_xx_with_track_all_child");
}

/// Runs only in the child process started by `four_xx_are_tracked_only_with_track_all`.
#[test]
fn four_xx_with_track_all_child() {
    if std::env::var_os(web::TRACK_ALL_CHILD).is_none() {
        return;
    }
    let (addr, db) = server();
    web::check_4xx(addr, &db, true);
}
