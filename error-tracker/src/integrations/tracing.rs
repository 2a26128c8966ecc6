//! The `tracing` integration (feature `tracing`): a
//! [`tracing_subscriber::Layer`] that gives every occurrence what the program
//! logged before it and the spans it was in, and records `tracing::error!`
//! events as occurrences.
//!
//! - **Breadcrumbs**: the last events (100 by default, `INFO` and above) of
//!   the request being served, else of the current thread, with their time,
//!   level, target, message and fields, are attached to each occurrence.
//! - **Spans**: the stack of entered spans with their fields, outermost
//!   first, like tracing-error's `SpanTrace`: an error in a handler shows
//!   `request{method=GET path=/orders/17} → load_order{id=17}`.
//! - **Events as occurrences**: an `ERROR` event becomes an occurrence, with
//!   its fields as the extras. When it has an `error` field holding a
//!   `&dyn Error` (`error = &e as &dyn std::error::Error`), the error's
//!   message and `source()` chain are the occurrence's, and the event's own
//!   message is kept as the extra `message`. Its exception name is
//!   `tracing::ERROR` (the level); it is grouped by the event's place in the
//!   source.
//!
//! Field values are masked as everything else: a field whose name is secret
//! by the key rules is kept as the mask, on the logging thread; the value
//! rules (tokens, card numbers, `password=…` pairs) apply on the writer
//! thread. Each breadcrumb and span keeps at most 4 KiB of text and 32
//! fields. Before [`init`](crate::init) (and on the tracker's own threads),
//! the layer keeps nothing.
//!
//! The cost: a kept breadcrumb writes into a ring that reuses its buffers,
//! so once the ring is full it allocates nothing; it never blocks. See
//! `benches/tracing.rs` and BENCHMARKS.md.
//!
//! ```
//! use tracing_subscriber::prelude::*;
//!
//! let subscriber = tracing_subscriber::registry().with(
//!     error_tracker::integrations::tracing::layer()
//!         .breadcrumb_level(tracing::Level::DEBUG)
//!         .breadcrumb_filter(|metadata| !metadata.target().starts_with("hyper")),
//! );
//! tracing::subscriber::with_default(subscriber, || {
//!     let span = tracing::info_span!("load_order", id = 17);
//!     let _entered = span.enter();
//!     tracing::info!(rows = 3, "loaded");
//! });
//! ```

use std::any::TypeId;
use std::error::Error;
use std::fmt;
use std::sync::Arc;

use tracing_core::field::{Field, Visit};
use tracing_core::{Dispatch, Event, Level, LevelFilter, Metadata, Subscriber, span};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use crate::breadcrumbs::{DEFAULT_MAX_BREADCRUMBS, FieldValue, Fields, Target};
use crate::budget::Admission;
use crate::capture::{State, guarded, pending_message, with_state};
use crate::mask::Masking;
use crate::occurrence::{CaptureSite, SpanRecord, Variable};
use crate::tracker::Tracker;

/// The most spans kept of one occurrence: past it, the outermost are dropped.
const MAX_SPANS: usize = 64;
/// The longest `source()` chain kept of an event's `error` field.
const MAX_SOURCES: usize = 32;

type MetadataFilter = Arc<dyn Fn(&Metadata<'_>) -> bool + Send + Sync>;

/// The layer: see the [module](self). Made by [`layer`], set up with its
/// builder methods.
#[derive(Clone)]
pub struct TrackerLayer {
    breadcrumb_level: Option<Level>,
    breadcrumb_filter: Option<MetadataFilter>,
    event_level: Option<Level>,
    event_filter: Option<MetadataFilter>,
    span_level: Level,
    max_breadcrumbs: usize,
    spans: SpansOf,
}

impl fmt::Debug for TrackerLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrackerLayer")
            .field("breadcrumb_level", &self.breadcrumb_level)
            .field("breadcrumb_filter", &self.breadcrumb_filter.is_some())
            .field("event_level", &self.event_level)
            .field("event_filter", &self.event_filter.is_some())
            .field("span_level", &self.span_level)
            .field("max_breadcrumbs", &self.max_breadcrumbs)
            .finish()
    }
}

/// The layer with its defaults: breadcrumbs of `INFO` and above, the last
/// 100 of them; `ERROR` events recorded as occurrences; spans of `INFO` and
/// above kept.
///
/// The layer tells the subscriber the most verbose level it uses (its
/// [`max_level_hint`](Layer::max_level_hint)): with its defaults, when no
/// other layer wants `DEBUG`, a `debug!` costs what it costs with no
/// subscriber, as `tracing` skips it at the callsite.
///
/// ```
/// use tracing_subscriber::prelude::*;
/// let _subscriber = tracing_subscriber::registry().with(error_tracker::integrations::tracing::layer());
/// ```
pub fn layer() -> TrackerLayer {
    TrackerLayer {
        breadcrumb_level: Some(Level::INFO),
        breadcrumb_filter: None,
        event_level: Some(Level::ERROR),
        event_filter: None,
        span_level: Level::INFO,
        max_breadcrumbs: DEFAULT_MAX_BREADCRUMBS,
        spans: SpansOf { read: |_, _, _, _| {}, level: Level::INFO },
    }
}

impl TrackerLayer {
    /// Keeps events at `level` and above (more severe) as breadcrumbs.
    pub fn breadcrumb_level(mut self, level: Level) -> Self {
        self.breadcrumb_level = Some(level);
        self
    }

    /// Keeps no breadcrumbs.
    pub fn no_breadcrumbs(mut self) -> Self {
        self.breadcrumb_level = None;
        self
    }

    /// Keeps as breadcrumbs only the events (at the breadcrumb level) for
    /// which `filter` says yes: by target, for example.
    pub fn breadcrumb_filter(mut self, filter: impl Fn(&Metadata<'_>) -> bool + Send + Sync + 'static) -> Self {
        self.breadcrumb_filter = Some(Arc::new(filter));
        self
    }

    /// How many breadcrumbs are kept per thread and per request (100 by
    /// default); 0 keeps none.
    pub fn max_breadcrumbs(mut self, n: usize) -> Self {
        self.max_breadcrumbs = n;
        self
    }

    /// Records events at `level` and above as occurrences (`ERROR` by default).
    pub fn event_level(mut self, level: Level) -> Self {
        self.event_level = Some(level);
        self
    }

    /// Records no event as an occurrence: they are only breadcrumbs.
    pub fn no_events(mut self) -> Self {
        self.event_level = None;
        self
    }

    /// Records as occurrences only the events (at the event level) for
    /// which `filter` says yes: by target, for example.
    pub fn event_filter(mut self, filter: impl Fn(&Metadata<'_>) -> bool + Send + Sync + 'static) -> Self {
        self.event_filter = Some(Arc::new(filter));
        self
    }

    /// Keeps the spans at `level` and above (`INFO` by default, as
    /// `#[tracing::instrument]` makes them) in an occurrence's span path,
    /// with their fields; the path leaves out the others.
    pub fn span_level(mut self, level: Level) -> Self {
        self.span_level = level;
        self
    }

    fn is_breadcrumb(&self, metadata: &Metadata<'_>) -> bool {
        self.breadcrumb_level.is_some_and(|l| *metadata.level() <= l)
            && self.breadcrumb_filter.as_ref().is_none_or(|f| f(metadata))
    }

    fn is_occurrence(&self, metadata: &Metadata<'_>) -> bool {
        self.event_level.is_some_and(|l| *metadata.level() <= l)
            && self.event_filter.as_ref().is_none_or(|f| f(metadata))
    }
}

/// Reads the spans of the subscriber that the layer is part of: set in
/// `on_layer`, where the subscriber's type is known, and found by the
/// capture path through [`Dispatch::downcast_ref`], as tracing-error's
/// `SpanTrace` finds its layer.
#[derive(Clone, Copy)]
struct SpansOf {
    read: fn(&Dispatch, &span::Id, Level, &mut Vec<SpanRecord>),
    /// The layer's [`span_level`](TrackerLayer::span_level).
    level: Level,
}

fn spans_of<S>(dispatch: &Dispatch, id: &span::Id, level: Level, out: &mut Vec<SpanRecord>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    if let Some(subscriber) = dispatch.downcast_ref::<S>()
        && let Some(span) = subscriber.span(id)
    {
        records(span, level, out);
    }
}

/// The span and its parents at `level` and above, outermost first.
fn records<'a, R: LookupSpan<'a>>(span: SpanRef<'a, R>, level: Level, out: &mut Vec<SpanRecord>) {
    let start = out.len();
    for span in span.scope().filter(|s| *s.metadata().level() <= level).take(MAX_SPANS) {
        let fields = span.extensions().get::<SpanFields>().map(|f| f.0.variables()).unwrap_or_default();
        out.push(SpanRecord { name: span.name().to_owned(), target: span.metadata().target().to_owned(), fields });
    }
    out[start..].reverse();
}

/// The spans the current thread is in: what `trail` attaches to each
/// occurrence.
fn current_spans() -> Vec<SpanRecord> {
    let mut out = Vec::new();
    tracing_core::dispatcher::get_default(|dispatch| {
        if let Some(id) = dispatch.current_span().id()
            && let Some(spans) = dispatch.downcast_ref::<SpansOf>()
        {
            (spans.read)(dispatch, id, spans.level, &mut out);
        }
    });
    out
}

/// A span's fields, kept in its extensions.
struct SpanFields(Fields);

fn level_name(level: &Level) -> &'static str {
    level.as_str()
}

impl<S> Layer<S> for TrackerLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_layer(&mut self, _subscriber: &mut S) {
        self.spans = SpansOf { read: spans_of::<S>, level: self.span_level };
        crate::trail::enable(self.max_breadcrumbs);
        crate::trail::set_span_source(current_spans);
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        // The most verbose level the layer does anything at: its filters
        // only narrow what the levels let through.
        let levels = [self.breadcrumb_level, self.event_level, Some(self.span_level)];
        levels.into_iter().flatten().max().map(LevelFilter::from_level)
    }

    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        if *attrs.metadata().level() > self.span_level {
            return;
        }
        let Some(t) = crate::tracker::get() else { return };
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Fields::for_span();
        guarded(|| attrs.record(&mut Breadcrumb { fields: &mut fields, m: &*t.masking, event: false }));
        span.extensions_mut().insert(SpanFields(fields));
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        let Some(t) = crate::tracker::get() else { return };
        let Some(span) = ctx.span(id) else { return };
        if *span.metadata().level() > self.span_level {
            return;
        }
        let mut extensions = span.extensions_mut();
        match extensions.get_mut::<SpanFields>() {
            Some(SpanFields(fields)) => {
                guarded(|| values.record(&mut Breadcrumb { fields, m: &*t.masking, event: false }));
            }
            None => {
                let mut fields = Fields::default();
                guarded(|| values.record(&mut Breadcrumb { fields: &mut fields, m: &*t.masking, event: false }));
                extensions.insert(SpanFields(fields));
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        let breadcrumb = self.is_breadcrumb(metadata);
        let occurrence = self.is_occurrence(metadata);
        if !breadcrumb && !occurrence {
            return;
        }
        let Some(t) = crate::tracker::get() else { return };
        if occurrence {
            // A local of this frame: the stack is walked from here up, to
            // the code that logged.
            let frame = 0u8;
            record_event(t, event, &ctx, self.span_level, std::ptr::addr_of!(frame) as usize);
        }
        // After the occurrence: an event is a breadcrumb of the next ones,
        // not of its own.
        if breadcrumb {
            let m = &*t.masking;
            crate::trail::keep(level_name(metadata.level()), Target::Static(metadata.target()), |fields| {
                guarded(|| event.record(&mut Breadcrumb { fields, m, event: true }));
            });
        }
    }

    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            Some(std::ptr::from_ref(self).cast())
        } else if id == TypeId::of::<SpansOf>() {
            Some(std::ptr::from_ref(&self.spans).cast())
        } else {
            None
        }
    }
}

/// Records an event as an occurrence, unless its place in the source is
/// past its detail budget (then it is only counted, as any capture site).
fn record_event<S>(t: &Tracker, event: &Event<'_>, ctx: &Context<'_, S>, spans_level: Level, frame: usize)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let metadata = event.metadata();
    let name = match *metadata.level() {
        Level::ERROR => "tracing::ERROR",
        Level::WARN => "tracing::WARN",
        Level::INFO => "tracing::INFO",
        Level::DEBUG => "tracing::DEBUG",
        _ => "tracing::TRACE",
    };
    // The callsite's metadata is a static of its own: it keys the site.
    let key = crate::budget::key(std::ptr::from_ref(metadata).cast(), name, 0);
    let slot = match t.admit(key) {
        Admission::Detail(slot) => slot,
        Admission::Counted => return,
    };
    with_state(State::Recording, || {
        let m = &*t.masking;
        let mut visit = AsOccurrence { m, message: None, error: None, fields: Fields::default() };
        guarded(|| event.record(&mut visit));
        let AsOccurrence { message, error, fields, .. } = visit;
        let mut extra = fields.variables();
        let (message, sources) = match error {
            Some((text, sources)) => {
                if let Some(event_message) = message {
                    extra.insert(0, Variable { name: "message".to_owned(), value: event_message.into() });
                }
                (text, sources)
            }
            None => (message.unwrap_or_default(), Vec::new()),
        };
        let mut p = pending_message(name, message, frame);
        p.occurrence.sources = sources;
        p.occurrence.extra = extra;
        // Within the event's dispatch the subscriber is not reachable as
        // the default (tracing does not re-enter it): its spans come from
        // the layer's context instead.
        p.occurrence.spans.clear();
        if let Some(span) = ctx.event_span(event) {
            records(span, spans_level, &mut p.occurrence.spans);
        }
        p.occurrence.site = metadata.file().map(|file| CaptureSite {
            function: metadata.module_path().unwrap_or_default().to_owned(),
            file: file.to_owned(),
            line: metadata.line().unwrap_or(0),
            column: 0,
            function_line: None,
        });
        p.slot = slot;
        t.submit_pending(p);
    });
}

/// Fills a breadcrumb's or a span's fields from `tracing`'s values.
struct Breadcrumb<'a> {
    fields: &'a mut Fields,
    m: &'a dyn Masking,
    /// An event's `message` is its message, a span's is a field.
    event: bool,
}

impl Visit for Breadcrumb<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.event && field.name() == "message" {
            self.fields.message(format_args!("{value:?}"));
        } else {
            self.fields.static_field(self.m, field.name(), FieldValue::Debug(value));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if self.event && field.name() == "message" {
            self.fields.message(format_args!("{value}"));
        } else {
            self.fields.static_field(self.m, field.name(), FieldValue::Str(value));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.fields.static_field(self.m, field.name(), FieldValue::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.fields.static_field(self.m, field.name(), FieldValue::U64(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.fields.static_field(self.m, field.name(), FieldValue::I128(value));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.fields.static_field(self.m, field.name(), FieldValue::U128(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.fields.static_field(self.m, field.name(), FieldValue::F64(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.fields.static_field(self.m, field.name(), FieldValue::Bool(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn Error + 'static)) {
        self.fields.static_field(self.m, field.name(), FieldValue::Display(&value));
    }
}

/// Reads an event to be recorded: its message, its `error` field, the rest.
struct AsOccurrence<'a> {
    m: &'a dyn Masking,
    message: Option<String>,
    /// The `error` field's `Display` and `source()` chain.
    error: Option<(String, Vec<String>)>,
    fields: Fields,
}

impl AsOccurrence<'_> {
    fn field(&mut self, field: &Field, value: FieldValue<'_>) {
        self.fields.static_field(self.m, field.name(), value);
    }
}

impl Visit for AsOccurrence<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = Some(crate::mask::render::bounded_format(format_args!("{value:?}")));
        } else {
            self.field(field, FieldValue::Debug(value));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(crate::mask::truncate_string(value));
        } else {
            self.field(field, FieldValue::Str(value));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, FieldValue::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, FieldValue::U64(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.field(field, FieldValue::I128(value));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.field(field, FieldValue::U128(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.field(field, FieldValue::F64(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, FieldValue::Bool(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn Error + 'static)) {
        if field.name() != "error" || self.error.is_some() {
            self.field(field, FieldValue::Display(&value));
            return;
        }
        let display = |e: &dyn Error| crate::mask::render::bounded_format(format_args!("{e}"));
        let mut sources = Vec::new();
        let mut next = value.source();
        while let Some(source) = next
            && sources.len() < MAX_SOURCES
        {
            sources.push(display(source));
            next = source.source();
        }
        self.error = Some((display(value), sources));
    }
}
