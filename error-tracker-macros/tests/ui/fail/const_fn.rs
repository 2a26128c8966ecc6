#[error_tracker::track_exception]
const fn f(a: u32) -> u32 {
    a
}

fn main() {
    f(1);
}
