//! `#[track_exception]` and `#[auto_track_exception]` end to end: the
//! occurrence is read back from a SQLite file and checked frame by frame.
//!
//! `init` can be called once per process, so every test of this binary
//! shares one tracker; each test finds its own occurrence by a marker in
//! the error message.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use error_tracker::{
    Config, FrameSnapshot, Guard, Occurrence, PageRequest, SqliteStore, StoreQuery, Value, auto_track_exception,
    track_exception,
};
use serde::Serialize;

/// serde_json's `json!`, as the tracker's own [`error_tracker::Value`].
macro_rules! json {
    ($($t:tt)+) => {
        serde_json::from_value::<error_tracker::Value>(serde_json::json!($($t)+)).expect("a JSON value")
    };
}

fn db() -> PathBuf {
    static INIT: OnceLock<(tempfile::TempDir, PathBuf, Guard)> = OnceLock::new();
    INIT.get_or_init(|| {
        // The hook the app had before `init`: slow for the panics of
        // `a_slow_previous_hook_and_flushes_meanwhile_keep_the_frames`, as
        // std's is when it prints a backtrace on a loaded machine.
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<String>().is_some_and(|m| m.contains("slow-hook-marker")) {
                std::thread::sleep(Duration::from_millis(400));
            }
            default(info);
        }));
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("track.sqlite");
        let guard = error_tracker::init(Config::default().database(path.to_str().expect("utf-8 path"))).expect("init");
        (dir, path, guard)
    })
    .1
    .clone()
}

/// Every stored occurrence whose message contains `marker`.
fn occurrences(marker: &str) -> Vec<Occurrence> {
    let path = db();
    // Generous: under valgrind the writer's first symbolization takes minutes.
    // A passing run returns as soon as the writer is done.
    assert!(error_tracker::flush(Duration::from_secs(600)), "the writer did not flush in time");
    let store = SqliteStore::open(&path, 100).expect("open store");
    let groups = store
        .list_groups(&error_tracker::GroupQuery { page: PageRequest::first(10_000), ..Default::default() })
        .expect("list groups");
    let mut found = Vec::new();
    for g in groups.items {
        let page = store.occurrences(&g.hash, PageRequest::first(1000)).expect("occurrences");
        found.extend(page.items.into_iter().filter(|o| o.message.contains(marker)));
    }
    found
}

/// The one occurrence whose message contains `marker`.
fn occurrence(marker: &str) -> Occurrence {
    let mut all = occurrences(marker);
    assert_eq!(all.len(), 1, "occurrences with {marker:?}: {all:#?}");
    all.remove(0)
}

fn value<'a>(vars: &'a [error_tracker::Variable], name: &str) -> &'a Value {
    let found: Vec<_> = vars.iter().filter(|v| v.name == name).collect();
    assert_eq!(found.len(), 1, "variables named {name}: {vars:#?}");
    &found[0].value
}

fn names(vars: &[error_tracker::Variable]) -> Vec<&str> {
    vars.iter().map(|v| v.name.as_str()).collect()
}

fn frame_fn(f: &FrameSnapshot) -> &str {
    f.function.rsplit("::").next().unwrap_or("")
}

#[derive(Debug)]
struct Failed(String);

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "failed: {}", self.0)
    }
}
impl std::error::Error for Failed {}

#[derive(Serialize)]
struct Settings {
    host: &'static str,
    retries: u32,
    login: Login,
}

#[derive(Serialize)]
struct Login {
    user: &'static str,
    password: &'static str,
}

#[track_exception]
fn connect(name: &str, attempts: u64, settings: &Settings) -> Result<u64, Failed> {
    let doubled = attempts * 2;
    let label = format!("{name}-{doubled}");
    let plus_one: u64 = doubled + 1;
    if attempts > 2 {
        return Err(Failed(format!("{label} connect-marker")));
    }
    Ok(plus_one)
}

#[test]
fn err_records_arguments_and_locals_once() {
    db();
    let settings = Settings { host: "db.local", retries: 3, login: Login { user: "app", password: "hunter2" } };
    assert_eq!(connect("ok", 1, &settings).unwrap(), 3);
    let err = connect("main", 3, &settings).unwrap_err();
    assert_eq!(err.0, "main-6 connect-marker", "the Err is returned untouched");

    let o = occurrence("connect-marker");
    assert!(o.exception_name.ends_with("Failed"), "{}", o.exception_name);
    assert_eq!(o.frames.len(), 1);
    let f = &o.frames[0];
    assert_eq!(frame_fn(f), "connect");
    assert!(f.function.starts_with("track::"), "{}", f.function);
    assert!(f.file.as_deref().unwrap().ends_with("track.rs"));
    assert_eq!(names(&f.args), ["name", "attempts", "settings"]);
    assert_eq!(value(&f.args, "name"), &json!("main"));
    assert_eq!(value(&f.args, "attempts"), &json!(3));
    let s = value(&f.args, "settings");
    assert_eq!(s["host"], json!("db.local"));
    assert_eq!(s["retries"], json!(3));
    assert_eq!(s["login"]["user"], json!("app"));
    assert_eq!(s["login"]["password"], json!(error_tracker::DEFAULT_MASK_WITH));
    assert_eq!(names(&f.locals), ["doubled", "label", "plus_one"]);
    assert_eq!(value(&f.locals, "doubled"), &json!(6));
    assert_eq!(value(&f.locals, "label"), &json!("main-6"));
    assert_eq!(value(&f.locals, "plus_one"), &json!(7));
    assert!(!error_tracker_stored_bytes_contain("hunter2"));
}

fn error_tracker_stored_bytes_contain(needle: &str) -> bool {
    let path = db();
    let mut bytes = Vec::new();
    for suffix in ["", "-wal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        if let Ok(b) = std::fs::read(PathBuf::from(p)) {
            bytes.extend(b);
        }
    }
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[track_exception]
fn level3(id: u32) -> Result<(), Failed> {
    let inner = id + 3;
    Err(Failed(format!("nested-marker {inner}")))
}

#[track_exception]
fn level2(id: u32) -> Result<(), Failed> {
    let middle = id + 2;
    level3(middle)?;
    Ok(())
}

#[derive(Debug)]
struct Wrapped(#[allow(dead_code)] Failed);

impl From<Failed> for Wrapped {
    fn from(f: Failed) -> Self {
        Wrapped(f)
    }
}

#[track_exception]
fn level1(id: u32) -> Result<(), Wrapped> {
    let outer = id + 1;
    level2(outer)?;
    Ok(())
}

#[test]
fn error_through_three_frames_is_recorded_once_innermost_first() {
    db();
    assert!(level1(10).is_err());
    let o = occurrence("nested-marker 16");
    let fns: Vec<_> = o.frames.iter().map(frame_fn).collect();
    assert_eq!(fns, ["level3", "level2", "level1"]);
    assert_eq!(value(&o.frames[0].locals, "inner"), &json!(16));
    assert_eq!(value(&o.frames[1].locals, "middle"), &json!(13));
    assert_eq!(value(&o.frames[2].locals, "outer"), &json!(11));
    assert_eq!(value(&o.frames[2].args, "id"), &json!(10));
}

#[track_exception]
fn handles(id: u32) -> Result<u32, Failed> {
    let fallback = id * 10;
    match level3(id) {
        Ok(()) => Ok(0),
        Err(_) => Ok(fallback),
    }
}

#[test]
fn handled_error_is_recorded_with_the_frames_it_went_through() {
    db();
    assert_eq!(handles(40).unwrap(), 400);
    let o = occurrence("nested-marker 43");
    let fns: Vec<_> = o.frames.iter().map(frame_fn).collect();
    assert_eq!(fns, ["level3"]);
}

#[track_exception]
fn inner_panics(count: usize) -> usize {
    let items: Vec<u32> = vec![1, 2, 3];
    let index = count + 7;
    items[index] as usize
}

#[track_exception]
fn outer_calls(count: usize, password: &str) -> usize {
    let secret_sum = count + 1;
    let _ = password;
    inner_panics(secret_sum)
}

#[test]
fn panic_inside_tracked_inside_tracked() {
    db();
    let r = catch_unwind(|| outer_calls(1, "swordfish"));
    assert!(r.is_err(), "the panic goes on unwinding");
    let o = occurrence("len is 3 but the index is 9");
    assert_eq!(o.exception_name, "panic");
    let fns: Vec<_> = o.frames.iter().map(frame_fn).collect();
    assert_eq!(fns, ["inner_panics", "outer_calls"]);
    // The innermost frame's line is the panic's.
    let location = o.panic.as_ref().and_then(|p| p.location.clone()).expect("a location");
    let line: u32 = location.rsplit(':').nth(1).and_then(|l| l.parse().ok()).expect("file:line:column");
    assert_eq!(o.frames[0].line, Some(line), "{location}");
    assert_eq!(value(&o.frames[0].locals, "index"), &json!(9));
    assert_eq!(value(&o.frames[0].locals, "items"), &json!([1, 2, 3]));
    assert_eq!(value(&o.frames[1].args, "password"), &json!(error_tracker::DEFAULT_MASK_WITH));
    assert_eq!(value(&o.frames[1].locals, "secret_sum"), &json!(error_tracker::DEFAULT_MASK_WITH));
    assert!(!error_tracker_stored_bytes_contain("swordfish"));
}

#[track_exception]
fn countdown(n: u32, tag: &str) -> Result<u32, Failed> {
    if n == 0 {
        return Err(Failed(format!("recursion-marker {tag}")));
    }
    let next = n - 1;
    countdown(next, tag)
}

#[test]
fn recursion_records_every_frame() {
    db();
    assert!(countdown(3, "r1").is_err());
    let o = occurrence("recursion-marker r1");
    let ns: Vec<_> = o.frames.iter().map(|f| value(&f.args, "n").clone()).collect();
    assert_eq!(ns, [json!(0), json!(1), json!(2), json!(3)]);
    assert!(o.frames[0].locals.is_empty(), "the innermost frame failed before binding `next`");
    assert_eq!(value(&o.frames[1].locals, "next"), &json!(0));
}

struct PanickyDebug;

impl fmt::Debug for PanickyDebug {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("Debug impl panicked")
    }
}

#[track_exception]
fn with_panicky(p: &PanickyDebug, code: u8) -> Result<(), Failed> {
    let _ = p;
    let copy = code;
    Err(Failed(format!("panicky-marker {copy}")))
}

#[test]
fn a_debug_impl_that_panics_is_stored_as_a_render_error() {
    db();
    assert!(with_panicky(&PanickyDebug, 5).is_err());
    let o = occurrence("panicky-marker 5");
    assert_eq!(value(&o.frames[0].args, "p"), &json!("<error while rendering>"));
    assert_eq!(value(&o.frames[0].args, "code"), &json!(5));
}

#[derive(Debug, Clone, Copy)]
struct UserId(#[allow(dead_code)] u64);
impl error_tracker::Plain for UserId {}

struct NoDebug;

#[track_exception(skip(ignored), fields(user = user.0, kind = "login"), name = "auth::login")]
fn login(user: UserId, ignored: &str, token: String, opaque: NoDebug) -> Result<(), Failed> {
    let _ = (ignored, opaque);
    let shadow = 1;
    let shadow = shadow + 1;
    let mut last = 0;
    for i in 0..3 {
        let step = i * 10;
        last = step;
    }
    Err(Failed(format!("options-marker {token} {last}")))
}

#[test]
fn options_skip_fields_name_and_shadowing() {
    db();
    assert!(login(UserId(9), "not-stored", "tok".to_owned(), NoDebug).is_err());
    let o = occurrence("options-marker");
    let f = &o.frames[0];
    assert_eq!(f.function, "auth::login");
    assert_eq!(names(&f.args), ["user", "token", "opaque"]);
    assert_eq!(value(&f.args, "user"), &json!("UserId(9)"));
    assert_eq!(value(&f.args, "token"), &json!(error_tracker::DEFAULT_MASK_WITH));
    assert_eq!(value(&f.args, "opaque"), &json!("<moved or borrowed: track::NoDebug>"), "moved by `let _ = (…)`");
    assert_eq!(names(&f.locals), ["shadow", "shadow", "last", "step"]);
    assert_eq!(f.locals[0].value, json!(1));
    assert_eq!(f.locals[1].value, json!(2));
    assert_eq!(value(&f.locals, "last"), &json!(20), "a local is read where the frame fails");
    assert_eq!(value(&f.locals, "step"), &json!(20), "in a loop, the latest value counts");
    assert_eq!(value(&o.extra, "user"), &json!(9));
    assert_eq!(value(&o.extra, "kind"), &json!("login"));
}

#[track_exception(skip_all, locals = false)]
fn quiet(a: u32) -> Result<(), Failed> {
    let b = a + 1;
    Err(Failed(format!("quiet-marker {b}")))
}

#[test]
fn skip_all_and_no_locals() {
    db();
    assert!(quiet(1).is_err());
    let o = occurrence("quiet-marker 2");
    assert!(o.frames[0].args.is_empty() && o.frames[0].locals.is_empty(), "{:#?}", o.frames);
}

struct Account {
    balance: i64,
}

#[auto_track_exception]
impl Account {
    fn withdraw(&mut self, amount: i64) -> Result<i64, Failed> {
        let after = self.balance - amount;
        if after < 0 {
            return Err(Failed(format!("auto-marker {after}")));
        }
        self.balance = after;
        Ok(after)
    }

    fn check(&self, amount: i64) -> Result<(), Failed> {
        let copy = self.balance;
        let _ = copy;
        let mut me = Account { balance: self.balance };
        me.withdraw(amount).map(|_| ())
    }
}

#[test]
fn auto_track_exception_on_an_impl_block() {
    db();
    let a = Account { balance: 5 };
    assert!(a.check(9).is_err());
    let o = occurrence("auto-marker -4");
    let fns: Vec<_> = o.frames.iter().map(frame_fn).collect();
    assert_eq!(fns, ["withdraw", "check"]);
    assert!(o.frames[0].function.contains("Account"), "{}", o.frames[0].function);
    assert_eq!(value(&o.frames[0].args, "amount"), &json!(9));
    assert_eq!(value(&o.frames[0].locals, "after"), &json!(-4));
}

#[auto_track_exception]
mod module {
    use super::Failed;

    pub fn a(x: u8) -> Result<(), Failed> {
        b(x)
    }

    fn b(x: u8) -> Result<(), Failed> {
        let y = x;
        Err(Failed(format!("mod-marker {y}")))
    }
}

#[test]
fn auto_track_exception_on_a_module() {
    db();
    assert!(module::a(4).is_err());
    let o = occurrence("mod-marker 4");
    let fns: Vec<_> = o.frames.iter().map(frame_fn).collect();
    assert_eq!(fns, ["b", "a"]);
}

#[track_exception]
async fn fetch(id: u32, name: &str) -> Result<u32, Failed> {
    let before = id + 1;
    tokio::time::sleep(Duration::from_millis(5)).await;
    tokio::task::yield_now().await;
    let after = before + 1;
    Err(Failed(format!("async-marker {name} {after}")))
}

#[track_exception]
async fn fetch_outer(id: u32) -> Result<u32, Failed> {
    let local = id * 2;
    tokio::task::yield_now().await;
    fetch(local, "svc").await
}

#[test]
fn async_fn_under_the_multi_thread_runtime() {
    db();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_time().build().unwrap();
    rt.block_on(async {
        // Spawned: the tracked future must be Send, and may move between threads.
        let handle = tokio::spawn(fetch_outer(20));
        assert!(handle.await.unwrap().is_err());
    });
    let o = occurrence("async-marker svc 42");
    let fns: Vec<_> = o.frames.iter().map(frame_fn).collect();
    assert_eq!(fns, ["fetch", "fetch_outer"]);
    assert_eq!(value(&o.frames[0].args, "name"), &json!("svc"));
    assert_eq!(value(&o.frames[0].locals, "before"), &json!(41));
    assert_eq!(value(&o.frames[0].locals, "after"), &json!(42));
    assert_eq!(value(&o.frames[1].locals, "local"), &json!(40));
}

#[track_exception]
fn not_tracked_panic(n: u32) -> u32 {
    let m = n + 1;
    if m > 100 { panic!("plain-panic-marker {m}") } else { m }
}

#[test]
fn a_panic_caught_inside_does_not_leak_into_the_next_error() {
    db();
    let r = catch_unwind(AssertUnwindSafe(|| not_tracked_panic(200)));
    assert!(r.is_err());
    assert!(level3(70).is_err());
    let p = occurrence("plain-panic-marker 201");
    assert_eq!(p.frames.len(), 1);
    let e = occurrence("nested-marker 73");
    assert_eq!(e.frames.len(), 1, "{:#?}", e.frames);
}

#[track_exception]
fn panics_under_a_slow_hook(n: u32) -> u32 {
    let m = n + 1;
    if m > 1 { panic!("slow-hook-marker {m}") } else { m }
}

/// The tracked frames add their snapshots as the panic unwinds, which
/// starts only once the hook installed before ours returns: however long it
/// takes, and whatever another thread flushes meanwhile, they are kept.
#[test]
fn a_slow_previous_hook_and_flushes_meanwhile_keep_the_frames() {
    db();
    let stop = Arc::new(AtomicBool::new(false));
    let flusher = std::thread::spawn({
        let stop = stop.clone();
        move || {
            while !stop.load(Ordering::Relaxed) {
                error_tracker::flush(Duration::from_secs(60));
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });
    let r = catch_unwind(AssertUnwindSafe(|| panics_under_a_slow_hook(1)));
    stop.store(true, Ordering::Relaxed);
    flusher.join().expect("the flushing thread");
    assert!(r.is_err());
    let o = occurrence("slow-hook-marker 2");
    assert_eq!(o.frames.len(), 1, "{:#?}", o.frames);
    assert_eq!(value(&o.frames[0].args, "n"), &json!(1));
}

#[track_exception]
async fn async_panics(n: u32) -> u32 {
    let before = n + 1;
    tokio::task::yield_now().await;
    if before > 10 {
        panic!("async-panic-marker {before}");
    }
    before
}

#[track_exception]
async fn async_panics_outer(n: u32) -> u32 {
    let doubled = n * 2;
    async_panics(doubled).await
}

#[test]
fn panic_in_an_async_fn_records_the_frames_it_unwinds() {
    db();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    let joined = rt.block_on(async { tokio::spawn(async_panics_outer(6)).await });
    assert!(joined.unwrap_err().is_panic(), "the panic goes on to the task's join handle");
    let o = occurrence("async-panic-marker 13");
    let fns: Vec<_> = o.frames.iter().map(frame_fn).collect();
    assert_eq!(fns, ["async_panics", "async_panics_outer"]);
    assert_eq!(value(&o.frames[0].locals, "before"), &json!(13));
    assert_eq!(value(&o.frames[1].locals, "doubled"), &json!(12));
}

#[derive(Debug)]
struct Code {
    code: u16,
    #[allow(dead_code)]
    api_key: &'static str,
}

#[track_exception]
fn debug_only_error(code: u16) -> Result<(), Code> {
    Err(Code { code, api_key: "k-123-debug-only" })
}

#[test]
fn an_error_that_is_only_debug_is_recorded_masked() {
    db();
    assert_eq!(debug_only_error(418).unwrap_err().code, 418);
    let o = occurrence("code: 418");
    assert!(o.exception_name.ends_with("::Code"), "{}", o.exception_name);
    assert!(!o.message.contains("k-123-debug-only"), "{}", o.message);
    assert_eq!(value(&o.frames[0].args, "code"), &json!(418));
}

#[track_exception]
fn load_sibling(id: u32) -> Result<u32, Failed> {
    Err(Failed(format!("sibling-marker {id}")))
}

#[track_exception]
fn audit_sibling(id: u32) -> Result<(), Failed> {
    let audited = id + 1;
    let _ = audited;
    Ok(())
}

#[track_exception]
fn load_then_audit(id: u32) -> Result<u32, Failed> {
    let r = load_sibling(id);
    audit_sibling(id)?;
    r
}

#[test]
fn a_sibling_that_succeeds_does_not_submit_the_pending_error() {
    db();
    assert!(load_then_audit(5).is_err());
    let o = occurrence("sibling-marker 5");
    let fns: Vec<_> = o.frames.iter().map(frame_fn).collect();
    assert_eq!(fns, ["load_sibling", "load_then_audit"]);
}

#[track_exception]
async fn load_async(id: u32) -> Result<u32, Failed> {
    Err(Failed(format!("async-sibling-marker <{id}>")))
}

#[track_exception]
async fn audit_async(id: u32) -> Result<(), Failed> {
    tokio::task::yield_now().await;
    let audited = id + 1;
    let _ = audited;
    Ok(())
}

#[track_exception]
async fn load_then_audit_async(id: u32) -> Result<u32, Failed> {
    let r = load_async(id).await;
    audit_async(id).await?;
    tokio::task::yield_now().await;
    r
}

#[test]
fn an_error_held_across_an_await_that_yields_is_recorded_once() {
    db();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    for id in 0..20 {
        assert!(rt.block_on(async { tokio::spawn(load_then_audit_async(id)).await }).expect("task").is_err());
    }
    for id in 0..20 {
        let o = occurrence(&format!("async-sibling-marker <{id}>"));
        let fns: Vec<_> = o.frames.iter().map(frame_fn).collect();
        assert_eq!(fns, ["load_async", "load_then_audit_async"], "id {id}");
    }
}

#[derive(Debug, Serialize)]
struct Shared {
    name: &'static str,
    jobs: std::sync::Mutex<Vec<u32>>,
}

#[track_exception]
fn check_shared(shared: &Shared) -> Result<(), Failed> {
    Err(Failed(format!("lock-marker check {}", shared.name)))
}

#[track_exception]
fn binds_while_locked(shared: &Shared) -> Result<usize, Failed> {
    let _guard = shared.jobs.lock().map_err(|_| Failed("poisoned".into()))?;
    let ctx = shared;
    Err(Failed(format!("lock-marker self {}", ctx.name)))
}

/// Runs `f` on another thread; fails the test, rather than hang it, if it
/// does not return (a deadlock).
fn returns<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(120)).expect("the tracked fn deadlocked while rendering")
}

#[test]
fn rendering_never_waits_on_a_lock() {
    db();
    returns(|| {
        let shared = Shared { name: "held-by-caller", jobs: std::sync::Mutex::new(vec![1, 2]) };
        let _held = shared.jobs.lock().expect("lock");
        assert!(check_shared(&shared).is_err());
    });
    returns(|| {
        let shared = Shared { name: "own", jobs: std::sync::Mutex::new(vec![1]) };
        assert!(binds_while_locked(&shared).is_err());
    });
    let o = occurrence("lock-marker check held-by-caller");
    let shared = value(&o.frames[0].args, "shared").as_str().expect("rendered through Debug").to_owned();
    assert!(shared.contains("<locked>") && shared.contains("held-by-caller"), "{shared}");
    let o = occurrence("lock-marker self own");
    let ctx = value(&o.frames[0].locals, "ctx").as_str().expect("rendered through Debug").to_owned();
    assert!(ctx.contains("<locked>"), "{ctx}");
}

#[derive(Debug)]
struct Row {
    #[allow(dead_code)]
    id: u32,
}

#[track_exception]
fn read_at_failure(name: String, rows: &[u32]) -> Result<usize, Failed> {
    let mut copy: Vec<Row> = rows.iter().map(|&id| Row { id }).collect();
    copy.push(Row { id: 99 });
    let kept = copy.len();
    let owned = format!("owned-{name}");
    let view = owned.as_str();
    let view_len = view.len();
    drop(owned);
    let moved = name;
    let total = kept + view_len;
    Err(Failed(format!("read-at-failure-marker {moved} {total}")))
}

#[test]
fn bindings_are_read_where_the_frame_fails() {
    db();
    assert!(read_at_failure("n".to_owned(), &[1, 2]).is_err());
    let o = occurrence("read-at-failure-marker n");
    let f = &o.frames[0];
    // A shared reference argument is always readable; an owned one moved
    // before the failure says so, with its type.
    assert_eq!(value(&f.args, "rows"), &json!([1, 2]));
    assert_eq!(value(&f.args, "name"), &json!("<moved or borrowed: alloc::string::String>"));
    // `copy` was written (`push`) after its `let`: not read, since a live
    // borrow could remain; plain values are always shown.
    assert_eq!(value(&f.locals, "copy"), &json!("<moved or borrowed: alloc::vec::Vec<track::Row>>"));
    assert_eq!(value(&f.locals, "kept"), &json!(3));
    assert_eq!(value(&f.locals, "view_len"), &json!(7));
    assert_eq!(value(&f.locals, "total"), &json!(10));
    // `view` borrows `owned`, dropped before the failure: never read.
    assert_eq!(value(&f.locals, "view"), &json!("<moved or borrowed: &str>"));
    assert_eq!(value(&f.locals, "moved"), &json!("n"));
}

#[track_exception]
fn step(job: u32) -> Result<u32, Failed> {
    let doubled = job * 2;
    if job % 2 == 1 { Err(Failed(format!("worker-step-marker {job} {doubled}"))) } else { Ok(doubled) }
}

#[track_exception]
fn worker(jobs: std::sync::mpsc::Receiver<u32>, done: std::sync::mpsc::Sender<u32>) -> u32 {
    let mut handled = 0;
    for job in jobs {
        if step(job).is_err() {
            handled += 1;
        }
        let _ = done.send(job);
    }
    handled
}

#[test]
fn an_error_handled_in_a_running_tracked_loop_is_stored_by_flush() {
    db();
    let (jobs, rx) = std::sync::mpsc::channel();
    let (done, finished) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || worker(rx, done));
    jobs.send(7).expect("send");
    assert_eq!(finished.recv_timeout(Duration::from_secs(60)).expect("the worker took the job"), 7);
    // The worker is still running (blocked on the next job): its handled
    // error is held open by the writer, and the flush waits for it (see
    // tests/flush.rs for the same under load).
    let o = occurrence("worker-step-marker 7 14");
    let fns: Vec<_> = o.frames.iter().map(frame_fn).collect();
    assert_eq!(fns, ["step"]);
    assert_eq!(value(&o.frames[0].locals, "doubled"), &json!(14));
    drop(jobs);
    assert_eq!(t.join().expect("the worker ends"), 1);
    assert_eq!(occurrences("worker-step-marker 7 14").len(), 1, "recorded once");
}

#[async_trait::async_trait]
trait Repo {
    async fn load(&self, id: u32) -> Result<u32, Failed>;
    async fn save(&self, id: u32) -> Result<(), Failed>;
}

struct Db {
    name: &'static str,
}

#[async_trait::async_trait]
impl Repo for Db {
    #[track_exception]
    async fn load(&self, id: u32) -> Result<u32, Failed> {
        let wanted = id + 1;
        tokio::task::yield_now().await;
        Err(Failed(format!("async-trait-marker load {} {wanted}", self.name)))
    }

    async fn save(&self, id: u32) -> Result<(), Failed> {
        Err(Failed(format!("untracked save {id}")))
    }
}

struct Cache;

#[auto_track_exception]
#[async_trait::async_trait]
impl Repo for Cache {
    async fn load(&self, id: u32) -> Result<u32, Failed> {
        let missing = id * 3;
        tokio::task::yield_now().await;
        Err(Failed(format!("async-trait-marker cache {missing}")))
    }

    async fn save(&self, _id: u32) -> Result<(), Failed> {
        Ok(())
    }
}

#[test]
fn async_trait_methods_are_tracked_in_either_attribute_order() {
    db();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let repo: Box<dyn Repo + Send + Sync> = Box::new(Db { name: "main" });
        assert!(tokio::spawn(async move { repo.load(4).await }).await.expect("task").is_err());
        assert!(Cache.load(5).await.is_err());
        assert!(Cache.save(5).await.is_ok());
    });
    let o = occurrence("async-trait-marker load main 5");
    assert_eq!(o.frames.iter().map(frame_fn).collect::<Vec<_>>(), ["load"]);
    assert_eq!(value(&o.frames[0].args, "id"), &json!(4));
    assert_eq!(value(&o.frames[0].locals, "wanted"), &json!(5));
    let o = occurrence("async-trait-marker cache 15");
    assert_eq!(value(&o.frames[0].locals, "missing"), &json!(15));
}

#[test]
fn the_stored_backtrace_has_no_tracker_frames() {
    db();
    let settings = Settings { host: "h", retries: 1, login: Login { user: "u", password: "p" } };
    assert!(connect("bt", 3, &settings).is_err());
    let _ = catch_unwind(|| outer_calls(2, "pw"));
    for marker in ["bt-6 connect-marker", "len is 3 but the index is 10"] {
        let o = occurrence(marker);
        let fns: Vec<&str> = o.backtrace.iter().map(|f| f.function.as_str()).collect();
        assert!(
            !fns.iter().any(|f| f.contains("error_tracker::") || f.contains("catch_unwind") || *f == "__rust_try"),
            "{marker}: {fns:#?}"
        );
        let first_own = fns.iter().find(|f| f.starts_with("track::")).expect("a frame of this crate");
        assert!(["track::connect", "track::inner_panics"].contains(first_own), "{marker}: {fns:#?}");
    }
}
