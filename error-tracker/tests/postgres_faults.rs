//! PostgreSQL faults: a server that is down at start gives a clear
//! `InitError`; a server that ends every connection mid-run (as a restart
//! does, here with `pg_terminate_backend`) loses nothing.

#![cfg(feature = "postgres")]

use std::process::Command;
use std::time::Duration;

use error_tracker::{Config, InitError, PostgresStore, StoreError, StoreQuery};

mod pg_schema;

/// Set in the child that runs the reconnect scenario: the schema's name.
const CHILD_SCHEMA: &str = "ERROR_TRACKER_FAULTS_CHILD_SCHEMA";
/// Set in that child: the schema's URL.
const CHILD_URL: &str = "ERROR_TRACKER_FAULTS_CHILD_URL";
/// How many rounds of "end every connection, then record" the child runs.
const ROUNDS: u64 = 5;
/// How many occurrences it records per round.
const PER_ROUND: u64 = 400;

/// A URL on 127.0.0.1 where nothing listens.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("postgres://tracker:s3cret-pw@127.0.0.1:{port}/errors?connect_timeout=5")
}

#[test]
fn postgres_down_at_start_is_a_clear_init_error() {
    let url = closed_port_url();
    let err = error_tracker::init(Config::default().database(&url)).expect_err("init must fail");
    let InitError::Store(StoreError::Open { location, reason }) = &err else {
        panic!("expected InitError::Store(StoreError::Open), got {err:?}");
    };
    assert!(!location.contains("s3cret-pw"), "the password leaked into {location}");
    assert!(location.starts_with("postgres://tracker:****@127.0.0.1:"), "{location}");
    assert!(!reason.is_empty());
    let text = err.to_string();
    assert!(!text.contains("s3cret-pw"), "{text}");
    assert!(text.contains("127.0.0.1") && text.contains("cannot open the store"), "{text}");

    // The tracker stays uninstalled: calls are still no-ops.
    assert!(error_tracker::record_exception!("not an error").is_nil());
    assert!(error_tracker::store().is_none());
}

#[test]
#[cfg_attr(not(test_pg), ignore = "needs PostgreSQL: set ERROR_TRACKER_TEST_PG (see the README)")]
fn a_store_whose_server_went_away_returns_errors_then_recovers() {
    let Some(server) = pg_schema::server("a_store_whose_server_went_away_returns_errors_then_recovers") else {
        return;
    };
    let schema = pg_schema::TestSchema::create(&server, "faults_store");
    let store = PostgresStore::open(&schema.url, 100).expect("open");
    assert!(store.list_groups(&Default::default()).unwrap().total == 0);
    // Every pooled connection dies; the next calls connect again.
    assert!(schema.terminate_connections() >= 2);
    assert_eq!(store.list_groups(&Default::default()).unwrap().total, 0);
    assert!(!store.set_status("nope", error_tracker::Status::Resolved).unwrap());
}

/// Ends every connection of the child's tracker between rounds; each round's
/// occurrences are queued while the writer's connection is dead.
#[test]
#[ignore = "a child process of another test, which runs it"]
fn reconnect_child() {
    let (Ok(name), Ok(url)) = (std::env::var(CHILD_SCHEMA), std::env::var(CHILD_URL)) else { return };
    let server = std::env::var("ERROR_TRACKER_TEST_PG").expect("the parent passes the server");
    let _guard = error_tracker::init(Config::default().database(&url)).expect("init");
    let store = error_tracker::store().expect("store");
    let mut admin = postgres::Client::connect(&server, postgres::NoTls).expect("connect");
    for round in 0..ROUNDS {
        let ended: i64 = admin
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                 WHERE application_name = $1 AND pid <> pg_backend_pid()",
                &[&name],
            )
            .expect("terminate")
            .get(0);
        assert!(ended >= 1, "round {round}: no connection to end");
        for i in 0..PER_ROUND {
            let e = std::io::Error::other(format!("round {round} item {i}"));
            error_tracker::record_exception!(e);
        }
        assert!(error_tracker::flush(Duration::from_secs(60)), "round {round}: not flushed");
        // The readers reconnect too.
        let total: u64 = store.list_groups(&Default::default()).expect("list after a restart").items[0].count;
        assert_eq!(total, (round + 1) * PER_ROUND);
    }
}

#[test]
#[cfg_attr(not(test_pg), ignore = "needs PostgreSQL: set ERROR_TRACKER_TEST_PG (see the README)")]
fn the_writer_reconnects_after_the_server_ends_its_connections() {
    let Some(server) = pg_schema::server("the_writer_reconnects_after_the_server_ends_its_connections") else {
        return;
    };
    let schema = pg_schema::TestSchema::create(&server, "faults_writer");
    run_child(
        "reconnect_child",
        &[(CHILD_SCHEMA, &schema.name), (CHILD_URL, &schema.url), ("ERROR_TRACKER_TEST_PG", &server)],
    );

    let mut db = schema.client();
    let row = db.query_one("SELECT count(*), sum(count)::bigint FROM exceptions", &[]).expect("totals");
    let (groups, total): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!(groups, 1);
    assert_eq!(total, (ROUNDS * PER_ROUND) as i64, "nothing was lost");
}

/// A TCP proxy in front of the server that can go down and come back, as a
/// restarted server does: going down ends every connection, and while down
/// a new connection is closed at once. It can also drop a connection just
/// after passing a COMMIT on to the server (the reply never arrives), and
/// make the connections open so far go silent (half-open: nothing comes
/// through either way, the sockets stay open).
struct Proxy {
    port: u16,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    open: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
    /// Set: the next COMMIT seen goes to the server, and its connection is cut.
    drop_commit: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// How many COMMITs were passed on and their connections cut.
    commits_dropped: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Each connection's "silent" switch.
    silent: std::sync::Arc<std::sync::Mutex<Vec<std::sync::Arc<std::sync::atomic::AtomicBool>>>>,
}

/// The simple-protocol message of a COMMIT: 'Q', length 11, "COMMIT\0".
const COMMIT_MESSAGE: &[u8] = b"Q\0\0\0\x0bCOMMIT\0";

impl Proxy {
    fn start(upstream: (String, u16)) -> Proxy {
        use std::io::{Read, Write};
        use std::net::{Shutdown, TcpListener, TcpStream};
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        use std::sync::{Arc, Mutex};
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let up = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let drop_commit = Arc::new(AtomicBool::new(false));
        let commits_dropped = Arc::new(AtomicU64::new(0));
        let silent: Arc<Mutex<Vec<Arc<AtomicBool>>>> = Arc::default();
        let (up2, stop2, open2) = (up.clone(), stop.clone(), open.clone());
        let (drop2, dropped2, silent2) = (drop_commit.clone(), commits_dropped.clone(), silent.clone());
        std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                let client = match listener.accept() {
                    Ok((c, _)) => c,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(2));
                        continue;
                    }
                };
                if !up2.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect((upstream.0.as_str(), upstream.1)) else { continue };
                let _ = client.set_nonblocking(false);
                let quiet = Arc::new(AtomicBool::new(false));
                let cut = Arc::new(AtomicBool::new(false));
                silent2.lock().unwrap().push(quiet.clone());
                let mut open = open2.lock().unwrap();
                open.extend([client.try_clone().expect("clone"), server.try_clone().expect("clone")]);
                // Client to server: watches for the COMMIT to cut after.
                let (mut from, mut to) = (client.try_clone().expect("clone"), server.try_clone().expect("clone"));
                let (quiet1, cut1, drop3, dropped3) = (quiet.clone(), cut.clone(), drop2.clone(), dropped2.clone());
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n) = from.read(&mut buf) {
                        if n == 0 || cut1.load(Ordering::SeqCst) {
                            break;
                        }
                        if quiet1.load(Ordering::SeqCst) {
                            continue; // swallowed: the socket stays open
                        }
                        let chunk = &buf[..n];
                        let commit = chunk.windows(COMMIT_MESSAGE.len()).any(|w| w == COMMIT_MESSAGE);
                        if commit && drop3.swap(false, Ordering::SeqCst) {
                            cut1.store(true, Ordering::SeqCst);
                            let _ = to.write_all(chunk);
                            dropped3.fetch_add(1, Ordering::SeqCst);
                            // The client never hears back.
                            let _ = from.shutdown(Shutdown::Both);
                            break;
                        }
                        if to.write_all(chunk).is_err() {
                            break;
                        }
                    }
                    if !cut1.load(Ordering::SeqCst) {
                        let _ = to.shutdown(Shutdown::Both);
                        let _ = from.shutdown(Shutdown::Both);
                    }
                });
                // Server to client.
                let (mut from, mut to) = (server, client);
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n) = from.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        if quiet.load(Ordering::SeqCst) || cut.load(Ordering::SeqCst) {
                            continue;
                        }
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(Shutdown::Both);
                    let _ = from.shutdown(Shutdown::Both);
                });
            }
        });
        Proxy { port, up, stop, open, drop_commit, commits_dropped, silent }
    }

    /// The server goes away: every connection ends, new ones are refused.
    fn down(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    /// The server is back.
    fn up(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// The next COMMIT reaches the server, and its reply never reaches the client.
    fn drop_after_next_commit(&self) {
        self.drop_commit.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Every connection open now goes silent; new ones work.
    fn silence_open_connections(&self) {
        for s in self.silent.lock().unwrap().iter() {
            s.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// The proxy's URL of the schema `name` of the server `server`.
    fn url(&self, server: &str, name: &str) -> String {
        let config: postgres::Config = server.parse().expect("server URL");
        let user = config.get_user().unwrap_or("postgres");
        let db = config.get_dbname().unwrap_or(user);
        let password = config.get_password().map(|p| format!(":{}", String::from_utf8_lossy(p))).unwrap_or_default();
        format!(
            "postgres://{user}{password}@127.0.0.1:{}/{db}?options=-c%20search_path%3D{name}&application_name={name}",
            self.port
        )
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.down();
    }
}

/// The proxy in front of `server`.
fn proxy_for(server: &str) -> Proxy {
    let config: postgres::Config = server.parse().expect("server URL");
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    Proxy::start((host, port))
}

/// Set in the child that runs the lost-commit and half-open scenarios: the schema's name.
const LOST_CHILD_SCHEMA: &str = "ERROR_TRACKER_LOST_CHILD_SCHEMA";
/// How many rounds of a lost COMMIT reply.
const LOST_ROUNDS: u64 = 3;

/// Records through a proxy that cuts connections right after passing their
/// COMMIT on (the batch is stored, the writer hears nothing), then makes
/// the writer's connection go silent while open.
#[test]
#[ignore = "a child process of another test, which runs it"]
fn lost_commit_child() {
    let Ok(name) = std::env::var(LOST_CHILD_SCHEMA) else { return };
    let server = std::env::var("ERROR_TRACKER_TEST_PG").expect("the parent passes the server");
    let proxy = proxy_for(&server);
    let _guard = error_tracker::init(Config::default().database(proxy.url(&server, &name))).expect("init");
    let record = |round: &str| {
        for i in 0..PER_ROUND {
            error_tracker::record_exception!(std::io::Error::other(format!("{round} {i}")));
        }
    };
    record("before");
    assert!(error_tracker::flush(Duration::from_secs(60)), "not flushed before the faults");
    for round in 0..LOST_ROUNDS {
        proxy.drop_after_next_commit();
        record("lost commit");
        assert!(error_tracker::flush(Duration::from_secs(60)), "round {round}: not flushed after a lost commit");
    }
    let dropped = proxy.commits_dropped.load(std::sync::atomic::Ordering::SeqCst);

    // Half-open: the writer's connection (and the reader's, pooled by this
    // read) stays open and nothing comes through.
    let store = error_tracker::store().expect("store");
    store.list_groups(&Default::default()).expect("a read before the fault");
    proxy.silence_open_connections();
    let started = std::time::Instant::now();
    record("silent");
    assert!(error_tracker::flush(Duration::from_secs(90)), "stuck on a silent connection");
    let silent_for = started.elapsed();
    let stats = error_tracker::writer_stats().unwrap();
    // The UI's read on the silent pooled connection gives up, the next connects again.
    let started = std::time::Instant::now();
    let first = store.list_groups(&Default::default());
    let read_for = started.elapsed();
    let e = first.expect_err("the pooled reader is silent");
    assert_eq!(e.kind(), error_tracker::StoreErrorKind::Transient, "{e}");
    let total = store.list_groups(&Default::default()).expect("a read on a new connection").items[0].count;
    assert_eq!(total, (LOST_ROUNDS + 2) * PER_ROUND);
    println!(
        "DROPPED {dropped} SILENT_SECS {} FAILURES {} READ_GAVE_UP_SECS {}",
        silent_for.as_secs(),
        stats.write_failures,
        read_for.as_secs()
    );
}

#[test]
#[cfg_attr(not(test_pg), ignore = "needs PostgreSQL: set ERROR_TRACKER_TEST_PG (see the README)")]
fn a_lost_commit_reply_counts_once_and_a_silent_connection_is_left_behind() {
    let Some(server) = pg_schema::server("a_lost_commit_reply_counts_once_and_a_silent_connection_is_left_behind")
    else {
        return;
    };
    let schema = pg_schema::TestSchema::create(&server, "faults_lost");
    let (stdout, _) =
        run_child("lost_commit_child", &[(LOST_CHILD_SCHEMA, &schema.name), ("ERROR_TRACKER_TEST_PG", &server)]);
    let figures = stdout.lines().find(|l| l.contains("DROPPED")).expect("the child's figures").to_owned();
    println!("{figures}");
    assert!(figures.contains(&format!("DROPPED {LOST_ROUNDS} ")), "every round lost a COMMIT reply: {figures}");
    let row = schema.client().query_one("SELECT sum(count)::bigint FROM exceptions", &[]).expect("total");
    assert_eq!(row.get::<_, i64>(0), ((LOST_ROUNDS + 2) * PER_ROUND) as i64, "each batch counted once");
}

/// Set in the child that runs the restart scenario: the schema's name.
const RESTART_CHILD_SCHEMA: &str = "ERROR_TRACKER_RESTART_CHILD_SCHEMA";

/// Records through a proxy that goes down for a while: the writer's writes
/// fail (it says so on stderr and retries), then succeed once it is back.
#[test]
#[ignore = "a child process of another test, which runs it"]
fn restart_child() {
    let Ok(name) = std::env::var(RESTART_CHILD_SCHEMA) else { return };
    let server = std::env::var("ERROR_TRACKER_TEST_PG").expect("the parent passes the server");
    let proxy = proxy_for(&server);
    let url = proxy.url(&server, &name);

    let _guard = error_tracker::init(Config::default().database(&url)).expect("init");
    let record = |round: &str| {
        for i in 0..PER_ROUND {
            error_tracker::record_exception!(std::io::Error::other(format!("{round} {i}")));
        }
    };
    record("before");
    assert!(error_tracker::flush(Duration::from_secs(60)), "not flushed before the restart");

    proxy.down();
    record("while down");
    // Nothing can be stored while the server is away.
    assert!(!error_tracker::flush(Duration::from_millis(500)), "stored while the server was down");
    proxy.up();
    assert!(error_tracker::flush(Duration::from_secs(60)), "not flushed after the restart");
    let count = error_tracker::store().expect("store").list_groups(&Default::default()).expect("list").items[0].count;
    assert_eq!(count, 2 * PER_ROUND);
}

#[test]
#[cfg_attr(not(test_pg), ignore = "needs PostgreSQL: set ERROR_TRACKER_TEST_PG (see the README)")]
fn the_writer_retries_while_the_server_is_down_and_loses_nothing() {
    let Some(server) = pg_schema::server("the_writer_retries_while_the_server_is_down_and_loses_nothing") else {
        return;
    };
    let schema = pg_schema::TestSchema::create(&server, "faults_restart");
    let (_, stderr) =
        run_child("restart_child", &[(RESTART_CHILD_SCHEMA, &schema.name), ("ERROR_TRACKER_TEST_PG", &server)]);
    // The failed writes went back to the writer, which said so and retried.
    assert!(stderr.contains("will retry"), "no failed write was reported:\n{stderr}");

    let row = schema.client().query_one("SELECT sum(count)::bigint FROM exceptions", &[]).expect("total");
    assert_eq!(row.get::<_, i64>(0), 2 * PER_ROUND as i64, "nothing was lost");
}

/// Runs the child test `name` of this binary (a no-op without its
/// environment) in its own process with `env`, checks that it ran and
/// passed, and returns its stdout and stderr.
fn run_child(name: &str, env: &[(&str, &str)]) -> (String, String) {
    let out = Command::new(std::env::current_exe().expect("current exe"))
        .args([name, "--exact", "--include-ignored", "--nocapture", "--test-threads=1"])
        .envs(env.iter().copied())
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "the child failed: {}\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("1 passed"), "the child ran no test:\n{stdout}");
    (stdout, stderr)
}
