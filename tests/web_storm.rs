//! An error storm behind a web integration: every request fails through a
//! tracked fn, far past the site's detail budget. The repeats are only
//! counted, and the integration does not record their 500 responses
//! instead: one group, its count exact, a few rows in detail. Then the same
//! with a handler that panics on every request, caught by the layer.

use std::net::SocketAddr;
use std::time::Duration;

use error_tracker::integrations::axum::ErrorTrackerLayer;
use error_tracker::{Config, GroupQuery, PageRequest, StoreQuery, track_exception};

mod web;

const REQUESTS: u64 = 600;
const CAP: u32 = 5;

#[track_exception]
fn parse_total(text: &str) -> Result<u64, std::num::ParseIntError> {
    text.parse::<u64>()
}

async fn total() -> Result<String, axum::http::StatusCode> {
    let total = parse_total("12,50").map_err(|_| axum::http::StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(total.to_string())
}

/// The message of the handler's panics, which the test does not print.
const CRASH: &str = "the order service crashed";

async fn crash() -> &'static str {
    panic!("{CRASH}")
}

fn serve() -> SocketAddr {
    let app = axum::Router::new()
        .route("/orders/{id}/total", axum::routing::get(total))
        .route("/orders/{id}/crash", axum::routing::get(crash))
        .layer(ErrorTrackerLayer::new());
    error_tracker_suite::serve_on_loopback(2, |listener| async {
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app).await.expect("serve");
    })
}

#[test]
fn a_storm_of_failing_requests_is_one_group_counted_exactly() {
    let print = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<String>().is_none_or(|m| m != CRASH) {
            print(info);
        }
    }));
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("web-storm.sqlite");
    let config = Config::default().database(path.to_str().expect("utf-8 path")).occurrences_per_group(CAP);
    let _guard = error_tracker::init(config).expect("init");
    let addr = serve();
    // The first one is stored in detail: the writer knows the group after it.
    assert_eq!(web::get(addr, "/orders/1/total").status, 500);
    assert!(error_tracker::flush(Duration::from_secs(30)));
    std::thread::scope(|s| {
        for t in 0..4 {
            s.spawn(move || {
                for i in 0..REQUESTS / 4 {
                    let reply = web::get(addr, &format!("/orders/{}/total", t * 1000 + i));
                    assert_eq!(reply.status, 500);
                }
            });
        }
    });
    assert!(error_tracker::flush(Duration::from_secs(30)));

    let store = error_tracker::SqliteStore::open(&path, CAP).expect("open");
    let groups =
        store.list_groups(&GroupQuery { page: PageRequest::first(50), ..GroupQuery::default() }).expect("groups");
    let summary: Vec<(String, u64)> = groups.items.iter().map(|g| (g.exception_name.clone(), g.count)).collect();
    assert_eq!(summary, [("core::num::error::ParseIntError".to_owned(), REQUESTS + 1)], "no 500 group besides");
    let hash = &groups.items[0].hash;
    let stored = store.occurrences(hash, PageRequest { page: 1, per_page: 50 }).expect("occurrences");
    assert!((1..=u64::from(CAP)).contains(&stored.total), "{} rows", stored.total);
    for o in &stored.items {
        let request = o.request.as_ref().expect("the stored ones carry their request");
        assert_eq!(request.route.as_deref(), Some("/orders/{id}/total"));
        assert_eq!(o.frames[0].args[0].name, "text");
    }

    a_storm_of_panicking_requests_is_one_group_counted_exactly(addr, &store);
}

/// Every request panics in its handler: the panic group counts them all,
/// its first ones carry the request, and no 500 is recorded besides.
fn a_storm_of_panicking_requests_is_one_group_counted_exactly(addr: SocketAddr, store: &error_tracker::SqliteStore) {
    assert_eq!(web::get(addr, "/orders/1/crash").status, 500);
    assert!(error_tracker::flush(Duration::from_secs(30)));
    std::thread::scope(|s| {
        for t in 0..4 {
            s.spawn(move || {
                for i in 0..REQUESTS / 4 {
                    let reply = web::get(addr, &format!("/orders/{}/crash", t * 1000 + i));
                    assert_eq!(reply.status, 500, "the layer answers a panic with a 500");
                }
            });
        }
    });
    assert!(error_tracker::flush(Duration::from_secs(30)));

    let groups =
        store.list_groups(&GroupQuery { page: PageRequest::first(50), ..GroupQuery::default() }).expect("groups");
    let summary: Vec<(String, u64)> = groups.items.iter().map(|g| (g.exception_name.clone(), g.count)).collect();
    assert_eq!(summary.len(), 2, "the panic's group and the first storm's, no 500 group: {summary:?}");
    let panics = groups.items.iter().find(|g| g.exception_name == "panic").expect("the panic group");
    assert_eq!(panics.count, REQUESTS + 1, "{summary:?}");
    let stored = store.occurrences(&panics.hash, PageRequest { page: 1, per_page: 50 }).expect("occurrences");
    assert!((1..=u64::from(CAP)).contains(&stored.total), "{} rows", stored.total);
    for o in &stored.items {
        assert_eq!(o.message, CRASH);
        let request = o.request.as_ref().expect("the stored ones carry their request");
        assert_eq!(request.route.as_deref(), Some("/orders/{id}/crash"));
    }
}
