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

use error_tracker::track_exception;
use std::hint::black_box;

#[derive(Debug, serde::Serialize)]
pub struct Config {
    host: String,
    port: u16,
}
#[derive(Debug)]
pub struct Failed(u64);
impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "failed with {}", self.0)
    }
}
impl std::error::Error for Failed {}

#[inline(never)]
fn untracked(name: &str, n: u64, config: &Config) -> Result<u64, Failed> {
    let doubled = n.wrapping_mul(2);
    let sum = doubled.wrapping_add(name.len() as u64 + u64::from(config.port));
    if sum == u64::MAX { Err(Failed(sum)) } else { Ok(sum) }
}
#[inline(never)]
#[track_exception]
fn tracked(name: &str, n: u64, config: &Config) -> Result<u64, Failed> {
    let doubled = n.wrapping_mul(2);
    let sum = doubled.wrapping_add(name.len() as u64 + u64::from(config.port));
    if sum == u64::MAX { Err(Failed(sum)) } else { Ok(sum) }
}
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    id: u64,
    name: String,
    amount: f64,
}
#[inline(never)]
fn owned_untracked(name: String, rows: &[Row]) -> Result<usize, Failed> {
    let copy = rows.to_vec();
    let total = copy.iter().map(|r| r.name.len()).sum::<usize>();
    if total == usize::MAX { Err(Failed(0)) } else { Ok(total + name.len()) }
}
#[inline(never)]
#[track_exception]
fn owned_tracked(name: String, rows: &[Row]) -> Result<usize, Failed> {
    let copy = rows.to_vec();
    let total = copy.iter().map(|r| r.name.len()).sum::<usize>();
    if total == usize::MAX { Err(Failed(0)) } else { Ok(total + name.len()) }
}
fn main() {
    let _g = error_tracker::init(error_tracker::Config::default().store(error_tracker::MemoryStore::new(100))).unwrap();
    let mode = std::env::args().nth(1).unwrap();
    let n: u64 = std::env::args().nth(2).unwrap().parse().unwrap();
    let rows: u64 = std::env::args().nth(3).map_or(100, |r| r.parse().unwrap());
    let config = Config { host: "db".into(), port: 5432 };
    let rows: Vec<Row> = (0..rows).map(|i| Row { id: i, name: format!("row-{i}"), amount: i as f64 }).collect();
    let mut acc = 0u64;
    for i in 0..n {
        acc = acc.wrapping_add(match mode.as_str() {
            "untracked" => untracked(black_box("alice"), black_box(i), black_box(&config)).unwrap(),
            "tracked" => tracked(black_box("alice"), black_box(i), black_box(&config)).unwrap(),
            "owned-untracked" => owned_untracked(black_box("alice".to_owned()), black_box(&rows)).unwrap() as u64,
            "owned-tracked" => owned_tracked(black_box("alice".to_owned()), black_box(&rows)).unwrap() as u64,
            _ => 0,
        });
    }
    println!("{acc}");
}
