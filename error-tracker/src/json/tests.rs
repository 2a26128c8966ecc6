//! The JSON module against serde_json (a dev-dependency only): the same
//! text written, the same values read, the same inputs refused.

use proptest::prelude::*;

use super::*;
use crate::occurrence::{FrameSnapshot, Occurrence, PanicInfo, RequestContext, StackFrame, Variable};

fn ours_from_theirs(v: serde_json::Value) -> Value {
    serde_json::from_value(v).expect("every serde_json value is a Value")
}

/// Strings that JSON must escape, mixed with multi-byte text.
fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\\x00-\\x1f\"\\\\/\\x7f\u{80}\u{2028}\u{2029}\u{fffd}é€😀a]{0,12}",
        Just("\\ud800".to_owned()),
        Just("</script>".to_owned()),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        Just(Value::from(u64::MAX)),
        Just(Value::from(i64::MIN)),
        Just(Value::from(-0.0)),
        Just(Value::from(1e300)),
        Just(Value::from(5e-324)),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        hostile_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(hostile_string(), inner, 0..8).prop_map(Value::Object),
        ]
    })
}

/// Text that is often JSON and often nearly JSON.
fn json_ish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just(",".to_owned()),
        Just(":".to_owned()),
        Just(" ".to_owned()),
        Just("\"k\"".to_owned()),
        Just("\"\\ud83d\\ude00\"".to_owned()),
        Just("\"\\ud800\"".to_owned()),
        Just("\"\\udc00x\"".to_owned()),
        Just("\"\\u00e9\\n\\/\"".to_owned()),
        Just("\"\\x\"".to_owned()),
        Just("\"\u{1}\"".to_owned()),
        Just("null".to_owned()),
        Just("tru".to_owned()),
        Just("true".to_owned()),
        Just("-".to_owned()),
        Just("0".to_owned()),
        Just("01".to_owned()),
        Just("-0".to_owned()),
        Just("1.".to_owned()),
        Just("1.5e3".to_owned()),
        Just("1e400".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("-9223372036854775809".to_owned()),
        "[0-9]{1,25}",
    ];
    prop::collection::vec(token, 0..12).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Our text is serde_json's text, byte for byte, and reads back equal, with either parser.
    #[test]
    fn written_text_is_serde_jsons_and_reads_back(v in value()) {
        let ours = v.to_string();
        prop_assert_eq!(&ours, &serde_json::to_string(&v).unwrap());
        prop_assert_eq!(&ours.parse::<Value>().unwrap(), &v);
        prop_assert_eq!(ours_from_theirs(serde_json::from_str(&ours).unwrap()), v);
    }

    /// What serde_json writes, we read as serde_json reads it.
    #[test]
    fn serde_json_text_reads_the_same(v in value()) {
        let theirs = serde_json::to_string_pretty(&serde_json::to_value(&v).unwrap()).unwrap();
        prop_assert_eq!(theirs.parse::<Value>().unwrap(), v);
    }

    /// On any text, we accept exactly what serde_json accepts, with the same value.
    #[test]
    fn any_text_is_accepted_as_serde_json_accepts_it(text in json_ish()) {
        let ours = text.parse::<Value>();
        let theirs = serde_json::from_str::<serde_json::Value>(&text);
        match (ours, theirs) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, ours_from_theirs(b)),
            (Err(_), Err(_)) => {}
            (a, b) => prop_assert!(false, "{text:?}: ours {a:?}, serde_json {b:?}"),
        }
    }

    /// Arbitrary bytes never panic the parser.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = Value::from_slice(&bytes);
    }
}

#[test]
fn lone_surrogates_and_bad_escapes_are_errors() {
    for text in [r#""\ud800""#, r#""\udc00""#, r#""\ud800\u0041""#, r#""\ud800\""#, r#""\uZZZZ""#, r#""\u12""#] {
        let e = text.parse::<Value>().unwrap_err();
        assert!(
            matches!(
                e.kind(),
                ParseErrorKind::LoneSurrogate | ParseErrorKind::InvalidEscape | ParseErrorKind::UnexpectedEnd
            ),
            "{text}: {e}"
        );
        assert!(serde_json::from_str::<serde_json::Value>(text).is_err(), "{text}");
    }
    assert_eq!(r#""\ud83d\ude00""#.parse::<Value>().unwrap(), Value::from("😀"));
}

#[test]
fn nesting_is_bounded_as_serde_json_bounds_it() {
    let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let serde_json_max =
        (1..1000).take_while(|&n| serde_json::from_str::<serde_json::Value>(&nested(n)).is_ok()).last();
    assert_eq!(serde_json_max, Some(MAX_PARSE_DEPTH));
    assert!(nested(MAX_PARSE_DEPTH).parse::<Value>().is_ok());
    let e = nested(MAX_PARSE_DEPTH + 1).parse::<Value>().unwrap_err();
    assert_eq!(e.kind(), ParseErrorKind::TooDeep);
    // Far deeper input is refused at the limit, without recursing into it.
    assert_eq!("[".repeat(1_000_000).parse::<Value>().unwrap_err().kind(), ParseErrorKind::TooDeep);
}

#[test]
fn numbers_keep_their_kind() {
    let v: Value =
        "[0, -0, 1.0, 18446744073709551615, 18446744073709551616, -9223372036854775808, 2.5e-3]".parse().unwrap();
    let n = |i: usize| match &v[i] {
        Value::Number(n) => *n,
        other => panic!("{other:?}"),
    };
    assert_eq!(n(0).as_u64(), Some(0));
    assert!(n(1).is_f64() && n(1).as_f64().is_sign_negative());
    assert!(n(2).is_f64());
    assert_eq!(n(3).as_u64(), Some(u64::MAX));
    assert!(n(4).is_f64());
    assert_eq!(n(5).as_i64(), Some(i64::MIN));
    assert_eq!(v.to_string(), "[0,-0.0,1.0,18446744073709551615,1.8446744073709552e+19,-9223372036854775808,0.0025]");
    assert_eq!("1e400".parse::<Value>().unwrap_err().kind(), ParseErrorKind::NumberOutOfRange);
    assert_eq!(Value::from(f64::INFINITY), Value::Null);
}

#[test]
fn errors_say_what_and_where() {
    let e = "{\"a\" 1}".parse::<Value>().unwrap_err();
    assert_eq!(e.to_string(), "unexpected '1' at byte 5");
    assert_eq!("[1] x".parse::<Value>().unwrap_err().kind(), ParseErrorKind::TrailingText);
    assert_eq!("".parse::<Value>().unwrap_err().kind(), ParseErrorKind::UnexpectedEnd);
    assert_eq!(Value::from_slice(b"\"\xff\"").unwrap_err().kind(), ParseErrorKind::InvalidUtf8);
    assert_eq!("\"a\nb\"".parse::<Value>().unwrap_err().kind(), ParseErrorKind::ControlCharacter);
}

fn sample_occurrence() -> Occurrence {
    let var = |name: &str, value: Value| Variable { name: name.to_owned(), value };
    Occurrence {
        id: "0b8a3c1e-0000-4000-8000-000000000000".into(),
        exception_name: "std::io::Error".into(),
        message: "no such file \"x\"\n\ttab\u{1}".into(),
        sources: vec!["inner\\cause".into()],
        backtrace: vec![StackFrame {
            function: "app::main".into(),
            file: Some("src/main.rs".into()),
            line: Some(7),
            in_app: true,
        }],
        thread: None,
        timestamp: crate::Timestamp::parse("2026-12-01T17:00:00.000001Z").unwrap(),
        host: "h".into(),
        pid: 42,
        release: Some("1.0".into()),
        panic: Some(PanicInfo { message: "boom".into(), location: None }),
        frames: vec![FrameSnapshot {
            function: "app::load".into(),
            file: None,
            line: Some(3),
            function_line: None,
            args: vec![var("id", Value::from(7)), var("ratio", Value::from(0.1))],
            locals: vec![var("rows", "[{\"b\":[1,null],\"a\":\"é\"}]".parse().unwrap())],
        }],
        request: Some(RequestContext {
            method: "POST".into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: Some(Value::from("😀")),
            ..RequestContext::default()
        }),
        extra: vec![var("f32", Value::from(0.1f32))],
        site: None,
        breadcrumbs: Vec::new(),
        spans: Vec::new(),
        error_backtrace: Vec::new(),
    }
}

#[test]
fn typed_values_are_written_as_serde_json_writes_them_and_read_back() {
    let o = sample_occurrence();
    let ours = to_string(&o).unwrap();
    assert_eq!(ours, serde_json::to_string(&o).unwrap());
    assert_eq!(from_str::<Occurrence>(&ours).unwrap(), o);
    assert_eq!(from_str::<Vec<FrameSnapshot>>(&to_string(&o.frames).unwrap()).unwrap(), o.frames);
    assert_eq!(from_str::<Option<PanicInfo>>("null").unwrap(), None);
    // A missing `#[serde(default)]` field and an unknown field are both fine, as with serde_json.
    let f: FrameSnapshot = from_str(r#"{"function":"f","file":null,"line":1,"new":true}"#).unwrap();
    assert!(f.args.is_empty());
    // A shape mismatch is an error that names it.
    let e = from_str::<Vec<StackFrame>>(r#"[{"function":1}]"#).unwrap_err();
    assert!(e.to_string().contains("invalid type"), "{e}");
}

#[test]
fn enums_and_maps_with_integer_keys_read_and_write_like_serde_json() {
    use std::collections::BTreeMap;
    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    enum E {
        Unit,
        New(u8),
        Tuple(u8, String),
        Struct { a: Option<i32> },
    }
    let all = vec![E::Unit, E::New(1), E::Tuple(2, "t".into()), E::Struct { a: Some(-3) }];
    let text = to_string(&all).unwrap();
    assert_eq!(text, serde_json::to_string(&all).unwrap());
    assert_eq!(from_str::<Vec<E>>(&text).unwrap(), all);
    let keys = BTreeMap::from([(1u8, 'c'), (2, '"')]);
    assert_eq!(to_string(&keys).unwrap(), serde_json::to_string(&keys).unwrap());
    assert!(to_string(&BTreeMap::from([((1, 2), 3)])).is_err());
}
