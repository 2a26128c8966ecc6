//! Support code shared by the workspace integration tests, examples and benches.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use error_tracker::{Config, Guard, SqliteStore, Store};

pub mod peers;
pub mod tracked_fns;

/// Sends `request` (raw HTTP/1.1, with `connection: close`) to `addr` and
/// returns the whole response as text.
pub fn http_exchange(addr: std::net::SocketAddr, request: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.write_all(request.as_bytes()).expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

/// The response to a `GET` of `path` on `addr` (see [`http_exchange`]).
pub fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    http_exchange(addr, &format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"))
}

/// Serves on a loopback port, from a thread of its own running a tokio
/// runtime with `workers` worker threads: `serve` gets the bound listener
/// and runs until the process ends. Returns the port's address at once.
#[cfg(feature = "axum")]
pub fn serve_on_loopback<F, Fut>(workers: usize, serve: F) -> std::net::SocketAddr
where
    F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build().expect("rt");
        rt.block_on(async {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            serve(listener).await;
        });
    });
    addr
}

/// A database file in a temporary directory that lives as long as the process.
pub fn temp_db(name: &str) -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir")).path().join(name)
}

/// Initializes the tracker once for this test binary, on a temporary SQLite
/// file, and returns that file. `configure` is applied the first time only.
pub fn init_once(configure: impl FnOnce(Config) -> Config) -> PathBuf {
    static INIT: OnceLock<(PathBuf, Guard)> = OnceLock::new();
    INIT.get_or_init(|| {
        let path = temp_db("errors.sqlite");
        let config = configure(Config::default().database(path.to_str().expect("utf-8 path")));
        let guard = error_tracker::init(config).expect("init");
        (path, guard)
    })
    .0
    .clone()
}

/// Flushes the writer, failing the test if it does not finish in time.
pub fn flush() {
    assert!(error_tracker::flush(Duration::from_secs(20)), "the writer did not flush in time");
}

/// Opens a second handle on a SQLite file, as the UI would.
pub fn open(path: &PathBuf) -> SqliteStore {
    SqliteStore::open(path, 100).expect("open store")
}

/// Every byte of a SQLite database: the main file, its WAL and shared memory.
pub fn database_bytes(path: &std::path::Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        if let Ok(b) = std::fs::read(PathBuf::from(p)) {
            bytes.extend(b);
        }
    }
    bytes
}

/// Whether `needle` occurs in `hay`.
pub fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Starts this test binary again as a child running only `test_name`, with `env` set.
pub fn spawn_child(test_name: &str, env: &[(&str, &str)]) -> std::process::Child {
    let mut cmd = Command::new(std::env::current_exe().expect("current exe"));
    // A child test is `#[ignore]`d in a normal run, where it would do nothing.
    cmd.args([test_name, "--exact", "--include-ignored", "--nocapture", "--test-threads=1"]);
    cmd.envs(env.iter().copied()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    cmd.spawn().expect("spawn child")
}

/// Waits for a child from [`spawn_child`], failing the test if it failed, and returns its output.
pub fn wait_child(child: std::process::Child) -> String {
    let out = child.wait_with_output().expect("wait for child");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "child failed: {}\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    stdout
}

/// Runs this test binary again as a child that runs only `test_name`, with
/// `env` set, and returns its standard output. The child knows it is a child
/// by the variables it is given.
pub fn run_child(test_name: &str, env: &[(&str, &str)]) -> String {
    wait_child(spawn_child(test_name, env))
}

/// The sum of `count` over all groups of a store.
pub fn total_count(store: &dyn Store) -> u64 {
    let page = store
        .list_groups(&error_tracker::GroupQuery {
            page: error_tracker::PageRequest { page: 1, per_page: 10_000 },
            ..Default::default()
        })
        .expect("list groups");
    page.items.iter().map(|g| g.count).sum()
}
