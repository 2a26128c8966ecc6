//! JSON without serde_json: the [`Value`] that rendered arguments, locals and
//! request bodies are stored as, a text writer and a parser.
//!
//! Why not serde_json: it implements `PartialEq<serde_json::Value>` for
//! `u8`, `i32`, `str`, `bool`, … Every crate that names `::error_tracker`
//! (each `#[track_exception]` expansion does) loads the runtime crate's whole
//! dependency graph, so those impls would become candidates in the user's
//! crate and break ordinary inference there (`assert_eq!(&*bytes, &[])`,
//! `assert_eq!(4, it.sum())` fail with E0283). Every impl in this module is
//! for one of its own types, never for a std type.
//!
//! [`Value`] implements `Serialize` and `Deserialize`, so an application
//! converts it to and from serde_json (or any serde format) in one call.
//!
//! A leaf module: it imports nothing of the crate.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Index;
use std::str::FromStr;

// Typed reading: the stores read JSON columns back, the notification
// workers their outbox payloads.
mod de;
mod parse;
mod write;

pub(crate) use de::from_str;
pub use parse::{ParseError, ParseErrorKind};
pub(crate) use write::to_string;

/// The members of a JSON object, sorted by key (serde_json's order without
/// its `preserve_order` feature, which the stored JSON has always had).
pub type Map = BTreeMap<String, Value>;

/// A JSON value.
///
/// ```
/// use error_tracker::Value;
///
/// let v: Value = r#"{"user":"bob","tags":[1,2.5,null]}"#.parse().unwrap();
/// assert_eq!(v["user"].as_str(), Some("bob"));
/// assert_eq!(v["tags"][0].as_u64(), Some(1));
/// assert!(v["missing"].is_null());
/// assert_eq!(v.to_string(), r#"{"tags":[1,2.5,null],"user":"bob"}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Value {
    /// `null`.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number: an `i64`, a `u64` or a finite `f64`.
    Number(Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object, its members sorted by key.
    Object(Map),
}

/// A JSON number, kept exactly as it was made or parsed: an integer that
/// fits an `i64` or a `u64`, else a finite `f64`.
///
/// ```
/// use error_tracker::json::Number;
///
/// assert_eq!(Number::from(7u8).as_u64(), Some(7));
/// assert_eq!(Number::from(-7i64).as_i64(), Some(-7));
/// assert_eq!(Number::from_f64(f64::NAN), None);
/// ```
#[derive(Clone, Copy, PartialEq)]
pub struct Number(N);

#[derive(Clone, Copy, PartialEq)]
enum N {
    /// Every integer ≥ 0, whatever type it came from, so that equal numbers compare equal.
    PosInt(u64),
    /// Integers < 0.
    NegInt(i64),
    /// Always finite.
    Float(f64),
}

impl Number {
    /// The number for a finite `f64`; `None` for NaN and the infinities, which JSON cannot hold.
    pub fn from_f64(f: f64) -> Option<Number> {
        f.is_finite().then_some(Number(N::Float(f)))
    }

    /// The value as an `i64`, when it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        match self.0 {
            N::PosInt(u) => i64::try_from(u).ok(),
            N::NegInt(i) => Some(i),
            N::Float(_) => None,
        }
    }

    /// The value as a `u64`, when it is an integer in range.
    pub fn as_u64(&self) -> Option<u64> {
        match self.0 {
            N::PosInt(u) => Some(u),
            _ => None,
        }
    }

    /// The value as an `f64` (rounded for integers beyond 2^53).
    pub fn as_f64(&self) -> f64 {
        match self.0 {
            N::PosInt(u) => u as f64,
            N::NegInt(i) => i as f64,
            N::Float(f) => f,
        }
    }

    /// Whether the number is a float (it was written with a fraction or an
    /// exponent, or is beyond the `i64`/`u64` range).
    pub fn is_f64(&self) -> bool {
        matches!(self.0, N::Float(_))
    }
}

macro_rules! number_from_unsigned {
    ($($t:ty),*) => {$(
        impl From<$t> for Number {
            fn from(u: $t) -> Self {
                Number(N::PosInt(u as u64))
            }
        }
        impl From<$t> for Value {
            fn from(u: $t) -> Self {
                Value::Number(u.into())
            }
        }
    )*};
}
number_from_unsigned!(u8, u16, u32, u64, usize);

macro_rules! number_from_signed {
    ($($t:ty),*) => {$(
        impl From<$t> for Number {
            fn from(i: $t) -> Self {
                if i < 0 { Number(N::NegInt(i as i64)) } else { Number(N::PosInt(i as u64)) }
            }
        }
        impl From<$t> for Value {
            fn from(i: $t) -> Self {
                Value::Number(i.into())
            }
        }
    )*};
}
number_from_signed!(i8, i16, i32, i64, isize);

impl From<f64> for Value {
    /// A finite float is a number; NaN and the infinities are `null`, as serde_json has them.
    fn from(f: f64) -> Self {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

impl From<f32> for Value {
    fn from(f: f32) -> Self {
        Value::from(f64::from(f))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Value::Array(items)
    }
}

impl From<Map> for Value {
    fn from(map: Map) -> Self {
        Value::Object(map)
    }
}

impl fmt::Display for Number {
    /// The number as JSON writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            N::PosInt(u) => f.write_str(itoa::Buffer::new().format(u)),
            N::NegInt(i) => f.write_str(itoa::Buffer::new().format(i)),
            N::Float(x) => f.write_str(zmij::Buffer::new().format_finite(x)),
        }
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Number({self})")
    }
}

impl Value {
    /// The string, when the value is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, when the value is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number as an `i64`, when it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    /// The number as a `u64`, when it is a non-negative integer in range.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    /// The number as an `f64`, when the value is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(n.as_f64()),
            _ => None,
        }
    }

    /// The items, when the value is an array.
    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The members, when the value is an object.
    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    /// Whether the value is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The member `key`, when the value is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?.get(key)
    }

    /// Takes the value out, leaving `null`.
    pub fn take(&mut self) -> Value {
        std::mem::take(self)
    }
}

// Comparisons with strings, for `assert_eq!(value, "text")`. Only with
// `Value` on the left: an `impl PartialEq<Value> for str` would be the very
// kind of impl on a std type that this module exists to avoid.
impl PartialEq<str> for Value {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl PartialEq<String> for Value {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == Some(other.as_str())
    }
}

static NULL: Value = Value::Null;

impl Index<&str> for Value {
    type Output = Value;
    /// The member `key`, or `null` when the value is not an object or has no such member.
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }
}

impl Index<usize> for Value {
    type Output = Value;
    /// The item at `i`, or `null` when the value is not an array or is shorter.
    fn index(&self, i: usize) -> &Value {
        self.as_array().and_then(|items| items.get(i)).unwrap_or(&NULL)
    }
}

impl fmt::Display for Value {
    /// Compact JSON text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write::write_value(&mut out, self);
        f.write_str(&out)
    }
}

impl FromStr for Value {
    type Err = ParseError;
    /// Parses JSON text (RFC 8259), at most [`MAX_PARSE_DEPTH`] arrays and objects deep.
    fn from_str(text: &str) -> Result<Value, ParseError> {
        parse::parse(text.as_bytes())
    }
}

impl Value {
    /// Parses JSON bytes, which must be UTF-8 (RFC 8259), at most
    /// [`MAX_PARSE_DEPTH`] arrays and objects deep. Never panics.
    ///
    /// ```
    /// use error_tracker::Value;
    /// assert!(Value::from_slice(br#"{"a":[1,"\ud83d\ude00"]}"#).is_ok());
    /// assert!(Value::from_slice(br#""\ud800""#).is_err()); // a lone surrogate
    /// assert!(Value::from_slice(b"[1,]").is_err());
    /// ```
    pub fn from_slice(bytes: &[u8]) -> Result<Value, ParseError> {
        parse::parse(bytes)
    }
}

/// How deeply arrays and objects may nest in parsed text: serde_json's limit, so
/// that text either of them wrote, the other reads.
pub const MAX_PARSE_DEPTH: usize = 127;

/// Why a typed value could not be written or read as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Error {
    /// The text is not JSON.
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    Parse(ParseError),
    /// The JSON has another shape than the type, or the type cannot be written as JSON.
    Shape(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Parse(e) => e.fmt(f),
            Error::Shape(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Parse(e) => Some(e),
            Error::Shape(_) => None,
        }
    }
}

impl serde::ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::Shape(msg.to_string())
    }
}

impl serde::de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::Shape(msg.to_string())
    }
}

/// `json!({…})` of serde_json, as a [`Value`], for the crate's tests.
#[cfg(test)]
macro_rules! json {
    ($($t:tt)+) => {
        serde_json::from_value::<$crate::json::Value>(serde_json::json!($($t)+)).expect("a JSON value")
    };
}
#[cfg(test)]
pub(crate) use json;

#[cfg(test)]
mod tests;
