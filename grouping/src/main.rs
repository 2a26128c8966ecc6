//! The release-build grouping check (issue: groups must not depend on the
//! symbols a build keeps).
//!
//! ```sh
//! # Once per profile users deploy: records into a file of its own.
//! cargo run -p error-tracker-grouping -- record dev.sqlite
//! cargo run -p error-tracker-grouping --release -- record release.sqlite
//! cargo run -p error-tracker-grouping --profile grouping-lines \
//!     --config 'profile.grouping-lines.inherits="release"' \
//!     --config 'profile.grouping-lines.debug="line-tables-only"' -- record lines.sqlite
//! cargo run -p error-tracker-grouping --profile grouping-strip \
//!     --config 'profile.grouping-strip.inherits="release"' \
//!     --config 'profile.grouping-strip.strip=true' -- record strip.sqlite
//! # Then: the expected groups in the first, and the same in every other.
//! cargo run -p error-tracker-grouping -- check dev.sqlite release.sqlite lines.sqlite strip.sqlite
//! ```
//!
//! `.ci/run` does exactly this. The capture sites: two `record_exception!`
//! calls in one fn with one error type, one in another fn, an `Err` returned
//! by a tracked fn, and a panic; each reached through two different
//! callers, with messages that differ. Expected: five groups, counted 10,
//! 10, 20, 20 and 20; the innermost stored frame of a `record_exception!`
//! group is the user's fn, never the tracker's.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use error_tracker::{Config, record_exception, track_exception};

#[derive(Debug)]
struct Failed(u32);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "failed with {}", self.0)
    }
}
impl std::error::Error for Failed {}

/// Two catch blocks of one fn: two groups.
#[inline(never)]
fn two_sites(i: u32) {
    match std::hint::black_box(i % 2) {
        0 => {
            record_exception!(Failed(i), "branch" => "even");
        }
        _ => {
            record_exception!(Failed(i), "branch" => "odd");
        }
    }
}

#[inline(never)]
fn one_site(i: u32) {
    record_exception!(Failed(i));
}

#[track_exception]
fn tracked(i: u32) -> Result<u32, Failed> {
    let doubled = i * 2;
    Err(Failed(doubled))
}

#[inline(never)]
fn panics(i: u32) {
    let empty: Vec<u32> = Vec::new();
    std::hint::black_box(empty[i as usize]);
}

#[inline(never)]
fn caller_a(i: u32) {
    two_sites(i);
    one_site(i);
    let _ = tracked(i);
    let _ = std::panic::catch_unwind(|| panics(i));
}

#[inline(never)]
fn caller_b(i: u32) {
    two_sites(i);
    one_site(i);
    let _ = tracked(i);
    let _ = std::panic::catch_unwind(|| panics(i));
}

fn record(db: &str) {
    // Quiet panics; set before `init`, whose hook records, then calls it.
    std::panic::set_hook(Box::new(|_| {}));
    let guard = error_tracker::init(Config::default().database(db)).expect("init");
    for i in 0..10 {
        caller_a(i);
        caller_b(i + 100);
    }
    assert!(error_tracker::flush(Duration::from_secs(30)), "flushed");
    drop(guard);
}

/// Each group's exception name and count, by fingerprint, and the innermost
/// stored frame of each group's occurrences.
type Groups = BTreeMap<String, (String, i64)>;

fn read(db: &Path) -> rusqlite::Result<(Groups, Vec<(String, String)>)> {
    let conn = rusqlite::Connection::open(db)?;
    let mut stmt = conn.prepare("SELECT hash, exception_name, count FROM exceptions")?;
    let groups = stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?.collect::<Result<_, _>>()?;
    let mut stmt =
        conn.prepare("SELECT o.hash, b.backtrace FROM occurrences o JOIN backtraces b USING (hash, backtrace_key)")?;
    let innermost = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .map(|(hash, backtrace)| {
            // `[{"function":"…",…},…]`: the first function name.
            let first = backtrace.split("\"function\":\"").nth(1).and_then(|f| f.split('"').next()).unwrap_or("");
            (hash, first.to_owned())
        })
        .collect();
    Ok((groups, innermost))
}

/// What is wrong with the groups of one build, if anything.
fn problems(db: &Path, groups: &Groups, innermost: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    let mut counts: Vec<(&str, i64)> = groups.values().map(|(name, count)| (name.as_str(), *count)).collect();
    counts.sort();
    let failed = "error_tracker_grouping::Failed";
    let expected = [(failed, 10), (failed, 10), (failed, 20), (failed, 20), ("panic", 20)];
    if counts != expected {
        out.push(format!("{}: groups {counts:?}, expected {expected:?}", db.display()));
    }
    for (hash, function) in innermost {
        if function.contains("error_tracker::") {
            out.push(format!("{}: a tracker frame is stored first: {function}", db.display()));
        }
        if groups.get(hash).is_some_and(|(name, count)| name == failed && *count == 10)
            && function != "error_tracker_grouping::two_sites"
        {
            out.push(format!("{}: the innermost frame of a site of two_sites is {function}", db.display()));
        }
    }
    out
}

fn check(dbs: &[String]) -> ExitCode {
    let mut all = Vec::new();
    let mut first: Option<(&str, Groups)> = None;
    for db in dbs {
        let (groups, innermost) = match read(Path::new(db)) {
            Ok(read) => read,
            Err(e) => {
                eprintln!("{db}: {e}");
                return ExitCode::FAILURE;
            }
        };
        all.extend(problems(Path::new(db), &groups, &innermost));
        println!("{db}: {} groups", groups.len());
        match &first {
            None => first = Some((db, groups)),
            Some((first_db, expected)) if *expected != groups => {
                all.push(format!("{db} does not group as {first_db}: {groups:#?} against {expected:#?}"));
            }
            Some(_) => {}
        }
    }
    if all.is_empty() {
        println!("the same groups in all {} builds", dbs.len());
        ExitCode::SUCCESS
    } else {
        for problem in all {
            eprintln!("{problem}");
        }
        ExitCode::FAILURE
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.split_first() {
        Some((mode, [db])) if mode == "record" => {
            record(db);
            ExitCode::SUCCESS
        }
        Some((mode, dbs)) if mode == "check" && !dbs.is_empty() => check(dbs),
        _ => {
            eprintln!("usage: error-tracker-grouping record DB | check DB...");
            ExitCode::from(2)
        }
    }
}
