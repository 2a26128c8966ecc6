//! A storm of panics: two sites panic hundreds of thousands of times from
//! several threads, one of them inside a tracked fn. Past each site's
//! detail budget the panic hook only counts a repeat (no stack walk, no
//! rendering, and the tracked frame it unwinds through renders nothing),
//! and still every panic is counted in its group, while the first ones of
//! every group keep their detail.

use std::collections::BTreeMap;
use std::panic::catch_unwind;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use error_tracker::{Config, track_exception};

const THREADS: u64 = 4;
const PER_THREAD: u64 = 25_000;
/// Occurrences kept per group, and so the detail budget per site and second.
const CAP: u32 = 5;
/// The storm's panics start with this; the test's own assertions do not.
const STORM: &str = "storm:";

/// How many times a `Card` was rendered: user code the tracker runs to
/// capture a panic's tracked frame, skipped for the panics only counted.
static RENDERED: AtomicU64 = AtomicU64::new(0);

struct Card {
    cents: u64,
}

impl std::fmt::Debug for Card {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        RENDERED.fetch_add(1, Ordering::Relaxed);
        write!(f, "Card({})", self.cents)
    }
}

#[track_exception]
fn charge(order: u64, card: &Card) -> u64 {
    // A local in scope while the panic unwinds: its guard renders the frame
    // then, when the panic is recorded.
    let charged = card;
    if charged.cents > 0 {
        panic!("{STORM} order {order} cannot be charged");
    }
    order
}

/// A panic outside any tracked fn: the slice index's (`#[track_caller]`)
/// location is this fn's line.
fn item(order: u64) -> u8 {
    let items: Vec<u8> = Vec::new();
    items[order as usize]
}

/// Per group: (message of its latest row, count, stored rows, frames JSON of a row).
fn groups(path: &Path) -> BTreeMap<String, (u64, u64, Vec<String>)> {
    let conn = rusqlite::Connection::open(path).expect("open the database");
    let mut q = conn
        .prepare(
            "SELECT e.message, e.count, (SELECT count(*) FROM occurrences o WHERE o.hash = e.hash), e.hash
             FROM exceptions e WHERE e.exception_name = 'panic'",
        )
        .expect("prepare");
    let rows: Vec<(String, u64, u64, String)> = q
        .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64, r.get(3)?)))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect();
    rows.into_iter()
        .map(|(message, count, stored, hash)| {
            let mut f = conn.prepare("SELECT frames FROM occurrences WHERE hash = ?1").expect("prepare");
            let frames = f.query_map([&hash], |r| r.get(0)).expect("query").map(|r| r.expect("row")).collect();
            (message, (count, stored, frames))
        })
        .collect()
}

#[test]
fn a_storm_of_panics_is_counted_exactly_and_its_first_ones_keep_their_detail() {
    // The storm's panics are not printed (the hook chains to this one); the
    // test's own failures are.
    let print = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload.downcast_ref::<String>().map(String::as_str).or(payload.downcast_ref::<&str>().copied());
        let storm = message.is_some_and(|m| m.starts_with(STORM) || m.starts_with("index out of bounds"));
        if !storm {
            print(info);
        }
    }));
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("panic-storm.sqlite");
    let config = Config::default().database(path.to_str().expect("utf-8 path")).occurrences_per_group(CAP);
    let _guard = error_tracker::init(config).expect("init");

    // The first panic of each site is captured in detail, and the writer
    // learns its group from it.
    assert!(catch_unwind(|| charge(1, &Card { cents: 100 })).is_err());
    assert!(catch_unwind(|| item(1)).is_err());
    assert!(error_tracker::flush(Duration::from_secs(60)));

    std::thread::scope(|s| {
        for t in 0..THREADS {
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    let order = t * PER_THREAD + i;
                    assert!(catch_unwind(|| charge(order, &Card { cents: 100 })).is_err());
                    assert!(catch_unwind(|| item(order)).is_err());
                }
            });
        }
    });
    assert!(error_tracker::flush(Duration::from_secs(60)), "the writer caught up");

    let total = THREADS * PER_THREAD + 1;
    // A few per second were captured in detail, rendering their frame; the
    // rest were only counted.
    let rendered = RENDERED.load(Ordering::Relaxed);
    assert!((1..=total / 100).contains(&rendered), "{rendered} of {total} panics rendered their frame");
    let groups = groups(&path);
    assert_eq!(groups.len(), 2, "one group per site: {:?}", groups.keys());
    for (message, (count, stored, frames)) in &groups {
        assert_eq!(*count, total, "{message}: every panic counted");
        assert!((1..=u64::from(CAP)).contains(stored), "{message}: {stored} rows");
        // What is stored is the detail: the tracked frame, with its arguments.
        if message.starts_with(STORM) {
            for frames in frames {
                let frames: serde_json::Value = serde_json::from_str(frames).expect("frames JSON");
                assert!(frames[0]["function"].as_str().is_some_and(|f| f.ends_with("charge")), "{frames}");
                assert_eq!(frames[0]["args"][0]["name"], "order", "{frames}");
                assert_eq!(frames[0]["args"][1]["value"], "Card(100)", "{frames}");
            }
        } else {
            assert!(message.starts_with("index out of bounds"), "{message}");
        }
    }
}
