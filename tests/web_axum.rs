//! The axum integration, end to end: `examples/axum_app.rs` served on an
//! ephemeral loopback port, real HTTP requests, then the SQLite store read back.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

#[path = "../examples/axum_app.rs"]
#[allow(dead_code)]
mod axum_app;
mod web;

/// Initializes the tracker (track-all only in the child) and serves the app once per process.
fn server() -> (SocketAddr, PathBuf) {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    let db = error_tracker_suite::init_once(|c| c.track_all(std::env::var_os(web::TRACK_ALL_CHILD).is_some()));
    let addr = *ADDR.get_or_init(|| {
        error_tracker_suite::serve_on_loopback(2, |listener| async {
            axum_app::serve(listener, None).await.expect("serve");
        })
    });
    (addr, db)
}

#[test]
fn context_is_stored_and_secrets_are_not() {
    let (addr, db) = server();
    web::check_context_and_masking(addr, &db);
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

/// An inner service that panics in `call`, before it has a future (a
/// `service_fn`'s synchronous part): the client gets a 500, not a closed
/// connection, and the panic is stored once with the request's context.
#[test]
fn a_service_panicking_in_call_gives_a_500_with_the_request() {
    use axum::body::Body;
    use axum::http::Request;
    use axum::response::Response;
    use tower::ServiceExt;

    let (_, db) = server();
    // axum's own routes call a service when they are polled: this is the
    // layer around a service of its own (`ServiceBuilder`), which runs `call` at once.
    let service =
        tower::service_fn(|_: Request<Body>| -> std::future::Ready<Result<Response, std::convert::Infallible>> {
            panic!("the service panicked in call")
        });
    let app = tower::Layer::layer(&error_tracker::integrations::axum::ErrorTrackerLayer::new(), service);
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("rt");
    let request = Request::get("/sync-panic?attempt=2").body(Body::empty()).expect("request");
    let response = rt.block_on(app.oneshot(request)).expect("infallible");
    assert_eq!(response.status(), 500);
    let found = web::at_path(&db, "/sync-panic");
    assert_eq!(found.len(), 1, "the panic once, not again as a 500: {found:#?}");
    assert_eq!(found[0].exception_name, "panic");
    assert_eq!(found[0].message, "the service panicked in call");
    assert_eq!(found[0].request.as_ref().expect("context").query, [("attempt".to_owned(), "2".to_owned())]);
}
