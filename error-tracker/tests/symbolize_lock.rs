//! The calling thread never waits on symbolization: `backtrace::resolve`
//! holds a process-wide lock while it runs (the writer holds it for tens of
//! milliseconds when it first loads debug info), and recording an error
//! must not need that lock.
//!
//! A thread here holds the lock the way the writer does, inside a
//! `resolve` callback, until told to stop; meanwhile another thread records
//! an error. The record must come back while the lock is still held. (A
//! liveness check with a generous deadline, not a timing measurement: with
//! the shared lock the record waits for as long as the lock is held, here
//! until the deadline has passed.)

use std::sync::mpsc;
use std::time::Duration;

use error_tracker::{Config, MemoryStore, record_exception};

#[derive(Debug)]
struct Failed;

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failed while the resolver runs")
    }
}
impl std::error::Error for Failed {}

#[test]
fn recording_does_not_wait_for_the_resolver_lock() {
    let _guard = error_tracker::init(Config::default().store(MemoryStore::new(10))).expect("init");
    let (held_tx, held_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let resolver = std::thread::spawn(move || {
        let mut ips = Vec::new();
        backtrace::trace(|frame| {
            ips.push(frame.ip());
            true
        });
        let mut once = Some((held_tx, release_rx));
        for ip in ips {
            backtrace::resolve(ip, |_| {
                if let Some((held, release)) = once.take() {
                    held.send(()).expect("tell the lock is held");
                    // Held until the test says so (or it is gone).
                    let _ = release.recv_timeout(Duration::from_secs(120));
                }
            });
        }
    });
    held_rx.recv_timeout(Duration::from_secs(60)).expect("the resolver found the symbol and holds its lock");

    let (done_tx, done_rx) = mpsc::channel();
    let recorder = std::thread::spawn(move || {
        let id = record_exception!(Failed);
        let _ = done_tx.send(id);
    });
    let recorded = done_rx.recv_timeout(Duration::from_secs(30));
    release_tx.send(()).expect("release the resolver");
    resolver.join().expect("the resolver thread");
    recorder.join().expect("the recording thread");
    let id = recorded.expect("recording came back while the resolver held its lock");
    assert!(!id.is_nil());
}
