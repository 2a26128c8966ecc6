//! Shapes found by tracking every fn of real crates: each compiles and
//! behaves as without the attribute (issue 10, shapes 1, 2, 4 and 6).
#![deny(warnings)]

use error_tracker::track_exception;
use std::cmp::Ordering;
use std::panic::Location;

// 1. A fn returning `impl Fn…` whose body is a closure: the closure keeps the
//    signature the return type gives it, higher-ranked lifetimes included.
#[track_exception]
fn by_len() -> impl Fn(&str) -> usize {
    |s| s.len()
}

#[track_exception]
fn key_to_cmp<T, K: Ord, F: FnMut(&T) -> K>(mut key: F) -> impl FnMut(&T, &T) -> Ordering {
    move |a, b| key(a).cmp(&key(b))
}

#[track_exception]
fn early_closure(flag: bool) -> impl Fn(u8) -> u8 {
    let offset = 2;
    move |x| if flag { x + offset } else { x * offset }
}

// 2. Bindings under a `#[cfg]` that is off in this build.
#[track_exception]
fn cfg_block() -> i32 {
    #[cfg(any())]
    {
        let x = 1;
        return x;
    }
    0
}

#[track_exception]
fn cfg_let(n: u8) -> u8 {
    #[cfg(any())]
    let extra = 1;
    let kept = n + 1;
    #[cfg(any())]
    let kept = kept + extra;
    kept
}

#[track_exception]
fn cfg_arm(n: u8) -> u8 {
    match n {
        #[cfg(any())]
        0 => {
            let zero = 7;
            zero
        }
        _ => {
            let other = n * 2;
            other
        }
    }
}

// 3. A local whose type is decided by a later use: tracking never picks a
//    rendering where the binding is made (the render function comes after
//    the body), so it commits no inference.
pub struct Gen(u32);
impl Gen {
    fn random<T: From<bool>>(&mut self) -> T {
        self.0 += 1;
        T::from(self.0 % 2 == 0)
    }
}
#[derive(PartialEq)]
pub enum Mode {
    A,
    B,
}
impl From<bool> for Mode {
    fn from(b: bool) -> Self {
        if b { Mode::A } else { Mode::B }
    }
}

#[track_exception]
fn decided_later(g: &mut Gen) -> bool {
    let mode = g.random();
    matches!(mode, Mode::A)
}

fn setting<T: std::str::FromStr>(value: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("bad setting {value}"))
}

#[track_exception]
fn port(value: &str) -> Result<u16, String> {
    let p = setting(value)?;
    Ok(p)
}

#[track_exception]
fn collected(words: &[&str]) -> usize {
    let mut v = Vec::new();
    for w in words {
        v.push(w.len());
    }
    let total = v.iter().sum::<usize>();
    total
}

// An error type whose `Error` impl needs `'static` (as arrayvec's
// `CapacityError<T>`), returned by a generic or a borrowing fn.
pub struct Full<T>(pub T);
impl<T> std::fmt::Debug for Full<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Full")
    }
}
impl<T> std::fmt::Display for Full<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("full")
    }
}
impl<T: std::any::Any> std::error::Error for Full<T> {}

#[track_exception]
pub fn try_push<T>(v: &mut Vec<T>, x: T) -> Result<(), Full<T>> {
    if v.len() > 1 {
        return Err(Full(x));
    }
    v.push(x);
    Ok(())
}

#[track_exception]
pub fn check_str<'a>(s: &'a str) -> Result<(), Full<&'a str>> {
    if s.is_empty() { Err(Full(s)) } else { Ok(()) }
}

#[track_exception]
pub fn check_elided(s: &str) -> Result<usize, Full<&str>> {
    check_str(s).map_err(|_| Full(s))?;
    Ok(s.len())
}

// bytes' `abort`: a diverging fn whose only other block is under `#[cfg]`.
#[allow(dead_code)]
#[track_exception]
fn abort_like() -> ! {
    #[cfg(all())]
    {
        std::process::abort();
    }
    #[cfg(any())]
    {
        let _a = 1;
        panic!("abort");
    }
}

// semver's `identifier`: a tail that diverges (a `loop` left by `return`).
#[track_exception]
fn first_dash(s: &str) -> Result<usize, String> {
    let mut i = 0;
    loop {
        match s.as_bytes().get(i) {
            Some(b'-') => return Ok(i),
            Some(_) => i += 1,
            None => return Err(format!("no dash in {s}")),
        }
    }
}

// itertools' `rfold`: an assignment as a block's tail.
#[track_exception]
fn tail_assignment(mut init: u32, more: bool) -> u32 {
    if more {
        init = init.wrapping_add(1)
    }
    init
}

// arrayvec: an error type behind an associated type, which borrows.
pub trait Pushes {
    type Item;
    type Error;
    fn try_push(&mut self, item: Self::Item) -> Result<(), Full<Self::Item>>;
    fn check(&self) -> Result<(), Self::Error>;
}
impl<'a> Pushes for Vec<&'a str> {
    type Item = &'a str;
    type Error = Full<&'a str>;
    #[track_exception]
    fn try_push(&mut self, item: &'a str) -> Result<(), Full<Self::Item>> {
        if self.len() > 1 {
            return Err(Full(item));
        }
        self.push(item);
        Ok(())
    }
    #[track_exception]
    fn check(&self) -> Result<(), Self::Error> {
        match self.first() {
            Some(s) if s.is_empty() => Err(Full(s)),
            _ => Ok(()),
        }
    }
}

// memchr's `unsafe_ifunc!`: a macro as the body's tail that expands to a
// block with an inner attribute.
macro_rules! block_with_inner_attribute {
    ($x:expr) => {{
        #![allow(unused_unsafe)]
        let doubled = unsafe { $x * 2 };
        if doubled > 100 { Err(format!("{doubled} too big")) } else { Ok(doubled) }
    }};
}

#[error_tracker::track_exception]
fn macro_tail(x: u32) -> Result<u32, String> {
    block_with_inner_attribute!(x)
}

// 4. The attribute applied twice (as rstest_reuse's `#[apply]` does when it
//    copies a template's attributes): it tracks once.
#[track_exception]
#[track_exception]
fn twice(s: &str) -> Result<u32, std::num::ParseIntError> {
    let n = s.trim().parse::<u32>()?;
    Ok(n + 1)
}

#[error_tracker::auto_track_exception]
mod module {
    #[error_tracker::track_exception]
    pub fn inside(v: u8) -> u8 {
        let w = v + 1;
        w
    }
}

// 6. `#[track_caller]` keeps propagating the caller's location, in either
//    attribute order.
#[track_caller]
#[track_exception]
fn caller_line() -> u32 {
    Location::caller().line()
}

#[track_exception]
#[track_caller]
fn caller_line_after(offset: u32) -> u32 {
    let here = Location::caller().line();
    here + offset
}

#[track_exception]
#[track_caller]
fn checked(v: Option<u8>) -> u8 {
    v.expect("value present")
}

fn main() {
    assert_eq!(by_len()("abcd"), 4);
    let mut cmp = key_to_cmp(|s: &String| s.len());
    assert_eq!(cmp(&"aa".to_owned(), &"b".to_owned()), Ordering::Greater);
    assert_eq!(early_closure(true)(1), 3);
    assert_eq!(early_closure(false)(3), 6);
    let mut g = Gen(0);
    assert!(!decided_later(&mut g));
    assert!(decided_later(&mut g));
    assert_eq!(port("80"), Ok(80));
    assert!(port("x").is_err());
    assert_eq!(collected(&["a", "bc"]), 3);
    let mut v = vec![1];
    assert!(try_push(&mut v, 2).is_ok());
    assert!(try_push(&mut v, 3).is_err());
    assert!(check_str("").is_err());
    assert_eq!(check_elided("ab").ok(), Some(2));
    assert_eq!(first_dash("ab-c"), Ok(2));
    assert!(first_dash("abc").is_err());
    assert_eq!(tail_assignment(1, true), 2);
    let mut words = vec!["a"];
    assert!(words.try_push("b").is_ok());
    assert!(words.try_push("c").is_err());
    assert!(words.check().is_ok());
    assert_eq!(cfg_block(), 0);
    assert_eq!(cfg_let(1), 2);
    assert_eq!(cfg_arm(0), 0);
    assert_eq!(cfg_arm(2), 4);
    assert_eq!(twice(" 4 ").unwrap(), 5);
    assert!(twice("x").is_err());
    assert_eq!(module::inside(1), 2);
    let line = line!();
    assert_eq!(caller_line(), line + 1);
    assert_eq!(caller_line_after(0), line + 2);
    let panic = std::panic::catch_unwind(|| checked(None)).unwrap_err();
    let message = panic.downcast_ref::<String>().map(String::as_str).or(panic.downcast_ref::<&str>().copied());
    assert_eq!(message, Some("value present"));
    assert_eq!(checked(Some(3)), 3);
    assert_eq!(via_facade(1), Ok(2));
    assert_eq!(macro_tail(3), Ok(6));
    assert!(macro_tail(60).is_err());
    assert!(via_facade(255).is_err());
}

// `crate = "…"`: the runtime reached through a facade or a renamed dependency.
mod facade {
    pub use error_tracker as tracker;
}

#[error_tracker::track_exception(crate = "crate::facade::tracker")]
fn via_facade(x: u8) -> Result<u8, String> {
    let y = x.checked_add(1).ok_or("overflow")?;
    Ok(y)
}
