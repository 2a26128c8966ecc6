//! `error-tracker-ui prune`: the retention limits applied to a file written elsewhere.

use std::process::Command;

use error_tracker::{Grouped, Occurrence, SqliteStore, StoreQuery, StoreWrite, Timestamp};

fn occurrence(i: i64) -> Occurrence {
    Occurrence {
        id: format!("00000000-0000-4000-8000-{i:012}"),
        exception_name: "app::Error".into(),
        message: format!("failure {i}"),
        sources: vec![],
        backtrace: vec![],
        thread: None,
        timestamp: Timestamp::from_micros(Timestamp::now().as_micros() - (100 - i) * 60_000_000),
        host: "web-1".into(),
        pid: 1,
        release: None,
        panic: None,
        frames: vec![],
        request: None,
        extra: vec![],
        site: None,
        breadcrumbs: Vec::new(),
        spans: Vec::new(),
        error_backtrace: Vec::new(),
    }
}

#[test]
fn prune_keeps_the_most_recently_seen_groups_and_says_what_it_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("errors.sqlite");
    {
        let store = SqliteStore::open(&path, 10).unwrap();
        let batch: Vec<Grouped> = (0..20).map(|i| Grouped::new(format!("g{i:02}"), occurrence(i))).collect();
        store.write(&batch).unwrap();
    }
    let bin = env!("CARGO_BIN_EXE_error-tracker-ui");
    let out = Command::new(bin).args(["--db", path.to_str().unwrap(), "prune", "--max-groups", "5"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("pruned 15 group(s), 15 occurrence(s)"), "{stdout}");
    let store = SqliteStore::open(&path, 10).unwrap();
    let page = store.list_groups(&Default::default()).unwrap();
    assert_eq!(page.total, 5);
    assert_eq!(page.items[0].hash, "g19", "the most recently seen are kept");

    // No limit given: refused, nothing deleted.
    let out = Command::new(bin).args(["--db", path.to_str().unwrap(), "prune"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--max-groups"));
}
