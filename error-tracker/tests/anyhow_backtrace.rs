//! An `anyhow::Error` that captured a backtrace is stored with it: where
//! the error was created, besides where it was recorded (real SQLite file).

use std::time::Duration;

use error_tracker::{Config, record_exception, track_exception};
use serde_json::Value;

#[inline(never)]
fn read_config() -> anyhow::Result<String> {
    Err(anyhow::anyhow!("config file missing"))
}

#[inline(never)]
fn parse_port(text: &str) -> anyhow::Result<u16> {
    text.parse::<u16>().map_err(|e| anyhow::anyhow!("bad port {text:?}: {e}"))
}

/// A tracked fn: the error it returns is recorded with its own backtrace
/// too, from `parse_port` where anyhow captured it.
#[track_exception]
fn load_port(text: &str) -> anyhow::Result<u16> {
    let trimmed = text.trim();
    let port = parse_port(trimmed)?;
    Ok(port)
}

fn error_backtrace(conn: &rusqlite::Connection, message: &str) -> Value {
    let text: Option<String> = conn
        .query_row("SELECT error_backtrace FROM occurrences WHERE message = ?1", [message], |r| r.get(0))
        .expect("the occurrence");
    text.map_or(Value::Null, |t| serde_json::from_str(&t).expect("JSON"))
}

#[test]
fn the_errors_own_backtrace_is_stored() {
    // SAFETY: the only test of this binary, before any thread of it reads
    // the environment; std reads the variable once, at the first capture.
    unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "1") };
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("anyhow.sqlite");
    let _guard = error_tracker::init(Config::default().database(path.to_str().expect("utf-8"))).expect("init");

    let err = read_config().unwrap_err();
    record_exception!(err);
    let plain = std::io::Error::other("no backtrace of its own");
    record_exception!(plain);
    assert!(load_port(" 80x ").is_err());
    assert!(error_tracker::flush(Duration::from_secs(30)));

    let conn = rusqlite::Connection::open(&path).expect("open");
    let own = error_backtrace(&conn, "config file missing");
    let frames = own.as_array().expect("a backtrace");
    let functions: Vec<&str> = frames.iter().map(|f| f["function"].as_str().expect("function")).collect();
    assert!(functions[0].ends_with("read_config"), "innermost first, anyhow's own frames left out: {functions:?}");
    assert_eq!(frames[0]["in_app"], Value::Bool(true));
    assert!(frames[0]["file"].as_str().is_some_and(|f| f.ends_with("anyhow_backtrace.rs")), "{:?}", frames[0]);
    assert_eq!(error_backtrace(&conn, "no backtrace of its own"), Value::Null);

    let message = "bad port \"80x\": invalid digit found in string";
    let tracked = error_backtrace(&conn, message);
    let functions: Vec<&str> =
        tracked.as_array().expect("a backtrace").iter().map(|f| f["function"].as_str().expect("function")).collect();
    assert!(functions.iter().any(|f| f.ends_with("parse_port")), "where anyhow captured it: {functions:?}");
    let (frames, name): (String, String) = conn
        .query_row("SELECT frames, exception_name FROM occurrences WHERE message = ?1", [message], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("the tracked occurrence");
    assert!(frames.contains("load_port") && frames.contains("80x"), "the tracked frame and its argument: {frames}");
    assert_eq!(name, "anyhow::Error");
}
