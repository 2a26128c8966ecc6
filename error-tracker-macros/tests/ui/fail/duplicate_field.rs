#[error_tracker::track_exception(fields(user = 1, user = 2))]
fn f(a: u32) -> u32 {
    a
}

fn main() {
    f(1);
}
