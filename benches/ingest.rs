//! Sustained ingest: batches of occurrences spread over 500 distinct groups,
//! each with a 20-frame backtrace and about 1 KB of request data, written
//! with `Store::write` the way the writer thread does. Each store runs next
//! to raw inserts of the same rows into the same database in the same run,
//! the baseline the ratio is taken against: every occurrence in full, its
//! backtrace JSON included, as a naive schema keeps it (the stores keep each
//! distinct backtrace of a group once, in `backtraces`).
//!
//! ```sh
//! cargo bench --bench ingest                      # SQLite only
//! ERROR_TRACKER_TEST_PG=postgres://postgres@127.0.0.1:5432/test \
//!     cargo bench --bench ingest --features postgres
//! ```
//!
//! Besides criterion's figures it prints a summary in occurrences/s.
//! `ingest_sqlite/default_masking_writer_rules` times the writer's masking
//! of the same batches (value rules on every stored string), which runs
//! before `Store::write` and is not part of the store's figure.

use std::cell::RefCell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use error_tracker::{
    DefaultMasking, Grouped, Masking, Occurrence, RequestContext, SqliteStore, StackFrame, StoreWrite, Timestamp,
    Value, Variable,
};

/// A JSON object, built as an application builds one.
fn object<const N: usize>(members: [(&str, Value); N]) -> Value {
    Value::Object(members.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// Distinct groups in the stream.
const GROUPS: usize = 500;
/// Occurrences per `Store::write`: the writer's largest batch.
const BATCH: usize = 4096;
/// Occurrences kept per group, as by default.
const CAP: u32 = 100;

/// The request context of one occurrence: about 1 KB of JSON.
fn request(i: usize) -> RequestContext {
    let filler = "x".repeat(420);
    RequestContext {
        method: "POST".into(),
        url: format!("https://shop.example.test/api/v1/orders/{i}?expand=items&currency=EUR"),
        path: format!("/api/v1/orders/{i}"),
        route: Some("/api/v1/orders/{id}".into()),
        headers: vec![
            ("host".into(), "shop.example.test".into()),
            ("user-agent".into(), "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0".into()),
            ("accept".into(), "application/json".into()),
            ("content-type".into(), "application/json".into()),
            ("authorization".into(), "**************".into()),
            ("x-request-id".into(), format!("req-{i:016x}")),
        ],
        query: vec![("expand".into(), "items".into()), ("currency".into(), "EUR".into())],
        body: Some(object([
            ("customer", object([("id", i.into()), ("email", "someone@example.test".into()), ("note", filler.into())])),
            (
                "items",
                Value::Array(vec![
                    object([("sku", "A-1".into()), ("qty", 2.into()), ("price", 9.99.into())]),
                    object([("sku", "B-7".into()), ("qty", 1.into()), ("price", 24.5.into())]),
                ]),
            ),
        ])),
        client_addr: Some("203.0.113.7:52113".into()),
        custom: vec![Variable { name: "tenant".into(), value: "acme".into() }],
    }
}

/// A 20-frame backtrace, as symbolized by the writer.
fn backtrace(group: usize) -> Vec<StackFrame> {
    (0..20)
        .map(|d| {
            let in_app = d < 8;
            StackFrame {
                function: if in_app {
                    format!("shop::orders::handler_{group}::step_{d}")
                } else {
                    format!("tokio::runtime::task::harness::Harness<T,S>::poll_inner_{d}")
                },
                file: Some(if in_app {
                    format!("src/orders/handler_{group}.rs")
                } else {
                    format!("/cargo/registry/src/tokio-1.40.0/src/runtime/task/harness_{d}.rs")
                }),
                line: Some(40 + d as u32),
                in_app,
            }
        })
        .collect()
}

/// One batch: `BATCH` occurrences over `GROUPS` groups, in a shuffled order.
fn batch(seq: &mut u64) -> Vec<Grouped> {
    (0..BATCH)
        .map(|k| {
            *seq += 1;
            let group = (k * 7919 + *seq as usize) % GROUPS;
            Grouped {
                hash: format!("{:040x}", group as u128 * 0x9E37_79B9_7F4A_7C15),
                times: 1,
                count_only: false,
                occurrence: Occurrence {
                    id: format!("00000000-0000-4000-8000-{:012x}", *seq),
                    exception_name: format!("shop::orders::OrderError{}", group % 17),
                    message: format!("order {seq} failed: upstream returned 503 after 3 attempts"),
                    sources: vec!["connection reset by peer".into()],
                    backtrace: backtrace(group),
                    thread: Some("tokio-runtime-worker".into()),
                    timestamp: Timestamp::now(),
                    host: "web-3".into(),
                    pid: 4242,
                    release: Some("2.14.0".into()),
                    panic: None,
                    frames: vec![],
                    request: Some(request(*seq as usize)),
                    extra: vec![Variable { name: "attempt".into(), value: 3.into() }],
                    site: None,
                    breadcrumbs: Vec::new(),
                    spans: Vec::new(),
                    error_backtrace: Vec::new(),
                },
            }
        })
        .collect()
}

/// The serialized columns of `occurrences` for one occurrence: the rows the
/// raw baselines insert, so they pay the same serialization.
fn row(g: &Grouped) -> [String; 6] {
    let o = &g.occurrence;
    [
        o.timestamp.to_string(),
        serde_json::to_string(&o.sources).unwrap(),
        serde_json::to_string(&o.request).unwrap(),
        serde_json::to_string(&o.frames).unwrap(),
        serde_json::to_string(&o.backtrace).unwrap(),
        serde_json::to_string(&o.extra).unwrap(),
    ]
}

thread_local! {
    /// Occurrences written and time spent per benchmark, for the summary.
    static TOTALS: RefCell<Vec<(&'static str, u64, Duration)>> = const { RefCell::new(Vec::new()) };
}

fn tally(name: &'static str, n: u64, t: Duration) {
    TOTALS.with(|v| {
        let mut v = v.borrow_mut();
        match v.iter_mut().find(|(k, ..)| *k == name) {
            Some(e) => {
                e.1 += n;
                e.2 += t;
            }
            None => v.push((name, n, t)),
        }
    });
}

/// Times `iters` writes of fresh batches; building the batches is not timed.
fn timed_batches(name: &'static str, iters: u64, mut write: impl FnMut(&[Grouped])) -> Duration {
    let mut seq = 0;
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let b = batch(&mut seq);
        let start = Instant::now();
        write(black_box(&b));
        total += start.elapsed();
    }
    tally(name, iters * BATCH as u64, total);
    total
}

fn sqlite(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut g = c.benchmark_group("ingest_sqlite");
    g.throughput(Throughput::Elements(BATCH as u64)).sample_size(10).measurement_time(Duration::from_secs(10));

    let store = SqliteStore::open(dir.path().join("store.sqlite"), CAP).expect("open");
    // Warm the groups up, as a long-running writer has them.
    timed_batches("warm-up", 2, |b| drop(store.write(b).expect("write")));
    g.bench_function("sqlite_store_write", |bench| {
        bench.iter_custom(|iters| timed_batches("SqliteStore::write", iters, |b| drop(store.write(b).expect("write"))))
    });

    // The baseline: the same rows, serialized the same way, inserted with
    // one prepared statement in one transaction per batch, into a table
    // with the same pragmas and the columns of a naive schema (the backtrace
    // JSON in every row), and no grouping at all.
    let mut raw = rusqlite::Connection::open(dir.path().join("raw.sqlite")).expect("open raw");
    raw.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
         CREATE TABLE occurrences (id INTEGER PRIMARY KEY, event_id TEXT NOT NULL, hash TEXT NOT NULL,
             timestamp TEXT NOT NULL, times INTEGER NOT NULL, exception_name TEXT NOT NULL, message TEXT NOT NULL,
             sources TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL, thread TEXT, release TEXT,
             panic TEXT, request_data TEXT, frames TEXT NOT NULL, backtrace TEXT NOT NULL, extra TEXT NOT NULL);",
    )
    .expect("raw schema");
    g.bench_function("raw_rusqlite_insert", |bench| {
        bench.iter_custom(|iters| {
            let t = timed_batches("raw rusqlite INSERT", iters, |b| {
                let tx = raw.transaction().expect("tx");
                {
                    let mut stmt = tx
                        .prepare_cached(
                            "INSERT INTO occurrences (event_id, hash, timestamp, times, exception_name, message,
                             sources, host, pid, thread, release, panic, request_data, frames, backtrace, extra)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, NULL, ?12, ?13, ?14, ?15)",
                        )
                        .expect("prepare");
                    for g in b {
                        let o = &g.occurrence;
                        let [ts, sources, request, frames, bt, extra] = row(g);
                        stmt.execute(rusqlite::params![
                            o.id,
                            g.hash,
                            ts,
                            g.times as i64,
                            o.exception_name,
                            o.message,
                            sources,
                            o.host,
                            o.pid,
                            o.thread,
                            o.release,
                            request,
                            frames,
                            bt,
                            extra
                        ])
                        .expect("insert");
                    }
                }
                tx.commit().expect("commit");
            });
            // Keep the table as small as the capped store's (untimed).
            raw.execute("DELETE FROM occurrences", []).expect("clear");
            t
        })
    });
    g.finish();
}

/// Every string of a JSON value through the value rules, as the writer does.
fn mask_json(m: &DefaultMasking, v: &Value) -> usize {
    match v {
        Value::String(s) => m.mask_text(s).len(),
        Value::Array(items) => items.iter().map(|i| mask_json(m, i)).sum(),
        Value::Object(map) => map.iter().map(|(k, i)| usize::from(m.is_secret_key(k)) + mask_json(m, i)).sum(),
        _ => 0,
    }
}

/// The writer's masking of one batch (the value rules on every string it
/// stores, the key rules on every name), which runs before `Store::write`:
/// the writer-side cost of the masking rules, next to the store's.
fn masking(c: &mut Criterion) {
    let mut g = c.benchmark_group("ingest_sqlite");
    g.throughput(Throughput::Elements(BATCH as u64)).sample_size(10).measurement_time(Duration::from_secs(10));
    let m = DefaultMasking::default();
    g.bench_function("default_masking_writer_rules", |bench| {
        bench.iter_custom(|iters| {
            timed_batches("DefaultMasking (writer)", iters, |b| {
                let mut n = 0;
                for g in b {
                    let o = &g.occurrence;
                    n += m.mask_text(&o.message).len();
                    n += o.sources.iter().map(|s| m.mask_text(s).len()).sum::<usize>();
                    for v in o.extra.iter().chain(o.frames.iter().flat_map(|f| f.args.iter().chain(&f.locals))) {
                        n += usize::from(m.is_secret_key(&v.name)) + mask_json(&m, &v.value);
                    }
                    if let Some(r) = &o.request {
                        n += m.mask_text(&r.url).len() + m.mask_text(&r.path).len();
                        for (k, v) in r.headers.iter().chain(&r.query) {
                            n += usize::from(m.is_secret_key(k)) + m.mask_text(v).len();
                        }
                        n += r.body.as_ref().map_or(0, |b| mask_json(&m, b));
                        n += r.custom.iter().map(|v| mask_json(&m, &v.value)).sum::<usize>();
                    }
                }
                black_box(n);
            })
        })
    });
    g.finish();
}

#[cfg(feature = "postgres")]
fn postgres(c: &mut Criterion) {
    let Ok(server) = std::env::var("ERROR_TRACKER_TEST_PG") else {
        println!("skipped ingest_postgres: set ERROR_TRACKER_TEST_PG to a PostgreSQL URL to run it");
        return;
    };
    let schema = format!("et_bench_ingest_{}", std::process::id());
    let mut admin = postgres::Client::connect(&server, postgres::NoTls).expect("connect");
    admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).expect("schema");
    let sep = if server.contains('?') { '&' } else { '?' };
    let url = format!("{server}{sep}options=-c%20search_path%3D{schema}");

    let mut g = c.benchmark_group("ingest_postgres");
    g.throughput(Throughput::Elements(BATCH as u64)).sample_size(10).measurement_time(Duration::from_secs(10));
    let store = error_tracker::PostgresStore::open(&url, CAP).expect("open");
    timed_batches("warm-up", 2, |b| drop(store.write(b).expect("write")));
    g.bench_function("postgres_store_write", |bench| {
        bench
            .iter_custom(|iters| timed_batches("PostgresStore::write", iters, |b| drop(store.write(b).expect("write"))))
    });

    // The baseline: the same rows inserted with one multi-row statement
    // (unnest of arrays, as the store does) per batch, no grouping.
    let mut raw = postgres::Client::connect(&url, postgres::NoTls).expect("connect raw");
    raw.batch_execute(
        "CREATE TABLE raw_occurrences (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event_id TEXT NOT NULL,
             hash TEXT NOT NULL, timestamp TEXT NOT NULL, times BIGINT NOT NULL, exception_name TEXT NOT NULL,
             message TEXT NOT NULL, sources TEXT NOT NULL, host TEXT NOT NULL, pid BIGINT NOT NULL, thread TEXT,
             release TEXT, request_data TEXT, frames TEXT NOT NULL, backtrace TEXT NOT NULL, extra TEXT NOT NULL)",
    )
    .expect("raw table");
    let insert = raw
        .prepare(
            "INSERT INTO raw_occurrences (event_id, hash, timestamp, times, exception_name, message, sources, host,
                 pid, thread, release, request_data, frames, backtrace, extra)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::text[], $6::text[],
                 $7::text[], $8::text[], $9::int8[], $10::text[], $11::text[], $12::text[], $13::text[],
                 $14::text[], $15::text[])",
        )
        .expect("prepare");
    g.bench_function("raw_postgres_insert", |bench| {
        bench.iter_custom(|iters| {
            let t = timed_batches("raw PostgreSQL INSERT", iters, |b| {
                let mut cols: [Vec<String>; 11] = Default::default();
                let (mut times, mut pids) = (Vec::new(), Vec::new());
                let mut opt: [Vec<Option<String>>; 2] = Default::default();
                for g in b {
                    let o = &g.occurrence;
                    let [ts, sources, request, frames, bt, extra] = row(g);
                    for (col, v) in cols.iter_mut().zip([
                        o.id.clone(),
                        g.hash.clone(),
                        ts,
                        o.exception_name.clone(),
                        o.message.clone(),
                        sources,
                        o.host.clone(),
                        request,
                        frames,
                        bt,
                        extra,
                    ]) {
                        col.push(v);
                    }
                    times.push(g.times as i64);
                    pids.push(i64::from(o.pid));
                    opt[0].push(o.thread.clone());
                    opt[1].push(o.release.clone());
                }
                let mut tx = raw.transaction().expect("tx");
                tx.execute(
                    &insert,
                    &[
                        &cols[0], &cols[1], &cols[2], &times, &cols[3], &cols[4], &cols[5], &cols[6], &pids, &opt[0],
                        &opt[1], &cols[7], &cols[8], &cols[9], &cols[10],
                    ],
                )
                .expect("insert");
                tx.commit().expect("commit");
            });
            raw.batch_execute("TRUNCATE raw_occurrences").expect("clear");
            t
        })
    });
    g.finish();
    drop(store);
    let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
}

#[cfg(not(feature = "postgres"))]
fn postgres(_: &mut Criterion) {
    println!("skipped ingest_postgres: built without the `postgres` feature (cargo bench --features postgres)");
}

fn summary(_: &mut Criterion) {
    let totals = TOTALS.with(|v| v.borrow().clone());
    let rate = |name: &str| {
        totals.iter().find(|(k, ..)| *k == name).map(|(_, n, t)| *n as f64 / t.as_secs_f64().max(f64::EPSILON))
    };
    println!("\ningest summary ({GROUPS} groups, 20-frame backtraces, ~1 KB request data, batches of {BATCH}):");
    for (name, ..) in totals.iter().filter(|(k, ..)| *k != "warm-up") {
        println!("  {name:<24} {:>10.0} occurrences/s", rate(name).unwrap_or(0.0));
    }
    for (store, raw) in
        [("SqliteStore::write", "raw rusqlite INSERT"), ("PostgresStore::write", "raw PostgreSQL INSERT")]
    {
        if let (Some(s), Some(r)) = (rate(store), rate(raw)) {
            println!("  {store} / {raw} = {:.2}", s / r);
        }
    }
}

criterion_group!(benches, sqlite, masking, postgres, summary);
criterion_main!(benches);
