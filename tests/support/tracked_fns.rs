//! The functions whose tracking cost is measured, shared by
//! `benches/macros.rs` (wall time) and `examples/tracked_calls.rs`
//! (instructions, under callgrind): each untracked and tracked, with the
//! same body.

use error_tracker::track_exception;

/// A borrowed argument of the happy-path fns.
#[derive(Debug, serde::Serialize)]
pub struct Config {
    pub host: String,
    pub port: u16,
}

/// The error the fns would return.
#[derive(Debug)]
pub struct Failed(pub u64);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "failed with {}", self.0)
    }
}
impl std::error::Error for Failed {}

/// The happy path: `fn(&str, u64, &Config)` with 2 plain locals.
#[inline(never)]
pub fn untracked(name: &str, n: u64, config: &Config) -> Result<u64, Failed> {
    let doubled = n.wrapping_mul(2);
    let sum = doubled.wrapping_add(name.len() as u64 + u64::from(config.port));
    if sum == u64::MAX { Err(Failed(sum)) } else { Ok(sum) }
}

/// [`untracked`], tracked.
#[inline(never)]
#[track_exception]
pub fn tracked(name: &str, n: u64, config: &Config) -> Result<u64, Failed> {
    let doubled = n.wrapping_mul(2);
    let sum = doubled.wrapping_add(name.len() as u64 + u64::from(config.port));
    if sum == u64::MAX { Err(Failed(sum)) } else { Ok(sum) }
}

/// A row of the owned-value fns.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    pub id: u64,
    pub name: String,
    pub amount: f64,
}

/// `n` rows.
pub fn rows(n: u64) -> Vec<Row> {
    (0..n).map(|i| Row { id: i, name: format!("row-{i}"), amount: i as f64 * 1.5 }).collect()
}

/// Owned values: an owned argument and a local as large as the input.
#[inline(never)]
pub fn owned_untracked(name: String, rows: &[Row]) -> Result<usize, Failed> {
    let copy = rows.to_vec();
    let total = copy.iter().map(|r| r.name.len()).sum::<usize>();
    if total == usize::MAX { Err(Failed(0)) } else { Ok(total + name.len()) }
}

/// [`owned_untracked`], tracked.
#[inline(never)]
#[track_exception]
pub fn owned_tracked(name: String, rows: &[Row]) -> Result<usize, Failed> {
    let copy = rows.to_vec();
    let total = copy.iter().map(|r| r.name.len()).sum::<usize>();
    if total == usize::MAX { Err(Failed(0)) } else { Ok(total + name.len()) }
}
