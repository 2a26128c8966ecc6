//! Compile tests of the attribute macros: every shape in `ui/pass` compiles
//! and runs as it would without the attribute; every mistake in `ui/fail`
//! is reported with its span on the option (`.stderr` snapshots).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
