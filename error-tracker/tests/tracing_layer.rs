//! The `tracing` layer against a real SQLite file: what the program logged
//! before an error and the spans it was in are stored with the occurrence,
//! masked; `tracing::error!` events become occurrences.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use error_tracker::{Config, Guard, record_exception};
use serde_json::{Value, json};
use tracing_subscriber::prelude::*;

fn db() -> PathBuf {
    static INIT: OnceLock<(tempfile::TempDir, PathBuf, Guard)> = OnceLock::new();
    INIT.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tracing.sqlite");
        let guard = error_tracker::init(Config::default().database(path.to_str().expect("utf-8 path"))).expect("init");
        let layer = error_tracker::integrations::tracing::layer()
            .breadcrumb_filter(|m| m.target() != "noisy")
            .event_filter(|m| m.target() != "not_recorded");
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer)).expect("subscriber");
        (dir, path, guard)
    })
    .1
    .clone()
}

/// The stored occurrence whose message is `message`: its breadcrumbs,
/// spans and extras columns, parsed, and its exception name and sources.
struct Row {
    exception_name: String,
    sources: Value,
    extra: Value,
    breadcrumbs: Value,
    spans: Value,
}

fn stored(message: &str) -> Row {
    assert!(error_tracker::flush(Duration::from_secs(30)), "flushed");
    let conn = rusqlite::Connection::open(db()).expect("open the database");
    conn.query_row(
        "SELECT exception_name, sources, extra, breadcrumbs, spans FROM occurrences WHERE message = ?1",
        [message],
        |r| {
            let json = |i: usize| -> rusqlite::Result<Value> {
                let text: Option<String> = r.get(i)?;
                Ok(text.map_or(Value::Null, |t| serde_json::from_str(&t).expect("JSON column")))
            };
            Ok(Row {
                exception_name: r.get(0)?,
                sources: json(1)?,
                extra: json(2)?,
                breadcrumbs: json(3)?,
                spans: json(4)?,
            })
        },
    )
    .unwrap_or_else(|e| panic!("no occurrence {message:?}: {e}"))
}

fn messages(breadcrumbs: &Value) -> Vec<&str> {
    breadcrumbs.as_array().expect("an array").iter().map(|b| b["message"].as_str().expect("message")).collect()
}

#[derive(Debug)]
struct LoadError(std::io::Error);

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("order 17 could not be loaded")
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn breadcrumbs_and_spans_are_stored_with_the_error_masked() {
    db();
    let request = tracing::info_span!("request", method = "GET", path = "/orders/17", session_token = "s3cr3t-span");
    let _request = request.enter();
    let load = tracing::info_span!("load_order", id = 17);
    let _load = load.enter();
    tracing::debug!("below the breadcrumb level");
    tracing::info!(target: "noisy", "filtered out by target");
    tracing::info!(rows = 3, cached = false, "loading order");
    tracing::warn!(api_key = "k-12345", note = "sent with token=abcdef123456", "retrying");
    let err = "x".parse::<u32>().unwrap_err();
    record_exception!(err);

    let row = stored("invalid digit found in string");
    assert_eq!(messages(&row.breadcrumbs), ["loading order", "retrying"]);
    let first = &row.breadcrumbs[0];
    assert_eq!((&first["level"], &first["target"]), (&json!("INFO"), &json!("tracing_layer")));
    assert_eq!(first["fields"], json!([{"name": "rows", "value": 3}, {"name": "cached", "value": false}]));
    assert!(first["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    // The key rule at once, the value rules on the writer thread.
    let mask = error_tracker::DEFAULT_MASK_WITH;
    assert_eq!(
        row.breadcrumbs[1]["fields"],
        json!([{"name": "api_key", "value": mask}, {"name": "note", "value": format!("sent with token={mask}")}])
    );
    assert_eq!(
        row.spans,
        json!([
            {"name": "request", "target": "tracing_layer", "fields": [
                {"name": "method", "value": "GET"},
                {"name": "path", "value": "/orders/17"},
                {"name": "session_token", "value": mask},
            ]},
            {"name": "load_order", "target": "tracing_layer", "fields": [{"name": "id", "value": 17}]},
        ])
    );
}

#[test]
fn an_error_event_is_an_occurrence_with_its_error_and_spans() {
    db();
    let span = tracing::error_span!("job", name = "nightly");
    let _job = span.enter();
    tracing::info!("starting the job");
    let err = LoadError(std::io::Error::other("connection refused"));
    tracing::error!(error = &err as &dyn std::error::Error, attempt = 2, password = "hunter2", "job failed");
    tracing::error!(target: "not_recorded", "only a breadcrumb");
    tracing::error!("a plain error event");

    let row = stored("order 17 could not be loaded");
    assert_eq!(row.exception_name, "tracing::ERROR");
    assert_eq!(row.sources, json!(["connection refused"]));
    let mask = error_tracker::DEFAULT_MASK_WITH;
    assert_eq!(
        row.extra,
        json!([
            {"name": "message", "value": "job failed"},
            {"name": "attempt", "value": 2},
            {"name": "password", "value": mask},
        ])
    );
    assert_eq!(messages(&row.breadcrumbs), ["starting the job"], "an event is not its own breadcrumb");
    assert_eq!(
        row.spans,
        json!([{"name": "job", "target": "tracing_layer", "fields": [{"name": "name", "value": "nightly"}]}])
    );

    let plain = stored("a plain error event");
    assert_eq!(plain.sources, json!([]));
    assert_eq!(
        messages(&plain.breadcrumbs),
        ["starting the job", "job failed", "only a breadcrumb"],
        "the earlier error events are breadcrumbs of the later ones"
    );
    let conn = rusqlite::Connection::open(db()).expect("open");
    let n: i64 = conn
        .query_row("SELECT count(*) FROM occurrences WHERE message = 'only a breadcrumb'", [], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 0, "the event filter left it out");
}

#[test]
fn the_ring_keeps_the_last_hundred_of_this_thread_only() {
    db();
    std::thread::spawn(|| tracing::info!("another thread's breadcrumb")).join().expect("thread");
    for i in 0..150 {
        tracing::info!(i, "step {i}");
    }
    let err = std::io::Error::other("after 150 steps");
    record_exception!(err);
    let row = stored("after 150 steps");
    let got = messages(&row.breadcrumbs);
    assert_eq!(got.len(), 100);
    assert_eq!((got[0], got[99]), ("step 50", "step 149"));
    assert_eq!(row.spans, Value::Null, "no span entered: the column is NULL");
}

/// Spans below the layer's span level (`INFO`) are left out of the path,
/// even when another layer enables them; the layer's level hint lets
/// `tracing` skip what no layer wants at the callsite.
#[test]
fn spans_below_the_span_level_are_left_out_and_the_hint_says_so() {
    use tracing_subscriber::Layer;
    use tracing_subscriber::filter::LevelFilter;
    use tracing_subscriber::registry::Registry;

    db();
    let hint = |l: error_tracker::integrations::tracing::TrackerLayer| Layer::<Registry>::max_level_hint(&l);
    let layer = error_tracker::integrations::tracing::layer;
    assert_eq!(hint(layer()), Some(LevelFilter::INFO));
    assert_eq!(hint(layer().breadcrumb_level(tracing::Level::DEBUG)), Some(LevelFilter::DEBUG));
    assert_eq!(hint(layer().no_breadcrumbs().span_level(tracing::Level::TRACE)), Some(LevelFilter::TRACE));
    assert_eq!(hint(layer().no_breadcrumbs().no_events().span_level(tracing::Level::WARN)), Some(LevelFilter::WARN));

    // Another layer wants `DEBUG`: the debug span exists, and is not kept.
    let subscriber = tracing_subscriber::registry().with(layer()).with(LevelFilter::DEBUG);
    tracing::subscriber::with_default(subscriber, || {
        let job = tracing::info_span!("job", id = 3);
        let _job = job.enter();
        let lookup = tracing::debug_span!("cache_lookup", key = "k");
        let _lookup = lookup.enter();
        let err = std::io::Error::other("inside a debug span");
        record_exception!(err);
    });
    let row = stored("inside a debug span");
    assert_eq!(row.spans, json!([{"name": "job", "target": "tracing_layer", "fields": [{"name": "id", "value": 3}]}]));
}
