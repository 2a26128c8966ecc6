//! A store that a user wrote: the seed's "Using Mongo or other data store".
//!
//! Any type that implements both halves of [`error_tracker::Store`]
//! ([`error_tracker::StoreWrite`] and [`error_tracker::StoreQuery`]) can take the place of
//! SQLite or PostgreSQL. This one keeps an append-only JSON-lines file: each
//! write, status change and deletion is one line, and opening the file
//! replays the lines into an in-memory index (a [`MemoryStore`]) that answers
//! the reads. It runs through the same conformance suite as the built-in
//! stores (`error-tracker/tests/store_conformance.rs`).
//!
//! Run it with `cargo run --example custom_store`.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use error_tracker::{
    Cause, Config, Group, GroupChange, GroupQuery, GroupSummary, Grouped, MemoryStore, Occurrence, Page, PageRequest,
    Status, StoreError, StoreQuery, StoreWrite, Timestamp,
};
use serde::{Deserialize, Serialize};

/// One line of the file: something that changed the store.
#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Event {
    Write { batch: Vec<Entry> },
    Delete { hash: String },
    Status { hash: String, status: Status },
    Notified { hash: String, sent: bool },
    Ticket { hash: String, ticket: Option<String> },
}

/// One occurrence of a written batch.
#[derive(Serialize, Deserialize)]
struct Entry {
    hash: String,
    times: u64,
    #[serde(default)]
    count_only: bool,
    occurrence: Occurrence,
}

/// A [`error_tracker::Store`] in a JSON-lines file. One process at a time may write to it.
pub struct JsonLinesStore {
    path: PathBuf,
    file: Mutex<File>,
    index: MemoryStore,
}

fn io_err(e: std::io::Error) -> StoreError {
    StoreError::Database(Cause::of(e))
}

impl JsonLinesStore {
    /// Opens (creating it if needed) the file at `path` and replays it.
    pub fn open(path: impl AsRef<Path>, occurrences_per_group: u32) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let open_err =
            |e: std::io::Error| StoreError::Open { location: path.display().to_string(), reason: e.to_string() };
        let file = OpenOptions::new().create(true).append(true).read(true).open(&path).map_err(open_err)?;
        let index = MemoryStore::new(occurrences_per_group);
        for (n, line) in BufReader::new(&file).lines().enumerate() {
            let line = line.map_err(open_err)?;
            // A line cut short by a crash is the last one: skip it rather
            // than refuse to open.
            let Ok(event) = serde_json::from_str::<Event>(&line) else {
                eprintln!("custom_store: skipping unreadable line {} of {}", n + 1, path.display());
                continue;
            };
            apply(&index, event)?;
        }
        Ok(Self { path, file: Mutex::new(file), index })
    }

    /// The file this store appends to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `event` to the file, then applies it to the index, in the
    /// file's order.
    fn record<T>(
        &self,
        event: Event,
        apply: impl FnOnce(&MemoryStore) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut line = serde_json::to_string(&event).map_err(|e| StoreError::Database(Cause::of(e)))?;
        line.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.write_all(line.as_bytes()).map_err(io_err)?;
        file.flush().map_err(io_err)?;
        apply(&self.index)
    }
}

/// Replays one event into the index.
fn apply(index: &MemoryStore, event: Event) -> Result<(), StoreError> {
    match event {
        Event::Write { batch } => {
            let batch: Vec<Grouped> = batch
                .into_iter()
                .map(|e| Grouped { hash: e.hash, occurrence: e.occurrence, times: e.times, count_only: e.count_only })
                .collect();
            index.write(&batch).map(drop)
        }
        Event::Delete { hash } => index.delete_group(&hash).map(drop),
        Event::Status { hash, status } => index.set_status(&hash, status).map(drop),
        Event::Notified { hash, sent } => index.set_notification_sent(&hash, sent).map(drop),
        Event::Ticket { hash, ticket } => index.set_ticket(&hash, ticket.as_deref()).map(drop),
    }
}

impl StoreWrite for JsonLinesStore {
    fn write(&self, batch: &[Grouped]) -> Result<Vec<GroupChange>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let entries = batch
            .iter()
            .map(|g| Entry {
                hash: g.hash.clone(),
                times: g.times,
                count_only: g.count_only,
                occurrence: g.occurrence.clone(),
            })
            .collect();
        self.record(Event::Write { batch: entries }, |index| index.write(batch))
    }
}

impl StoreQuery for JsonLinesStore {
    fn list_groups(&self, query: &GroupQuery) -> Result<Page<GroupSummary>, StoreError> {
        self.index.list_groups(query)
    }

    fn group(&self, hash: &str) -> Result<Option<Group>, StoreError> {
        self.index.group(hash)
    }

    fn occurrences(&self, hash: &str, page: PageRequest) -> Result<Page<Occurrence>, StoreError> {
        self.index.occurrences(hash, page)
    }

    fn hourly_counts(&self, hash: &str, since: Timestamp) -> Result<Vec<u64>, StoreError> {
        self.index.hourly_counts(hash, since)
    }

    fn delete_group(&self, hash: &str) -> Result<bool, StoreError> {
        if self.index.group(hash)?.is_none() {
            return Ok(false);
        }
        self.record(Event::Delete { hash: hash.to_owned() }, |index| index.delete_group(hash))
    }

    fn set_status(&self, hash: &str, status: Status) -> Result<bool, StoreError> {
        if self.index.group(hash)?.is_none() {
            return Ok(false);
        }
        self.record(Event::Status { hash: hash.to_owned(), status }, |index| index.set_status(hash, status))
    }

    fn set_notification_sent(&self, hash: &str, sent: bool) -> Result<bool, StoreError> {
        if self.index.group(hash)?.is_none() {
            return Ok(false);
        }
        self.record(Event::Notified { hash: hash.to_owned(), sent }, |index| index.set_notification_sent(hash, sent))
    }

    fn set_ticket(&self, hash: &str, ticket: Option<&str>) -> Result<bool, StoreError> {
        if self.index.group(hash)?.is_none() {
            return Ok(false);
        }
        let event = Event::Ticket { hash: hash.to_owned(), ticket: ticket.map(str::to_owned) };
        self.record(event, |index| index.set_ticket(hash, ticket))
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::temp_dir().join(format!("error-tracker-custom-store-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);

    // Plug the store in: the tracker writes to it instead of errors.sqlite.
    let guard = error_tracker::init(Config::default().store(JsonLinesStore::open(&path, 100)?))?;
    for input in ["12", "x", "y", "300"] {
        if let Err(e) = input.parse::<u8>() {
            error_tracker::record_exception!(e, "input" => input, "password" => "hunter2");
        }
    }
    if !error_tracker::flush(Duration::from_secs(10)) {
        return Err("the writer did not flush in time".into());
    }
    drop(guard);

    // A fresh process would see the same groups: replay the file.
    let reopened = JsonLinesStore::open(&path, 100)?;
    let groups = reopened.list_groups(&GroupQuery::default())?;
    for g in &groups.items {
        println!("{} × {}: {} (first {}, last {})", g.count, g.exception_name, g.message, g.created_on, g.last_seen);
    }
    let total: u64 = groups.items.iter().map(|g| g.count).sum();
    let file = std::fs::read_to_string(reopened.path())?;
    println!("{} lines in {}", file.lines().count(), reopened.path().display());
    std::fs::remove_file(&path)?;
    if total != 3 {
        return Err(format!("expected 3 occurrences, found {total}").into());
    }
    if file.contains("hunter2") {
        return Err("an unmasked password reached the store".into());
    }
    Ok(())
}
