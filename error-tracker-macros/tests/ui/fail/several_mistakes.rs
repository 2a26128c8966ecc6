#[error_tracker::track_exception(skip_al, locals = false, locals = true, name = "")]
fn f(x: u32) -> u32 {
    x
}

fn main() {
    f(1);
}
