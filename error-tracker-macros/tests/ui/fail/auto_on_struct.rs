#[error_tracker::auto_track_exception]
struct S {
    a: u32,
}

fn main() {
    let _ = S { a: 1 }.a;
}
