//! With the tracker initialized: options, masking by name and plain types compile and run.
#![deny(warnings)]

use error_tracker::{Plain, track_exception};

#[derive(Debug, Clone, Copy)]
pub struct Id(pub u64);
impl Plain for Id {}

#[derive(serde::Serialize)]
pub struct Login {
    user: String,
    password: String,
}

#[track_exception(skip(password), name = "custom", fields(user_len = login.user.len(), fixed = 1))]
fn login(login: &Login, password: &str, id: Id) -> Result<(), String> {
    let _ = password;
    let secret_token = "abc";
    let _ = secret_token;
    Err(format!("denied {}", id.0))
}

#[track_exception(locals = false)]
fn no_locals(x: u8) -> Result<u8, std::fmt::Error> {
    let y = x;
    Ok(y)
}

#[track_exception(skip_all)]
fn skip_everything(a: String, b: &[u8]) -> usize {
    a.len() + b.len()
}

#[track_exception(locals = true)]
fn with_locals(x: u8) -> u8 {
    let y = x;
    y
}

fn main() {
    let dir = std::env::temp_dir().join(format!("et-ui-{}.sqlite", std::process::id()));
    let _guard = error_tracker::init(error_tracker::Config::default().database(dir.to_str().unwrap())).unwrap();
    let l = Login { user: "u".into(), password: "p".into() };
    assert!(login(&l, "x", Id(1)).is_err());
    assert_eq!(no_locals(1).unwrap(), 1);
    assert_eq!(skip_everything("a".into(), b"bc"), 3);
    assert_eq!(with_locals(2), 2);
    let _ = l.password;
    drop(_guard);
    let _ = std::fs::remove_file(&dir);
}
