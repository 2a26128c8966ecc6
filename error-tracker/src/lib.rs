//! # error-tracker
//!
//! A self-hosted error tracker for Rust programs. It records errors and
//! panics with their `source()` chain, a symbolized backtrace, the
//! arguments and locals of tracked functions and the HTTP request being
//! served, masks every secret before anything is stored, groups occurrences
//! by a stable fingerprint, and keeps them in a SQLite file (the default) or
//! a PostgreSQL database.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Reads APP_ERROR_* from the environment; stores into errors.sqlite by default.
//!     let _guard = error_tracker::init(error_tracker::Config::from_env()?)?;
//!
//!     if let Err(e) = std::fs::read_to_string("/no/such/file") {
//!         let id = error_tracker::record_exception!(e, "user_id" => 42, "password" => "hunter2");
//!         eprintln!("recorded as {id}"); // the password is stored as **************
//!     }
//!     error_tracker::flush(Duration::from_secs(1));
//!     Ok(())
//! } // dropping the guard flushes what is left
//! ```
//!
//! Panics are recorded by a chained panic hook: the hook that was installed
//! before still runs. Before [`init`], every call is a cheap no-op.

#![warn(missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

mod bindings;
mod breadcrumbs;
mod budget;
mod capture;
mod config;
mod context;
mod fingerprint;
mod frames;
mod init_error;
#[cfg(any(feature = "axum", feature = "actix", feature = "tracing", feature = "log", feature = "anyhow"))]
pub mod integrations;
pub mod json;
mod mask;
pub mod notify;
mod occurrence;
mod panic_hook;
mod reentry;
pub mod store;
mod symbolize;
mod timestamp;
mod tracker;
mod trail;
mod writer;

pub use config::{Config, DEFAULT_MASK_WITH, DEFAULT_MASKED_KEYS, Database, InitError};
pub use context::{ContextBuilder, DefaultContextBuilder, RequestBody, RequestView};
pub use error_tracker_macros::{auto_track_exception, track_exception};
pub use fingerprint::default_fingerprint;
pub use frames::Plain;
pub use json::Value;
pub use mask::{DefaultMasking, Masking, mask_debug_text};
pub use notify::{Notifier, Ticketing};
pub use occurrence::EventId;
pub use occurrence::{
    Breadcrumb, CaptureSite, FrameSnapshot, Occurrence, PanicInfo, RequestContext, SpanRecord, StackFrame, Variable,
};
#[cfg(feature = "postgres")]
pub use store::PostgresStore;
#[cfg(feature = "sqlite")]
pub use store::SqliteStore;
pub use store::{
    Cause, ChangeKind, Group, GroupChange, GroupQuery, GroupSort, GroupSummary, Grouped, MemoryStore, OccurrenceAt,
    Page, PageRequest, PendingNotification, Pruned, Retention, Status, Store, StoreError, StoreErrorKind, StoreQuery,
    StoreWrite,
};
pub use timestamp::Timestamp;

/// Keeps the tracker's writer flushed at the end of `main`: dropping it
/// waits for the queued occurrences to be stored, up to
/// [`Config::flush_timeout`].
#[must_use = "dropping the guard at once flushes at once; keep it alive until the end of main"]
#[derive(Debug)]
pub struct Guard {
    timeout: Duration,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !flush(self.timeout) {
            eprintln!("error-tracker: some occurrences were not stored within {:?}", self.timeout);
        }
        // Then the notifications of what was just stored, within the same bound.
        if !notify::flush(self.timeout) {
            eprintln!(
                "error-tracker: some notifications were not delivered within {:?}; they are kept in the store \
                 and sent by the next process",
                self.timeout
            );
            notify::release_queued();
        }
        // Then the store makes what it holds whole (SQLite: the WAL folded
        // into the file, so that the file alone can be copied). A store's
        // panic is its own bug; it must not take the app's exit down.
        if let Some(t) = tracker::installed() {
            let closed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                reentry::with_state(reentry::State::Recording, || t.store.close())
            }));
            match closed {
                Ok(Ok(())) => {}
                Ok(Err(e)) => eprintln!("error-tracker: closing the store: {e}"),
                Err(_) => eprintln!("error-tracker: closing the store panicked"),
            }
        }
    }
}

static INIT: Mutex<()> = Mutex::new(());

/// Installs the global tracker, a chained panic hook, and the background writer.
///
/// Returns [`InitError`] when the store cannot be opened or when `init` was
/// already called; it never panics.
pub fn init(config: Config) -> Result<Guard, InitError> {
    let _one_at_a_time = INIT.lock().unwrap_or_else(|e| e.into_inner());
    if tracker::installed().is_some() {
        return Err(InitError::AlreadyInitialized);
    }
    let store: Arc<dyn Store> = match &config.store {
        Some(s) => s.clone(),
        None => open_store(&config)?,
    };
    let notify = notify::start(&config.notify_setup(), &store)?;
    let (queue_tx, queue_rx) = crossbeam_channel::bounded(config.queue_capacity);
    let (wake_tx, wake_rx) = crossbeam_channel::bounded(1);
    let timeout = config.flush_timeout;
    let t = tracker::install(tracker::Tracker::new(config, store, queue_tx, wake_tx))
        .ok_or(InitError::AlreadyInitialized)?;
    writer::spawn(t, queue_rx, wake_rx, notify).map_err(InitError::Spawn)?;
    panic_hook::install();
    Ok(Guard { timeout })
}

fn open_store(config: &Config) -> Result<Arc<dyn Store>, InitError> {
    match &config.database {
        #[cfg(feature = "sqlite")]
        Database::Sqlite(path) => {
            Ok(Arc::new(SqliteStore::open(path, config.occurrences_per_group).map_err(InitError::Store)?))
        }
        #[cfg(not(feature = "sqlite"))]
        Database::Sqlite(_) => Err(InitError::FeatureDisabled {
            feature: "sqlite",
            needed_for: "APP_ERROR_DB=<a SQLite path> (the default, errors.sqlite)".to_owned(),
        }),
        #[cfg(feature = "postgres")]
        Database::Postgres(url) => {
            Ok(Arc::new(store::PostgresStore::open(url, config.occurrences_per_group).map_err(InitError::Store)?))
        }
        #[cfg(not(feature = "postgres"))]
        Database::Postgres(_) => Err(InitError::FeatureDisabled {
            feature: "postgres",
            needed_for: "APP_ERROR_DB=postgres://…".to_owned(),
        }),
    }
}

/// Waits until every occurrence recorded so far is stored, or `timeout`
/// passes. Returns whether everything was stored. Before [`init`] it returns
/// `true` at once.
pub fn flush(timeout: Duration) -> bool {
    match tracker::installed() {
        Some(t) => t.flush(timeout),
        None => true,
    }
}

/// What the writer counted since [`init`]: see [`writer_stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriterStats {
    /// Occurrences dropped: their preparation panicked (a bug of ours), or
    /// they were recorded after the writer thread ended.
    pub lost: u64,
    /// Writes the store failed (each retry counts).
    pub write_failures: u64,
    /// Occurrences the store refused for good (a permanent error on the
    /// occurrence alone, [`StoreErrorKind::Permanent`], several times), set
    /// aside so that the rest is stored.
    pub set_aside: u64,
    /// Groups deleted by retention ([`Config::retention`]).
    pub pruned_groups: u64,
    /// The sum of the counts of those groups.
    pub pruned_occurrences: u64,
}

/// What the writer counted so far, or `None` before [`init`].
///
/// ```
/// assert!(error_tracker::writer_stats().is_none()); // not initialized here
/// ```
pub fn writer_stats() -> Option<WriterStats> {
    tracker::installed().map(|t| t.progress.stats())
}

/// The configuration the tracker was initialized with, if [`init`] was called.
pub fn config() -> Option<&'static Config> {
    tracker::installed().map(|t| &t.config)
}

/// The store the tracker writes to, if [`init`] was called. The UI reads from it.
pub fn store() -> Option<Arc<dyn Store>> {
    tracker::installed().map(|t| t.store.clone())
}

/// Records an error (from a catch block) and returns its [`EventId`].
///
/// `err` is any [`std::error::Error`] (also `anyhow::Error` and
/// `Box<dyn Error + Send + Sync>`), or any `Debug` value. Extra key/values
/// are any `Serialize` or `Debug` value; they are masked like everything
/// else. Before [`init`] it does nothing and returns [`EventId::nil`].
///
/// ```
/// use error_tracker::record_exception;
///
/// let err = "x".parse::<u32>().unwrap_err();
/// let id = record_exception!(err, "input" => "x", "api_key" => "k-123");
/// assert!(id.is_nil()); // not initialized in this example
///
/// #[derive(Debug)]
/// struct NotAnError { code: u16 }
/// record_exception!(NotAnError { code: 7 });
/// ```
#[macro_export]
macro_rules! record_exception {
    ($err:expr $(, $key:literal => $value:expr)* $(,)?) => {{
        #[allow(unused_imports)]
        use $crate::__private::{ViaAnyhow as _, ViaAsDynError as _, ViaAsDynErrorSend as _, ViaDebug as _, ViaError as _};
        #[allow(unused_imports)]
        use $crate::__private::{RenderViaDebug as _, RenderViaName as _, RenderViaSerialize as _, RenderViaUnlocked as _};
        // Where this call is, as the compiler sees it: it groups the
        // occurrence, in a stripped binary too.
        static __ERROR_TRACKER_SITE: $crate::__private::RecordSite = $crate::__private::RecordSite {
            file: ::core::file!(),
            line: ::core::line!(),
            column: ::core::column!(),
            function_line: $crate::__private::__enclosing_fn_line!($err),
        };
        #[allow(dead_code)]
        fn __error_tracker_here() {}
        match $crate::__private::tracker() {
            ::core::option::Option::None => $crate::EventId::nil(),
            ::core::option::Option::Some(__error_tracker_t) => {
                let __error_tracker_err = &$err;
                // In a storm past the site's budget, a repeat is only counted.
                match $crate::__private::admit(__error_tracker_t, &__ERROR_TRACKER_SITE, __error_tracker_err) {
                    ::core::option::Option::None => $crate::EventId::nil(),
                    ::core::option::Option::Some(__error_tracker_admitted) => {
                        // A local of the calling frame: the stack is walked from it.
                        let __error_tracker_frame = 0u8;
                        let __error_tracker_site = $crate::__private::RecordedAt {
                            site: &__ERROR_TRACKER_SITE,
                            marker: ::core::any::type_name_of_val(&__error_tracker_here),
                            frame: ::core::ptr::addr_of!(__error_tracker_frame) as usize,
                            admitted: __error_tracker_admitted,
                        };
                        let __error_tracker_extra = ::std::vec![$(
                            $crate::__private::variable(__error_tracker_t, $key, |__error_tracker_m| {
                                (&&&&$crate::__private::Wrap(&$value)).__error_tracker_render(__error_tracker_m)
                            })
                        ),*];
                        (&&&&&$crate::__private::Wrap(__error_tracker_err))
                            .__error_tracker_record(__error_tracker_t, __error_tracker_site, __error_tracker_extra)
                    }
                }
            }
        }
    }};
}

/// What the generated code of `record_exception!` and the attribute macros
/// calls. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    use crate::Value;
    pub use crate::frames::__private::*;
    pub use crate::tracker::Tracker;
    use crate::{EventId, Masking, Variable};
    use std::error::Error;
    use std::fmt::Debug;

    pub use error_tracker_macros::__enclosing_fn_line;

    /// A `record_exception!` call's place, as the compiler saw it.
    pub struct RecordSite {
        pub file: &'static str,
        pub line: u32,
        pub column: u32,
        /// The enclosing fn's line; 0: unknown.
        pub function_line: u32,
    }

    /// A call's place, the path of a marker fn declared next to it, the
    /// address of a local of the calling frame, and its budget slot.
    pub struct RecordedAt {
        pub site: &'static RecordSite,
        pub marker: &'static str,
        pub frame: usize,
        pub admitted: Admitted,
    }

    /// An occurrence to capture in detail, and its site's budget slot.
    pub struct Admitted(Option<crate::budget::SiteSlot>);

    impl Admitted {
        pub(crate) fn slot(&self) -> Option<crate::budget::SiteSlot> {
            self.0
        }
    }

    /// Whether the `record_exception!` call at `site` captures `err` in
    /// detail (`Some`), or only counted it (see `budget`).
    #[inline]
    pub fn admit<T: ?Sized>(t: &Tracker, site: &'static RecordSite, _err: &T) -> Option<Admitted> {
        let key = crate::budget::key(std::ptr::from_ref(site).cast(), std::any::type_name::<T>(), 0);
        match t.admit(key) {
            crate::budget::Admission::Detail(slot) => Some(Admitted(slot)),
            crate::budget::Admission::Counted => None,
        }
    }

    impl From<&RecordedAt> for crate::CaptureSite {
        fn from(&RecordedAt { site, marker, .. }: &RecordedAt) -> Self {
            crate::CaptureSite {
                function: crate::frames::enclosing_function(marker).to_owned(),
                file: site.file.to_owned(),
                line: site.line,
                column: site.column,
                function_line: (site.function_line != 0).then_some(site.function_line),
            }
        }
    }

    /// The tracker, or `None` before `init` or while recording.
    #[inline]
    pub fn tracker() -> Option<&'static Tracker> {
        crate::tracker::get()
    }

    /// A named value, masked by name, else rendered by `render`.
    pub fn variable(t: &Tracker, name: &str, render: impl FnOnce(&dyn Masking) -> Value) -> Variable {
        let m = &*t.masking;
        let value = if m.is_secret_key(name) { Value::String(m.mask().to_owned()) } else { render(m) };
        Variable { name: name.to_owned(), value }
    }

    /// Autoref specialization: the method found first, with the most `&`,
    /// is the most specific one that the type implements.
    pub struct Wrap<'a, T: ?Sized>(pub &'a T);

    /// Render dispatch: [`Unlocked`] > `Debug` > `Serialize` > name. `Debug`
    /// comes before `Serialize` because rendering must never block:
    /// `Serialize` for `Mutex`/`RwLock` takes the lock, their `Debug` uses
    /// `try_lock`.
    pub trait RenderViaUnlocked {
        fn __error_tracker_render(&self, m: &dyn Masking) -> Value;
    }
    impl<T: Unlocked + ?Sized> RenderViaUnlocked for &&&Wrap<'_, T> {
        fn __error_tracker_render(&self, m: &dyn Masking) -> Value {
            crate::mask::render_serialize(m, self.0)
        }
    }
    pub trait RenderViaSerialize {
        fn __error_tracker_render(&self, m: &dyn Masking) -> Value;
    }
    impl<T: serde::Serialize + ?Sized> RenderViaSerialize for &Wrap<'_, T> {
        fn __error_tracker_render(&self, m: &dyn Masking) -> Value {
            crate::mask::render_serialize(m, self.0)
        }
    }
    pub trait RenderViaDebug {
        fn __error_tracker_render(&self, m: &dyn Masking) -> Value;
    }
    impl<T: Debug + ?Sized> RenderViaDebug for &&Wrap<'_, T> {
        fn __error_tracker_render(&self, m: &dyn Masking) -> Value {
            crate::mask::render_debug(m, self.0)
        }
    }
    pub trait RenderViaName {
        fn __error_tracker_render(&self, m: &dyn Masking) -> Value;
    }
    impl<T: ?Sized> RenderViaName for Wrap<'_, T> {
        fn __error_tracker_render(&self, _: &dyn Masking) -> Value {
            Value::String(format!("<{}>", std::any::type_name::<T>()))
        }
    }

    /// `anyhow::Error`, first: recorded with its own backtrace too (feature
    /// `anyhow`; without it, the trait has no impl and `ViaAsDynErrorSend`
    /// records it).
    pub trait ViaAnyhow {
        fn __error_tracker_record(&self, t: &Tracker, site: RecordedAt, extra: Vec<Variable>) -> EventId;
    }
    #[cfg(feature = "anyhow")]
    impl ViaAnyhow for &&&&Wrap<'_, anyhow::Error> {
        fn __error_tracker_record(&self, t: &Tracker, site: RecordedAt, extra: Vec<Variable>) -> EventId {
            crate::capture::capture_anyhow(t, self.0, &site, extra)
        }
    }
    pub trait ViaError {
        fn __error_tracker_record(&self, t: &Tracker, site: RecordedAt, extra: Vec<Variable>) -> EventId;
    }
    impl<T: Error> ViaError for &&&Wrap<'_, T> {
        fn __error_tracker_record(&self, t: &Tracker, site: RecordedAt, extra: Vec<Variable>) -> EventId {
            crate::capture::capture_error(t, std::any::type_name::<T>(), self.0, &site, extra)
        }
    }
    pub trait ViaAsDynErrorSend {
        fn __error_tracker_record(&self, t: &Tracker, site: RecordedAt, extra: Vec<Variable>) -> EventId;
    }
    impl<T: AsRef<dyn Error + Send + Sync> + ?Sized> ViaAsDynErrorSend for &&Wrap<'_, T> {
        fn __error_tracker_record(&self, t: &Tracker, site: RecordedAt, extra: Vec<Variable>) -> EventId {
            crate::capture::capture_error(t, std::any::type_name::<T>(), self.0.as_ref(), &site, extra)
        }
    }
    pub trait ViaAsDynError {
        fn __error_tracker_record(&self, t: &Tracker, site: RecordedAt, extra: Vec<Variable>) -> EventId;
    }
    impl<T: AsRef<dyn Error> + ?Sized> ViaAsDynError for &Wrap<'_, T> {
        fn __error_tracker_record(&self, t: &Tracker, site: RecordedAt, extra: Vec<Variable>) -> EventId {
            crate::capture::capture_error(t, std::any::type_name::<T>(), self.0.as_ref(), &site, extra)
        }
    }
    pub trait ViaDebug {
        fn __error_tracker_record(&self, t: &Tracker, site: RecordedAt, extra: Vec<Variable>) -> EventId;
    }
    impl<T: Debug + ?Sized> ViaDebug for Wrap<'_, T> {
        fn __error_tracker_record(&self, t: &Tracker, site: RecordedAt, extra: Vec<Variable>) -> EventId {
            let message = match crate::mask::render_debug(&*t.masking, self.0) {
                Value::String(s) => s,
                other => other.to_string(),
            };
            crate::capture::capture_debug(t, std::any::type_name::<T>(), message, &site, extra)
        }
    }
}
