//! Several processes on one SQLite file, and fingerprints across runs.
//!
//! The parent tests re-run this binary as children (see `child_writer`), so
//! each child is a separate process with its own tracker and address layout.

use error_tracker::{GroupQuery, PageRequest, StoreQuery, record_exception};
use error_tracker_suite::{flush, open, spawn_child, temp_db, total_count, wait_child};

const PER_CHILD: usize = 2_000;

#[derive(Debug)]
struct FleetError;

/// Not a test on its own: the body of a child process, run when `CHILD_DB` is set.
#[test]
#[ignore = "a child process of another test, which runs it"]
fn child_writer() {
    let Ok(db) = std::env::var("CHILD_DB") else { return };
    let n: usize = std::env::var("CHILD_COUNT").map(|v| v.parse().unwrap()).unwrap_or(PER_CHILD);
    let _guard = error_tracker::init(error_tracker::Config::default().database(&db).queue_capacity(256)).unwrap();
    for i in 0..n {
        record_exception!(FleetError, "i" => i);
    }
    flush();
    let store = open(&db.into());
    let q = GroupQuery { search: Some("FleetError".into()), page: PageRequest::first(10), ..Default::default() };
    for g in store.list_groups(&q).unwrap().items {
        println!("GROUP {}", g.hash);
    }
}

fn groups_printed(out: &str) -> Vec<String> {
    // libtest prints "test child_writer ... " on the same line first.
    out.lines().filter_map(|l| l.split_once("GROUP ")).map(|(_, h)| h.trim().to_owned()).collect()
}

#[test]
fn two_processes_writing_one_file_keep_count_exact() {
    let db = temp_db("fleet.sqlite");
    let db = db.to_str().unwrap();
    let children: Vec<_> = (0..2).map(|_| spawn_child("child_writer", &[("CHILD_DB", db)])).collect();
    for c in children {
        wait_child(c);
    }
    let store = open(&db.into());
    assert_eq!(total_count(&store), 2 * PER_CHILD as u64);
    assert_eq!(store.list_groups(&GroupQuery::default()).unwrap().total, 1, "one error, one group");
}

#[test]
fn the_fingerprint_is_stable_across_runs() {
    let runs: Vec<Vec<String>> = (0..2)
        .map(|i| {
            let db = temp_db(&format!("run-{i}.sqlite"));
            let out =
                wait_child(spawn_child("child_writer", &[("CHILD_DB", db.to_str().unwrap()), ("CHILD_COUNT", "1")]));
            groups_printed(&out)
        })
        .collect();
    assert_eq!(runs[0].len(), 1, "{runs:?}");
    assert_eq!(runs[0], runs[1], "two runs (two address layouts) give one fingerprint");
}
