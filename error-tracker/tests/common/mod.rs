//! What several of the runtime crate's integration tests share.

/// An error whose message is the text it holds.
#[derive(Debug)]
pub struct Failed(pub String);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Failed {}

/// `n` in letters that are neither digits nor hex, so that message
/// normalization keeps them: tags that differ in words.
pub fn word(mut n: usize) -> String {
    let mut w = String::new();
    loop {
        w.push(char::from(b'g' + (n % 20) as u8));
        n /= 20;
        if n == 0 {
            return w;
        }
    }
}
