//! Methods with every receiver form, trait impls, generics and where clauses.
#![deny(warnings)]

use error_tracker::{auto_track_exception, track_exception};
use std::fmt;

#[derive(Debug, Clone)]
pub struct Counter {
    n: u32,
    name: String,
}

#[derive(Debug)]
pub struct Oops;
impl fmt::Display for Oops {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("oops")
    }
}
impl std::error::Error for Oops {}

impl Counter {
    #[track_exception]
    pub fn new(name: &str) -> Self {
        Counter { n: 0, name: name.to_owned() }
    }

    #[track_exception]
    pub fn get(&self) -> u32 {
        self.n
    }

    #[track_exception]
    pub fn name(&self) -> &str {
        &self.name
    }

    #[track_exception]
    pub fn bump(&mut self) -> Result<u32, Oops> {
        self.n += 1;
        let now = self.n;
        if now > 100 { Err(Oops) } else { Ok(now) }
    }

    #[track_exception]
    pub fn name_mut(&mut self) -> &mut String {
        &mut self.name
    }

    #[track_exception]
    pub fn into_name(self) -> String {
        let Counter { name, .. } = self;
        name
    }

    #[track_exception]
    pub fn boxed(self: Box<Self>) -> u32 {
        self.n
    }

    #[track_exception]
    pub fn typed_ref(self: &Self) -> u32 {
        self.n
    }

    #[track_exception]
    pub fn mut_self_value(mut self) -> Self {
        self.n = 7;
        self
    }

    #[track_exception]
    pub fn rc(self: std::rc::Rc<Self>) -> u32 {
        self.n
    }
}

pub trait Shape {
    fn area(&self) -> f64;
    fn scale(&mut self, by: f64) -> Result<(), Oops>;
    fn describe(&self) -> String {
        format!("{}", self.area())
    }
}

pub struct Square(f64);

impl Shape for Square {
    #[track_exception]
    fn area(&self) -> f64 {
        let side = self.0;
        side * side
    }

    #[track_exception]
    fn scale(&mut self, by: f64) -> Result<(), Oops> {
        if by <= 0.0 {
            return Err(Oops);
        }
        self.0 *= by;
        Ok(())
    }
}

/// A type without `Debug`, `Serialize` or `Clone`.
pub struct Opaque(u8);

#[track_exception]
fn generic_without_debug<T>(value: T, other: &T) -> T {
    let _ = other;
    value
}

#[track_exception]
fn generic_with_where<T, U>(a: T, b: U) -> String
where
    T: fmt::Display,
    U: fmt::Debug + Clone,
{
    let copy = b.clone();
    format!("{a}{copy:?}")
}

#[track_exception]
fn const_generic<const N: usize>(arr: [u8; N]) -> usize {
    let len = N;
    arr.len() + len
}

#[track_exception]
fn generic_result<T: std::str::FromStr>(s: &str) -> Result<T, T::Err> {
    let v = s.parse::<T>()?;
    Ok(v)
}

#[track_exception]
fn dyn_arg(shape: &dyn Shape, boxed: Box<dyn Shape>) -> f64 {
    shape.area() + boxed.area()
}

pub struct Wrapper<T>(T);

#[auto_track_exception]
impl<T: Clone> Wrapper<T> {
    pub fn get(&self) -> T {
        self.0.clone()
    }

    pub fn set(&mut self, v: T) -> Option<T> {
        let old = std::mem::replace(&mut self.0, v);
        Some(old)
    }

    pub const fn constant() -> u8 {
        1
    }

    #[track_exception(skip(v))]
    pub fn explicit(&self, v: T) -> T {
        v
    }
}

#[auto_track_exception]
impl Shape for Wrapper<f64> {
    fn area(&self) -> f64 {
        self.0
    }

    fn scale(&mut self, by: f64) -> Result<(), Oops> {
        self.0 *= by;
        Ok(())
    }
}

#[auto_track_exception]
pub trait Greeter {
    fn name(&self) -> String;
    fn greet(&self) -> String {
        let n = self.name();
        format!("hi {n}")
    }
}

impl Greeter for Square {
    fn name(&self) -> String {
        "square".into()
    }
}

#[auto_track_exception]
mod inner {
    pub fn double(x: u32) -> u32 {
        x * 2
    }

    pub struct S;

    impl S {
        pub fn triple(&self, x: u32) -> u32 {
            x * 3
        }
    }

    pub mod deeper {
        pub fn four() -> u32 {
            4
        }
    }
}

#[auto_track_exception]
fn auto_on_fn(x: u32) -> u32 {
    x
}

fn main() {
    let mut c = Counter::new("c");
    assert_eq!(c.bump().unwrap(), 1);
    assert_eq!(c.get(), 1);
    assert_eq!(c.name(), "c");
    c.name_mut().push('!');
    assert_eq!(c.clone().into_name(), "c!");
    assert_eq!(Box::new(c.clone()).boxed(), 1);
    assert_eq!(c.typed_ref(), 1);
    assert_eq!(c.clone().mut_self_value().n, 7);
    assert_eq!(std::rc::Rc::new(c).rc(), 1);
    let mut sq = Square(2.0);
    assert_eq!(sq.area(), 4.0);
    assert!(sq.scale(-1.0).is_err());
    assert_eq!(sq.describe(), "4");
    assert_eq!(generic_without_debug(Opaque(1), &Opaque(2)).0, 1);
    assert_eq!(generic_with_where(1, "x"), "1\"x\"");
    assert_eq!(const_generic([1, 2]), 4);
    assert_eq!(generic_result::<u8>("3").unwrap(), 3);
    assert!(generic_result::<u8>("x").is_err());
    assert_eq!(dyn_arg(&Square(1.0), Box::new(Square(2.0))), 5.0);
    let mut w = Wrapper(1u8);
    assert_eq!(w.get(), 1);
    assert_eq!(w.set(2), Some(1));
    assert_eq!(Wrapper::<u8>::constant(), 1);
    assert_eq!(w.explicit(3), 3);
    let mut wf = Wrapper(2.0);
    assert!(wf.scale(2.0).is_ok());
    assert_eq!(Shape::area(&wf), 4.0);
    assert_eq!(Square(1.0).greet(), "hi square");
    assert_eq!(inner::double(2), 4);
    assert_eq!(inner::S.triple(2), 6);
    assert_eq!(inner::deeper::four(), 4);
    assert_eq!(auto_on_fn(1), 1);
}
