//! UI figures over a SQLite file with 100,000 groups and 1,000,000
//! occurrences (built once into a cached file under the target directory):
//!
//! - the list page (first page, a deep page, a search, a status filter), the
//!   detail page, one occurrence's page, and the variable facets (over 100
//!   stored occurrences of a group with 20 variables, added to the file on
//!   first use), rendered by `ErrorTrackerUi::handle`, each against a bare
//!   `SELECT` of the same rows on a plain rusqlite connection;
//! - then a loopback load of 64 concurrent keep-alive connections against
//!   the real hyper server: p50/p99/max latency and errors, next to the same
//!   load on the static stylesheet (the server's floor).
//!
//! ```sh
//! cargo bench --bench ui
//! ```

use error_tracker::StoreWrite;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use error_tracker::{
    FrameSnapshot, Grouped, Occurrence, RequestContext, SqliteStore, StackFrame, Store, StoreQuery, Timestamp, Variable,
};
use error_tracker_ui::{AllowAll, ErrorTrackerUi, UiRequest};
use rusqlite::Connection;

/// serde_json's `json!`, as the tracker's own [`error_tracker::Value`].
macro_rules! json {
    ($($t:tt)+) => {
        serde_json::from_value::<error_tracker::Value>(serde_json::json!($($t)+)).expect("a JSON value")
    };
}

const GROUPS: u64 = 100_000;
const PER_GROUP: u64 = 10;
const PAGE_SIZE: u32 = 10;
/// The cached file's name says what it holds, so a change of shape builds a new one.
const CACHE_NAME: &str = "ui-bench-100k-groups-1m-occurrences-v2.sqlite";

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

fn occurrence(g: u64, k: u64, now: Timestamp) -> Occurrence {
    let frame = |f: String, in_app| StackFrame { function: f, file: Some("src/lib.rs".into()), line: Some(12), in_app };
    // Spread the groups over the last 7 days, each group's occurrences over a few hours.
    let age = (g * 6_047 + k * 1_800) % (7 * 24 * 3600);
    Occurrence {
        id: format!("00000000-0000-4000-8000-{:012}", g * PER_GROUP + k),
        exception_name: format!("app::module{}::Error{}", g % 97, g % 13),
        message: format!("request {g} failed: upstream timed out after {} ms (attempt {k})", 100 + g % 900),
        sources: vec!["operation timed out".into()],
        backtrace: (0..12).map(|i| frame(format!("app::layer{i}::call"), i % 3 == 0)).collect(),
        thread: Some(format!("worker-{}", k % 8)),
        timestamp: now.saturating_sub(Duration::from_secs(age)),
        host: format!("web-{}", g % 16),
        pid: 1000 + (g % 16) as u32,
        release: Some("1.0.0".into()),
        panic: None,
        frames: vec![],
        request: Some(RequestContext {
            method: "GET".into(),
            url: format!("https://app.example/orders/{g}?page={k}"),
            path: format!("/orders/{}", g % 5_000),
            route: Some("/orders/{id}".into()),
            headers: vec![("user-agent".into(), "bench/1.0".into()), ("accept".into(), "*/*".into())],
            query: vec![("page".into(), k.to_string())],
            body: None,
            client_addr: Some("127.0.0.1:5000".into()),
            custom: vec![],
        }),
        extra: vec![Variable { name: "attempt".into(), value: json!(k) }],
        site: None,
        breadcrumbs: Vec::new(),
        spans: Vec::new(),
        error_backtrace: Vec::new(),
    }
}

/// Opens the cached database, building it first when missing.
fn database() -> PathBuf {
    let path = target_dir().join(CACHE_NAME);
    if path.exists() {
        return path;
    }
    std::fs::create_dir_all(target_dir()).unwrap();
    let building = path.with_extension("building");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", building.display()));
    }
    eprintln!("building {} (once; it is reused by later runs)...", path.display());
    let started = Instant::now();
    let store = SqliteStore::open(&building, PER_GROUP as u32).unwrap();
    let now = Timestamp::now();
    // Occurrence k of every group in one pass, oldest pass first, in batches of 10,000.
    for k in 0..PER_GROUP {
        let mut g = 0;
        while g < GROUPS {
            let batch: Vec<Grouped> = (g..(g + 10_000).min(GROUPS))
                .map(|g| Grouped {
                    hash: format!("{:040x}", g * 2_654_435_761),
                    occurrence: occurrence(g, k, now),
                    times: 1,
                    count_only: false,
                })
                .collect();
            store.write(&batch).unwrap();
            g += 10_000;
        }
    }
    drop(store);
    let conn = Connection::open(&building).unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;").unwrap();
    drop(conn);
    std::fs::rename(&building, &path).unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", building.display()));
    }
    eprintln!("built in {:.0?}", started.elapsed());
    path
}

/// The group of the facets case: 100 stored occurrences, 20 variables each.
const FACET_GROUP: &str = "facets-100-occurrences-20-variables";
const FACET_OCCURRENCES: u64 = 100;

/// Adds the facets case's group to the file, once: a store that keeps 100
/// occurrences per group writes it (the rest of the file keeps 10).
fn facet_group(path: &std::path::Path) {
    let store = SqliteStore::open(path, FACET_OCCURRENCES as u32).unwrap();
    if store.group(FACET_GROUP).unwrap().is_some() {
        return;
    }
    let now = Timestamp::now();
    let batch: Vec<Grouped> = (0..FACET_OCCURRENCES)
        .map(|k| {
            let mut o = occurrence(7, k, now);
            o.id = format!("00000000-0000-4000-9000-{k:012}");
            let var = |name: String, value| Variable { name, value };
            // 10 arguments and 8 locals: some the same in every occurrence,
            // some with a few values, some different each time; 2 extras.
            o.frames = vec![FrameSnapshot {
                function: "app::orders::charge".into(),
                file: Some("src/orders.rs".into()),
                line: Some(120),
                function_line: None,
                args: (0..10).map(|i| var(format!("arg{i}"), json!(k % (1 + i * 11)))).collect(),
                locals: (0..8).map(|i| var(format!("local{i}"), json!({"k": k % (2 + i), "name": "order"}))).collect(),
            }];
            o.extra = vec![var("attempt".into(), json!(k % 3)), var("tenant".into(), json!("acme"))];
            Grouped { hash: FACET_GROUP.into(), occurrence: o, times: 1, count_only: false }
        })
        .collect();
    store.write(&batch).unwrap();
}

const SUMMARY: &str = "hash, exception_name, message, method, path, host, count, created_on, last_seen, status, \
                       notification_sent, ticket_raised";

/// The bare baseline: the same rows, read into plain tuples, nothing rendered.
fn bare_select(conn: &Connection, sql: &str, params: &[&dyn rusqlite::ToSql]) -> usize {
    let mut stmt = conn.prepare_cached(sql).unwrap();
    let mut rows = stmt.query(params).unwrap();
    let mut n = 0;
    while let Some(r) = rows.next().unwrap() {
        let cols = r.as_ref().column_count();
        for i in 0..cols {
            std::hint::black_box(r.get_ref(i).unwrap());
        }
        n += 1;
    }
    n
}

fn page_html(ui: &ErrorTrackerUi, target: &str) -> usize {
    let res = ui.handle(&UiRequest::new("GET", target));
    assert_eq!(res.status, 200, "{target}");
    res.body.len()
}

/// A bench case: its name, the UI's request target, and the baseline SELECT with its parameters.
type Case = (&'static str, String, String, Vec<Box<dyn rusqlite::ToSql>>);

fn bench_pages(c: &mut Criterion, ui: &ErrorTrackerUi, conn: &Connection, hash: &str, event_id: &str) {
    let last_page = GROUPS.div_ceil(u64::from(PAGE_SIZE));
    let deep_offset = ((last_page / 2) - 1) * u64::from(PAGE_SIZE);
    let cases: Vec<Case> = vec![
        (
            "list_first_page",
            "/dev/error/".into(),
            format!("SELECT {SUMMARY} FROM exceptions ORDER BY last_seen DESC, hash LIMIT 10"),
            vec![],
        ),
        (
            "list_middle_page",
            format!("/dev/error/?page={}", last_page / 2),
            format!("SELECT {SUMMARY} FROM exceptions ORDER BY last_seen DESC, hash LIMIT 10 OFFSET ?1"),
            vec![Box::new(deep_offset as i64)],
        ),
        (
            "list_last_page",
            format!("/dev/error/?page={last_page}"),
            format!("SELECT {SUMMARY} FROM exceptions ORDER BY last_seen DESC, hash LIMIT 10 OFFSET ?1"),
            vec![Box::new(((last_page - 1) * 10) as i64)],
        ),
        (
            "list_search",
            "/dev/error/?q=module42%3A%3AError".into(),
            format!(
                "SELECT {SUMMARY} FROM exceptions WHERE exception_name LIKE ?1 OR message LIKE ?1 OR path LIKE ?1 \
                 ORDER BY last_seen DESC, hash LIMIT 10"
            ),
            vec![Box::new("%module42::Error%")],
        ),
        (
            "list_search_page_20",
            "/dev/error/?q=failed&page=20".into(),
            format!(
                "SELECT {SUMMARY} FROM exceptions WHERE exception_name LIKE ?1 OR message LIKE ?1 OR path LIKE ?1 \
                 ORDER BY last_seen DESC, hash LIMIT 10 OFFSET 190"
            ),
            vec![Box::new("%failed%")],
        ),
        (
            "list_status_filter",
            "/dev/error/?status=unresolved&page=3".into(),
            format!(
                "SELECT {SUMMARY} FROM exceptions WHERE status = 'unresolved' \
                 ORDER BY last_seen DESC, hash LIMIT 10 OFFSET 20"
            ),
            vec![],
        ),
        (
            "list_sort_by_count",
            "/dev/error/?sort=count&page=3".into(),
            format!("SELECT {SUMMARY} FROM exceptions ORDER BY count DESC, hash LIMIT 10 OFFSET 20"),
            vec![],
        ),
        (
            "list_host_filter",
            "/dev/error/?host=web-3&sort=first_seen".into(),
            format!("SELECT {SUMMARY} FROM exceptions WHERE host = 'web-3' ORDER BY created_on DESC, hash LIMIT 10"),
            vec![],
        ),
        (
            "list_release_filter",
            "/dev/error/?release=1.0.0".into(),
            format!(
                "SELECT {SUMMARY} FROM exceptions WHERE EXISTS (SELECT 1 FROM occurrences o \
                 WHERE o.release = '1.0.0' AND o.hash = exceptions.hash) ORDER BY last_seen DESC, hash LIMIT 10"
            ),
            vec![],
        ),
        (
            "detail_page",
            format!("/dev/error/group/{hash}"),
            "SELECT e.*, o.* FROM exceptions e LEFT JOIN \
             (SELECT occurrences.*, backtraces.backtrace FROM occurrences JOIN backtraces USING (hash, backtrace_key) \
              WHERE hash = ?1 ORDER BY id DESC LIMIT 10) o ON o.hash = e.hash \
             WHERE e.hash = ?1"
                .into(),
            vec![Box::new(hash.to_owned())],
        ),
        (
            "occurrence_page",
            format!("/dev/error/group/{hash}/occurrence/{event_id}"),
            "SELECT e.*, o.*, b.backtrace FROM exceptions e JOIN occurrences o USING (hash) \
             JOIN backtraces b USING (hash, backtrace_key) WHERE e.hash = ?1 AND o.event_id = ?2"
                .into(),
            vec![Box::new(hash.to_owned()), Box::new(event_id.to_owned())],
        ),
        (
            "facets",
            format!("/dev/error/api/groups/{FACET_GROUP}/facets"),
            "SELECT o.*, b.backtrace FROM occurrences o JOIN backtraces b USING (hash, backtrace_key) \
             WHERE o.hash = ?1 ORDER BY o.id DESC LIMIT 500"
                .into(),
            vec![Box::new(FACET_GROUP)],
        ),
        (
            "detail_page_with_facets",
            format!("/dev/error/group/{FACET_GROUP}"),
            "SELECT e.*, o.*, b.backtrace FROM exceptions e JOIN occurrences o USING (hash) \
             JOIN backtraces b USING (hash, backtrace_key) WHERE e.hash = ?1 ORDER BY o.id DESC LIMIT 500"
                .into(),
            vec![Box::new(FACET_GROUP)],
        ),
    ];
    for (name, target, sql, params) in &cases {
        let mut group = c.benchmark_group(*name);
        let p: Vec<&dyn rusqlite::ToSql> = params.iter().map(|b| b.as_ref()).collect();
        assert!(bare_select(conn, sql, &p) > 0, "{name}: the baseline selects rows");
        group.bench_function(BenchmarkId::new("bare_select", name), |b| b.iter(|| bare_select(conn, sql, &p)));
        group.bench_function(BenchmarkId::new("ui_page", name), |b| b.iter(|| page_html(ui, target)));
        group.finish();
    }
}

/// A keep-alive HTTP/1.1 client: one request, the response read by its Content-Length.
fn get(stream: &mut BufReader<TcpStream>, addr: SocketAddr, target: &str) -> Result<u16, String> {
    write!(stream.get_mut(), "GET {target} HTTP/1.1\r\nHost: {addr}\r\n\r\n").map_err(|e| e.to_string())?;
    let mut line = String::new();
    stream.read_line(&mut line).map_err(|e| e.to_string())?;
    let status: u16 = line.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or(format!("bad status line {line:?}"))?;
    let mut length = 0usize;
    loop {
        line.clear();
        stream.read_line(&mut line).map_err(|e| e.to_string())?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(v) = line.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("content-length")).map(|(_, v)| v)
        {
            length = v.trim().parse().map_err(|_| "bad content-length".to_string())?;
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).map_err(|e| e.to_string())?;
    Ok(status)
}

struct LoadResult {
    requests: usize,
    errors: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
    elapsed: Duration,
}

/// 64 connections, each sending `per_connection` requests from `targets` in turn.
fn load(addr: SocketAddr, targets: Arc<Vec<String>>, per_connection: usize) -> LoadResult {
    let started = Instant::now();
    let threads: Vec<_> = (0..64)
        .map(|t| {
            let targets = targets.clone();
            std::thread::spawn(move || {
                let mut latencies = Vec::with_capacity(per_connection);
                let mut errors = 0;
                let mut stream = BufReader::new(TcpStream::connect(addr).unwrap());
                stream.get_ref().set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                for i in 0..per_connection {
                    let target = &targets[(t * 7 + i) % targets.len()];
                    let t0 = Instant::now();
                    match get(&mut stream, addr, target) {
                        Ok(200) => {}
                        Ok(_) | Err(_) => {
                            errors += 1;
                            stream = BufReader::new(TcpStream::connect(addr).unwrap());
                        }
                    }
                    latencies.push(t0.elapsed());
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in threads {
        let (l, e) = t.join().unwrap();
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    all.sort();
    let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    LoadResult { requests: all.len(), errors, p50: at(0.50), p99: at(0.99), max: *all.last().unwrap(), elapsed }
}

fn run_load(ui: ErrorTrackerUi, hashes: &[String]) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let _ = error_tracker_ui::serve(listener, ui).await;
    });
    let mut pages: Vec<String> = Vec::new();
    for (i, h) in hashes.iter().enumerate() {
        pages.push(format!("/dev/error/group/{h}"));
        pages.push(format!("/dev/error/?page={}", 1 + i * 997 % 10_000));
        if i % 4 == 0 {
            pages.push(format!("/dev/error/?q=module{}%3A%3AError", i % 97));
        }
    }
    let floor = load(addr, Arc::new(vec!["/dev/error/static/style.css".to_owned()]), 200);
    let pages = load(addr, Arc::new(pages), 60);
    for (what, r) in [("static stylesheet (floor)", &floor), ("list/detail/search pages", &pages)] {
        println!(
            "ui/load_64_connections {what}: {} requests in {:.2?}, {} errors, p50 {:.2?}, p99 {:.2?}, max {:.2?}",
            r.requests, r.elapsed, r.errors, r.p50, r.p99, r.max
        );
    }
    println!("ui/load_64_connections p99 ratio pages/floor: {:.1}", pages.p99.as_secs_f64() / floor.p99.as_secs_f64());
    rt.shutdown_timeout(Duration::from_secs(1));
}

fn main() {
    let path = database();
    facet_group(&path);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path, PER_GROUP as u32).unwrap());
    let ui = ErrorTrackerUi::new(store).permission(AllowAll).page_size(PAGE_SIZE);
    let conn = Connection::open(&path).unwrap();
    let hashes: Vec<String> = {
        let mut stmt = conn.prepare("SELECT hash FROM exceptions ORDER BY hash LIMIT 200 OFFSET 5000").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    };
    let mut c = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let event_id: String = conn
        .query_row("SELECT event_id FROM occurrences WHERE hash = ?1 ORDER BY id LIMIT 1 OFFSET 4", [&hashes[0]], |r| {
            r.get(0)
        })
        .unwrap();
    bench_pages(&mut c, &ui, &conn, &hashes[0], &event_id);
    c.final_summary();
    // `cargo bench --bench ui -- list_search` runs only the matching criterion
    // groups; the load runs with no filter, or with the filter `load`.
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    if std::env::args().any(|a| a == "--list" || a == "--test") || filters.iter().any(|f| f != "load") {
        return;
    }
    run_load(ui, &hashes);
}
