//! Recording errors and panics end to end: capture, writer, SQLite file.

use error_tracker::StoreQuery;
use std::collections::BTreeMap;
use std::error::Error;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use error_tracker::{GroupQuery, PageRequest, Status, Store, record_exception};
use error_tracker_suite::{flush, init_once, open};
use serde::Serialize;

#[derive(Debug)]
struct Outer(Inner);
#[derive(Debug)]
struct Inner;

impl fmt::Display for Outer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("loading the config failed")
    }
}
impl fmt::Display for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("file is missing")
    }
}
impl Error for Outer {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}
impl Error for Inner {}

#[derive(Serialize)]
struct Login {
    user: &'static str,
    password: &'static str,
    nested: BTreeMap<&'static str, &'static str>,
}

fn find(store: &dyn Store, exception: &str) -> error_tracker::GroupSummary {
    let q = GroupQuery { search: Some(exception.into()), page: PageRequest::first(100), ..Default::default() };
    let page = store.list_groups(&q).unwrap();
    assert_eq!(page.items.len(), 1, "groups matching {exception}: {:#?}", page.items);
    page.items.into_iter().next().unwrap()
}

fn init() -> std::path::PathBuf {
    init_once(|c| c.release("suite@1.0"))
}

#[derive(Debug)]
struct Deep;

#[inline(never)]
fn deep(n: u32) -> error_tracker::EventId {
    if n == 0 { record_exception!(Deep, "user_id" => 42) } else { deep(n - 1) }
}

#[test]
fn an_occurrence_round_trips_through_the_store() {
    let path = init();
    let login = Login { user: "bob", password: "hunter2", nested: [("session_key", "abc123def")].into() };
    let id = record_exception!(Outer(Inner), "login" => login, "token" => "tok-secret-1", "attempt" => 3);
    assert!(!id.is_nil());
    flush();

    let store = open(&path);
    let group = find(&store, "record::Outer");
    assert_eq!(group.exception_name, "record::Outer");
    assert_eq!(group.message, "loading the config failed");
    assert_eq!(group.status, Status::Unresolved);
    let occurrences = store.occurrences(&group.hash, PageRequest::first(10)).unwrap();
    let o = occurrences.items.iter().find(|o| o.id == id.to_string()).expect("stored by its event id");
    assert_eq!(o.sources, ["file is missing"]);
    assert_eq!(o.release.as_deref(), Some("suite@1.0"));
    assert_eq!(o.pid, std::process::id());
    assert!(o.thread.as_deref().unwrap_or("").contains("round_trips"), "{:?}", o.thread);
    assert!(!o.host.is_empty());
    assert!(
        o.backtrace.iter().any(|f| f.in_app && f.function.contains("an_occurrence_round_trips")),
        "{:#?}",
        o.backtrace
    );
    let extra: BTreeMap<&str, &error_tracker::Value> = o.extra.iter().map(|v| (v.name.as_str(), &v.value)).collect();
    assert_eq!(
        serde_json::to_value(extra["login"]).unwrap(),
        serde_json::json!({"user": "bob", "password": "**************", "nested": {"session_key": "**************"}})
    );
    assert_eq!(extra["token"].as_str(), Some("**************"));
    assert_eq!(extra["attempt"].as_u64(), Some(3));
    let group = store.group(&group.hash).unwrap().unwrap();
    assert!(group.traceback.contains("Caused by: file is missing"), "{}", group.traceback);
}

#[test]
fn three_hits_of_one_error_give_one_row_with_count_3() {
    let path = init();
    #[derive(Debug)]
    struct Thrice;
    let mut first = None;
    for _ in 0..3 {
        record_exception!(Thrice);
        flush();
        let g = find(&open(&path), "Thrice");
        first.get_or_insert(g.created_on);
        assert_eq!(g.created_on, first.unwrap(), "created_on never changes");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let g = find(&open(&path), "Thrice");
    assert_eq!(g.count, 3);
    assert!(g.last_seen > g.created_on);
    assert_eq!(open(&path).occurrences(&g.hash, PageRequest::first(10)).unwrap().total, 3);
}

#[test]
fn different_errors_give_different_rows() {
    let path = init();
    #[derive(Debug)]
    struct First;
    #[derive(Debug)]
    struct Second;
    record_exception!(First);
    record_exception!(Second);
    flush();
    let store = open(&path);
    assert_ne!(find(&store, "::First").hash, find(&store, "::Second").hash);
}

#[test]
fn any_error_shape_is_accepted() {
    let path = init();
    let boxed: Box<dyn Error + Send + Sync> = "boxed failure".into();
    record_exception!(boxed);
    let any = anyhow::anyhow!("anyhow failure").context("while syncing");
    record_exception!(any);
    let io = std::io::Error::other("disk on fire");
    record_exception!(&io);
    flush();
    let store = open(&path);
    assert_eq!(
        find(&store, "boxed failure").exception_name,
        "alloc::boxed::Box<dyn core::error::Error + core::marker::Send + core::marker::Sync>"
    );
    let a = find(&store, "while syncing");
    assert_eq!(a.exception_name, "anyhow::Error");
    let o = &store.occurrences(&a.hash, PageRequest::first(1)).unwrap().items[0];
    assert_eq!(o.sources, ["anyhow failure"]);
    assert_eq!(find(&store, "disk on fire").exception_name, "&std::io::error::Error");
}

#[test]
fn deep_errors_keep_their_stack() {
    let path = init();
    deep(20);
    flush();
    let store = open(&path);
    let g = find(&store, "record::Deep").hash;
    let o = store
        .occurrences(&g, PageRequest::first(100))
        .unwrap()
        .items
        .into_iter()
        .find(|o| o.backtrace.iter().filter(|f| f.function.ends_with("record::deep")).count() >= 20);
    assert!(o.is_some(), "an occurrence with 21 frames of `deep`");
}

struct PanickyDebug;
impl fmt::Debug for PanickyDebug {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("Debug impl exploded")
    }
}

#[test]
fn hostile_values_are_cut_or_replaced_and_the_app_goes_on() {
    let path = init();
    #[derive(Debug)]
    struct Hostile;
    let huge = "x".repeat(10 * 1024 * 1024);
    let bytes = String::from_utf8_lossy(&[0xff, 0xfe, b'o', b'k']).into_owned();
    record_exception!(Hostile, "panicky" => PanickyDebug, "huge" => huge, "bytes" => bytes, "html" => "<script>alert(1)</script>");
    flush();
    let store = open(&path);
    let g = find(&store, "::Hostile");
    let o = &store.occurrences(&g.hash, PageRequest::first(1)).unwrap().items[0];
    let extra: BTreeMap<&str, &error_tracker::Value> = o.extra.iter().map(|v| (v.name.as_str(), &v.value)).collect();
    assert_eq!(extra["panicky"], "<error while rendering>");
    let huge = extra["huge"].as_str().unwrap();
    assert!(huge.len() < 11_000 && huge.ends_with("chars in all]"), "{}", huge.len());
    assert_eq!(extra["bytes"], "\u{fffd}\u{fffd}ok");
    assert_eq!(extra["html"], "<script>alert(1)</script>", "stored as data; the UI escapes it");
}

#[test]
fn a_panic_in_a_spawned_thread_is_recorded_and_the_previous_hook_runs() {
    static PREVIOUS_RAN: AtomicBool = AtomicBool::new(false);
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PREVIOUS_RAN.store(true, Ordering::SeqCst);
        default_hook(info);
    }));
    // init after the user's hook: the tracker's hook chains to it.
    let path = init();
    let joined =
        std::thread::Builder::new().name("worker-7".into()).spawn(|| panic!("worker failed on job 17")).unwrap().join();
    assert!(joined.is_err());
    flush();
    assert!(PREVIOUS_RAN.load(Ordering::SeqCst), "the previous hook still ran");
    let store = open(&path);
    let g = find(&store, "worker failed on job");
    assert_eq!(g.exception_name, "panic");
    let o = &store.occurrences(&g.hash, PageRequest::first(1)).unwrap().items[0];
    assert_eq!(o.thread.as_deref(), Some("worker-7"));
    let p = o.panic.as_ref().expect("panic info");
    assert_eq!(p.message, "worker failed on job 17");
    assert!(p.location.as_deref().unwrap().starts_with("tests/record.rs:"), "{p:?}");
    assert!(o.backtrace.first().is_some_and(|f| !f.function.starts_with("std::panicking")), "{:#?}", o.backtrace);
}

#[derive(Debug)]
struct Stormy;

#[inline(never)]
fn storm_site() {
    record_exception!(Stormy);
}

#[test]
fn a_storm_from_4_threads_is_counted_exactly_and_stored_within_the_cap() {
    let path = init();
    // Paced writes, queue overflow folding and the writer's folding of
    // repeats past the cap all take part: the count must stay exact.
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                for _ in 0..10_000 {
                    storm_site();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    flush();
    let store = open(&path);
    let g = find(&store, "Stormy");
    assert_eq!(g.count, 40_000);
    let stored = store.occurrences(&g.hash, PageRequest::first(1)).unwrap().total;
    assert!((1..=100).contains(&stored), "{stored} occurrences stored, the cap is 100");
}

/// An error whose `source()` panics past the first link of its chain.
#[derive(Debug)]
struct PanickySource;
impl fmt::Display for PanickySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the outer error")
    }
}
impl Error for PanickySource {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        panic!("source() exploded")
    }
}

#[test]
fn a_panicking_source_ends_the_chain_and_the_app_goes_on() {
    let path = init();
    let id = record_exception!(PanickySource);
    assert!(!id.is_nil(), "recorded");
    flush();
    let store = open(&path);
    let g = find(&store, "::PanickySource");
    let o = &store.occurrences(&g.hash, PageRequest::first(1)).unwrap().items[0];
    assert_eq!(o.message, "the outer error");
    assert!(o.sources.is_empty(), "{:?}", o.sources);
}
