#[error_tracker::track_exception(skip_all, skip(a))]
fn f(a: u32) -> u32 {
    a
}

fn main() {
    f(1);
}
