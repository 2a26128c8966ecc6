//! The JSON text parser (RFC 8259): bytes in, a [`Value`] or a
//! [`ParseError`] with its byte offset out. It reads untrusted input
//! (request bodies, webhook answers, stored columns), so it never panics,
//! bounds its recursion by [`MAX_PARSE_DEPTH`] and accepts nothing the RFC
//! does not: no trailing commas, no comments, no lone surrogates.

use std::fmt;

use super::{MAX_PARSE_DEPTH, Map, N, Number, Value};

/// Why JSON text could not be parsed, and where.
///
/// ```
/// use error_tracker::Value;
/// use error_tracker::json::ParseErrorKind;
///
/// let e = "[1, 2".parse::<Value>().unwrap_err();
/// assert_eq!(e.kind(), ParseErrorKind::UnexpectedEnd);
/// assert_eq!(e.offset(), 5);
/// assert_eq!(e.to_string(), "unexpected end of the text at byte 5");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError {
    kind: ParseErrorKind,
    offset: usize,
}

/// What was wrong with the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The text ends inside a value.
    UnexpectedEnd,
    /// A byte that cannot start or continue a value here.
    UnexpectedByte(u8),
    /// Text after the value.
    TrailingText,
    /// A number without digits where the RFC wants them, or with a leading zero.
    InvalidNumber,
    /// A number too large for an `f64` (such as `1e400`).
    NumberOutOfRange,
    /// A backslash escape that JSON does not have, or a bad `\u` escape.
    InvalidEscape,
    /// A `\u` escape of half a surrogate pair, without its other half.
    LoneSurrogate,
    /// A raw control character (below U+0020) inside a string.
    ControlCharacter,
    /// Bytes that are not UTF-8.
    InvalidUtf8,
    /// Arrays and objects nested deeper than [`MAX_PARSE_DEPTH`].
    TooDeep,
}

impl ParseError {
    /// What was wrong.
    pub fn kind(&self) -> ParseErrorKind {
        self.kind
    }

    /// The byte offset in the text where it was found.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ParseErrorKind::UnexpectedEnd => f.write_str("unexpected end of the text")?,
            ParseErrorKind::UnexpectedByte(b) if b.is_ascii_graphic() => write!(f, "unexpected {:?}", b as char)?,
            ParseErrorKind::UnexpectedByte(b) => write!(f, "unexpected byte 0x{b:02x}")?,
            ParseErrorKind::TrailingText => f.write_str("text after the JSON value")?,
            ParseErrorKind::InvalidNumber => f.write_str("invalid number")?,
            ParseErrorKind::NumberOutOfRange => f.write_str("number out of range")?,
            ParseErrorKind::InvalidEscape => f.write_str("invalid escape")?,
            ParseErrorKind::LoneSurrogate => f.write_str("lone surrogate in a \\u escape")?,
            ParseErrorKind::ControlCharacter => f.write_str("control character in a string")?,
            ParseErrorKind::InvalidUtf8 => f.write_str("invalid UTF-8")?,
            ParseErrorKind::TooDeep => write!(f, "nested deeper than {MAX_PARSE_DEPTH}")?,
        }
        write!(f, " at byte {}", self.offset)
    }
}

impl std::error::Error for ParseError {}

/// Parses one JSON value that fills `bytes` (whitespace around it allowed).
pub(super) fn parse(bytes: &[u8]) -> Result<Value, ParseError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ParseError { kind: ParseErrorKind::InvalidUtf8, offset: e.valid_up_to() })?;
    let mut p = Parser { text, bytes: text.as_bytes(), at: 0 };
    let v = p.value(0)?;
    p.skip_whitespace();
    if p.at < p.bytes.len() {
        return Err(p.error(ParseErrorKind::TrailingText));
    }
    Ok(v)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn error(&self, kind: ParseErrorKind) -> ParseError {
        ParseError { kind, offset: self.at }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// The next byte, or the error for where the text stops.
    fn next(&mut self) -> Result<u8, ParseError> {
        let b = self.peek().ok_or_else(|| self.error(ParseErrorKind::UnexpectedEnd))?;
        self.at += 1;
        Ok(b)
    }

    fn unexpected(&self) -> ParseError {
        match self.peek() {
            None => self.error(ParseErrorKind::UnexpectedEnd),
            Some(b) => self.error(ParseErrorKind::UnexpectedByte(b)),
        }
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, ParseError> {
        for &expected in word.as_bytes() {
            if self.peek() != Some(expected) {
                return Err(self.unexpected());
            }
            self.at += 1;
        }
        Ok(v)
    }

    /// A value, `depth` arrays and objects deep.
    fn value(&mut self, depth: usize) -> Result<Value, ParseError> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'n') => self.literal("null", Value::Null),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'"') => {
                self.at += 1;
                self.string().map(Value::String)
            }
            Some(b'-' | b'0'..=b'9') => self.number().map(Value::Number),
            Some(b'[') if depth >= MAX_PARSE_DEPTH => Err(self.error(ParseErrorKind::TooDeep)),
            Some(b'{') if depth >= MAX_PARSE_DEPTH => Err(self.error(ParseErrorKind::TooDeep)),
            Some(b'[') => {
                self.at += 1;
                self.array(depth + 1)
            }
            Some(b'{') => {
                self.at += 1;
                self.object(depth + 1)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, ParseError> {
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.unexpected()),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, ParseError> {
        let mut map = Map::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Value::Object(map));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(self.unexpected());
            }
            self.at += 1;
            let key = self.string()?;
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return Err(self.unexpected());
            }
            self.at += 1;
            let v = self.value(depth)?;
            // A repeated key keeps its last value, as serde_json does.
            map.insert(key, v);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Value::Object(map));
                }
                _ => return Err(self.unexpected()),
            }
        }
    }

    /// The rest of a string whose opening quote has been read.
    fn string(&mut self) -> Result<String, ParseError> {
        let mut out = String::new();
        let mut start = self.at;
        loop {
            match self.peek() {
                None => return Err(self.error(ParseErrorKind::UnexpectedEnd)),
                Some(b'"') => {
                    // `start` and `at` sit on ASCII bytes of valid UTF-8: char boundaries.
                    out.push_str(&self.text[start..self.at]);
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    out.push_str(&self.text[start..self.at]);
                    self.at += 1;
                    self.escape(&mut out)?;
                    start = self.at;
                }
                Some(0x00..=0x1f) => return Err(self.error(ParseErrorKind::ControlCharacter)),
                Some(_) => self.at += 1,
            }
        }
    }

    /// One escape, after its backslash.
    fn escape(&mut self, out: &mut String) -> Result<(), ParseError> {
        let c = match self.next()? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => self.unicode_escape()?,
            _ => {
                self.at -= 1;
                return Err(self.error(ParseErrorKind::InvalidEscape));
            }
        };
        out.push(c);
        Ok(())
    }

    /// A `\u` escape after its `u`; a surrogate pair takes two escapes.
    fn unicode_escape(&mut self) -> Result<char, ParseError> {
        let begin = self.at;
        let lone = |at: usize| ParseError { kind: ParseErrorKind::LoneSurrogate, offset: at };
        let first = self.hex4()?;
        let code = match first {
            0xd800..=0xdbff => {
                if self.bytes.get(self.at..self.at + 2) != Some(b"\\u") {
                    return Err(lone(begin));
                }
                self.at += 2;
                let second = self.hex4()?;
                if !(0xdc00..=0xdfff).contains(&second) {
                    return Err(lone(begin));
                }
                0x10000 + ((u32::from(first) - 0xd800) << 10) + (u32::from(second) - 0xdc00)
            }
            0xdc00..=0xdfff => return Err(lone(begin)),
            other => u32::from(other),
        };
        char::from_u32(code).ok_or_else(|| lone(begin))
    }

    fn hex4(&mut self) -> Result<u16, ParseError> {
        let mut n = 0u16;
        for _ in 0..4 {
            let digit = match self.peek() {
                None => return Err(self.error(ParseErrorKind::UnexpectedEnd)),
                Some(b) => (b as char).to_digit(16).ok_or_else(|| self.error(ParseErrorKind::InvalidEscape))?,
            };
            self.at += 1;
            // At most four hex digits: fits a u16.
            n = (n << 4) | digit as u16;
        }
        Ok(n)
    }

    fn digits(&mut self) -> usize {
        let from = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        self.at - from
    }

    /// A number: an integer when it has no fraction or exponent and fits
    /// an `i64` or `u64`, else an `f64` (as serde_json reads numbers; `-0` is the float `-0.0`).
    fn number(&mut self) -> Result<Number, ParseError> {
        let begin = self.at;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let int_start = self.at;
        match self.digits() {
            0 => return Err(self.error(ParseErrorKind::InvalidNumber)),
            n if n > 1 && self.bytes[int_start] == b'0' => {
                return Err(ParseError { kind: ParseErrorKind::InvalidNumber, offset: int_start });
            }
            _ => {}
        }
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return Err(self.error(ParseErrorKind::InvalidNumber));
            }
            float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(self.error(ParseErrorKind::InvalidNumber));
            }
            float = true;
        }
        let text = &self.text[begin..self.at];
        if !float {
            let int = if negative {
                text.parse::<i64>().ok().filter(|&i| i != 0).map(N::NegInt)
            } else {
                text.parse::<u64>().ok().map(N::PosInt)
            };
            if let Some(n) = int {
                return Ok(Number(n));
            }
        }
        // Rust's float parsing is correctly rounded, and takes the JSON grammar checked above.
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Number(N::Float(f))),
            _ => Err(ParseError { kind: ParseErrorKind::NumberOutOfRange, offset: begin }),
        }
    }
}
