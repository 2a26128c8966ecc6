//! Tells the tests which services to expect, so that a test needing one is
//! reported as *ignored* where the service is not set up, rather than passing
//! without running; under `CI=true` every such test runs, and a missing
//! service fails it. See the README's "Tests that need services".

use std::path::Path;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(test_pg)");
    println!("cargo::rustc-check-cfg=cfg(test_browser)");
    println!("cargo::rerun-if-env-changed=ERROR_TRACKER_TEST_PG");
    println!("cargo::rerun-if-env-changed=CI");
    // The browser test's driver and browser (Debian's chromium chromium-driver).
    println!("cargo::rerun-if-changed=/usr/bin/chromedriver");
    println!("cargo::rerun-if-changed=/usr/bin/chromium");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let pg = std::env::var("ERROR_TRACKER_TEST_PG").is_ok_and(|v| !v.trim().is_empty());
    if ci || pg {
        println!("cargo::rustc-cfg=test_pg");
    }
    let browser = Path::new("/usr/bin/chromedriver").exists() && Path::new("/usr/bin/chromium").exists();
    if ci || browser {
        println!("cargo::rustc-cfg=test_browser");
    }
}
