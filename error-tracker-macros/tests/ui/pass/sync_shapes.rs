//! Free functions of many shapes: each compiles and behaves as without the attribute.
#![deny(warnings)]

use error_tracker::track_exception;
use std::collections::HashMap;
use std::fmt;

#[derive(Debug)]
pub struct MyError(String);
impl fmt::Display for MyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for MyError {}
impl From<std::num::ParseIntError> for MyError {
    fn from(e: std::num::ParseIntError) -> Self {
        MyError(e.to_string())
    }
}

/// A user alias named like the std type must not change the expansion.
#[allow(dead_code)]
type Result<T> = std::result::Result<T, MyError>;

#[track_exception]
fn unit() {}

#[track_exception]
fn returns_value(a: u32) -> u32 {
    a + 1
}

#[track_exception]
fn uses_alias(s: &str) -> Result<u32> {
    let n: u32 = s.parse()?;
    Ok(n)
}

#[track_exception]
fn question_mark_from_conversion(s: &str) -> std::result::Result<u32, MyError> {
    let n = s.parse::<u32>()?;
    Ok(n * 2)
}

#[track_exception]
fn boxed_error(s: &str) -> std::result::Result<i64, Box<dyn std::error::Error + Send + Sync>> {
    let n: i64 = s.parse()?;
    if n < 0 {
        return Err("negative".into());
    }
    Ok(n)
}

#[track_exception]
fn anyhow_error(s: &str) -> anyhow::Result<u8> {
    let v: u8 = s.parse()?;
    anyhow::ensure!(v < 200, "too big: {v}");
    Ok(v)
}

#[track_exception]
fn early_return(flag: bool) -> &'static str {
    if flag {
        return "early";
    }
    "late"
}

fn consume(s: String) -> usize {
    s.len()
}

#[track_exception]
fn moves_argument_into_callee(s: String, v: Vec<u8>) -> usize {
    let n = consume(s);
    drop(v);
    n
}

#[track_exception]
fn mutation_after_binding(a: u32) -> u32 {
    let mut total = a;
    total += 5;
    let mut list = Vec::new();
    list.push(total);
    list.push(a);
    list.iter().sum()
}

#[track_exception]
fn shadowing(a: &str) -> usize {
    let a = a.trim();
    let a = a.len();
    let a = a * 2;
    a
}

#[track_exception]
fn loops_that_rebind(n: u32) -> u32 {
    let mut acc = 0;
    for i in 0..n {
        let sq = i * i;
        acc += sq;
    }
    let mut k = 0;
    while k < 3 {
        let next = k + 1;
        k = next;
    }
    loop {
        let stop = acc > 0 || n == 0;
        if stop {
            break acc + k;
        }
    }
}

#[track_exception]
fn closures(v: Vec<u32>) -> u32 {
    let factor = 3;
    let f = |x: u32| x * factor;
    let g = move |x: u32| {
        let inner = x + factor;
        inner
    };
    v.into_iter().map(f).map(g).sum()
}

#[track_exception]
fn pattern_args((a, b): (u32, u32), [c, d]: [u8; 2]) -> u32 {
    a + b + u32::from(c) + u32::from(d)
}

#[track_exception]
fn impl_trait_arg(items: impl IntoIterator<Item = u32>, shown: impl fmt::Display) -> String {
    let total: u32 = items.into_iter().sum();
    format!("{shown}={total}")
}

#[track_exception]
fn impl_trait_return(n: u32) -> impl Iterator<Item = u32> {
    let limit = n;
    (0..limit).map(|x| x * 2)
}

#[track_exception]
fn result_of_impl_trait(n: u32) -> std::result::Result<impl fmt::Display, MyError> {
    if n == 0 { Err(MyError("zero".into())) } else { Ok(n) }
}

#[track_exception]
fn elided_lifetime(s: &str) -> &str {
    let trimmed = s.trim();
    trimmed
}

#[track_exception]
fn named_lifetimes<'a, 'b>(a: &'a str, _b: &'b str) -> &'a str {
    a
}

#[track_exception]
fn returns_reference_into_slice(v: &[u32]) -> Option<&u32> {
    let first = v.first();
    first
}

#[track_exception]
fn mutable_reference(v: &mut Vec<u32>) -> &mut u32 {
    v.push(1);
    let last = v.last_mut().unwrap();
    last
}

#[track_exception]
unsafe fn unsafe_fn(p: *const u32) -> u32 {
    unsafe { *p }
}

#[track_exception]
fn inferred_later(s: &str) -> std::result::Result<u64, MyError> {
    let parsed = s.parse().map_err(|_| MyError("bad".into()))?;
    let mut m = HashMap::new();
    m.insert("k", parsed);
    let collected: Vec<_> = m.values().copied().collect();
    let total = collected.iter().sum::<u64>();
    let d = Default::default();
    let _: u64 = d;
    Ok(total + parsed)
}

#[track_exception]
fn let_else(v: Option<u32>) -> u32 {
    let Some(x) = v else { return 0 };
    x
}

#[track_exception]
fn nested_blocks(n: i32) -> i32 {
    let outer = {
        let inner = n * 2;
        inner + 1
    };
    if outer > 0 {
        let pos = outer;
        pos
    } else {
        match n {
            0 => {
                let zero = 0;
                zero
            }
            _ => -1,
        }
    }
}

#[track_exception]
fn drop_order(log: &std::cell::RefCell<Vec<&'static str>>) {
    struct Noisy<'a>(&'a std::cell::RefCell<Vec<&'static str>>, &'static str);
    impl Drop for Noisy<'_> {
        fn drop(&mut self) {
            self.0.borrow_mut().push(self.1);
        }
    }
    let _a = Noisy(log, "a");
    let _b = Noisy(log, "b");
}

#[track_exception]
fn never_returns() -> ! {
    panic!("never")
}

#[track_exception]
fn nested_item(n: u32) -> u32 {
    fn helper(x: u32) -> u32 {
        let y = x + 1;
        y
    }
    helper(n)
}

#[track_exception]
extern "C" fn extern_c(n: u32) -> u32 {
    n + 1
}

#[track_exception]
fn const_context(n: usize) -> usize {
    const N: usize = 4;
    let arr = [0u8; N];
    let len = arr.len() + n;
    len
}

#[track_exception]
fn uninit_let(flag: bool) -> u32 {
    let x;
    if flag {
        x = 1;
    } else {
        x = 2;
    }
    x
}

#[track_exception]
fn macro_locals(n: u32) -> Vec<u32> {
    let v = vec![n, n + 1];
    let s = format!("{v:?}");
    assert!(!s.is_empty());
    v
}

fn main() {
    unit();
    assert_eq!(returns_value(1), 2);
    assert_eq!(uses_alias("7").unwrap(), 7);
    assert!(uses_alias("x").is_err());
    assert_eq!(question_mark_from_conversion("4").unwrap(), 8);
    assert!(boxed_error("-1").is_err());
    assert!(anyhow_error("250").is_err());
    assert_eq!(early_return(true), "early");
    assert_eq!(moves_argument_into_callee("abc".into(), vec![1]), 3);
    assert_eq!(mutation_after_binding(1), 7);
    assert_eq!(shadowing(" ab "), 4);
    assert_eq!(loops_that_rebind(3), 8);
    assert_eq!(closures(vec![1, 2]), 3 + 6 + 6);
    assert_eq!(pattern_args((1, 2), [3, 4]), 10);
    assert_eq!(impl_trait_arg(vec![1, 2], "s"), "s=3");
    assert_eq!(impl_trait_return(3).collect::<Vec<_>>(), [0, 2, 4]);
    assert_eq!(result_of_impl_trait(2).unwrap().to_string(), "2");
    assert_eq!(elided_lifetime(" x "), "x");
    assert_eq!(named_lifetimes("a", "b"), "a");
    assert_eq!(returns_reference_into_slice(&[5]), Some(&5));
    let mut v = Vec::new();
    *mutable_reference(&mut v) = 9;
    assert_eq!(v, [9]);
    assert_eq!(unsafe { unsafe_fn(&3) }, 3);
    assert_eq!(inferred_later("2").unwrap(), 4);
    assert_eq!(let_else(Some(3)), 3);
    assert_eq!(nested_blocks(2), 5);
    let log = std::cell::RefCell::new(Vec::new());
    drop_order(&log);
    assert_eq!(*log.borrow(), ["b", "a"]);
    assert!(std::panic::catch_unwind(|| never_returns()).is_err());
    assert_eq!(nested_item(1), 2);
    assert_eq!(extern_c(1), 2);
    assert_eq!(const_context(1), 5);
    assert_eq!(uninit_let(true), 1);
    assert_eq!(macro_locals(1), [1, 2]);
}
