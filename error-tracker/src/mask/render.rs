//! Rendering user values into masked JSON, with size limits, on the failing thread.
//!
//! `Serialize` values go through [`MaskingSerializer`], which never renders a
//! value stored under a secret name. `Debug` values are formatted into a
//! bounded buffer, then their `key: value` pairs are masked.

use std::fmt::{self, Debug, Write as _};

use crate::json::{Map, Number, Value};
use serde::ser::{self, Serialize};

use super::{MAX_DEPTH, MAX_ITEMS, MAX_STRING_CHARS, Masking, RENDER_ERROR, mask_debug_text};

/// Renders through `Serialize`, masking secret fields, keys and variants.
/// A panicking impl yields [`RENDER_ERROR`].
pub(crate) fn render_serialize<T: Serialize + ?Sized>(m: &dyn Masking, v: &T) -> Value {
    crate::reentry::guarded(|| match v.serialize(MaskingSerializer { m, depth: 0 }) {
        Ok(v) => v,
        Err(e) => Value::String(format!("<error while rendering: {}>", e.0)),
    })
    .unwrap_or_else(|| Value::String(RENDER_ERROR.to_owned()))
}

/// Renders through `Debug` into at most [`MAX_STRING_CHARS`] characters,
/// masking `key: value` pairs. A panicking impl yields [`RENDER_ERROR`].
pub(crate) fn render_debug<T: Debug + ?Sized>(m: &dyn Masking, v: &T) -> Value {
    crate::reentry::guarded(|| {
        let text = bounded_format(format_args!("{v:?}"));
        Value::String(mask_debug_text(m, &text).into_owned())
    })
    .unwrap_or_else(|| Value::String(RENDER_ERROR.to_owned()))
}

/// Formats into a string of at most [`MAX_STRING_CHARS`] characters, stopping
/// the formatter early (so a 10 MB `Display` costs 10 KB), with a marker when cut.
pub(crate) fn bounded_format(args: fmt::Arguments<'_>) -> String {
    struct Bounded {
        out: String,
        chars: usize,
        cut: bool,
    }
    impl fmt::Write for Bounded {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let n = s.chars().count();
            if self.chars + n <= MAX_STRING_CHARS {
                self.out.push_str(s);
                self.chars += n;
                return Ok(());
            }
            let take = MAX_STRING_CHARS - self.chars;
            self.out.extend(s.chars().take(take));
            self.chars = MAX_STRING_CHARS;
            self.cut = true;
            Err(fmt::Error)
        }
    }
    let mut b = Bounded { out: String::new(), chars: 0, cut: false };
    let _ = b.write_fmt(args);
    if b.cut {
        b.out.push_str("…[truncated]");
    }
    b.out
}

/// Cuts a string to [`MAX_STRING_CHARS`] characters, with a marker.
pub(crate) fn truncate_string(s: &str) -> String {
    match s.char_indices().nth(MAX_STRING_CHARS) {
        None => s.to_owned(),
        Some((at, _)) => format!("{}…[truncated, {} chars in all]", &s[..at], s.chars().count()),
    }
}

#[derive(Debug)]
pub(crate) struct RenderError(String);

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for RenderError {}
impl ser::Error for RenderError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        RenderError(msg.to_string())
    }
}

#[derive(Clone, Copy)]
struct MaskingSerializer<'a> {
    m: &'a dyn Masking,
    depth: usize,
}

impl<'a> MaskingSerializer<'a> {
    fn masked(&self) -> Value {
        Value::String(self.m.mask().to_owned())
    }
    fn child(&self) -> Self {
        Self { m: self.m, depth: self.depth + 1 }
    }
    fn too_deep(&self) -> bool {
        self.depth >= MAX_DEPTH
    }
    fn render<T: Serialize + ?Sized>(&self, v: &T) -> Result<Value, RenderError> {
        v.serialize(self.child())
    }
    fn seq(self, tag: Option<&'static str>) -> Compound<'a> {
        Compound { s: self, items: Vec::new(), map: Map::new(), extra: 0, key: None, tag, cut: self.too_deep() }
    }
}

const DEPTH_MARKER: &str = "<max depth reached>";

fn more_marker(n: usize) -> Value {
    Value::String(format!("…[{n} more items]"))
}

impl<'a> ser::Serializer for MaskingSerializer<'a> {
    type Ok = Value;
    type Error = RenderError;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> Result<Value, RenderError> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, RenderError> {
        Ok(Value::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<Value, RenderError> {
        Ok(Value::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<Value, RenderError> {
        Ok(Value::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<Value, RenderError> {
        Ok(Value::from(v))
    }
    fn serialize_i128(self, v: i128) -> Result<Value, RenderError> {
        Ok(i64::try_from(v).map(Value::from).unwrap_or_else(|_| Value::String(v.to_string())))
    }
    fn serialize_u8(self, v: u8) -> Result<Value, RenderError> {
        Ok(Value::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<Value, RenderError> {
        Ok(Value::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<Value, RenderError> {
        Ok(Value::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<Value, RenderError> {
        Ok(Value::from(v))
    }
    fn serialize_u128(self, v: u128) -> Result<Value, RenderError> {
        Ok(u64::try_from(v).map(Value::from).unwrap_or_else(|_| Value::String(v.to_string())))
    }
    fn serialize_f32(self, v: f32) -> Result<Value, RenderError> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, RenderError> {
        Ok(Number::from_f64(v).map(Value::Number).unwrap_or_else(|| Value::String(v.to_string())))
    }
    fn serialize_char(self, v: char) -> Result<Value, RenderError> {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, RenderError> {
        Ok(Value::String(truncate_string(v)))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, RenderError> {
        Ok(Value::String(truncate_string(&String::from_utf8_lossy(v))))
    }
    fn serialize_none(self) -> Result<Value, RenderError> {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Value, RenderError> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, RenderError> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Value, RenderError> {
        Ok(Value::Null)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<Value, RenderError> {
        Ok(Value::String(variant.to_owned()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, name: &'static str, v: &T) -> Result<Value, RenderError> {
        // `ApiToken(String)`: a newtype named like a secret is one.
        if self.m.is_secret_key(name) {
            return Ok(self.masked());
        }
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<Value, RenderError> {
        let inner = if self.m.is_secret_key(variant) {
            self.masked()
        } else if self.too_deep() {
            Value::String(DEPTH_MARKER.into())
        } else {
            self.render(v)?
        };
        let mut map = Map::new();
        map.insert(variant.to_owned(), inner);
        Ok(Value::Object(map))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'a>, RenderError> {
        Ok(self.seq(None))
    }
    fn serialize_tuple(self, _: usize) -> Result<Compound<'a>, RenderError> {
        Ok(self.seq(None))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Compound<'a>, RenderError> {
        Ok(self.seq(None))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'a>, RenderError> {
        let mut c = self.seq(Some(variant));
        c.cut |= self.m.is_secret_key(variant);
        Ok(c)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'a>, RenderError> {
        Ok(self.seq(None))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Compound<'a>, RenderError> {
        Ok(self.seq(None))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'a>, RenderError> {
        let mut c = self.seq(Some(variant));
        c.cut |= self.m.is_secret_key(variant);
        Ok(c)
    }
    fn collect_str<T: fmt::Display + ?Sized>(self, v: &T) -> Result<Value, RenderError> {
        Ok(Value::String(bounded_format(format_args!("{v}"))))
    }
}

/// The state of a sequence, map or struct being rendered. `cut` means the
/// compound is past the depth limit or under a secret variant name: its
/// elements are skipped.
struct Compound<'a> {
    s: MaskingSerializer<'a>,
    items: Vec<Value>,
    map: Map,
    extra: usize,
    key: Option<String>,
    tag: Option<&'static str>,
    cut: bool,
}

impl Compound<'_> {
    fn push<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), RenderError> {
        if self.cut {
            return Ok(());
        }
        if self.items.len() >= MAX_ITEMS {
            self.extra += 1;
            return Ok(());
        }
        let v = self.s.render(v)?;
        self.items.push(v);
        Ok(())
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, v: &T) -> Result<(), RenderError> {
        if self.cut {
            return Ok(());
        }
        if self.map.len() >= MAX_ITEMS {
            self.extra += 1;
            return Ok(());
        }
        let v = if self.s.m.is_secret_key(key) { self.s.masked() } else { self.s.render(v)? };
        self.map.insert(key.to_owned(), v);
        Ok(())
    }

    fn finish_seq(mut self) -> Value {
        let v = if self.cut {
            self.cut_value()
        } else {
            if self.extra > 0 {
                self.items.push(more_marker(self.extra));
            }
            Value::Array(std::mem::take(&mut self.items))
        };
        self.tagged(v)
    }

    fn finish_map(mut self) -> Value {
        let v = if self.cut {
            self.cut_value()
        } else {
            if self.extra > 0 {
                self.map.insert("…".to_owned(), more_marker(self.extra));
            }
            Value::Object(std::mem::take(&mut self.map))
        };
        self.tagged(v)
    }

    fn cut_value(&self) -> Value {
        match self.tag {
            Some(t) if self.s.m.is_secret_key(t) => self.s.masked(),
            _ => Value::String(DEPTH_MARKER.into()),
        }
    }

    fn tagged(self, v: Value) -> Value {
        match self.tag {
            Some(t) => Value::Object(Map::from_iter([(t.to_owned(), v)])),
            None => v,
        }
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = Value;
    type Error = RenderError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), RenderError> {
        self.push(v)
    }
    fn end(self) -> Result<Value, RenderError> {
        Ok(self.finish_seq())
    }
}

impl ser::SerializeTuple for Compound<'_> {
    type Ok = Value;
    type Error = RenderError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), RenderError> {
        self.push(v)
    }
    fn end(self) -> Result<Value, RenderError> {
        Ok(self.finish_seq())
    }
}

impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = Value;
    type Error = RenderError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), RenderError> {
        self.push(v)
    }
    fn end(self) -> Result<Value, RenderError> {
        Ok(self.finish_seq())
    }
}

impl ser::SerializeTupleVariant for Compound<'_> {
    type Ok = Value;
    type Error = RenderError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), RenderError> {
        self.push(v)
    }
    fn end(self) -> Result<Value, RenderError> {
        Ok(self.finish_seq())
    }
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = Value;
    type Error = RenderError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), RenderError> {
        if !self.cut {
            self.key = Some(match self.s.render(k)? {
                Value::String(s) => s,
                other => other.to_string(),
            });
        }
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), RenderError> {
        match self.key.take() {
            Some(k) => self.field(&k, v),
            None => Ok(()),
        }
    }
    fn end(self) -> Result<Value, RenderError> {
        Ok(self.finish_map())
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = Value;
    type Error = RenderError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<(), RenderError> {
        self.field(key, v)
    }
    fn end(self) -> Result<Value, RenderError> {
        Ok(self.finish_map())
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = Value;
    type Error = RenderError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<(), RenderError> {
        self.field(key, v)
    }
    fn end(self) -> Result<Value, RenderError> {
        Ok(self.finish_map())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::json;
    use crate::mask::DefaultMasking;
    use serde::Serialize;
    use std::collections::BTreeMap;

    #[derive(Serialize)]
    struct Login {
        user: String,
        password: String,
        inner: Inner,
    }
    #[derive(Serialize)]
    struct Inner {
        api_key: &'static str,
        tags: Vec<u32>,
    }
    #[derive(Serialize, Debug)]
    enum Cred {
        Secret(String),
        Pair { user: String, pwd: String },
    }

    #[test]
    fn serialize_masks_fields_keys_and_variants() {
        let m = DefaultMasking::default();
        let v = render_serialize(
            &m,
            &Login { user: "bob".into(), password: "hunter2".into(), inner: Inner { api_key: "k", tags: vec![1] } },
        );
        assert_eq!(
            v,
            json!({"user":"bob","password":"**************","inner":{"api_key":"**************","tags":[1]}})
        );
        let map = BTreeMap::from([("Session-Id", "abc"), ("name", "x")]);
        assert_eq!(render_serialize(&m, &map), json!({"Session-Id":"**************","name":"x"}));
        assert_eq!(render_serialize(&m, &Cred::Secret("s".into())), json!({"Secret":"**************"}));
        let pair = Cred::Pair { user: "u".into(), pwd: "p".into() };
        assert_eq!(render_serialize(&m, &pair), json!({"Pair":{"user":"u","pwd":"**************"}}));
    }

    #[derive(Serialize)]
    struct ApiToken(String);
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Renamed {
        private_key: &'static str,
        token: ApiToken,
        user_name: &'static str,
    }

    #[test]
    fn secret_newtypes_and_camel_case_renames() {
        let m = DefaultMasking::default();
        assert_eq!(render_serialize(&m, &ApiToken("t".into())), json!("**************"));
        let v = render_serialize(&m, &Renamed { private_key: "k", token: ApiToken("t".into()), user_name: "bob" });
        assert_eq!(v, json!({"privateKey":"**************","token":"**************","userName":"bob"}));
        let v = render_serialize(&m, &vec![ApiToken("t".into())]);
        assert_eq!(v, json!(["**************"]));
    }

    #[test]
    fn limits_cut_with_a_marker() {
        let m = DefaultMasking::default();
        let v = render_serialize(&m, &vec![0u8; 5000]);
        let items = v.as_array().unwrap();
        assert_eq!(items.len(), MAX_ITEMS + 1);
        assert_eq!(items[MAX_ITEMS], "…[4000 more items]");
        let long = "x".repeat(20_000);
        let s = render_serialize(&m, &long);
        assert!(s.as_str().unwrap().starts_with(&"x".repeat(MAX_STRING_CHARS)));
        assert!(s.as_str().unwrap().ends_with("20000 chars in all]"));
        let mut deep = json!(1);
        for _ in 0..100 {
            deep = json!([deep]);
        }
        assert!(render_serialize(&m, &deep).to_string().contains(DEPTH_MARKER));
        let d = render_debug(&m, &long);
        assert!(d.as_str().unwrap().len() < 10_100);
    }

    struct Boom;
    impl Debug for Boom {
        fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
            panic!("boom")
        }
    }
    impl Serialize for Boom {
        fn serialize<S: ser::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            panic!("boom")
        }
    }

    #[test]
    fn a_panicking_impl_is_an_error_value() {
        let m = DefaultMasking::default();
        assert_eq!(render_debug(&m, &Boom), Value::String(RENDER_ERROR.into()));
        assert_eq!(render_serialize(&m, &Boom), Value::String(RENDER_ERROR.into()));
    }
}
