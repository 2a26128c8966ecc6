#[error_tracker::track_exception(locals = "no")]
fn f(x: u32) -> u32 {
    x
}

#[error_tracker::track_exception(name = login)]
fn g(x: u32) -> u32 {
    x
}

fn main() {
    f(1);
    g(1);
}
