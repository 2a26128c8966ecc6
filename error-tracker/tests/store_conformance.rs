//! One set of tests that every [`Store`] must pass: SQLite, PostgreSQL, the
//! in-memory store, and the JSON-lines store a user wrote
//! (`examples/custom_store.rs`).
//!
//! Each property is a generic function over a [`Db`]; the `conformance!`
//! macro instantiates every property for every store. PostgreSQL runs when
//! `ERROR_TRACKER_TEST_PG` is set (and the `postgres` feature is on), each
//! test in a schema of its own.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use error_tracker::store::render_traceback;
use error_tracker::{
    Breadcrumb, ChangeKind, FrameSnapshot, GroupQuery, GroupSort, Grouped, MemoryStore, Occurrence, PageRequest,
    PanicInfo, RequestContext, Retention, SpanRecord, SqliteStore, StackFrame, Status, Store, StoreError,
    StoreErrorKind, StoreQuery, StoreWrite, Timestamp, Variable,
};

/// serde_json's `json!`, as the tracker's own [`error_tracker::Value`].
macro_rules! json {
    ($($t:tt)+) => {
        serde_json::from_value::<error_tracker::Value>(serde_json::json!($($t)+)).expect("a JSON value")
    };
}

mod pg_schema;

#[path = "../../examples/custom_store.rs"]
#[allow(dead_code)]
mod custom_store;

/// How many occurrences every store under test keeps per group.
const CAP: u32 = 5;

/// One database under test.
trait Db {
    /// A handle on the database: a new connection where the store has
    /// them, so that two handles behave like two processes.
    fn handle(&self) -> Arc<dyn Store>;

    /// How many backtrace rows the database holds, for the stores that keep
    /// each distinct backtrace of a group once (`None` for the others).
    fn backtrace_rows(&self) -> Option<u64> {
        None
    }

    /// Whether the store has what the UI's occurrence pages and list added:
    /// [`StoreQuery::occurrence`], and the orders and the host and release
    /// filters of [`GroupQuery`]. The JSON-lines store of the example
    /// predates them: it keeps the default `occurrence` (`Unsupported`) and
    /// lists by last seen, unfiltered.
    fn has_ui_queries(&self) -> bool {
        true
    }
}

struct Shared(Arc<dyn Store>);
impl Db for Shared {
    fn handle(&self) -> Arc<dyn Store> {
        self.0.clone()
    }
}

struct SqliteDb {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}
impl Db for SqliteDb {
    fn handle(&self) -> Arc<dyn Store> {
        Arc::new(SqliteStore::open(&self.path, CAP).expect("open sqlite"))
    }
    fn backtrace_rows(&self) -> Option<u64> {
        let conn = rusqlite::Connection::open(&self.path).expect("open sqlite");
        let n: i64 = conn.query_row("SELECT count(*) FROM backtraces", [], |r| r.get(0)).expect("count backtraces");
        Some(n as u64)
    }
}

fn memory(_test: &str) -> Option<Box<dyn Db>> {
    Some(Box::new(Shared(Arc::new(MemoryStore::new(CAP)))))
}

fn sqlite(_test: &str) -> Option<Box<dyn Db>> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("errors.sqlite");
    Some(Box::new(SqliteDb { _dir: dir, path }))
}

fn json_lines(_test: &str) -> Option<Box<dyn Db>> {
    struct JsonLinesDb {
        _dir: tempfile::TempDir,
        store: Arc<custom_store::JsonLinesStore>,
    }
    impl Db for JsonLinesDb {
        fn handle(&self) -> Arc<dyn Store> {
            self.store.clone()
        }
        fn has_ui_queries(&self) -> bool {
            false
        }
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let store = custom_store::JsonLinesStore::open(dir.path().join("errors.jsonl"), CAP).expect("open json lines");
    Some(Box::new(JsonLinesDb { _dir: dir, store: Arc::new(store) }))
}

#[cfg(feature = "postgres")]
fn postgres(test: &str) -> Option<Box<dyn Db>> {
    struct PgDb(pg_schema::TestSchema);
    impl Db for PgDb {
        fn handle(&self) -> Arc<dyn Store> {
            Arc::new(error_tracker::PostgresStore::open(&self.0.url, CAP).expect("open postgres"))
        }
        fn backtrace_rows(&self) -> Option<u64> {
            let n: i64 = self.0.client().query_one("SELECT count(*) FROM backtraces", &[]).expect("count").get(0);
            Some(n as u64)
        }
    }
    let server = pg_schema::server(test)?;
    Some(Box::new(PgDb(pg_schema::TestSchema::create(&server, test))))
}

#[cfg(not(feature = "postgres"))]
fn postgres(test: &str) -> Option<Box<dyn Db>> {
    println!("skipped {test}: built without the `postgres` feature");
    None
}

macro_rules! conformance {
    ($($property:ident),* $(,)?) => {
        conformance!(@store memory: $($property),*);
        conformance!(@store sqlite: $($property),*);
        conformance!(@store postgres #[cfg_attr(any(not(test_pg), not(feature = "postgres")), ignore = "needs PostgreSQL: set ERROR_TRACKER_TEST_PG and the postgres feature (see the README)")]: $($property),*);
        conformance!(@store json_lines: $($property),*);
    };
    (@store $store:ident: $($property:ident),*) => {
        // An attribute that never applies: the stores that need no service.
        conformance!(@store $store #[cfg_attr(any(), ignore)]: $($property),*);
    };
    (@store $store:ident #[$attr:meta]: $($property:ident),*) => {
        mod $store {
            $(
                #[test]
                #[$attr]
                fn $property() {
                    if let Some(db) = super::$store(concat!(stringify!($store), "_", stringify!($property))) {
                        super::$property(&*db);
                    }
                }
            )*
        }
    };
}

conformance!(
    empty_store,
    round_trip,
    counts_and_timestamps,
    latest_occurrence_wins_by_time,
    changes_per_batch,
    status_changes,
    pagination_edges,
    ordering,
    search,
    search_text,
    search_paging,
    deletion,
    retention_cap,
    hourly_counts,
    flags_and_tickets,
    awkward_text,
    concurrent_writers,
    shared_backtraces,
    count_only_entries,
    split_halves,
    one_occurrence_and_its_neighbours,
    orders_and_filters,
);

// ---- building occurrences

/// A time `minutes` after a point two hours before the tests started.
fn at(minutes: i64) -> Timestamp {
    static BASE: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let base = *BASE.get_or_init(|| Timestamp::now().saturating_sub(Duration::from_secs(2 * 3600)).as_micros());
    Timestamp::from_micros(base + minutes * 60_000_000)
}

fn occurrence(name: &str, message: &str, timestamp: Timestamp) -> Occurrence {
    Occurrence {
        id: uuid_like(),
        exception_name: name.to_owned(),
        message: message.to_owned(),
        sources: vec![],
        backtrace: vec![StackFrame {
            function: "app::handler".into(),
            file: Some("src/main.rs".into()),
            line: Some(7),
            in_app: true,
        }],
        thread: Some("main".into()),
        timestamp,
        host: "web-1".into(),
        pid: 42,
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

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    format!("00000000-0000-4000-8000-{:012x}", N.fetch_add(1, Ordering::Relaxed))
}

fn one(hash: &str, o: Occurrence) -> Vec<Grouped> {
    vec![Grouped { hash: hash.to_owned(), occurrence: o, times: 1, count_only: false }]
}

fn all_groups(s: &dyn Store) -> Vec<error_tracker::GroupSummary> {
    s.list_groups(&GroupQuery { page: PageRequest::first(1000), ..Default::default() }).expect("list").items
}

fn query(status: Option<Status>, search: Option<&str>, page: u32, per_page: u32) -> GroupQuery {
    GroupQuery { status, search: search.map(str::to_owned), page: PageRequest { page, per_page }, ..Default::default() }
}

// ---- the properties

fn empty_store(db: &dyn Db) {
    let s = db.handle();
    let page = s.list_groups(&GroupQuery::default()).unwrap();
    assert_eq!((page.items.len(), page.total, page.pages()), (0, 0, 1));
    assert!(s.group("nope").unwrap().is_none());
    let occ = s.occurrences("nope", PageRequest::first(10)).unwrap();
    assert_eq!((occ.items.len(), occ.total), (0, 0));
    let since = Timestamp::now().saturating_sub(Duration::from_secs(2 * 3600));
    let hours = s.hourly_counts("nope", since).unwrap();
    assert!(hours.len() >= 3 && hours.iter().all(|&n| n == 0), "{hours:?}");
    assert!(!s.delete_group("nope").unwrap());
    assert!(!s.set_status("nope", Status::Resolved).unwrap());
    assert!(!s.set_notification_sent("nope", true).unwrap());
    assert!(!s.set_ticket("nope", Some("T-1")).unwrap());
    assert!(s.write(&[]).unwrap().is_empty());
}

fn round_trip(db: &dyn Db) {
    let s = db.handle();
    let mut o = occurrence("my_app::DbError", "connection to 'db' refused: 100% «busy» \"quoted\"", at(1));
    o.sources = vec!["io error".into(), "os error 111".into()];
    o.backtrace.push(StackFrame { function: "std::rt::lang_start".into(), file: None, line: None, in_app: false });
    o.release = Some("1.2.3".into());
    o.panic = Some(PanicInfo { message: "boom".into(), location: Some("src/main.rs:3:5".into()) });
    o.frames = vec![FrameSnapshot {
        function: "my_app::load".into(),
        file: Some("src/db.rs".into()),
        line: Some(12),
        function_line: None,
        args: vec![Variable { name: "id".into(), value: json!(7) }],
        locals: vec![Variable { name: "row".into(), value: json!({"a": [1, 2.5, null, true], "b": "x"}) }],
    }];
    o.request = Some(RequestContext {
        method: "POST".into(),
        url: "http://example.test/users/7?q=1".into(),
        path: "/users/7".into(),
        route: Some("/users/{id}".into()),
        headers: vec![("content-type".into(), "application/json".into())],
        query: vec![("q".into(), "1".into())],
        body: Some(json!({"name": "Ada", "n": u64::MAX})),
        client_addr: Some("127.0.0.1:5000".into()),
        custom: vec![Variable { name: "user".into(), value: json!("u-1") }],
    });
    o.extra = vec![Variable { name: "attempt".into(), value: json!(3) }];
    o.breadcrumbs = vec![Breadcrumb {
        timestamp: at(0),
        level: "INFO".into(),
        target: "my_app::db".into(),
        message: "connecting «db»".into(),
        fields: vec![Variable { name: "attempt".into(), value: json!(2) }],
    }];
    o.spans = vec![
        SpanRecord {
            name: "request".into(),
            target: "my_app".into(),
            fields: vec![Variable { name: "method".into(), value: json!("POST") }],
        },
        SpanRecord { name: "load".into(), target: "my_app::db".into(), fields: vec![] },
    ];
    o.error_backtrace = vec![StackFrame {
        function: "my_app::db::connect".into(),
        file: Some("src/db.rs".into()),
        line: Some(4),
        in_app: true,
    }];
    let changes = s.write(&one("h1", o.clone())).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (changes[0].hash.as_str(), changes[0].kind, changes[0].count, changes[0].added),
        ("h1", ChangeKind::New, 1, 1)
    );

    let stored = db.handle().occurrences("h1", PageRequest::first(10)).unwrap();
    assert_eq!(stored.total, 1);
    assert_eq!(stored.items, vec![o.clone()]);
    if db.has_ui_queries() {
        // The occurrence page reads the same columns, and its own after them.
        let one = db.handle().occurrence("h1", &o.id).unwrap().expect("by its event id");
        assert_eq!((one.occurrence, one.position, one.total), (o.clone(), 1, 1));
    }

    let g = db.handle().group("h1").unwrap().expect("group");
    let sm = &g.summary;
    assert_eq!(sm.hash, "h1");
    assert_eq!(sm.exception_name, o.exception_name);
    assert_eq!(sm.message, o.message);
    assert_eq!(sm.method.as_deref(), Some("POST"));
    assert_eq!(sm.path.as_deref(), Some("/users/7"));
    assert_eq!(sm.host, "web-1");
    assert_eq!((sm.count, sm.created_on, sm.last_seen), (1, o.timestamp, o.timestamp));
    assert_eq!((sm.status, sm.notification_sent, sm.ticket_raised.as_deref()), (Status::Unresolved, false, None));
    assert_eq!(g.traceback, render_traceback(&o));
    let request: serde_json::Value = serde_json::from_str(g.request_data.as_deref().expect("request data")).unwrap();
    assert_eq!(request, serde_json::to_value(o.request.as_ref().unwrap()).unwrap());
    assert_eq!(all_groups(&*s), vec![g.summary.clone()]);
}

fn counts_and_timestamps(db: &dyn Db) {
    let s = db.handle();
    let kinds: Vec<(ChangeKind, u64)> = (0..3)
        .map(|i| {
            let c = s.write(&one("a", occurrence("E", "m", at(i)))).unwrap();
            (c[0].kind, c[0].count)
        })
        .collect();
    assert_eq!(kinds, [(ChangeKind::New, 1), (ChangeKind::Recurring, 2), (ChangeKind::Recurring, 3)]);
    let g = s.group("a").unwrap().unwrap().summary;
    assert_eq!((g.count, g.created_on, g.last_seen), (3, at(0), at(2)));

    // A folded occurrence counts for all it stands for.
    let c = s
        .write(&[Grouped { hash: "a".into(), occurrence: occurrence("E", "m", at(3)), times: 4, count_only: false }])
        .unwrap();
    assert_eq!((c[0].count, c[0].added), (7, 4));
    s.write(&one("b", occurrence("F", "other", at(1)))).unwrap();

    let other = db.handle();
    let groups: BTreeMap<String, (u64, Timestamp)> =
        all_groups(&*other).into_iter().map(|g| (g.hash, (g.count, g.created_on))).collect();
    assert_eq!(groups, BTreeMap::from([("a".into(), (7, at(0))), ("b".into(), (1, at(1)))]));
}

fn latest_occurrence_wins_by_time(db: &dyn Db) {
    let s = db.handle();
    let mut newer = occurrence("E", "newer", at(10));
    newer.host = "web-2".into();
    s.write(&one("a", newer.clone())).unwrap();
    // An older occurrence written later (a slow process of the fleet)
    // counts, but neither moves the times nor replaces the latest details.
    s.write(&one("a", occurrence("E", "older", at(5)))).unwrap();
    let g = s.group("a").unwrap().unwrap();
    assert_eq!((g.summary.count, g.summary.message.as_str(), g.summary.host.as_str()), (2, "newer", "web-2"));
    assert_eq!((g.summary.created_on, g.summary.last_seen), (at(10), at(10)), "created_on never changes");
    assert_eq!(g.traceback, render_traceback(&newer));
}

/// Repeats of an error storm past its site's detail budget: they count,
/// move `last_seen` and the hours, store no row, and leave the detail.
fn count_only_entries(db: &dyn Db) {
    let s = db.handle();
    let counted = |hash: &str, message: &str, when: Timestamp, times: u64| Grouped {
        hash: hash.into(),
        occurrence: occurrence("E", message, when),
        times,
        count_only: true,
    };
    let mut detailed = occurrence("E", "stored in detail", at(10));
    detailed.host = "web-1".into();
    s.write(&one("a", detailed.clone())).unwrap();
    let c = s.write(&[counted("a", "a repeat", at(12), 40)]).unwrap();
    assert_eq!((c[0].kind, c[0].count, c[0].added), (ChangeKind::Recurring, 41, 40));
    let g = s.group("a").unwrap().unwrap();
    assert_eq!(
        (g.summary.count, g.summary.message.as_str(), g.summary.host.as_str()),
        (41, "stored in detail", "web-1")
    );
    assert_eq!((g.summary.created_on, g.summary.last_seen), (at(10), at(12)));
    assert_eq!(g.traceback, render_traceback(&detailed), "the detail stays");
    let stored = s.occurrences("a", PageRequest { page: 1, per_page: 10 }).unwrap();
    assert_eq!(stored.items.iter().map(|o| o.message.as_str()).collect::<Vec<_>>(), ["stored in detail"]);

    // In one batch with detail, the detail wins even when a count is newer.
    let c = s
        .write(&[counted("a", "a repeat", at(20), 5), Grouped::new("a", occurrence("E", "newer detail", at(15)))])
        .unwrap();
    assert_eq!((c[0].count, c[0].added), (47, 6));
    let g = s.group("a").unwrap().unwrap().summary;
    assert_eq!((g.message.as_str(), g.last_seen), ("newer detail", at(20)));
    assert_eq!(s.occurrences("a", PageRequest { page: 1, per_page: 10 }).unwrap().total, 2);

    // A group the store does not have (deleted while its storm went on)
    // takes what the count carries.
    let c = s.write(&[counted("gone", "what it was", at(30), 7)]).unwrap();
    assert_eq!((c[0].kind, c[0].count), (ChangeKind::New, 7));
    let r = db.handle();
    let g = r.group("gone").unwrap().unwrap().summary;
    assert_eq!((g.count, g.message.as_str(), g.created_on, g.last_seen), (7, "what it was", at(30), at(30)));
    assert_eq!(r.occurrences("gone", PageRequest { page: 1, per_page: 10 }).unwrap().total, 0);
}

fn changes_per_batch(db: &dyn Db) {
    let s = db.handle();
    let batch = vec![
        Grouped { hash: "a".into(), occurrence: occurrence("E", "1", at(1)), times: 1, count_only: false },
        Grouped { hash: "b".into(), occurrence: occurrence("F", "2", at(2)), times: 1, count_only: false },
        Grouped { hash: "a".into(), occurrence: occurrence("E", "3", at(3)), times: 2, count_only: false },
    ];
    let mut changes = s.write(&batch).unwrap();
    changes.sort_by(|x, y| x.hash.cmp(&y.hash));
    let got: Vec<_> = changes.iter().map(|c| (c.hash.as_str(), c.kind, c.count, c.added)).collect();
    assert_eq!(got, [("a", ChangeKind::New, 3, 3), ("b", ChangeKind::New, 1, 1)]);
    let a = s.group("a").unwrap().unwrap().summary;
    assert_eq!((a.message.as_str(), a.created_on, a.last_seen), ("3", at(1), at(3)));
    assert_eq!(s.occurrences("a", PageRequest::first(10)).unwrap().total, 2);
}

fn status_changes(db: &dyn Db) {
    let s = db.handle();
    s.write(&one("a", occurrence("E", "m", at(1)))).unwrap();
    s.write(&one("b", occurrence("F", "m", at(2)))).unwrap();
    assert!(s.set_status("a", Status::Resolved).unwrap());
    let reader = db.handle();
    assert_eq!(reader.group("a").unwrap().unwrap().summary.status, Status::Resolved);
    let resolved = reader.list_groups(&query(Some(Status::Resolved), None, 1, 10)).unwrap();
    assert_eq!(resolved.items.iter().map(|g| g.hash.as_str()).collect::<Vec<_>>(), ["a"]);
    assert_eq!(resolved.total, 1);
    assert_eq!(reader.list_groups(&query(Some(Status::Unresolved), None, 1, 10)).unwrap().total, 1);
    assert_eq!(reader.list_groups(&query(Some(Status::Ignored), None, 1, 10)).unwrap().total, 0);

    // A resolved group that happens again has regressed, once per batch.
    let twice = vec![
        Grouped { hash: "a".into(), occurrence: occurrence("E", "m", at(3)), times: 1, count_only: false },
        Grouped { hash: "a".into(), occurrence: occurrence("E", "m", at(4)), times: 1, count_only: false },
    ];
    let c = s.write(&twice).unwrap();
    assert_eq!((c.len(), c[0].kind, c[0].count, c[0].added), (1, ChangeKind::Regressed, 3, 2));
    assert_eq!(reader.group("a").unwrap().unwrap().summary.status, Status::Unresolved);
    assert_eq!(s.write(&one("a", occurrence("E", "m", at(5)))).unwrap()[0].kind, ChangeKind::Recurring);

    // An ignored group is counted silently and stays ignored.
    assert!(s.set_status("b", Status::Ignored).unwrap());
    let c = s.write(&one("b", occurrence("F", "m", at(6)))).unwrap();
    assert_eq!((c[0].kind, c[0].count), (ChangeKind::Recurring, 2));
    assert_eq!(reader.group("b").unwrap().unwrap().summary.status, Status::Ignored);
    assert!(s.set_status("b", Status::Unresolved).unwrap());
    assert_eq!(reader.group("b").unwrap().unwrap().summary.status, Status::Unresolved);
}

fn pagination_edges(db: &dyn Db) {
    let s = db.handle();
    let batch: Vec<Grouped> = (0..23)
        .map(|i| Grouped {
            hash: format!("h{i:02}"),
            occurrence: occurrence("E", "m", at(i)),
            times: 1,
            count_only: false,
        })
        .collect();
    s.write(&batch).unwrap();
    let r = db.handle();
    let page = |p, n| r.list_groups(&query(None, None, p, n)).unwrap();
    let hashes = |p: &error_tracker::Page<error_tracker::GroupSummary>| {
        p.items.iter().map(|g| g.hash.clone()).collect::<Vec<_>>()
    };

    let first = page(1, 10);
    assert_eq!((first.total, first.page, first.per_page, first.pages()), (23, 1, 10, 3));
    assert_eq!(hashes(&first).first().map(String::as_str), Some("h22"), "newest first");
    let mut seen: Vec<String> = Vec::new();
    for (p, len) in [(1, 10), (2, 10), (3, 3)] {
        let pg = page(p, 10);
        assert_eq!((pg.items.len(), pg.total), (len, 23), "page {p}");
        seen.extend(hashes(&pg));
    }
    let expected: Vec<String> = (0..23).rev().map(|i| format!("h{i:02}")).collect();
    assert_eq!(seen, expected, "pages are disjoint, complete and in order");

    let past_end = page(4, 10);
    assert_eq!((past_end.items.len(), past_end.total, past_end.page), (0, 23, 4));
    let far = page(u32::MAX, 10);
    assert_eq!((far.items.len(), far.total), (0, 23));
    assert_eq!(hashes(&page(0, 10)), hashes(&first), "page 0 is page 1");
    let tiny = page(1, 0);
    assert_eq!((tiny.items.len(), tiny.per_page, tiny.pages()), (1, 1, 23), "per_page 0 is 1");
    let whole = page(1, 23);
    assert_eq!((whole.items.len(), whole.pages()), (23, 1));

    // The same edges for a group's occurrences.
    for i in 0..CAP as i64 {
        s.write(&one("occ", occurrence("E", &format!("n{i}"), at(30 + i)))).unwrap();
    }
    let occ = |p, n| r.occurrences("occ", PageRequest { page: p, per_page: n }).unwrap();
    let messages = |p: error_tracker::Page<Occurrence>| p.items.into_iter().map(|o| o.message).collect::<Vec<_>>();
    assert_eq!(messages(occ(1, 2)), ["n4", "n3"]);
    assert_eq!(messages(occ(2, 2)), ["n2", "n1"]);
    assert_eq!(messages(occ(3, 2)), ["n0"]);
    let end = occ(4, 2);
    assert_eq!((end.items.len(), end.total, end.pages()), (0, CAP as u64, 3));
    assert_eq!(messages(occ(0, 0)), ["n4"]);
}

fn ordering(db: &dyn Db) {
    let s = db.handle();
    // Groups: newest last_seen first, ties by hash.
    for h in ["c", "a", "b"] {
        s.write(&one(h, occurrence("E", h, at(10)))).unwrap();
    }
    s.write(&one("z", occurrence("E", "z", at(5)))).unwrap();
    s.write(&one("y", occurrence("E", "y", at(20)))).unwrap();
    let order: Vec<String> = all_groups(&*db.handle()).into_iter().map(|g| g.hash).collect();
    assert_eq!(order, ["y", "a", "b", "c", "z"]);

    // Occurrences: newest written first, in a batch and across batches.
    s.write(&one("o", occurrence("E", "first", at(1)))).unwrap();
    let batch = vec![
        Grouped { hash: "o".into(), occurrence: occurrence("E", "second", at(2)), times: 1, count_only: false },
        Grouped { hash: "o".into(), occurrence: occurrence("E", "third", at(3)), times: 1, count_only: false },
    ];
    s.write(&batch).unwrap();
    let got: Vec<String> =
        db.handle().occurrences("o", PageRequest::first(10)).unwrap().items.into_iter().map(|o| o.message).collect();
    assert_eq!(got, ["third", "second", "first"]);
}

fn search(db: &dyn Db) {
    let s = db.handle();
    let mut with_path = occurrence("app::ApiError", "bad gateway", at(4));
    with_path.request = Some(RequestContext { method: "GET".into(), path: "/API/users".into(), ..Default::default() });
    let batch = vec![
        Grouped {
            hash: "io".into(),
            occurrence: occurrence("std::io::Error", "disk full", at(1)),
            times: 1,
            count_only: false,
        },
        Grouped { hash: "pct".into(), occurrence: occurrence("E", "at 100% load", at(2)), times: 1, count_only: false },
        Grouped { hash: "und".into(), occurrence: occurrence("E", "a_b failed", at(3)), times: 1, count_only: false },
        Grouped { hash: "axb".into(), occurrence: occurrence("E", "axb failed", at(3)), times: 1, count_only: false },
        Grouped { hash: "api".into(), occurrence: with_path, times: 1, count_only: false },
        Grouped { hash: "p10".into(), occurrence: occurrence("E", "at 10 load", at(5)), times: 1, count_only: false },
    ];
    s.write(&batch).unwrap();
    let r = db.handle();
    let found = |q: &str, status| {
        let page = r.list_groups(&query(status, Some(q), 1, 50)).unwrap();
        assert_eq!(page.total, page.items.len() as u64);
        page.items.into_iter().map(|g| g.hash).collect::<BTreeSet<_>>()
    };
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(found("IO::ERROR", None), set(&["io"]), "exception name, any case");
    assert_eq!(found("Disk", None), set(&["io"]), "message");
    assert_eq!(found("/api/", None), set(&["api"]), "path");
    assert_eq!(found("100%", None), set(&["pct"]), "% is literal");
    assert_eq!(found("a_b", None), set(&["und"]), "_ is literal");
    assert_eq!(found("no such text", None), set(&[]));
    assert_eq!(found("", None).len(), 6, "an empty search matches all");
    assert!(s.set_status("io", Status::Resolved).unwrap());
    assert_eq!(found("disk", Some(Status::Unresolved)), set(&[]));
    assert_eq!(found("disk", Some(Status::Resolved)), set(&["io"]));
}

/// What a search matches: a case-insensitive (ASCII) substring of the
/// exception name, the message or the path, every character taken literally,
/// whatever its length (SQLite answers 3 characters and more from its trigram
/// index, shorter ones by a scan).
fn search_text(db: &dyn Db) {
    let s = db.handle();
    let mut in_path = occurrence("E", "m", at(7));
    in_path.request = Some(RequestContext { method: "GET".into(), path: "/Only/In/Path".into(), ..Default::default() });
    let batch = vec![
        Grouped {
            hash: "name".into(),
            occurrence: occurrence("app::PaymentError", "declined", at(1)),
            times: 1,
            count_only: false,
        },
        Grouped { hash: "pct".into(), occurrence: occurrence("E", "at 100% load", at(2)), times: 1, count_only: false },
        Grouped { hash: "und".into(), occurrence: occurrence("E", "a_b failed", at(3)), times: 1, count_only: false },
        Grouped { hash: "axb".into(), occurrence: occurrence("E", "axb failed", at(4)), times: 1, count_only: false },
        Grouped {
            hash: "quote".into(),
            occurrence: occurrence("E", "unexpected \"token\" found", at(5)),
            times: 1,
            count_only: false,
        },
        Grouped {
            hash: "bslash".into(),
            occurrence: occurrence("E", "C:\\temp\\x failed", at(6)),
            times: 1,
            count_only: false,
        },
        Grouped { hash: "path".into(), occurrence: in_path, times: 1, count_only: false },
    ];
    s.write(&batch).unwrap();
    let r = db.handle();
    let found = |q: &str| {
        let page = r.list_groups(&query(None, Some(q), 1, 50)).unwrap();
        let hashes: Vec<String> = page.items.into_iter().map(|g| g.hash).collect();
        assert_eq!(page.total, hashes.len() as u64, "{q:?}: total");
        hashes
    };
    // Two characters: shorter than a trigram.
    assert_eq!(found("AX"), ["axb"], "2 characters, any case");
    assert_eq!(found("_b"), ["und"], "2 characters, _ literal");
    assert_eq!(found("b "), ["axb", "und"], "2 characters with a space, newest first");
    assert_eq!(found("\"\""), Vec::<String>::new(), "2 quotes");
    // %, _, \ and " are literal.
    assert_eq!(found("0% l"), ["pct"], "% literal");
    assert_eq!(found("a_b f"), ["und"], "_ literal");
    assert_eq!(found("\"token\""), ["quote"], "quotes literal");
    assert_eq!(found("d \"tok"), ["quote"], "an unbalanced quote");
    assert_eq!(found("C:\\TEMP\\"), ["bslash"], "backslashes literal");
    assert_eq!(found("%"), ["pct"], "a lone %");
    assert_eq!(found("100%%"), Vec::<String>::new(), "%% is two percent signs");
    // Case, columns.
    assert_eq!(found("pAyMeNtErRoR"), ["name"], "mixed case, exception name");
    assert_eq!(found("DECLINED"), ["name"], "upper case, message");
    assert_eq!(found("only/in/"), ["path"], "only in the path");
    assert_eq!(found("error declined"), Vec::<String>::new(), "no match across two columns");
    assert_eq!(found("failed"), ["bslash", "axb", "und"], "newest first");

    // The text a search sees follows the latest occurrence, and deletion.
    s.write(&one("axb", occurrence("E", "renamed", at(8)))).unwrap();
    assert_eq!(found("axb f"), Vec::<String>::new(), "the old message is forgotten");
    assert_eq!(found("RENAMED"), ["axb"], "the new message is found");
    assert!(s.delete_group("und").unwrap());
    assert_eq!(found("a_b"), Vec::<String>::new(), "a deleted group is not found");
}

/// Paging through a search: every page in list order, with the total; a few
/// matches among many groups, and most of them.
fn search_paging(db: &dyn Db) {
    let s = db.handle();
    // 200 groups, one a minute; every 29th is "rare", 3 in 4 are "common".
    let batch: Vec<Grouped> = (0..200)
        .map(|i| {
            let message = match (i % 29 == 0, i % 4 != 0) {
                (true, _) => format!("Rare event {i}"),
                (false, true) => format!("common event {i}"),
                (false, false) => format!("other event {i}"),
            };
            Grouped {
                hash: format!("g{i:03}"),
                occurrence: occurrence("E", &message, at(i)),
                times: 1,
                count_only: false,
            }
        })
        .collect();
    s.write(&batch).unwrap();
    for i in (0..200).step_by(3) {
        assert!(s.set_status(&format!("g{i:03}"), Status::Resolved).unwrap());
    }
    let r = db.handle();
    for (text, status, per_page) in [
        ("RARE", None, 3),
        ("rare event", Some(Status::Unresolved), 2),
        ("ommon", None, 10),
        ("common", Some(Status::Resolved), 7),
        ("ev", None, 30),
        ("mm", Some(Status::Unresolved), 40),
    ] {
        let needle = text.to_ascii_lowercase();
        let expected: Vec<String> = (0..200)
            .rev()
            .filter(|i| status.is_none_or(|st| (st == Status::Resolved) == (i % 3 == 0)))
            .map(|i| (i, batch[i as usize].occurrence.message.to_ascii_lowercase()))
            .filter(|(_, m)| m.contains(&needle))
            .map(|(i, _)| format!("g{i:03}"))
            .collect();
        assert!(expected.len() > per_page as usize, "{text:?}: more than a page");
        let pages = (expected.len() as u32).div_ceil(per_page);
        let mut seen = Vec::new();
        for page in 1..=pages + 1 {
            let p = r.list_groups(&query(status, Some(text), page, per_page)).unwrap();
            assert_eq!(p.total, expected.len() as u64, "{text:?} {status:?}: total on page {page}");
            assert_eq!((p.page, p.per_page, p.pages()), (page, per_page, u64::from(pages)));
            seen.extend(p.items.into_iter().map(|g| g.hash));
        }
        assert_eq!(seen, expected, "{text:?} {status:?}: all pages in list order");
    }
}

fn deletion(db: &dyn Db) {
    let s = db.handle();
    s.write(&one("a", occurrence("E", "m", at(1)))).unwrap();
    s.write(&one("a", occurrence("E", "m", at(2)))).unwrap();
    s.write(&one("b", occurrence("F", "m", at(3)))).unwrap();
    assert!(s.delete_group("a").unwrap());
    let r = db.handle();
    assert!(r.group("a").unwrap().is_none());
    assert_eq!(r.occurrences("a", PageRequest::first(10)).unwrap().total, 0);
    assert!(r.hourly_counts("a", at(0)).unwrap().iter().all(|&n| n == 0));
    assert_eq!(all_groups(&*r).into_iter().map(|g| g.hash).collect::<Vec<_>>(), ["b"]);
    assert!(!s.delete_group("a").unwrap(), "already gone");

    // It comes back as a new group, counted from zero.
    let c = s.write(&one("a", occurrence("E", "again", at(9)))).unwrap();
    assert_eq!((c[0].kind, c[0].count), (ChangeKind::New, 1));
    let g = r.group("a").unwrap().unwrap().summary;
    assert_eq!((g.count, g.created_on), (1, at(9)));
    assert_eq!(r.occurrences("a", PageRequest::first(10)).unwrap().total, 1);
}

fn one_occurrence_and_its_neighbours(db: &dyn Db) {
    let s = db.handle();
    if !db.has_ui_queries() {
        let err = s.occurrence("a", "x").expect_err("the default");
        assert!(matches!(err, StoreError::Unsupported(_)), "{err}");
        return;
    }
    // Seven written, CAP (5) kept: 6 … 2, newest first.
    let mut ids = Vec::new();
    for i in 0..7 {
        let mut o = occurrence("E", &format!("occurrence {i}"), at(i));
        o.extra = vec![Variable { name: "i".into(), value: json!(i) }];
        ids.push(o.id.clone());
        s.write(&one("a", o)).unwrap();
    }
    s.write(&one("b", occurrence("F", "other group", at(10)))).unwrap();
    let r = db.handle();

    let newest = r.occurrence("a", &ids[6]).unwrap().expect("the newest");
    assert_eq!((newest.position, newest.total), (1, CAP as u64));
    assert_eq!((newest.newer.as_deref(), newest.older.as_deref()), (None, Some(ids[5].as_str())));
    assert_eq!(newest.occurrence.message, "occurrence 6");
    assert_eq!(newest.occurrence.extra, vec![Variable { name: "i".into(), value: json!(6) }]);
    assert_eq!(newest.occurrence.backtrace.len(), 1, "the backtrace comes with it");

    let middle = r.occurrence("a", &ids[4]).unwrap().expect("a middle one");
    assert_eq!((middle.position, middle.occurrence.message.as_str()), (3, "occurrence 4"));
    assert_eq!((middle.newer.as_deref(), middle.older.as_deref()), (Some(ids[5].as_str()), Some(ids[3].as_str())));

    let oldest = r.occurrence("a", &ids[2]).unwrap().expect("the oldest kept");
    assert_eq!((oldest.position, oldest.newer.as_deref(), oldest.older.as_deref()), (5, Some(ids[3].as_str()), None));

    // Trimmed, of another group, or unknown: none.
    assert!(r.occurrence("a", &ids[1]).unwrap().is_none(), "trimmed by the cap");
    assert!(r.occurrence("b", &ids[6]).unwrap().is_none(), "another group's");
    assert!(r.occurrence("nope", &ids[6]).unwrap().is_none());
    assert!(r.occurrence("a", "' OR 1=1 --").unwrap().is_none());
    assert!(r.delete_group("a").unwrap());
    assert!(r.occurrence("a", &ids[6]).unwrap().is_none(), "deleted with its group");
}

fn orders_and_filters(db: &dyn Db) {
    if !db.has_ui_queries() {
        return;
    }
    let s = db.handle();
    // a: first seen first, seen 3 times, last on web-2 in 2.0.
    // b: first seen second, seen once, most recently, on web-1 in 1.0.
    // c: first seen last, seen twice, on web-1 in 1.0 then 1.1.
    let at_host = |hash: &str, minute: i64, host: &str, release: &str| {
        let mut o = occurrence("E", hash, at(minute));
        o.host = host.into();
        o.release = Some(release.into());
        s.write(&one(hash, o)).unwrap();
    };
    at_host("a", 0, "web-1", "1.0");
    at_host("b", 1, "web-1", "1.0");
    at_host("c", 2, "web-1", "1.0");
    at_host("a", 3, "web-1", "1.0");
    at_host("c", 4, "web-1", "1.1");
    at_host("a", 5, "web-2", "2.0");
    at_host("b", 6, "web-1", "1.0");
    let r = db.handle();
    let list = |q: GroupQuery| -> (Vec<String>, u64) {
        let page = r.list_groups(&q).unwrap();
        (page.items.into_iter().map(|g| g.hash).collect(), page.total)
    };
    let q = |sort: GroupSort| GroupQuery { sort, page: PageRequest::first(10), ..Default::default() };
    assert_eq!(list(q(GroupSort::LastSeen)).0, ["b", "a", "c"]);
    assert_eq!(list(q(GroupSort::FirstSeen)).0, ["c", "b", "a"]);
    assert_eq!(
        list(q(GroupSort::Count)),
        (vec!["a".to_owned(), "b".into(), "c".into()], 3),
        "a 3, then b and c 2, by hash"
    );
    // Pages of another order.
    let page2 = GroupQuery { sort: GroupSort::Count, page: PageRequest { page: 2, per_page: 2 }, ..Default::default() };
    assert_eq!(list(page2), (vec!["c".to_owned()], 3));

    // The host of the latest occurrence.
    let host = |h: &str| GroupQuery { host: Some(h.into()), ..q(GroupSort::LastSeen) };
    assert_eq!(list(host("web-1")), (vec!["b".to_owned(), "c".into()], 2));
    assert_eq!(list(host("web-2")).0, ["a"]);
    assert_eq!(list(host("web-9")), (vec![], 0));
    // A release among the stored occurrences.
    let release = |v: &str| GroupQuery { release: Some(v.into()), ..q(GroupSort::Count) };
    assert_eq!(list(release("1.0")), (vec!["a".to_owned(), "b".into(), "c".into()], 3));
    assert_eq!(list(release("1.1")).0, ["c"]);
    assert_eq!(list(release("2.0")).0, ["a"]);
    assert_eq!(list(release("' OR 1=1 --")), (vec![], 0));
    // Combined, with a status and a search.
    r.set_status("c", Status::Resolved).unwrap();
    let all = GroupQuery {
        status: Some(Status::Unresolved),
        search: Some("E".into()),
        host: Some("web-1".into()),
        release: Some("1.0".into()),
        ..q(GroupSort::FirstSeen)
    };
    assert_eq!(list(all), (vec!["b".to_owned()], 1));
}

fn retention_cap(db: &dyn Db) {
    let s = db.handle();
    // One at a time, then a batch larger than the cap.
    for i in 0..8 {
        s.write(&one("a", occurrence("E", &format!("single {i}"), at(i)))).unwrap();
    }
    let r = db.handle();
    let kept: Vec<String> =
        r.occurrences("a", PageRequest::first(50)).unwrap().items.into_iter().map(|o| o.message).collect();
    assert_eq!(kept, ["single 7", "single 6", "single 5", "single 4", "single 3"]);

    let batch: Vec<Grouped> = (0..12)
        .map(|i| Grouped {
            hash: "a".into(),
            occurrence: occurrence("E", &format!("batch {i}"), at(20 + i)),
            times: 1,
            count_only: false,
        })
        .collect();
    s.write(&batch).unwrap();
    let page = r.occurrences("a", PageRequest::first(50)).unwrap();
    assert_eq!(page.total, CAP as u64);
    let kept: Vec<String> = page.items.into_iter().map(|o| o.message).collect();
    assert_eq!(kept, ["batch 11", "batch 10", "batch 9", "batch 8", "batch 7"]);
    let g = r.group("a").unwrap().unwrap().summary;
    assert_eq!((g.count, g.message.as_str()), (20, "batch 11"), "the count keeps what the cap drops");

    // Another group's history is its own.
    s.write(&one("b", occurrence("F", "only", at(40)))).unwrap();
    assert_eq!(r.occurrences("b", PageRequest::first(50)).unwrap().total, 1);
    assert_eq!(r.occurrences("a", PageRequest::first(50)).unwrap().total, CAP as u64);
}

fn hourly_counts(db: &dyn Db) {
    let s = db.handle();
    let now = Timestamp::now();
    let hours_ago = |h: u64| now.saturating_sub(Duration::from_secs(h * 3600));
    let batch = vec![
        Grouped { hash: "a".into(), occurrence: occurrence("E", "m", hours_ago(3)), times: 1, count_only: false },
        Grouped { hash: "a".into(), occurrence: occurrence("E", "m", hours_ago(1)), times: 3, count_only: false },
        Grouped { hash: "b".into(), occurrence: occurrence("F", "m", hours_ago(1)), times: 1, count_only: false },
    ];
    s.write(&batch).unwrap();
    s.write(&one("a", occurrence("E", "m", now))).unwrap();
    s.write(&one("a", occurrence("E", "m", now))).unwrap();
    // Older than the window: not in it.
    s.write(&one("a", occurrence("E", "m", hours_ago(30)))).unwrap();

    let r = db.handle();
    let counts = r.hourly_counts("a", hours_ago(3)).unwrap();
    // The clock may pass an hour boundary during the test: allow one more
    // (empty) hour at the end.
    assert!(counts.len() == 4 || (counts.len() == 5 && counts[4] == 0), "{counts:?}");
    assert_eq!(counts[..4], [1, 0, 3, 2]);
    let b = r.hourly_counts("b", hours_ago(3)).unwrap();
    assert_eq!(b[..4], [0, 0, 1, 0]);
    assert_eq!(r.group("a").unwrap().unwrap().summary.count, 7, "the count includes hours outside the window");
    // A window that starts in the future is the one hour it starts in.
    let future = r.hourly_counts("a", Timestamp::from_micros(now.as_micros() + 5 * 3_600_000_000)).unwrap();
    assert_eq!(future, [0]);
}

fn flags_and_tickets(db: &dyn Db) {
    let s = db.handle();
    s.write(&one("a", occurrence("E", "m", at(1)))).unwrap();
    let r = db.handle();
    let summary = || r.group("a").unwrap().unwrap().summary;
    assert!(s.set_notification_sent("a", true).unwrap());
    assert!(summary().notification_sent);
    assert!(s.set_ticket("a", Some("https://tracker.test/T-1")).unwrap());
    assert_eq!(summary().ticket_raised.as_deref(), Some("https://tracker.test/T-1"));
    // More occurrences leave the flags alone.
    s.write(&one("a", occurrence("E", "m", at(2)))).unwrap();
    let g = summary();
    assert!(g.notification_sent);
    assert_eq!(g.ticket_raised.as_deref(), Some("https://tracker.test/T-1"));
    assert!(s.set_notification_sent("a", false).unwrap());
    assert!(s.set_ticket("a", None).unwrap());
    let g = summary();
    assert_eq!((g.notification_sent, g.ticket_raised), (false, None));
}

fn awkward_text(db: &dyn Db) {
    let s = db.handle();
    let long = "é".repeat(20_000);
    let mut o = occurrence("E", &format!("nul\0byte, emoji 🦀, quote ' and backslash \\ {long}"), at(1));
    o.thread = Some("worker\0".into());
    o.extra = vec![Variable { name: "raw".into(), value: json!("nul\0inside json") }];
    s.write(&one("a", o.clone())).unwrap();
    let g = db.handle().group("a").unwrap().unwrap().summary;
    // A store that cannot keep NUL characters may replace them, and only them.
    assert!(
        g.message == o.message || g.message == o.message.replace('\0', "\u{FFFD}"),
        "message changed: {:?}",
        &g.message[..40]
    );
    let back = db.handle().occurrences("a", PageRequest::first(1)).unwrap().items.remove(0);
    assert_eq!(back.extra, o.extra, "JSON escapes NUL, so it survives");
}

fn concurrent_writers(db: &dyn Db) {
    const WRITERS: usize = 4;
    const BATCHES: usize = 40;
    const PER_BATCH: usize = 9;
    let threads: Vec<_> = (0..WRITERS)
        .map(|w| {
            let s = db.handle();
            std::thread::spawn(move || {
                let mut changes = Vec::new();
                for b in 0..BATCHES {
                    let batch: Vec<Grouped> = (0..PER_BATCH)
                        .map(|i| Grouped {
                            hash: format!("g{}", (i + w) % 3),
                            occurrence: occurrence("E", &format!("w{w} b{b} i{i}"), at((b % 60) as i64)),
                            times: 1 + (i % 2) as u64,
                            count_only: false,
                        })
                        .collect();
                    changes.extend(s.write(&batch).expect("concurrent write"));
                }
                changes
            })
        })
        .collect();
    let changes: Vec<_> = threads.into_iter().flat_map(|t| t.join().expect("writer thread")).collect();

    let per_batch_times: u64 = (0..PER_BATCH).map(|i| 1 + (i % 2) as u64).sum();
    let expected = (WRITERS * BATCHES) as u64 * per_batch_times;
    let r = db.handle();
    let groups = all_groups(&*r);
    assert_eq!(groups.len(), 3);
    assert_eq!(groups.iter().map(|g| g.count).sum::<u64>(), expected, "counts are exact");
    assert_eq!(changes.iter().map(|c| c.added).sum::<u64>(), expected);
    for g in &groups {
        let news = changes.iter().filter(|c| c.hash == g.hash && c.kind == ChangeKind::New).count();
        assert_eq!(news, 1, "{} was new exactly once", g.hash);
        let max_seen = changes.iter().filter(|c| c.hash == g.hash).map(|c| c.count).max();
        assert_eq!(max_seen, Some(g.count), "the last write saw the final count");
        assert_eq!(g.created_on, at(0));
        assert_eq!(r.occurrences(&g.hash, PageRequest::first(50)).unwrap().total, CAP as u64);
        let hours: u64 = r.hourly_counts(&g.hash, at(0)).unwrap().iter().sum();
        assert_eq!(hours, g.count, "hourly counts add up to the count");
    }
}

/// The frames of an occurrence with a backtrace of its own.
fn with_backtrace(message: &str, timestamp: Timestamp, function: &str) -> Occurrence {
    let mut o = occurrence("E", message, timestamp);
    o.backtrace = vec![
        StackFrame { function: function.into(), file: Some("src/lib.rs".into()), line: Some(3), in_app: true },
        StackFrame { function: "std::rt::lang_start".into(), file: None, line: None, in_app: false },
    ];
    o
}

fn shared_backtraces(db: &dyn Db) {
    let s = db.handle();
    let r = db.handle();
    let backtraces_of = |hash: &str| -> Vec<Vec<StackFrame>> {
        r.occurrences(hash, PageRequest::first(50)).unwrap().items.into_iter().map(|o| o.backtrace).collect()
    };

    // Two groups with the same backtrace: deleting one leaves the other's.
    let a = with_backtrace("a", at(1), "app::shared");
    let b = with_backtrace("b", at(2), "app::shared");
    s.write(&[
        Grouped { hash: "a".into(), occurrence: a.clone(), times: 1, count_only: false },
        Grouped { hash: "b".into(), occurrence: b.clone(), times: 1, count_only: false },
    ])
    .unwrap();
    assert!(r.delete_group("a").unwrap());
    assert_eq!(backtraces_of("b"), std::slice::from_ref(&b.backtrace));
    // The group comes back with the same backtrace, written by the handle
    // that wrote it before the other one deleted it.
    s.write(&one("a", with_backtrace("a again", at(3), "app::shared"))).unwrap();
    assert_eq!(backtraces_of("a"), std::slice::from_ref(&a.backtrace));

    // Occurrences trimmed one write at a time, and in batches larger than
    // the cap, each with a backtrace of its own or an older one again.
    let mut expected: Vec<Vec<StackFrame>> = Vec::new();
    for i in 0..3 * CAP as i64 {
        let o = with_backtrace(&format!("single {i}"), at(10 + i), &format!("app::f{i}"));
        expected.push(o.backtrace.clone());
        s.write(&one("c", o)).unwrap();
    }
    for round in 0..3_i64 {
        let batch: Vec<Grouped> = (0..2 * CAP as i64)
            .map(|i| {
                // Round 1 repeats, in every occurrence, the newest backtrace
                // of round 0.
                let f = if round == 1 { format!("app::g{}", 2 * CAP - 1) } else { format!("app::g{i}") };
                let o = with_backtrace(&format!("batch {round} {i}"), at(100 + 20 * round + i), &f);
                expected.push(o.backtrace.clone());
                Grouped { hash: "c".into(), occurrence: o, times: 1, count_only: false }
            })
            .collect();
        s.write(&batch).unwrap();
    }
    let newest: Vec<Vec<StackFrame>> = expected.iter().rev().take(CAP as usize).cloned().collect();
    assert_eq!(backtraces_of("c"), newest);

    // A store that keeps each distinct backtrace of a group once keeps no
    // more than its stored occurrences hold.
    if let Some(rows) = db.backtrace_rows() {
        let distinct: usize = ["a", "b", "c"]
            .iter()
            .map(|h| backtraces_of(h).iter().map(|b| format!("{b:?}")).collect::<BTreeSet<_>>().len())
            .sum();
        assert_eq!(rows, distinct as u64, "no backtrace outlives its last occurrence");
    }
    assert!(s.delete_group("c").unwrap());
    assert!(s.delete_group("b").unwrap());
    if let Some(rows) = db.backtrace_rows() {
        assert_eq!(rows, 1, "a deleted group's backtraces go with it");
    }
    assert_eq!(backtraces_of("a"), [a.backtrace]);
}

/// Users query the tables directly with the same SQL on both databases:
/// the PostgreSQL schema has the SQLite schema's tables and columns, in the
/// same order.
#[cfg(feature = "postgres")]
#[test]
#[cfg_attr(not(test_pg), ignore = "needs PostgreSQL: set ERROR_TRACKER_TEST_PG (see the README)")]
fn postgres_schema_has_the_sqlite_tables_and_columns() {
    let Some(server) = pg_schema::server("postgres_schema_has_the_sqlite_tables_and_columns") else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("errors.sqlite");
    drop(SqliteStore::open(&path, CAP).expect("create sqlite"));
    let conn = rusqlite::Connection::open(&path).expect("open sqlite");
    let schema = pg_schema::TestSchema::create(&server, "schema_parity");
    drop(error_tracker::PostgresStore::open(&schema.url, CAP).expect("create postgres"));
    let mut pg = schema.client();

    for table in ["exceptions", "occurrences", "backtraces", "group_hours"] {
        let mut stmt = conn.prepare(&format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid")).unwrap();
        let sqlite: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap();
        let postgres: Vec<String> = pg
            .query(
                "SELECT column_name::text FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
                &[&table],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(!sqlite.is_empty(), "no table {table} in SQLite");
        assert_eq!(postgres, sqlite, "the columns of {table}");
    }
}

/// The writer sees only the write half and the UI only the query half, and
/// each works alone on the same store; `close` leaves the store usable.
fn split_halves(db: &dyn Db) {
    let s = db.handle();
    let writer: Arc<dyn StoreWrite> = s.clone();
    let reader: Arc<dyn StoreQuery> = s;
    let changes = writer.write(&one("split", occurrence("app::Split", "halves", at(1)))).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(reader.group("split").unwrap().expect("the group").summary.count, 1);
    writer.close().expect("close");
    writer.write(&one("split", occurrence("app::Split", "halves", at(2)))).unwrap();
    assert_eq!(reader.group("split").unwrap().expect("the group").summary.count, 2, "usable after close");
}

// ---- error kinds, from the faults that cause them (SQLite: a real file)

fn sqlite_store() -> (tempfile::TempDir, std::path::PathBuf, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("errors.sqlite");
    let store = SqliteStore::open(&path, CAP).expect("open sqlite");
    (dir, path, store)
}

#[test]
fn sqlite_a_held_write_lock_is_busy_and_transient() {
    let (_dir, path, store) = sqlite_store();
    store.write(&one("a", occurrence("app::Locked", "first", at(1)))).unwrap();
    let locker = rusqlite::Connection::open(&path).unwrap();
    locker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let e = store.write(&one("a", occurrence("app::Locked", "second", at(2)))).unwrap_err();
    assert!(matches!(e, StoreError::Busy(_)), "{e:?}");
    assert_eq!(e.kind(), StoreErrorKind::Transient);
    let source = std::error::Error::source(&e).expect("a source");
    assert!(source.downcast_ref::<rusqlite::Error>().is_some(), "{source:?}");
    locker.execute_batch("COMMIT").unwrap();
    store.write(&one("a", occurrence("app::Locked", "second", at(2)))).unwrap();
    assert_eq!(store.group("a").unwrap().unwrap().summary.count, 2, "nothing of the failed write was kept");
}

#[test]
fn sqlite_a_full_database_is_full_and_transient() {
    let (_dir, path, store) = sqlite_store();
    store.write(&one("a", occurrence("app::Full", "first", at(1)))).unwrap();
    // Cap the file at about what it holds now.
    let pages: i64 = {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap()
    };
    store.set_max_page_count(pages as u64 + 2).unwrap();
    let big: Vec<Grouped> =
        (0..200).flat_map(|i| one(&format!("g{i}"), occurrence("app::Full", &"x".repeat(2000), at(i)))).collect();
    let e = store.write(&big).unwrap_err();
    assert!(matches!(e, StoreError::Full(_)), "{e:?}");
    assert_eq!(e.kind(), StoreErrorKind::Transient);
    assert_eq!(store.group("g1").unwrap(), None, "all or nothing");
}

#[test]
fn sqlite_unreadable_rows_are_corrupt_and_permanent() {
    let (_dir, path, store) = sqlite_store();
    store.write(&one("a", occurrence("app::Corrupt", "first", at(1)))).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE exceptions SET last_seen = 'not a time' WHERE hash = 'a'", []).unwrap();
    let e = store.group("a").unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Permanent, "{e:?}");
}

#[test]
fn sqlite_close_folds_the_wal_into_the_file() {
    let (dir, path, store) = sqlite_store();
    store.write(&one("a", occurrence("app::Copied", "in the file", at(1)))).unwrap();
    store.close().unwrap();
    let wal = path.with_extension("sqlite-wal");
    assert_eq!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0), 0, "the WAL is empty");
    // The file alone, copied while the store is still open, has the data.
    let copy = dir.path().join("copy.sqlite");
    std::fs::copy(&path, &copy).unwrap();
    let conn = rusqlite::Connection::open(&copy).unwrap();
    let n: i64 = conn.query_row("SELECT count FROM exceptions WHERE hash = 'a'", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 1);
}

#[test]
fn sqlite_open_does_not_wait_for_a_held_lock() {
    // Migrated: open only reads the version.
    let (_dir, path, store) = sqlite_store();
    drop(store);
    let locker = rusqlite::Connection::open(&path).unwrap();
    locker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let store = SqliteStore::open(&path, CAP).expect("open under a held write lock");
    assert!(store.write(&one("a", occurrence("app::Late", "x", at(1)))).is_err(), "locked");
    locker.execute_batch("COMMIT").unwrap();
    store.write(&one("a", occurrence("app::Late", "x", at(1)))).unwrap();

    // Not migrated yet (a new file another process is writing): open
    // returns, and the first write after the lock migrates.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.sqlite");
    let locker = rusqlite::Connection::open(&path).unwrap();
    locker.execute_batch("CREATE TABLE other (x); BEGIN EXCLUSIVE; INSERT INTO other VALUES (1);").unwrap();
    let store = SqliteStore::open(&path, CAP).expect("open an unmigrated file under a held lock");
    let e = store.write(&one("a", occurrence("app::Late", "x", at(1)))).unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Transient, "{e:?}");
    locker.execute_batch("COMMIT").unwrap();
    drop(locker);
    store.write(&one("a", occurrence("app::Late", "x", at(1)))).unwrap();
    assert_eq!(store.group("a").unwrap().unwrap().summary.count, 1);
}

// ---- retention (the stores that enforce it: memory, SQLite, PostgreSQL)

/// Age first, then the group cap, least recently seen first; what was
/// deleted is counted, and what is left plus what was deleted is all.
fn retention_limits(db: &dyn Db) {
    let s = db.handle();
    // g0 was last seen 30 days ago; g1..g9 at minutes 1..9 (about two hours ago).
    let old = Timestamp::now().saturating_sub(Duration::from_secs(30 * 86_400));
    let mut batch = one("g0", occurrence("app::Old", "old", old));
    for i in 1..10 {
        for _ in 0..i {
            batch.extend(one(&format!("g{i}"), occurrence("app::Kept", &format!("group {i}"), at(i))));
        }
    }
    s.write(&batch).unwrap();
    let limits = Retention { max_groups: Some(5), max_bytes: None, max_age: Some(Duration::from_secs(7 * 86_400)) };
    let pruned = s.prune(&limits).unwrap();
    let left: Vec<String> = {
        let mut v: Vec<String> = all_groups(&*s).into_iter().map(|g| g.hash).collect();
        v.sort();
        v
    };
    assert_eq!(left, ["g5", "g6", "g7", "g8", "g9"], "the 5 most recently seen are kept");
    assert_eq!((pruned.groups, pruned.occurrences), (5, 1 + 1 + 2 + 3 + 4));
    assert!(s.occurrences("g1", PageRequest::first(10)).unwrap().items.is_empty(), "with their occurrences");
    assert_eq!(s.prune(&limits).unwrap(), Default::default(), "nothing more to delete");
    assert_eq!(s.prune(&Retention::UNLIMITED).unwrap(), Default::default());
}

#[test]
fn memory_retention_limits() {
    retention_limits(&*memory("memory_retention_limits").unwrap());
}

#[test]
fn sqlite_retention_limits() {
    let db = sqlite("sqlite_retention_limits").unwrap();
    retention_limits(&*db);
}

#[test]
#[cfg_attr(
    any(not(test_pg), not(feature = "postgres")),
    ignore = "needs PostgreSQL: set ERROR_TRACKER_TEST_PG and the postgres feature (see the README)"
)]
fn postgres_retention_limits() {
    if let Some(db) = postgres("postgres_retention_limits") {
        retention_limits(&*db);
    }
}

#[test]
fn sqlite_retention_bounds_the_data_and_keeps_the_counts() {
    let (_dir, path, store) = sqlite_store();
    let n = 2_000;
    let batch: Vec<Grouped> = (0..n)
        .flat_map(|i| one(&format!("g{i:04}"), occurrence("app::Big", &format!("{i} {}", "x".repeat(2_000)), at(i))))
        .collect();
    store.write(&batch).unwrap();
    let max = 1 << 20;
    let pruned = store.prune(&Retention { max_groups: None, max_bytes: Some(max), max_age: None }).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let used: i64 = conn
        .query_row(
            "SELECT (page_count - freelist_count) * page_size FROM pragma_page_count(), pragma_freelist_count(), \
             pragma_page_size()",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let left = all_groups(&store);
    println!("pruned {} groups; {} left, {used} bytes in use", pruned.groups, left.len());
    assert!(used as u64 <= max, "{used} bytes in use");
    assert!(!left.is_empty());
    assert_eq!(left.len() as u64 + pruned.groups, n as u64);
    assert_eq!(left.iter().map(|g| g.count).sum::<u64>() + pruned.occurrences, n as u64, "counts kept");
    // The newest are kept; the table `pruned` has the totals.
    assert!(left.iter().all(|g| g.hash.as_str() >= "g1000"), "oldest first");
    let (groups, occurrences): (i64, i64) = conn
        .query_row("SELECT groups, occurrences FROM pruned WHERE reason = 'size'", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!((groups as u64, occurrences as u64), (pruned.groups, pruned.occurrences));
}

// ---- error kinds on PostgreSQL, from real faults

#[cfg(feature = "postgres")]
#[test]
#[cfg_attr(not(test_pg), ignore = "needs PostgreSQL: set ERROR_TRACKER_TEST_PG (see the README)")]
fn postgres_a_locked_row_is_busy_and_unreadable_rows_are_permanent() {
    let server = pg_schema::server("postgres_error_kinds").expect("a server");
    let schema = pg_schema::TestSchema::create(&server, "postgres_error_kinds");
    let store = error_tracker::PostgresStore::open(&schema.url, CAP).expect("open postgres");
    store.write(&one("a", occurrence("app::Locked", "first", at(1)))).unwrap();

    // Another session holds the group's row: the write waits lock_timeout, then is Busy.
    let mut other = schema.client();
    let mut tx = other.transaction().unwrap();
    tx.execute("SELECT 1 FROM exceptions WHERE hash = 'a' FOR UPDATE", &[]).unwrap();
    let e = store.write(&one("a", occurrence("app::Locked", "second", at(2)))).unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Transient, "{e:?}");
    assert!(matches!(e, StoreError::Busy(_)), "{e:?}");
    let source = std::error::Error::source(&e).expect("a source");
    assert!(source.downcast_ref::<::postgres::Error>().is_some(), "{source:?}");
    tx.rollback().unwrap();
    store.write(&one("a", occurrence("app::Locked", "second", at(2)))).unwrap();
    assert_eq!(store.group("a").unwrap().unwrap().summary.count, 2, "nothing of the failed write was kept");

    // A row that cannot be read back: permanent.
    schema.client().execute("UPDATE exceptions SET last_seen = 'not a time' WHERE hash = 'a'", &[]).unwrap();
    let e = store.group("a").unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Permanent, "{e:?}");
}
