//! The ring of breadcrumbs: the last events logged, kept compact so that
//! keeping one costs no allocation once the ring is full.
//!
//! A leaf: it knows masking's trait and the occurrence's types, nothing of
//! the capture path or the integrations. `trail` decides which ring an event
//! goes to (the request's or the thread's); the `tracing` and `log`
//! integrations fill the entries.
//!
//! An entry is one `String` holding the target, the message and the fields'
//! names and values, with the ranges that cut it up: a full ring overwrites
//! its oldest entry in place, reusing that string's and that list's
//! capacity. Each entry is bounded ([`MAX_ENTRY_BYTES`], [`MAX_FIELDS`]), so
//! a ring of `n` holds at most about `n × 4 KiB`. Only when an occurrence is
//! recorded are entries turned into [`Breadcrumb`]s.

// Filled by the `tracing` and `log` integrations; the `log` one uses only
// part of it, and without either nothing is kept (attaching costs a load).
#![cfg_attr(not(feature = "tracing"), allow(dead_code))]

use std::cell::Cell;
use std::fmt::{self, Write as _};
use std::ops::Range;
use std::time::SystemTime;

use crate::json::Value;
use crate::mask::Masking;
use crate::occurrence::{Breadcrumb, Variable};
use crate::timestamp::Timestamp;

/// The default number of breadcrumbs kept per thread and per request.
pub(crate) const DEFAULT_MAX_BREADCRUMBS: usize = 100;
/// The most text (target, message, names and values) kept of one event or
/// span, in bytes; past it, values are cut with a marker.
pub(crate) const MAX_ENTRY_BYTES: usize = 4096;
/// The most fields kept of one event or span.
pub(crate) const MAX_FIELDS: usize = 32;
/// The most of a `log` record's target kept, in bytes.
const MAX_TARGET_BYTES: usize = 256;
/// What ends a value cut at [`MAX_ENTRY_BYTES`].
const CUT: &str = "…[truncated]";

/// How a field's text becomes a JSON value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A string (or a `Debug`/`Display` text).
    Text,
    /// A number's JSON text.
    Number,
    Bool,
}

#[derive(Clone, Debug)]
struct Field {
    name: Name,
    value: Range<u32>,
    kind: Kind,
}

/// A field's name: a `tracing` field's lives as long as the program and is
/// not copied; a `log` key's is copied into the entry's text.
#[derive(Clone, Debug)]
enum Name {
    Static(&'static str),
    Text(Range<u32>),
}

/// The fields of one event or span, compact: names and values in one string.
#[derive(Clone, Debug, Default)]
pub(crate) struct Fields {
    text: String,
    fields: Vec<Field>,
    /// Where the message is in `text` (events only).
    message: Range<u32>,
}

impl Fields {
    /// Room for a span's usual fields, so that they are written without
    /// growing the buffers step by step.
    pub(crate) fn for_span() -> Self {
        Fields { text: String::with_capacity(64), fields: Vec::with_capacity(4), message: 0..0 }
    }

    /// Empties it, keeping its capacity.
    pub(crate) fn clear(&mut self) {
        self.text.clear();
        self.fields.clear();
        self.message = 0..0;
    }

    fn room(&self) -> usize {
        MAX_ENTRY_BYTES.saturating_sub(self.text.len())
    }

    /// Appends formatted text, stopping at the entry's bound (a long
    /// `Debug` stops being formatted there).
    fn write_bounded(&mut self, args: fmt::Arguments<'_>) -> Range<u32> {
        struct Bounded<'a> {
            out: &'a mut String,
            left: usize,
        }
        impl fmt::Write for Bounded<'_> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                if s.len() <= self.left {
                    self.out.push_str(s);
                    self.left -= s.len();
                    return Ok(());
                }
                let mut end = self.left;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                self.out.push_str(&s[..end]);
                self.out.push_str(CUT);
                self.left = 0;
                Err(fmt::Error)
            }
        }
        let start = self.text.len();
        let left = self.room();
        if left == 0 {
            return start as u32..start as u32;
        }
        let mut b = Bounded { out: &mut self.text, left };
        // A user `Debug` that panics leaves what it wrote; the caller runs
        // this under the re-entrancy guard.
        let _ = b.write_fmt(args);
        start as u32..self.text.len() as u32
    }

    /// The message of an event.
    pub(crate) fn message(&mut self, args: fmt::Arguments<'_>) {
        self.message = self.write_bounded(args);
    }

    /// Appends `s`, cut at the entry's bound: the common case, without the
    /// formatting machinery.
    fn push_bounded(&mut self, s: &str) -> Range<u32> {
        let start = self.text.len();
        let left = self.room();
        if s.len() <= left {
            self.text.push_str(s);
        } else if left > 0 {
            let mut end = left;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            self.text.push_str(&s[..end]);
            self.text.push_str(CUT);
        }
        start as u32..self.text.len() as u32
    }

    /// A field: its value is the mask when `m` says its name is secret (the
    /// key rule applies here, on the logging thread; the value rules on the
    /// writer thread, as to every string).
    #[cfg_attr(not(feature = "log"), allow(dead_code))]
    pub(crate) fn field(&mut self, m: &dyn Masking, name: &str, value: FieldValue<'_>) {
        if self.is_full() {
            return;
        }
        let secret = m.is_secret_key(name);
        let name = Name::Text(self.push_bounded(name));
        self.push_field(m, name, secret, value);
    }

    /// [`field`](Self::field) for a name that lives as long as the program
    /// (a `tracing` field's): whether it is secret is remembered.
    pub(crate) fn static_field(&mut self, m: &dyn Masking, name: &'static str, value: FieldValue<'_>) {
        if self.is_full() {
            return;
        }
        let secret = is_secret_static(m, name);
        self.push_field(m, Name::Static(name), secret, value);
    }

    /// Whether no more fields are kept: [`MAX_FIELDS`], or no room left.
    fn is_full(&self) -> bool {
        self.fields.len() >= MAX_FIELDS || self.room() == 0
    }

    fn push_field(&mut self, m: &dyn Masking, name: Name, secret: bool, value: FieldValue<'_>) {
        let mut digits = itoa::Buffer::new();
        let (value, kind) = if secret {
            (self.push_bounded(m.mask()), Kind::Text)
        } else {
            match value {
                FieldValue::Str(s) => (self.push_bounded(s), Kind::Text),
                FieldValue::Debug(d) => (self.write_bounded(format_args!("{d:?}")), Kind::Text),
                FieldValue::Display(d) => (self.write_bounded(format_args!("{d}")), Kind::Text),
                FieldValue::I64(n) => (self.push_bounded(digits.format(n)), Kind::Number),
                FieldValue::U64(n) => (self.push_bounded(digits.format(n)), Kind::Number),
                FieldValue::I128(n) => (self.push_bounded(digits.format(n)), Kind::Number),
                FieldValue::U128(n) => (self.push_bounded(digits.format(n)), Kind::Number),
                FieldValue::F64(n) if n.is_finite() => (self.write_bounded(format_args!("{n}")), Kind::Number),
                FieldValue::F64(n) => (self.write_bounded(format_args!("{n}")), Kind::Text),
                FieldValue::Bool(b) => (self.push_bounded(if b { "true" } else { "false" }), Kind::Bool),
            }
        };
        self.fields.push(Field { name, value, kind });
    }

    fn slice(&self, r: &Range<u32>) -> &str {
        // The ranges were taken at char boundaries of this very text.
        self.text.get(r.start as usize..r.end as usize).unwrap_or("")
    }

    /// The message, as text.
    pub(crate) fn message_text(&self) -> &str {
        self.slice(&self.message)
    }

    /// The fields as the occurrence stores them.
    pub(crate) fn variables(&self) -> Vec<Variable> {
        self.fields
            .iter()
            .map(|f| {
                let text = self.slice(&f.value);
                let value = match f.kind {
                    Kind::Text => Value::String(text.to_owned()),
                    Kind::Bool => Value::Bool(text == "true"),
                    // A number cut short, or one the JSON parser refuses, stays text.
                    Kind::Number => crate::json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned())),
                };
                let name = match &f.name {
                    Name::Static(name) => name,
                    Name::Text(r) => self.slice(r),
                };
                Variable { name: name.to_owned(), value }
            })
            .collect()
    }
}

/// How many `'static` field names each thread remembers the secrecy of.
const SEEN_NAMES: usize = 64;

/// Whether a `'static` name is secret by `m`'s key rule, remembered per
/// thread by the name's address: the rule folds the name and looks for
/// every configured key in it, which was most of what keeping a breadcrumb
/// cost (measured with callgrind), and a program logs few distinct names.
///
/// The table is 2-way: a name goes to one pair of entries, the newest
/// first, so that two names meeting in one pair are both remembered (with
/// one entry each, two fields of a request evicted each other on every
/// event).
fn is_secret_static(m: &dyn Masking, name: &'static str) -> bool {
    type Seen = [Cell<(usize, usize, usize, bool)>; SEEN_NAMES];
    thread_local! {
        static SEEN: Seen = const { [const { Cell::new((0, 0, 0, false)) }; SEEN_NAMES] };
    }
    // The masking's address too: each rule set has answers of its own.
    let rules = std::ptr::from_ref(m).cast::<()>() as usize;
    let (at, len) = (name.as_ptr() as usize, name.len());
    // Fibonacci hashing: the top bits of the product pick the pair.
    let mixed = ((at ^ len.rotate_left(48) ^ rules.rotate_left(24)) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let pair = (mixed >> (64 - (SEEN_NAMES.trailing_zeros() - 1))) as usize * 2;
    SEEN.try_with(|seen| {
        let (first, second) = (&seen[pair], &seen[pair + 1]);
        for entry in [first, second] {
            let (a, l, r, secret) = entry.get();
            if (a, l, r) == (at, len, rules) {
                return secret;
            }
        }
        let secret = m.is_secret_key(name);
        second.set(first.get());
        first.set((at, len, rules, secret));
        secret
    })
    .unwrap_or_else(|_| m.is_secret_key(name))
}

/// A field's value, as `tracing`'s `Visit` and `log`'s records give it.
#[derive(Clone, Copy)]
pub(crate) enum FieldValue<'a> {
    Str(&'a str),
    Debug(&'a dyn fmt::Debug),
    Display(&'a dyn fmt::Display),
    I64(i64),
    U64(u64),
    I128(i128),
    U128(u128),
    F64(f64),
    Bool(bool),
}

/// An event's target: a `tracing` event's lives as long as the program and
/// is not copied; a `log` record's is.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target<'a> {
    Static(&'static str),
    Borrowed(&'a str),
}

/// One kept event.
#[derive(Debug)]
pub(crate) struct Entry {
    /// Converted to a [`Timestamp`] only when an occurrence takes it.
    timestamp: SystemTime,
    level: &'static str,
    /// The target, when it lives as long as the program; else in `target`.
    static_target: Option<&'static str>,
    target: String,
    fields: Fields,
}

impl Entry {
    fn breadcrumb(&self) -> Breadcrumb {
        Breadcrumb {
            timestamp: Timestamp::from(self.timestamp),
            level: self.level.to_owned(),
            target: self.static_target.unwrap_or(&self.target).to_owned(),
            message: self.fields.message_text().to_owned(),
            fields: self.fields.variables(),
        }
    }
}

/// The last `capacity` events of a thread or a request.
#[derive(Debug)]
pub(crate) struct Ring {
    entries: Vec<Entry>,
    /// The oldest entry once the ring is full.
    next: usize,
    capacity: usize,
}

impl Ring {
    pub(crate) fn new(capacity: usize) -> Self {
        Ring { entries: Vec::new(), next: 0, capacity }
    }

    /// Keeps one more event, filled by `fill`, forgetting the oldest when
    /// full (its buffers are reused).
    pub(crate) fn push(&mut self, level: &'static str, target: Target<'_>, fill: impl FnOnce(&mut Fields)) {
        if self.capacity == 0 {
            return;
        }
        let timestamp = SystemTime::now();
        let entry = if self.entries.len() < self.capacity {
            self.entries.push(Entry {
                timestamp,
                level,
                static_target: None,
                target: String::new(),
                fields: Fields::default(),
            });
            self.entries.last_mut().expect("just pushed")
        } else {
            let i = self.next;
            self.next = (i + 1) % self.entries.len();
            let e = &mut self.entries[i];
            e.timestamp = timestamp;
            e.level = level;
            e.fields.clear();
            e
        };
        match target {
            Target::Static(target) => entry.static_target = Some(target),
            Target::Borrowed(target) => {
                entry.static_target = None;
                entry.target.clear();
                let mut end = target.len().min(MAX_TARGET_BYTES);
                while !target.is_char_boundary(end) {
                    end -= 1;
                }
                entry.target.push_str(&target[..end]);
            }
        }
        fill(&mut entry.fields);
    }

    /// The kept events, oldest first.
    pub(crate) fn breadcrumbs(&self) -> Vec<Breadcrumb> {
        let (newer, older) = self.entries.split_at(self.next.min(self.entries.len()));
        older.iter().chain(newer).map(Entry::breadcrumb).collect()
    }

    /// Whether nothing was kept.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::DefaultMasking;

    fn push(ring: &mut Ring, m: &DefaultMasking, n: u64) {
        ring.push("INFO", Target::Static("app"), |f| {
            f.message(format_args!("event {n}"));
            f.field(m, "n", FieldValue::U64(n));
            f.field(m, "password", FieldValue::Str("hunter2"));
            f.field(m, "ok", FieldValue::Bool(true));
        });
    }

    #[test]
    fn a_full_ring_keeps_the_newest_in_order() {
        let m = DefaultMasking::default();
        let mut ring = Ring::new(3);
        for n in 0..5 {
            push(&mut ring, &m, n);
        }
        let got = ring.breadcrumbs();
        let messages: Vec<&str> = got.iter().map(|b| b.message.as_str()).collect();
        assert_eq!(messages, ["event 2", "event 3", "event 4"]);
        assert_eq!(got[2].fields[0].value, Value::from(4u64));
        assert_eq!(got[2].fields[1].value, Value::String(m.mask().to_owned()), "the key rule, at once");
        assert_eq!(got[2].fields[2].value, Value::Bool(true));
        assert_eq!((got[0].level.as_str(), got[0].target.as_str()), ("INFO", "app"));
    }

    #[test]
    fn an_entry_is_bounded() {
        let m = DefaultMasking::default();
        let mut ring = Ring::new(1);
        let long = "é".repeat(10_000);
        ring.push("WARN", Target::Borrowed(&"t".repeat(1000)), |f| {
            f.message(format_args!("{long}"));
            for i in 0..100 {
                f.field(&m, "k", FieldValue::U64(i));
            }
        });
        let b = &ring.breadcrumbs()[0];
        assert!(b.message.len() <= MAX_ENTRY_BYTES + CUT.len() && b.message.ends_with(CUT));
        assert!(b.fields.is_empty(), "no room left after the message");
        assert_eq!(b.target.len(), 256);
    }
}
