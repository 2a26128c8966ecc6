// The body does not parse: the function is passed through unchanged next to
// the error, so that an IDE still sees it.
#[error_tracker::track_exception]
fn f(a: u32) -> u32 {
    let x = ;
    a
}

fn main() {
    f(1);
}
