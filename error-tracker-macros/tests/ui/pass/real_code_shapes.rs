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
    if flag {
        return move |x| x + offset;
    }
    move |x| x * offset
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
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"value present"));
    assert_eq!(checked(Some(3)), 3);
}
