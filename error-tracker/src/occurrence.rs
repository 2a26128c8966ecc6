//! What one recorded error or panic holds.
//!
//! Every string and value in an [`Occurrence`] has already been masked by the
//! configured [`Masking`](crate::Masking) when it reaches a [`Store`](crate::Store).

use std::fmt;

use crate::json::Value;
use serde::{Deserialize, Serialize};

use crate::timestamp::Timestamp;

/// One recorded error or panic, masked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Occurrence {
    /// The occurrence id, a UUID v4 in its hyphenated form, returned by `record_exception!`.
    pub id: String,
    /// The exception type, from [`std::any::type_name`]; `"panic"` for panics.
    pub exception_name: String,
    /// The error's `Display` text, or the panic payload.
    pub message: String,
    /// The `source()` chain, outermost first (not including the error itself).
    #[serde(default)]
    pub sources: Vec<String>,
    /// The symbolized backtrace, innermost first.
    #[serde(default)]
    pub backtrace: Vec<StackFrame>,
    /// The name of the thread that failed, if it had one.
    pub thread: Option<String>,
    /// When it happened (UTC).
    pub timestamp: Timestamp,
    /// The host name.
    pub host: String,
    /// The process id.
    pub pid: u32,
    /// The release, when configured with [`Config::release`](crate::Config::release).
    pub release: Option<String>,
    /// For panics: the payload message and location.
    pub panic: Option<PanicInfo>,
    /// The snapshots of the tracked frames (`#[track_exception]`), innermost first.
    #[serde(default)]
    pub frames: Vec<FrameSnapshot>,
    /// The HTTP request being served, if any.
    pub request: Option<RequestContext>,
    /// Extra key/values given to `record_exception!` or by a `fields(...)` option.
    #[serde(default)]
    pub extra: Vec<Variable>,
    /// Where `record_exception!` was called, or where the panic happened,
    /// as the compiler saw it: it holds in a stripped binary, and groups
    /// the occurrence (see [`default_fingerprint`](crate::default_fingerprint)).
    /// Stores may keep it or not: it is also the innermost frame of
    /// `backtrace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<CaptureSite>,
    /// What the program logged just before, oldest first: the `tracing`
    /// events or `log` records of the request being served, else of the
    /// failing thread (see `integrations::tracing`). Empty without those
    /// integrations.
    #[serde(default)]
    pub breadcrumbs: Vec<Breadcrumb>,
    /// The `tracing` spans the failing code was in, outermost first, like
    /// tracing-error's `SpanTrace`: `request{method=GET} → load_order{id=17}`.
    #[serde(default)]
    pub spans: Vec<SpanRecord>,
    /// Where the error itself was created, innermost first, when it carried
    /// a captured backtrace of its own (an `anyhow::Error` under
    /// `RUST_BACKTRACE=1` or `RUST_LIB_BACKTRACE=1`); `backtrace` is where it
    /// was recorded.
    #[serde(default)]
    pub error_backtrace: Vec<StackFrame>,
}

/// One event logged before an occurrence (a `tracing` event or a `log`
/// record), masked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breadcrumb {
    /// When it was logged (UTC).
    pub timestamp: Timestamp,
    /// `ERROR`, `WARN`, `INFO`, `DEBUG` or `TRACE`.
    pub level: String,
    /// The event's target, by default its module path.
    pub target: String,
    /// The message (the `message` field of a `tracing` event).
    pub message: String,
    /// The other fields, in order; a secret name's value is the mask.
    #[serde(default)]
    pub fields: Vec<Variable>,
}

/// One `tracing` span the failing code was in, with its fields, masked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanRecord {
    /// The span's name (`request`, or the function of `#[instrument]`).
    pub name: String,
    /// The span's target, by default its module path.
    pub target: String,
    /// Its fields as recorded so far, in order; a secret name's value is the mask.
    #[serde(default)]
    pub fields: Vec<Variable>,
}

impl fmt::Display for SpanRecord {
    /// `name{key=value key=value}`, as tracing's `fmt` shows a span; string
    /// values without their quotes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if self.fields.is_empty() {
            return Ok(());
        }
        f.write_str("{")?;
        for (i, v) in self.fields.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            match &v.value {
                Value::String(s) => write!(f, "{}={s}", v.name)?,
                other => write!(f, "{}={other}", v.name)?,
            }
        }
        f.write_str("}")
    }
}

/// A place in the source where an occurrence was captured, known at compile
/// time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureSite {
    /// The path of the enclosing function (`my_app::db::load`); empty for a
    /// panic, whose location alone is known.
    pub function: String,
    /// The source file, as the compiler named it.
    pub file: String,
    /// The line (from 1).
    pub line: u32,
    /// The column (from 1).
    pub column: u32,
    /// The line of the enclosing function's `fn`, when the macro could tell:
    /// the group is keyed by the line within the function, so that code
    /// added above the function keeps the group.
    pub function_line: Option<u32>,
}

impl CaptureSite {
    /// The site's line within its function (from 0 at the `fn`), else its
    /// line in the file.
    pub fn line_in_function(&self) -> u32 {
        self.function_line.filter(|&f| f <= self.line).map_or(self.line, |f| self.line - f)
    }
}

/// One symbolized backtrace frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackFrame {
    /// The demangled function name without its hash, e.g. `my_app::db::load`.
    pub function: String,
    /// The source file, when debug info has it.
    pub file: Option<String>,
    /// The line, when debug info has it.
    pub line: Option<u32>,
    /// Whether the frame belongs to the application rather than std or a dependency.
    pub in_app: bool,
}

/// Where and with what a panic happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PanicInfo {
    /// The payload, when it is a `&str` or a `String`.
    pub message: String,
    /// `file:line:column`.
    pub location: Option<String>,
}

/// The arguments and locals of one tracked function, captured by `#[track_exception]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameSnapshot {
    /// The function's path, e.g. `my_app::handlers::login`.
    pub function: String,
    /// The source file of the function.
    pub file: Option<String>,
    /// The line where it failed (a `?`, `return`, or the panic), else the
    /// line of the function.
    pub line: Option<u32>,
    /// The line of the function's `fn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_line: Option<u32>,
    /// The arguments, in declaration order.
    #[serde(default)]
    pub args: Vec<Variable>,
    /// The `let` bindings made before the failure point.
    #[serde(default)]
    pub locals: Vec<Variable>,
}

/// A named, masked, rendered value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variable {
    /// The variable or key name.
    pub name: String,
    /// The rendered value: structured where the type implements `Serialize`,
    /// else a string (its `Debug` text or `<TypeName>`).
    pub value: Value,
}

/// The HTTP request being served when the error happened, masked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestContext {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The full URL, userinfo masked.
    pub url: String,
    /// The URL path, without the query.
    pub path: String,
    /// The route pattern, such as axum's `MatchedPath` (`/users/{id}`).
    pub route: Option<String>,
    /// The request headers, in order.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The query parameters, in order.
    #[serde(default)]
    pub query: Vec<(String, String)>,
    /// The body: structured for JSON and form bodies, else a string.
    pub body: Option<Value>,
    /// The client address.
    pub client_addr: Option<String>,
    /// What a [`ContextBuilder`](crate) added: user id, data center, ...
    #[serde(default)]
    pub custom: Vec<Variable>,
}

/// The id of a recorded occurrence: a UUID v4, stored with it, like Sentry's
/// event id. It is nil when nothing was recorded (before [`init`](crate::init),
/// or for an error raised while recording).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct EventId(pub(crate) u128);

impl EventId {
    /// The nil id: nothing was recorded.
    pub const fn nil() -> Self {
        EventId(0)
    }

    /// Whether nothing was recorded.
    pub const fn is_nil(self) -> bool {
        self.0 == 0
    }

    pub(crate) fn new_v4() -> Self {
        EventId(uuid::Uuid::new_v4().as_u128())
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&uuid::Uuid::from_u128(self.0).hyphenated(), f)
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({self})")
    }
}
