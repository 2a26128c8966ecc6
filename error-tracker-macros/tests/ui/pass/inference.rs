//! A tracked fn names `::error_tracker`, which loads the runtime crate and its
//! whole dependency graph into this crate. Nothing in that graph may add impls
//! on std types (as serde_json's `impl PartialEq<Value> for u8` does): they
//! would make ordinary, untracked inference below ambiguous (E0283).
#![deny(warnings)]

#[error_tracker::track_exception]
fn tracked(x: u8) -> Result<u8, String> {
    if x > 200 { Err(format!("too big: {x}")) } else { Ok(x) }
}

fn untracked() {
    // `[u8]: PartialEq<[_; 0]>`: one candidate only while no crate adds `PartialEq<X> for u8`.
    let v: Vec<u8> = vec![];
    assert_eq!(&*v, &[]);
    let data = Vec::<u8>::new();
    assert_eq!(data[..], []);
    // The sum's type comes from `i32: PartialEq<_>`.
    assert_eq!(4, [1, 3].iter().sum());
    // `.into()`, `parse()` and `Default::default()` resolved through the comparison.
    let n: u64 = 3;
    assert_eq!(n, 3u32.into());
    let i: i32 = 3;
    assert_eq!(i, "3".parse().unwrap());
    let b = false;
    assert_eq!(b, Default::default());
    let f = 0.0f64;
    assert!(f == Default::default());
    // The same for the scalar types that web and mail crates like to compare with their own.
    let status: u16 = 200;
    assert_eq!(status, "200".parse().unwrap());
    let len: usize = 2;
    assert_eq!(len, [1usize, 1].iter().sum());
    let c = 'a';
    assert!(c != Default::default());
    let empty: Vec<u32> = Vec::new();
    assert_eq!(empty, Vec::new());
}

fn main() {
    untracked();
    assert_eq!(tracked(1), Ok(1));
}
