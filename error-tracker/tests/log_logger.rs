//! The `log` integration against a real SQLite file: every record still
//! reaches the wrapped logger; records are breadcrumbs of the occurrences,
//! masked; `log::error!` records become occurrences when asked.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use error_tracker::{Config, Guard, record_exception};
use log::LevelFilter;
use serde_json::{Value, json};

/// The wrapped logger: it writes `WARN` and above, here into a list.
struct Written;

static WRITTEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

impl log::Log for Written {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            WRITTEN.lock().unwrap().push(format!("{} {}", record.level(), record.args()));
        }
    }
    fn flush(&self) {}
}

fn db() -> PathBuf {
    static INIT: OnceLock<(tempfile::TempDir, PathBuf, Guard)> = OnceLock::new();
    INIT.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("log.sqlite");
        let guard = error_tracker::init(Config::default().database(path.to_str().expect("utf-8 path"))).expect("init");
        error_tracker::integrations::log::Logger::new(Written)
            .breadcrumb_filter(|m| m.target() != "noisy")
            .record_level(log::Level::Error)
            .init(LevelFilter::Warn)
            .expect("logger");
        (dir, path, guard)
    })
    .1
    .clone()
}

fn stored(message: &str) -> (String, Value, Value) {
    assert!(error_tracker::flush(Duration::from_secs(30)), "flushed");
    let conn = rusqlite::Connection::open(db()).expect("open the database");
    conn.query_row("SELECT exception_name, extra, breadcrumbs FROM occurrences WHERE message = ?1", [message], |r| {
        let extra: String = r.get(1)?;
        let breadcrumbs: Option<String> = r.get(2)?;
        Ok((
            r.get(0)?,
            serde_json::from_str(&extra).expect("extra"),
            breadcrumbs.map_or(Value::Null, |b| serde_json::from_str(&b).expect("breadcrumbs")),
        ))
    })
    .unwrap_or_else(|e| panic!("no occurrence {message:?}: {e}"))
}

#[test]
fn records_are_forwarded_kept_as_breadcrumbs_and_errors_recorded() {
    db();
    log::debug!("below the breadcrumb level");
    log::info!(target: "noisy", "filtered out by target");
    log::info!(rows = 3, cached = false, ratio = 0.5; "loading order {}", 17);
    log::warn!(api_key = "k-12345", note = "sent with token=abcdef123456"; "retrying");
    log::error!(attempt = 2; "the job failed");
    let err = std::io::Error::other("after the log records");
    record_exception!(err);

    let (name, extra, _) = stored("the job failed");
    assert_eq!(name, "log::ERROR");
    assert_eq!(extra, json!([{"name": "attempt", "value": 2}]));

    let (_, _, breadcrumbs) = stored("after the log records");
    let mask = error_tracker::DEFAULT_MASK_WITH;
    assert_eq!(
        breadcrumbs.as_array().unwrap().iter().map(|b| (&b["level"], &b["message"], &b["fields"])).collect::<Vec<_>>(),
        [
            (
                &json!("INFO"),
                &json!("loading order 17"),
                &json!([{"name": "rows", "value": 3}, {"name": "cached", "value": false}, {"name": "ratio", "value": 0.5}])
            ),
            (
                &json!("WARN"),
                &json!("retrying"),
                &json!([{"name": "api_key", "value": mask}, {"name": "note", "value": format!("sent with token={mask}")}])
            ),
            (&json!("ERROR"), &json!("the job failed"), &json!([{"name": "attempt", "value": 2}])),
        ]
    );
    assert_eq!(breadcrumbs[0]["target"], json!("log_logger"));
    // The wrapped logger got what it wants, whatever the tracker keeps.
    assert_eq!(*WRITTEN.lock().unwrap(), ["WARN retrying", "ERROR the job failed"]);
}
