//! Before `init`, every call is a cheap no-op.

use std::time::Duration;

#[test]
fn calls_before_init_do_nothing() {
    let id = error_tracker::record_exception!(std::io::Error::other("nobody listens"), "password" => "x");
    assert!(id.is_nil());
    assert!(error_tracker::flush(Duration::from_millis(1)));
    assert!(error_tracker::config().is_none() && error_tracker::store().is_none());
    // A panic before init goes to the default hook only.
    assert!(std::thread::spawn(|| panic!("before init")).join().is_err());
}
