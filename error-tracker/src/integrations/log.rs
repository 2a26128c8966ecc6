//! The `log` integration (feature `log`): a [`Logger`] that wraps yours,
//! forwards every record to it, and keeps the same breadcrumbs as the
//! `tracing` layer (the last records of the request being served, else of
//! the current thread, `INFO` and above by default, with their key/values).
//! `log::error!` records become occurrences only when asked
//! ([`Logger::record_level`]): many libraries log at `ERROR` what they also
//! return as an error.
//!
//! Masking is the same as for `tracing`: a key/value whose key is secret is
//! kept as the mask at once; the value rules apply on the writer thread.
//! Before [`init`](crate::init) (and on the tracker's own threads), nothing
//! is kept; the records still reach your logger.
//!
//! ```
//! use log::LevelFilter;
//!
//! /// Your logger (env_logger, simplelog, …); here, one that prints.
//! struct Stderr;
//! impl log::Log for Stderr {
//!     fn enabled(&self, m: &log::Metadata<'_>) -> bool { m.level() <= log::Level::Warn }
//!     fn log(&self, r: &log::Record<'_>) { if self.enabled(r.metadata()) { eprintln!("{} {}", r.level(), r.args()) } }
//!     fn flush(&self) {}
//! }
//!
//! error_tracker::integrations::log::Logger::new(Stderr)
//!     .breadcrumb_level(LevelFilter::Debug)
//!     .record_level(log::Level::Error)
//!     .init(LevelFilter::Warn)
//!     .expect("no other logger was set");
//! log::info!("kept as a breadcrumb, not printed");
//! ```

use std::fmt;
use std::sync::Arc;

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::breadcrumbs::{DEFAULT_MAX_BREADCRUMBS, FieldValue, Fields, Target};
use crate::budget::Admission;
use crate::capture::{State, guarded, pending_message, with_state};
use crate::mask::Masking;
use crate::occurrence::CaptureSite;
use crate::tracker::Tracker;

type MetadataFilter = Arc<dyn Fn(&Metadata<'_>) -> bool + Send + Sync>;

/// A logger that keeps breadcrumbs and forwards every record to yours: see
/// the [module](self).
pub struct Logger {
    inner: Option<Box<dyn Log>>,
    breadcrumb_level: LevelFilter,
    breadcrumb_filter: Option<MetadataFilter>,
    record_level: Option<Level>,
    max_breadcrumbs: usize,
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger")
            .field("inner", &self.inner.is_some())
            .field("breadcrumb_level", &self.breadcrumb_level)
            .field("breadcrumb_filter", &self.breadcrumb_filter.is_some())
            .field("record_level", &self.record_level)
            .field("max_breadcrumbs", &self.max_breadcrumbs)
            .finish()
    }
}

impl Logger {
    /// Wraps `inner`, which gets every record (its own `enabled` decides
    /// what it writes).
    pub fn new(inner: impl Log + 'static) -> Self {
        Self { inner: Some(Box::new(inner)), ..Self::alone() }
    }

    /// A logger that only keeps breadcrumbs, for an app that has no other.
    pub fn alone() -> Self {
        Self {
            inner: None,
            breadcrumb_level: LevelFilter::Info,
            breadcrumb_filter: None,
            record_level: None,
            max_breadcrumbs: DEFAULT_MAX_BREADCRUMBS,
        }
    }

    /// Keeps records at `level` and above as breadcrumbs (`Info` by
    /// default; `Off` keeps none).
    pub fn breadcrumb_level(mut self, level: LevelFilter) -> Self {
        self.breadcrumb_level = level;
        self
    }

    /// Keeps as breadcrumbs only the records (at the breadcrumb level) for
    /// which `filter` says yes: by target, for example.
    pub fn breadcrumb_filter(mut self, filter: impl Fn(&Metadata<'_>) -> bool + Send + Sync + 'static) -> Self {
        self.breadcrumb_filter = Some(Arc::new(filter));
        self
    }

    /// How many breadcrumbs are kept per thread and per request (100 by default).
    pub fn max_breadcrumbs(mut self, n: usize) -> Self {
        self.max_breadcrumbs = n;
        self
    }

    /// Records the records at `level` and above as occurrences (none by
    /// default). Their exception name is `log::ERROR` (the level), their
    /// message the record's, their extras its key/values; they are grouped
    /// by their place in the source.
    pub fn record_level(mut self, level: Level) -> Self {
        self.record_level = Some(level);
        self
    }

    /// Installs this logger as `log`'s, and sets `log`'s global filter to
    /// `max_level` or the breadcrumb or record level, whichever is the most
    /// verbose: records past it cost nothing. Fails when a logger is set already.
    pub fn init(self, max_level: LevelFilter) -> Result<(), log::SetLoggerError> {
        let ours = self.record_level.map_or(LevelFilter::Off, |l| l.to_level_filter());
        let max = max_level.max(self.breadcrumb_level).max(ours);
        crate::trail::enable(self.max_breadcrumbs);
        log::set_boxed_logger(Box::new(self))?;
        log::set_max_level(max);
        Ok(())
    }

    fn keeps(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.breadcrumb_level && self.breadcrumb_filter.as_ref().is_none_or(|f| f(metadata))
    }

    fn records(&self, metadata: &Metadata<'_>) -> bool {
        self.record_level.is_some_and(|l| metadata.level() <= l)
    }
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.inner.as_ref().is_some_and(|l| l.enabled(metadata)) || self.keeps(metadata) || self.records(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if let Some(inner) = &self.inner {
            inner.log(record);
        }
        let metadata = record.metadata();
        let breadcrumb = self.keeps(metadata);
        let occurrence = self.records(metadata);
        if !breadcrumb && !occurrence {
            return;
        }
        let Some(t) = crate::tracker::get() else { return };
        if occurrence {
            // A local of this frame: the stack is walked from here up, to
            // the code that logged.
            let frame = 0u8;
            record_occurrence(t, record, std::ptr::addr_of!(frame) as usize);
        }
        if breadcrumb {
            let m = &*t.masking;
            crate::trail::keep(level_name(record.level()), Target::Borrowed(record.target()), |fields| {
                guarded(|| {
                    fields.message(*record.args());
                    let _ = record.key_values().visit(&mut KeyValues { fields, m });
                });
            });
        }
    }

    fn flush(&self) {
        if let Some(inner) = &self.inner {
            inner.flush();
        }
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "ERROR",
        Level::Warn => "WARN",
        Level::Info => "INFO",
        Level::Debug => "DEBUG",
        Level::Trace => "TRACE",
    }
}

/// Records a record as an occurrence, unless its place in the source is
/// past its detail budget (then it is only counted, as any capture site).
fn record_occurrence(t: &Tracker, record: &Record<'_>, frame: usize) {
    let name = match record.level() {
        Level::Error => "log::ERROR",
        Level::Warn => "log::WARN",
        Level::Info => "log::INFO",
        Level::Debug => "log::DEBUG",
        Level::Trace => "log::TRACE",
    };
    // The file's static text and the line key the site; a record without
    // them (built by hand) shares one budget per level.
    let file = record.file_static().map_or(std::ptr::null(), |f| f.as_ptr().cast());
    let key = crate::budget::key(file, name, record.line().unwrap_or(0));
    let slot = match t.admit(key) {
        Admission::Detail(slot) => slot,
        Admission::Counted => return,
    };
    with_state(State::Recording, || {
        let m = &*t.masking;
        let message = guarded(|| crate::mask::render::bounded_format(*record.args()))
            .unwrap_or_else(|| crate::mask::RENDER_ERROR.to_owned());
        let mut fields = Fields::default();
        guarded(|| record.key_values().visit(&mut KeyValues { fields: &mut fields, m }));
        let mut p = pending_message(name, message, frame);
        p.occurrence.extra = fields.variables();
        p.occurrence.site = record.file().map(|file| CaptureSite {
            function: record.module_path().unwrap_or_default().to_owned(),
            file: file.to_owned(),
            line: record.line().unwrap_or(0),
            column: 0,
            function_line: None,
        });
        p.slot = slot;
        t.submit_pending(p);
    });
}

/// A record's key/values into a breadcrumb's fields.
struct KeyValues<'a> {
    fields: &'a mut Fields,
    m: &'a dyn Masking,
}

impl<'kvs> log::kv::VisitSource<'kvs> for KeyValues<'_> {
    fn visit_pair(&mut self, key: log::kv::Key<'kvs>, value: log::kv::Value<'kvs>) -> Result<(), log::kv::Error> {
        let value = if let Some(b) = value.to_bool() {
            FieldValue::Bool(b)
        } else if let Some(n) = value.to_i64() {
            FieldValue::I64(n)
        } else if let Some(n) = value.to_u64() {
            FieldValue::U64(n)
        } else if let Some(n) = value.to_f64() {
            FieldValue::F64(n)
        } else {
            self.fields.field(self.m, key.as_str(), FieldValue::Display(&value));
            return Ok(());
        };
        self.fields.field(self.m, key.as_str(), value);
        Ok(())
    }
}
