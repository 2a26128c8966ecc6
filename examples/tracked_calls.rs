//! The happy-path cost of `#[track_exception]` in instructions, for
//! callgrind (stable on a noisy machine, unlike wall time): the functions of
//! `benches/macros.rs`, called `N` times, tracked or not.
//!
//! ```sh
//! cargo build --release --example tracked_calls
//! for mode in untracked tracked owned-untracked owned-tracked; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/tracked_calls $mode 100000 100 2>&1 | grep Collected
//! done
//! ```
//!
//! Arguments: the mode, `N`, and the rows of the owned-value fns. The
//! difference of two runs divided by `N` is the cost per call.
//!
//! `failing-untracked` and `failing-tracked` make the fns fail every time,
//! and `record` calls `record_exception!` every time: an error storm, in
//! which all but the first occurrences of each second are only counted.

use std::hint::black_box;

use error_tracker_suite::tracked_fns::{Config, Failed, owned_tracked, owned_untracked, rows, tracked, untracked};

fn main() {
    // One occurrence per site and second in detail: under callgrind a run
    // takes seconds, and the storm's figure is the repeats' cost.
    let config = error_tracker::Config::default().store(error_tracker::MemoryStore::new(100)).detail_budget(1);
    let _g = error_tracker::init(config).unwrap();
    let mode = std::env::args().nth(1).unwrap();
    let n: u64 = std::env::args().nth(2).unwrap().parse().unwrap();
    let rows_wanted: u64 = std::env::args().nth(3).map_or(100, |r| r.parse().unwrap());
    let config = Config { host: "db".into(), port: 5432 };
    let rows = rows(rows_wanted);
    let mut acc = 0u64;
    // With "alice" and port 5432, the sum is `u64::MAX`: the fns fail.
    let failing = (u64::MAX - 5 - 5432) / 2;
    for i in 0..n {
        acc = acc.wrapping_add(match mode.as_str() {
            "untracked" => untracked(black_box("alice"), black_box(i), black_box(&config)).unwrap(),
            "tracked" => tracked(black_box("alice"), black_box(i), black_box(&config)).unwrap(),
            "owned-untracked" => owned_untracked(black_box("alice".to_owned()), black_box(&rows)).unwrap() as u64,
            "owned-tracked" => owned_tracked(black_box("alice".to_owned()), black_box(&rows)).unwrap() as u64,
            "failing-untracked" => {
                untracked(black_box("alice"), black_box(failing), black_box(&config)).is_err().into()
            }
            "failing-tracked" => tracked(black_box("alice"), black_box(failing), black_box(&config)).is_err().into(),
            "record" => error_tracker::record_exception!(Failed(black_box(i))).is_nil().into(),
            _ => 0,
        });
    }
    println!("{acc}");
}
