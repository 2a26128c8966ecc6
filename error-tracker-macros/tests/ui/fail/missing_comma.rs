#[error_tracker::track_exception(skip_all locals = false)]
fn f(a: u32) -> u32 {
    a
}

fn main() {
    f(1);
}
