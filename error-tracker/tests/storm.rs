//! An error storm: the same few sites fail hundreds of thousands of times
//! from several threads. Past each site's detail budget the repeats are
//! only counted on the failing thread (no stack walk, no rendering), and
//! still every occurrence is counted in its group, while the first ones of
//! every group keep their detail.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use error_tracker::{Config, EventId, record_exception, track_exception};

const THREADS: u64 = 4;
const PER_THREAD: u64 = 25_000;
/// Occurrences kept per group, and so the detail budget per site and second.
const CAP: u32 = 5;

#[derive(Debug)]
struct Declined(u64);

impl std::fmt::Display for Declined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "card declined for order {}", self.0)
    }
}

impl std::error::Error for Declined {}

/// Two sites in one fn: two groups, each with its own budget.
fn charge(order: u64) -> (EventId, EventId) {
    let a = record_exception!(Declined(order), "order" => order);
    let b = record_exception!(Declined(order + 1), "order" => order + 1);
    (a, b)
}

#[track_exception]
fn load(order: u64) -> Result<u64, Declined> {
    let limit = order % 7;
    if limit < 100 { Err(Declined(order)) } else { Ok(limit) }
}

/// The error comes up through a second tracked frame.
#[track_exception]
fn checkout(order: u64) -> Result<u64, Declined> {
    let total = load(order)?;
    Ok(total + 1)
}

/// Per group: (exception name, count, stored rows, what the rows stand for).
fn groups(path: &Path) -> BTreeMap<String, (String, u64, u64, u64)> {
    let conn = rusqlite::Connection::open(path).expect("open the database");
    let mut q = conn
        .prepare(
            "SELECT e.hash, e.exception_name, e.count,
                    (SELECT count(*) FROM occurrences o WHERE o.hash = e.hash),
                    (SELECT coalesce(sum(times), 0) FROM occurrences o WHERE o.hash = e.hash)
             FROM exceptions e",
        )
        .expect("prepare");
    q.query_map([], |r| {
        let n = |i| r.get::<_, i64>(i).map(|v| v as u64);
        Ok((r.get(0)?, (r.get(1)?, n(2)?, n(3)?, n(4)?)))
    })
    .expect("query")
    .map(|r| r.expect("row"))
    .collect()
}

#[test]
fn a_storm_is_counted_exactly_and_its_first_occurrences_keep_their_detail() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("storm.sqlite");
    let config = Config::default().database(path.to_str().expect("utf-8 path")).occurrences_per_group(CAP);
    let _guard = error_tracker::init(config).expect("init");

    // The first occurrence of every site is captured in detail, and the
    // writer learns its group from it.
    let (a, b) = charge(1);
    assert!(!a.is_nil() && !b.is_nil());
    assert!(checkout(1).is_err());
    assert!(error_tracker::flush(Duration::from_secs(60)));

    let counted: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                s.spawn(move || {
                    let mut nil = 0;
                    for i in 0..PER_THREAD {
                        let (a, b) = charge(t * PER_THREAD + i);
                        nil += u64::from(a.is_nil()) + u64::from(b.is_nil());
                        assert!(checkout(i).is_err());
                    }
                    nil
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("worker")).sum()
    });
    assert!(error_tracker::flush(Duration::from_secs(60)), "the writer caught up");

    let total = THREADS * PER_THREAD + 1;
    let groups = groups(&path);
    let counts: Vec<(&str, u64)> = groups.values().map(|(name, count, ..)| (name.as_str(), *count)).collect();
    assert_eq!(counts.len(), 3, "two sites in charge(), one in load(): {groups:?}");
    assert!(counts.iter().all(|&(name, count)| name.ends_with("Declined") && count == total), "{groups:?}");
    // Most repeats were only counted (the ids `record_exception!` gave back
    // are nil for those). Their counts went to the group, and to the row of
    // its latest occurrence when one was in the same batch, never to more
    // rows than the group keeps.
    assert!(counted > total, "{counted} of {} charge() repeats counted without detail", 2 * total);
    for (hash, (_, count, rows, stood_for)) in &groups {
        assert!((1..=u64::from(CAP)).contains(rows), "{hash}: {rows} rows");
        assert!(stood_for <= count, "{hash}: rows stand for {stood_for} of {count}");
    }

    // What is stored is the detail: the extras of `charge()`, both tracked
    // frames (with their arguments) of `checkout()`.
    let conn = rusqlite::Connection::open(&path).expect("open");
    let mut q = conn.prepare("SELECT extra, frames FROM occurrences").expect("prepare");
    let rows: Vec<(String, String)> =
        q.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).expect("query").map(|r| r.expect("row")).collect();
    for (extra, frames) in &rows {
        let frames: serde_json::Value = serde_json::from_str(frames).expect("frames JSON");
        match frames.as_array().map(Vec::len) {
            Some(0) => assert!(extra.contains("\"order\""), "{extra}"),
            Some(2) => {
                assert!(frames[0]["function"].as_str().is_some_and(|f| f.ends_with("load")), "{frames}");
                assert!(frames[1]["function"].as_str().is_some_and(|f| f.ends_with("checkout")), "{frames}");
                assert_eq!(frames[0]["args"][0]["name"], "order", "{frames}");
            }
            _ => panic!("unexpected frames: {frames}"),
        }
    }

    new_groups_in_a_storm_keep_their_detail(&path);
}

/// Many repeats of one generic `record_exception!` call with one error
/// type, and a few with another: one group per type, each with its detail.
fn new_groups_in_a_storm_keep_their_detail(path: &Path) {
    fn fail<E: std::fmt::Debug>(e: E) -> EventId {
        record_exception!(e)
    }
    #[derive(Debug)]
    struct A;
    #[derive(Debug)]
    struct B;
    for round in 0..20_000u32 {
        fail(A);
        if round % 1000 == 999 {
            let id = fail(B);
            assert!(round > 999 || !id.is_nil(), "the first B is captured in detail");
        }
    }
    assert!(error_tracker::flush(Duration::from_secs(60)));
    let groups = groups(path);
    let by_name: BTreeMap<&str, (u64, u64)> = groups
        .values()
        .map(|(name, count, rows, _)| (name.rsplit("::").next().unwrap_or(name), (*count, *rows)))
        .collect();
    assert_eq!((by_name["A"].0, by_name["B"].0), (20_000, 20), "{groups:?}");
    assert!(by_name["A"].1 >= 1 && by_name["B"].1 >= 1, "{groups:?}");
}
