//! A panic in a binary built with `panic = "abort"`: the hook writes the
//! record synchronously before the process ends.
//!
//! ```sh
//! cargo run --example panic_abort --config 'profile.dev.panic="abort"'
//! sqlite3 errors-abort.sqlite 'SELECT exception_name, message, count FROM exceptions'
//! ```

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| "errors-abort.sqlite".into());
    let _guard = error_tracker::init(error_tracker::Config::default().database(&path)).expect("init");
    let config: Option<&str> = std::env::var("JOB_CONFIG").ok().as_deref().map(|_| "loaded");
    config.expect("the config was loaded before the job started");
}
