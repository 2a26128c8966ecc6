//! A fleet of processes writing into one database at once: the counts add
//! up exactly. Each process is this test binary run again as a child that
//! calls `init` and `record_exception!` like an application would.

use std::process::{Command, Output};
use std::time::Duration;

use error_tracker::{Config, GroupQuery, PageRequest, SqliteStore, StoreQuery};

mod pg_schema;

/// Set in a child: the database it writes to.
const CHILD_DB: &str = "ERROR_TRACKER_FLEET_CHILD_DB";
/// How many occurrences each child records.
const PER_CHILD: u64 = 25_000;

#[derive(Debug)]
struct Timeout {
    after_ms: u64,
}

impl std::fmt::Display for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "timed out after {} ms", self.after_ms)
    }
}

impl std::error::Error for Timeout {}

/// The body of a child process; a no-op in a normal test run.
#[test]
fn fleet_child() {
    let Ok(db) = std::env::var(CHILD_DB) else { return };
    let _guard = error_tracker::init(Config::default().database(&db)).expect("init the child's tracker");
    for i in 0..PER_CHILD {
        // Three groups, shared by every child, so that the fleet fights
        // over the same rows.
        match i % 3 {
            0 => {
                let e = "x".parse::<u32>().unwrap_err();
                error_tracker::record_exception!(e, "i" => i);
            }
            1 => {
                let e = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, format!("attempt {i}"));
                error_tracker::record_exception!(e);
            }
            _ => {
                error_tracker::record_exception!(Timeout { after_ms: i });
            }
        }
    }
    assert!(error_tracker::flush(Duration::from_secs(120)), "the child's writer did not flush");
}

/// Runs `n` children on `db` at once and waits for all of them.
fn run_fleet(n: usize, db: &str) {
    let exe = std::env::current_exe().expect("current exe");
    let children: Vec<_> = (0..n)
        .map(|_| {
            Command::new(&exe)
                .args(["fleet_child", "--exact", "--nocapture", "--test-threads=1"])
                .env(CHILD_DB, db)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn a child")
        })
        .collect();
    for child in children {
        let Output { status, stdout, stderr } = child.wait_with_output().expect("wait for a child");
        let (stdout, stderr) = (String::from_utf8_lossy(&stdout), String::from_utf8_lossy(&stderr));
        assert!(status.success(), "a child failed: {status}\n{stdout}\n{stderr}");
        // The writer reports failed writes on stderr: there must be none.
        assert!(!stderr.contains("error-tracker:"), "a child's writer reported errors:\n{stderr}");
    }
}

#[test]
fn two_processes_share_one_sqlite_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("fleet.sqlite");
    // Create the schema first: the children then only write.
    drop(SqliteStore::open(&path, 100).expect("create the database"));
    run_fleet(2, path.to_str().expect("utf-8 path"));

    let store = SqliteStore::open(&path, 100).expect("open the database");
    let groups = store.list_groups(&GroupQuery { page: PageRequest::first(100), ..Default::default() }).unwrap();
    assert_eq!(groups.total, 3, "{:?}", groups.items);
    assert_eq!(groups.items.iter().map(|g| g.count).sum::<u64>(), 2 * PER_CHILD);
    for g in &groups.items {
        let since = g.created_on.saturating_sub(Duration::from_secs(3600));
        assert_eq!(store.hourly_counts(&g.hash, since).unwrap().iter().sum::<u64>(), g.count);
        assert!(store.occurrences(&g.hash, PageRequest::first(1)).unwrap().total <= 100);
    }
}

#[cfg(feature = "postgres")]
#[test]
#[cfg_attr(not(test_pg), ignore = "needs PostgreSQL: set ERROR_TRACKER_TEST_PG (see the README)")]
fn four_processes_share_one_postgres_database() {
    let Some(server) = pg_schema::server("four_processes_share_one_postgres_database") else { return };
    let schema = pg_schema::TestSchema::create(&server, "fleet");
    run_fleet(4, &schema.url);

    let mut db = schema.client();
    let row = db
        .query_one(
            "SELECT count(*), sum(count)::bigint,
                    (SELECT sum(count)::bigint FROM group_hours),
                    (SELECT max(n) FROM (SELECT count(*) AS n FROM occurrences GROUP BY hash) per_group)
             FROM exceptions",
            &[],
        )
        .expect("read the totals");
    let (groups, total, hours, most_kept): (i64, i64, i64, i64) = (row.get(0), row.get(1), row.get(2), row.get(3));
    assert_eq!(groups, 3);
    assert_eq!(total, 4 * PER_CHILD as i64, "sum(count) is exact");
    assert_eq!(hours, total, "the hourly counts add up too");
    assert!(most_kept <= 100, "occurrences are capped per group: {most_kept}");
}

#[cfg(not(feature = "postgres"))]
#[test]
#[ignore = "needs the postgres feature"]
fn four_processes_share_one_postgres_database() {}
