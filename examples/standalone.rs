//! A CLI job with no web server (the seed's "Python app with no web server").
//!
//! It processes a few records, some of which fail, records the errors and a
//! panic into `errors.sqlite` (or `APP_ERROR_DB`), and prints where to look.
//!
//! ```sh
//! cargo run --example standalone
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use error_tracker::{Config, Database, GroupQuery, PageRequest, record_exception, track_exception};
use serde::Serialize;

#[derive(Debug)]
enum ImportError {
    Parse { line: usize, source: std::num::ParseIntError },
    Io(std::io::Error),
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImportError::Parse { line, .. } => write!(f, "line {line} has a bad amount"),
            ImportError::Io(_) => f.write_str("cannot read the input"),
        }
    }
}

impl std::error::Error for ImportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ImportError::Parse { source, .. } => Some(source),
            ImportError::Io(e) => Some(e),
        }
    }
}

/// What the job knows about the account: the password must never be stored.
#[derive(Serialize)]
struct Account {
    user: &'static str,
    password: &'static str,
    settings: BTreeMap<&'static str, &'static str>,
}

/// Tracked: when it fails, the stored occurrence holds its arguments and
/// locals as they were at the failing line (the account's password masked).
#[track_exception]
fn import_line(account: &Account, line: usize, text: &str) -> Result<i64, ImportError> {
    let trimmed = text.trim();
    let cents: i64 = trimmed.parse().map_err(|source| ImportError::Parse { line, source })?;
    let amount = cents * 100;
    Ok(amount)
}

fn read_extra_input() {
    if let Err(e) = std::fs::read_to_string("/no/such/input.csv").map_err(ImportError::Io) {
        // Recorded from another function than the parse errors: another group.
        record_exception!(e, "authorization" => "Bearer abc.def.ghi");
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let guard = error_tracker::init(config)?;
    let account = Account {
        user: "alice",
        password: "correct horse battery staple",
        settings: [("api_key", "sk_live_0123456789"), ("region", "eu-west-1")].into(),
    };

    let input = ["120", "7x", "33", "", "1e3"];
    let mut total = 0;
    for (i, text) in input.iter().enumerate() {
        // A failing line is recorded by `#[track_exception]`; the job goes on.
        match import_line(&account, i + 1, text) {
            Ok(n) => total += n,
            Err(e) => eprintln!("line {}: {e}", i + 1),
        }
    }
    read_extra_input();
    // A panic on a worker thread: recorded by the chained panic hook.
    let _ = std::thread::Builder::new()
        .name("importer".into())
        .spawn(|| {
            let rates: Vec<f64> = Vec::new();
            rates[3]
        })
        .expect("spawn")
        .join();

    error_tracker::flush(Duration::from_secs(5));
    let store = error_tracker::store().expect("initialized");
    let groups = store.list_groups(&GroupQuery::default())?;
    println!("\nimported a total of {total}; {} error groups recorded:", groups.total);
    for g in &groups.items {
        println!("  {:>3}x  {}: {}", g.count, g.exception_name, g.message);
    }
    // The headline: the failing function's arguments and locals, per occurrence.
    if let Some(g) = groups.items.iter().find(|g| g.message.contains("bad amount")) {
        let latest = store.occurrences(&g.hash, PageRequest::first(1))?;
        for o in &latest.items {
            println!("\nthe latest \"{}\" went through:", o.message);
            for f in &o.frames {
                println!("  {} ({}:{})", f.function, f.file.as_deref().unwrap_or("?"), f.line.unwrap_or(0));
                for v in f.args.iter().chain(&f.locals) {
                    println!("    {} = {}", v.name, v.value);
                }
            }
        }
    }
    let where_ = match error_tracker::config().expect("initialized").get_database() {
        Database::Sqlite(p) => p.display().to_string(),
        Database::Postgres(_) => "the PostgreSQL database".into(),
    };
    println!("\nStored in {where_}. Look at it with:");
    println!("  sqlite3 {where_} 'SELECT exception_name, count, last_seen FROM exceptions ORDER BY last_seen DESC'");
    println!("  cargo run -p error-tracker-ui -- --db {where_}   (the web UI, at http://127.0.0.1:8080/dev/error)");
    drop(guard);
    Ok(())
}
