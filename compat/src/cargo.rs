//! Running cargo on a crate copy and reading what it printed: the compiler's
//! diagnostics (`--message-format=json`) and libtest's summaries.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Test counts, added up over every test binary and the doctests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
}

/// What one `cargo test` of a crate copy gave.
#[derive(Debug, Default)]
pub struct TestRun {
    /// Every test target (and the lib) compiled.
    pub built: bool,
    /// A cargo command was stopped at the time limit.
    pub timed_out: bool,
    pub counts: Counts,
    /// The crate's own warnings, keyed without the column (the attribute
    /// shifts columns on the lines it is inserted on, never line numbers).
    pub warnings: Vec<String>,
    /// The crate's own compiler errors, as rustc rendered them.
    pub errors: Vec<String>,
    /// The tests reported `FAILED`.
    pub failed_tests: Vec<String>,
    /// What went wrong besides compiler errors and failed tests (a test
    /// binary that crashed, a cargo error), as printed.
    pub problems: Vec<String>,
}

/// What building a crate copy's library costs: the best of a few builds of
/// the crate alone (its dependencies already built), and the rlib's size.
#[derive(Debug, Default, Clone, Copy)]
pub struct LibCost {
    pub seconds: f64,
    pub rlib_bytes: u64,
}

/// How to run cargo for the crate copies.
pub struct Runner {
    /// The target directory shared by every crate copy, so that common
    /// dependencies are compiled once.
    pub target_dir: PathBuf,
    /// The longest any one cargo command may take.
    pub timeout: Duration,
}

impl Runner {
    /// A `cargo` command run in `dir` with the shared target directory and
    /// without the variables `cargo run` set for this tool.
    pub fn cargo(&self, dir: &Path) -> Command {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        // Each copy is built once: incremental state would only cost time and disk.
        command
            .current_dir(dir)
            .env("CARGO_TARGET_DIR", &self.target_dir)
            .env("CARGO_TERM_COLOR", "never")
            .env("CARGO_INCREMENTAL", "0");
        for (name, _) in std::env::vars_os() {
            let Some(name) = name.to_str() else { continue };
            if name.starts_with("CARGO_PKG_")
                || name.starts_with("CARGO_MANIFEST_")
                || matches!(name, "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE")
            {
                command.env_remove(name);
            }
        }
        command
    }

    /// Builds every test target of the crate in `dir`, then runs its tests
    /// (doctests included), with `features`. Logs go to `log_prefix.*`.
    pub fn test(&self, dir: &Path, features: &[&str], log_prefix: &Path) -> std::io::Result<TestRun> {
        let mut run = TestRun::default();
        let features = features.join(",");
        // Dependencies (error-tracker included) without debug info, as this
        // repository builds them: every test binary and doctest links them,
        // and that link is most of a crate's time.
        let mut common_args = vec!["--config", r#"profile.dev.package."*".debug=false"#];
        if !features.is_empty() {
            common_args.extend(["--features", &features]);
        }

        let build_out = log_prefix.with_extension("build.json");
        let build_err = log_prefix.with_extension("build.log");
        let mut build = self.cargo(dir);
        build.args(["test", "--no-run", "--message-format=json"]).args(&common_args);
        let status = self.run_logged(build, &build_out, &build_err)?;
        read_diagnostics(&std::fs::read_to_string(&build_out)?, dir, &mut run);
        match status {
            None => {
                run.timed_out = true;
                return Ok(run);
            }
            Some(status) if !status.success() => {
                if run.errors.is_empty() {
                    run.problems.extend(cargo_errors(&std::fs::read_to_string(&build_err)?));
                }
                return Ok(run);
            }
            Some(_) => run.built = true,
        }

        let test_out = log_prefix.with_extension("test.log");
        let mut test = self.cargo(dir);
        test.args(["test", "--no-fail-fast"]).args(&common_args);
        let test_err = log_prefix.with_extension("test.stderr.log");
        let status = self.run_logged(test, &test_out, &test_err)?;
        let printed = std::fs::read_to_string(&test_out)? + &std::fs::read_to_string(&test_err)?;
        read_test_output(&printed, &mut run);
        match status {
            None => run.timed_out = true,
            Some(status) if !status.success() && run.failed_tests.is_empty() => {
                run.problems.extend(cargo_errors(&printed));
            }
            Some(_) => {}
        }
        Ok(run)
    }

    /// Builds the library of the crate in `dir` (`release` or dev profile)
    /// `rounds` times, each after marking its root file changed so that only
    /// it is compiled again; `None` when it does not build.
    pub fn lib_cost(
        &self,
        dir: &Path,
        features: &[&str],
        release: bool,
        log_prefix: &Path,
    ) -> std::io::Result<Option<LibCost>> {
        const ROUNDS: usize = 3;
        let root = dir.join("src").join("lib.rs");
        let manifest = dir.join("Cargo.toml");
        let mut best: Option<LibCost> = None;
        let out = log_prefix.with_extension("cost.json");
        let err = log_prefix.with_extension("cost.log");
        for round in 0..=ROUNDS {
            // Round 0 builds the dependencies for this profile; it is not timed.
            std::fs::File::options().append(true).open(&root)?.set_modified(std::time::SystemTime::now())?;
            let mut build = self.cargo(dir);
            build.args([
                "build",
                "--lib",
                "--message-format=json",
                "--config",
                r#"profile.dev.package."*".debug=false"#,
            ]);
            if release {
                build.arg("--release");
            }
            if !features.is_empty() {
                build.args(["--features", &features.join(",")]);
            }
            let started = Instant::now();
            let status = self.run_logged(build, &out, &err)?;
            let seconds = started.elapsed().as_secs_f64();
            if !status.is_some_and(|s| s.success()) {
                return Ok(None);
            }
            let rlib_bytes = rlib_of(&std::fs::read_to_string(&out)?, &manifest)
                .and_then(|rlib| std::fs::metadata(rlib).ok())
                .map_or(0, |m| m.len());
            if round > 0 && best.is_none_or(|b| seconds < b.seconds) {
                best = Some(LibCost { seconds, rlib_bytes });
            }
        }
        Ok(best)
    }

    /// Runs `command` with its output in two files; `None` when it was
    /// stopped at the time limit.
    pub fn run_logged(
        &self,
        mut command: Command,
        stdout: &Path,
        stderr: &Path,
    ) -> std::io::Result<Option<ExitStatus>> {
        command.stdin(Stdio::null()).stdout(File::create(stdout)?).stderr(File::create(stderr)?);
        // Its own process group, so that a hanging test binary is stopped with cargo.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn()?;
        let deadline = Instant::now() + self.timeout;
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                #[cfg(unix)]
                {
                    let _ = Command::new("kill").arg("-KILL").arg(format!("-{}", child.id())).status();
                }
                let _ = child.kill();
                let _ = child.wait();
                return Ok(None);
            }
            thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Keeps the diagnostics of the package whose manifest is in `dir` (not
/// those of error-tracker, another path dependency).
fn read_diagnostics(json_lines: &str, dir: &Path, run: &mut TestRun) {
    let manifest = dir.join("Cargo.toml");
    for line in json_lines.lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if message["reason"] != "compiler-message" || message["manifest_path"].as_str() != manifest.to_str() {
            continue;
        }
        let diagnostic = &message["message"];
        let text = diagnostic["message"].as_str().unwrap_or_default();
        let code = diagnostic["code"]["code"].as_str().unwrap_or_default();
        let rendered = diagnostic["rendered"].as_str().unwrap_or(text).to_owned();
        match diagnostic["level"].as_str() {
            // rustc's closing "aborting due to N previous errors" says nothing new.
            Some("error") if !text.starts_with("aborting due to") => run.errors.push(rendered),
            // "N warnings emitted" is a summary, not a warning.
            Some("warning") if !(code.is_empty() && text.ends_with("emitted")) => {
                let spans = diagnostic["spans"].as_array().map(Vec::as_slice).unwrap_or_default();
                let place = spans
                    .iter()
                    .find(|span| span["is_primary"] == true)
                    .map(|span| format!("{}:{}", span["file_name"].as_str().unwrap_or("?"), span["line_start"]))
                    .unwrap_or_default();
                run.warnings.push(format!("{place}: warning[{code}]: {text}"));
            }
            _ => {}
        }
    }
    run.warnings.sort();
}

/// The rlib that cargo reports it built for the package of `manifest`.
fn rlib_of(json_lines: &str, manifest: &Path) -> Option<PathBuf> {
    json_lines.lines().find_map(|line| {
        let message = serde_json::from_str::<serde_json::Value>(line).ok()?;
        if message["reason"] != "compiler-artifact" || message["manifest_path"].as_str() != manifest.to_str() {
            return None;
        }
        let files = message["filenames"].as_array()?;
        files.iter().filter_map(|f| f.as_str()).find(|f| f.ends_with(".rlib")).map(PathBuf::from)
    })
}

/// Adds up libtest's `test result:` lines and collects the failed tests.
pub fn read_test_output(printed: &str, run: &mut TestRun) {
    for line in printed.lines() {
        if let Some(summary) = line.strip_prefix("test result: ") {
            let counts = parse_summary(summary);
            run.counts.passed += counts.passed;
            run.counts.failed += counts.failed;
            run.counts.ignored += counts.ignored;
        } else if let Some(name) = line.strip_prefix("test ").and_then(|rest| rest.strip_suffix(" ... FAILED")) {
            run.failed_tests.push(name.to_owned());
        }
    }
    run.failed_tests.sort();
}

/// `ok. 3 passed; 1 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.01s`
fn parse_summary(summary: &str) -> Counts {
    let mut counts = Counts::default();
    let fields = summary.split_once(". ").map_or(summary, |(_, rest)| rest);
    for field in fields.split(';') {
        let mut words = field.split_whitespace();
        let (Some(number), Some(what)) = (words.next(), words.next()) else { continue };
        let Ok(number) = number.parse::<u64>() else { continue };
        match what {
            "passed" => counts.passed = number,
            "failed" => counts.failed = number,
            "ignored" => counts.ignored = number,
            _ => {}
        }
    }
    counts
}

/// The lines where cargo itself says what failed (`error: …` and what follows).
fn cargo_errors(printed: &str) -> Vec<String> {
    let lines: Vec<&str> = printed.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter(|(_, line)| line.starts_with("error"))
        .map(|(i, _)| lines[i..lines.len().min(i + 6)].join("\n"))
        .take(3)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_of_every_binary_are_added_up() {
        let printed = "\
running 2 tests
test a ... ok
test tests::b ... FAILED
test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s
test src/lib.rs - f (line 3) ... ignored
test result: ok. 4 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.31s
";
        let mut run = TestRun::default();
        read_test_output(printed, &mut run);
        assert_eq!(run.counts, Counts { passed: 5, failed: 1, ignored: 2 });
        assert_eq!(run.failed_tests, ["tests::b"]);
    }

    #[test]
    fn only_the_crates_own_warnings_are_kept() {
        let dir = Path::new("/w/either/untracked");
        let ours = r#"{"reason":"compiler-message","manifest_path":"/w/either/untracked/Cargo.toml","message":{"level":"warning","message":"unused variable: `x`","code":{"code":"unused_variables"},"rendered":"warning: unused","spans":[{"is_primary":true,"file_name":"src/lib.rs","line_start":7}]}}"#;
        let summary = r#"{"reason":"compiler-message","manifest_path":"/w/either/untracked/Cargo.toml","message":{"level":"warning","message":"1 warning emitted","code":null,"rendered":"","spans":[]}}"#;
        let dependency = r#"{"reason":"compiler-message","manifest_path":"/repo/error-tracker/Cargo.toml","message":{"level":"warning","message":"unused import","code":{"code":"unused_imports"},"rendered":"","spans":[]}}"#;
        let mut run = TestRun::default();
        read_diagnostics(&[ours, summary, dependency, "not json"].join("\n"), dir, &mut run);
        assert_eq!(run.warnings, ["src/lib.rs:7: warning[unused_variables]: unused variable: `x`"]);
        assert!(run.errors.is_empty());
    }
}
