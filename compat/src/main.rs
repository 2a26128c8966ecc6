//! The compatibility suite of `#[track_exception]`: popular crates from the
//! registry, at pinned versions, with `#[::error_tracker::track_exception]`
//! added to every fn with a body in their `src/`, must build and pass their
//! own tests as they do untracked, without a new warning.
//!
//! ```text
//! cargo run -p error-tracker-compat --release -- [--ci] [--timeout SECS] [CRATE...]
//! ```
//!
//! - no crate named: the whole suite ([`crates::CRATES`]);
//! - `--ci`: the quick subset that `.ci/run` runs;
//! - `--timeout SECS`: the longest one cargo command may take (default 1200),
//!   so a test that hangs under the attribute fails the crate instead of the run;
//! - `--build-cost`: also builds each crate's library alone, untracked and
//!   tracked, in the dev and release profiles (best of 3, its dependencies
//!   built), and adds the times and rlib sizes to the report;
//! - `--list`: prints the crates and exits.
//!
//! `COMPAT_RUNTIME=DIR` tracks the copies with another checkout's
//! error-tracker crate (say an older commit's, to compare build costs).
//!
//! For each crate, cargo fetches the package (a throw-away manifest that
//! depends on `name = "=version"`), and two copies are made under
//! `$CARGO_TARGET_DIR/compat/` (or `target/compat/`): `untracked/` as
//! published, and `tracked/` with error-tracker as a path dependency and the
//! attribute on every fn (see [`rewrite`]). Each copy is its own workspace;
//! both build in one shared target directory (`compat/target`), so the
//! dependencies are compiled once for the whole suite. Each copy runs
//! `cargo test --no-fail-fast` (unit tests, integration tests, doctests).
//!
//! It prints a markdown table and exits with 1 when a tracked crate does not
//! build, passes fewer tests, fails more, adds a warning of its own or hangs,
//! with the first compiler errors, the failed tests and the new warnings.

mod cargo;
mod crates;
mod rewrite;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use std::{fs, io};

use cargo::{LibCost, Runner, TestRun};
use crates::{CRATES, Crate};

/// What the command line asked for.
struct Options {
    ci: bool,
    build_cost: bool,
    list: bool,
    timeout: Duration,
    names: Vec<String>,
}

fn main() -> ExitCode {
    let options = match parse_options(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("error-tracker-compat: {message}");
            eprintln!("usage: error-tracker-compat [--ci] [--build-cost] [--list] [--timeout SECS] [CRATE...]");
            return ExitCode::from(2);
        }
    };
    if options.list {
        for krate in CRATES {
            let ci = if krate.ci { " (ci)" } else { "" };
            println!("{} {}{ci}: {}", krate.name, krate.version, krate.why);
        }
        return ExitCode::SUCCESS;
    }
    let selected: Vec<&Crate> = CRATES
        .iter()
        .filter(|krate| {
            if options.names.is_empty() {
                !options.ci || krate.ci
            } else {
                options.names.iter().any(|n| n == krate.name)
            }
        })
        .collect();
    if let Some(unknown) = options.names.iter().find(|n| !CRATES.iter().any(|k| k.name == n.as_str())) {
        eprintln!("error-tracker-compat: {unknown} is not in the suite (see --list)");
        return ExitCode::from(2);
    }

    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new(".")).to_path_buf();
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => std::env::current_dir().map(|cwd| cwd.join(dir)).unwrap_or_default(),
        None => repo.join("target"),
    };
    let suite = Suite {
        work: target.join("compat"),
        runtime: std::env::var_os("COMPAT_RUNTIME").map_or_else(|| repo.join("error-tracker"), PathBuf::from),
        lock: repo.join("Cargo.lock"),
        runner: Runner { target_dir: target.join("compat").join("target"), timeout: options.timeout },
        build_cost: options.build_cost,
    };

    let started = Instant::now();
    let mut outcomes = Vec::new();
    for krate in selected {
        eprintln!("== {} {}", krate.name, krate.version);
        let outcome = suite.check(krate);
        eprintln!("   {} ({:.0} s)", outcome.status(), outcome.seconds);
        outcomes.push(outcome);
    }
    let report = report(&outcomes, started.elapsed());
    println!("{report}");
    if let Err(error) = fs::write(suite.work.join("report.md"), &report) {
        eprintln!("error-tracker-compat: cannot write the report: {error}");
    }
    if outcomes.iter().all(|outcome| outcome.status() == "ok") { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn parse_options(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options =
        Options { ci: false, build_cost: false, list: false, timeout: Duration::from_secs(1200), names: Vec::new() };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--ci" => options.ci = true,
            "--build-cost" => options.build_cost = true,
            "--list" => options.list = true,
            "--timeout" => {
                let secs = args.next().ok_or("--timeout needs a number of seconds")?;
                let secs: u64 = secs.parse().map_err(|_| format!("--timeout {secs}: not a number of seconds"))?;
                options.timeout = Duration::from_secs(secs);
            }
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            name => options.names.push(name.to_owned()),
        }
    }
    Ok(options)
}

/// Where the suite works and what it builds with.
struct Suite {
    /// `<target>/compat`: the fetch manifests, crate copies, logs, report.
    work: PathBuf,
    /// The error-tracker crate of this repository (or `COMPAT_RUNTIME`), the
    /// tracked copies' dependency.
    runtime: PathBuf,
    /// This repository's `Cargo.lock`, the copies' first lock file.
    lock: PathBuf,
    runner: Runner,
    /// Whether to measure the libraries' build time and size too.
    build_cost: bool,
}

/// The result of one crate.
struct Outcome {
    krate: Crate,
    /// Fns that got the attribute.
    fns: usize,
    /// Files of `src/` that syn could not parse as a module (left as they are).
    unparsed: Vec<String>,
    untracked: TestRun,
    tracked: TestRun,
    /// The library's build cost, untracked then tracked: dev, release.
    cost: Option<[[Option<LibCost>; 2]; 2]>,
    /// The crate could not be fetched or copied.
    setup_error: Option<String>,
    seconds: f64,
}

impl Outcome {
    fn new_warnings(&self) -> Vec<&String> {
        let mut baseline = self.untracked.warnings.clone();
        self.tracked
            .warnings
            .iter()
            .filter(|warning| match baseline.iter().position(|w| w == *warning) {
                Some(i) => {
                    baseline.swap_remove(i);
                    false
                }
                None => true,
            })
            .collect()
    }

    fn status(&self) -> &'static str {
        let (untracked, tracked) = (&self.untracked, &self.tracked);
        if self.setup_error.is_some() {
            "FAIL: setup"
        } else if untracked.timed_out || !untracked.built {
            "FAIL: untracked does not build"
        } else if tracked.timed_out {
            "FAIL: tracked timed out"
        } else if !tracked.built {
            "FAIL: tracked does not build"
        } else if tracked.counts.passed < untracked.counts.passed || tracked.counts.failed > untracked.counts.failed {
            "FAIL: tests"
        } else if !self.new_warnings().is_empty() {
            "FAIL: new warnings"
        } else {
            "ok"
        }
    }
}

impl Suite {
    fn check(&self, krate: &Crate) -> Outcome {
        let started = Instant::now();
        let mut outcome = Outcome {
            krate: *krate,
            fns: 0,
            unparsed: Vec::new(),
            untracked: TestRun::default(),
            tracked: TestRun::default(),
            cost: None,
            setup_error: None,
            seconds: 0.0,
        };
        if let Err(error) = self.run_both(krate, &mut outcome) {
            outcome.setup_error = Some(error);
        }
        outcome.seconds = started.elapsed().as_secs_f64();
        outcome
    }

    fn run_both(&self, krate: &Crate, outcome: &mut Outcome) -> Result<(), String> {
        let source = self.fetch(krate)?;
        let dir = self.work.join(format!("{}-{}", krate.name, krate.version));
        let untracked = dir.join("untracked");
        let tracked = dir.join("tracked");
        let io_error = |what: &str| {
            let what = what.to_owned();
            move |error: io::Error| format!("{what}: {error}")
        };

        copy_package(&source, &untracked, None, &self.lock).map_err(io_error("copying the package"))?;
        outcome.untracked = self
            .runner
            .test(&untracked, krate.features, &dir.join("untracked"))
            .map_err(io_error("running cargo test"))?;
        if !outcome.untracked.built {
            // Nothing to compare with: the cause is in the crate or the registry, not the attribute.
            return Ok(());
        }

        copy_package(&source, &tracked, Some(&self.runtime), &self.lock).map_err(io_error("copying the package"))?;
        let (fns, unparsed) = track_tree(&tracked.join("src"), &tracked).map_err(io_error("rewriting src/"))?;
        outcome.fns = fns;
        outcome.unparsed = unparsed;
        let manifest = fs::read_to_string(tracked.join("Cargo.toml")).map_err(io_error("reading Cargo.toml"))?;
        if is_edition_2015(&manifest) {
            // In edition 2015 a dependency is only in scope through `extern crate`;
            // at the end of the root, so that no line number moves.
            let root = tracked.join("src").join("lib.rs");
            let mut text = fs::read_to_string(&root).map_err(io_error("reading src/lib.rs"))?;
            text.push_str("\nextern crate error_tracker;\n");
            fs::write(&root, text).map_err(io_error("writing src/lib.rs"))?;
        }
        outcome.tracked =
            self.runner.test(&tracked, krate.features, &dir.join("tracked")).map_err(io_error("running cargo test"))?;
        if self.build_cost && outcome.tracked.built {
            let mut cost = [[None; 2]; 2];
            for (copy, costs) in [&untracked, &tracked].into_iter().zip(&mut cost) {
                for (release, cost) in [false, true].into_iter().zip(costs.iter_mut()) {
                    *cost = self
                        .runner
                        .lib_cost(copy, krate.features, release, copy)
                        .map_err(io_error("building the library"))?;
                }
            }
            outcome.cost = Some(cost);
        }
        Ok(())
    }

    /// Has cargo download `name = "=version"` and returns where it unpacked it.
    fn fetch(&self, krate: &Crate) -> Result<PathBuf, String> {
        let dir = self.work.join("fetch").join(krate.name);
        let manifest = format!(
            "[package]\nname = \"compat-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [dependencies]\n{} = \"={}\"\n\n[workspace]\n",
            krate.name, krate.version
        );
        let write = || -> io::Result<()> {
            fs::create_dir_all(dir.join("src"))?;
            fs::write(dir.join("Cargo.toml"), manifest)?;
            fs::write(dir.join("src").join("lib.rs"), "")
        };
        write().map_err(|error| format!("writing the fetch manifest: {error}"))?;
        let mut metadata = self.runner.cargo(&dir);
        metadata.args(["metadata", "--format-version", "1"]);
        let output = metadata.output().map_err(|error| format!("running cargo metadata: {error}"))?;
        if !output.status.success() {
            return Err(format!("cargo metadata failed:\n{}", String::from_utf8_lossy(&output.stderr)));
        }
        let metadata: serde_json::Value =
            serde_json::from_slice(&output.stdout).map_err(|error| format!("reading cargo metadata: {error}"))?;
        metadata["packages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|package| package["name"] == krate.name && package["version"] == krate.version)
            .and_then(|package| package["manifest_path"].as_str())
            .and_then(|manifest| Path::new(manifest).parent())
            .map(Path::to_path_buf)
            .ok_or_else(|| format!("cargo metadata does not list {} {}", krate.name, krate.version))
    }
}

/// Copies the unpacked package to `dest`, as a workspace of its own, with
/// error-tracker at `runtime` as a dependency when given, and `lock` as its
/// `Cargo.lock`.
fn copy_package(source: &Path, dest: &Path, runtime: Option<&Path>, lock: &Path) -> io::Result<()> {
    if dest.exists() {
        fs::remove_dir_all(dest)?;
    }
    copy_dir(source, dest)?;
    // Cargo keeps every version of a given lock file that still fits and
    // resolves only the rest: with this repository's lock, every copy builds
    // error-tracker's dependencies (and the common ones: serde, syn, rand, …)
    // at the same versions, so the shared target directory compiles them once.
    if lock.exists() {
        fs::copy(lock, dest.join("Cargo.lock"))?;
    }
    let manifest = dest.join("Cargo.toml");
    let mut text = fs::read_to_string(&manifest)?;
    // Published manifests are normalised by cargo: one table per dependency,
    // no [workspace]; so appending tables is enough.
    text.push_str("\n[workspace]\n");
    if let Some(runtime) = runtime {
        let path = runtime.display().to_string().replace('\\', "/");
        let _ = write!(text, "\n[dependencies.error-tracker]\npath = \"{path}\"\n");
    }
    fs::write(manifest, text)
}

fn copy_dir(source: &Path, dest: &Path) -> io::Result<()> {
    fs::create_dir_all(dest)?;
    for entry in fs::read_dir(source)? {
        let entry = entry?;
        let to = dest.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &to)?;
        } else {
            fs::copy(entry.path(), to)?;
        }
    }
    Ok(())
}

/// Tracks every `.rs` file under `dir`; returns the fns tracked and the files
/// (relative to `root`) that do not parse as a module, such as fragments
/// meant for `include!`.
fn track_tree(dir: &Path, root: &Path) -> io::Result<(usize, Vec<String>)> {
    let (mut fns, mut unparsed) = (0, Vec::new());
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            let (more, skipped) = track_tree(&path, root)?;
            fns += more;
            unparsed.extend(skipped);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let source = fs::read_to_string(&path)?;
            match rewrite::track_source(&source) {
                Ok(tracked) => {
                    fns += tracked.fns;
                    fs::write(&path, tracked.text)?;
                }
                Err(_) => unparsed.push(path.strip_prefix(root).unwrap_or(&path).display().to_string()),
            }
        }
    }
    Ok((fns, unparsed))
}

/// A published manifest names its edition unless it is 2015.
fn is_edition_2015(manifest: &str) -> bool {
    let edition = manifest
        .lines()
        .skip_while(|line| line.trim() != "[package]")
        .skip(1)
        .take_while(|line| !line.starts_with('['))
        .find_map(|line| line.trim().strip_prefix("edition")?.trim().strip_prefix('=').map(str::trim));
    matches!(edition, None | Some("\"2015\""))
}

/// The markdown table, then what failed and why.
fn report(outcomes: &[Outcome], elapsed: Duration) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| crate | version | fns tracked | tests passed (untracked → tracked) | failed | ignored | new warnings | time | status |"
    );
    let _ = writeln!(out, "|---|---|---:|---|---|---|---:|---:|---|");
    for o in outcomes {
        let (u, t) = (o.untracked.counts, o.tracked.counts);
        let built = |run: &TestRun, n: u64| if run.built { n.to_string() } else { "–".to_owned() };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} → {} | {} → {} | {} → {} | {} | {:.0} s | {} |",
            o.krate.name,
            o.krate.version,
            o.fns,
            built(&o.untracked, u.passed),
            built(&o.tracked, t.passed),
            built(&o.untracked, u.failed),
            built(&o.tracked, t.failed),
            built(&o.untracked, u.ignored),
            built(&o.tracked, t.ignored),
            o.new_warnings().len(),
            o.seconds,
            o.status(),
        );
    }
    if outcomes.iter().any(|o| o.cost.is_some()) {
        let _ = writeln!(
            out,
            "\n| crate | dev build (untracked → tracked) | release build | dev rlib | release rlib |\n|---|---|---|---|---|"
        );
        for o in outcomes {
            let Some([untracked, tracked]) = o.cost else { continue };
            let time = |u: Option<LibCost>, t: Option<LibCost>| match (u, t) {
                (Some(u), Some(t)) => {
                    format!("{:.2} s → {:.2} s ({:.1}×)", u.seconds, t.seconds, t.seconds / u.seconds)
                }
                _ => "–".to_owned(),
            };
            let size = |u: Option<LibCost>, t: Option<LibCost>| match (u, t) {
                (Some(u), Some(t)) if u.rlib_bytes > 0 => format!(
                    "{} KiB → {} KiB ({:.1}×)",
                    u.rlib_bytes / 1024,
                    t.rlib_bytes / 1024,
                    t.rlib_bytes as f64 / u.rlib_bytes as f64
                ),
                _ => "–".to_owned(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                o.krate.name,
                time(untracked[0], tracked[0]),
                time(untracked[1], tracked[1]),
                size(untracked[0], tracked[0]),
                size(untracked[1], tracked[1]),
            );
        }
    }
    let passed = outcomes.iter().filter(|o| o.status() == "ok").count();
    let _ = writeln!(out, "\n{passed} of {} crates ok, in {:.0} s.", outcomes.len(), elapsed.as_secs_f64());

    for o in outcomes.iter().filter(|o| o.status() != "ok") {
        let _ = writeln!(out, "\n### {} {}: {}\n", o.krate.name, o.krate.version, o.status());
        if let Some(error) = &o.setup_error {
            let _ = writeln!(out, "{error}");
        }
        for (which, run) in [("untracked", &o.untracked), ("tracked", &o.tracked)] {
            if !run.errors.is_empty() || !run.problems.is_empty() {
                let _ = writeln!(out, "{which}: {} compiler errors; the first errors:\n```", run.errors.len());
                for error in run.errors.iter().chain(&run.problems).take(3) {
                    let lines: Vec<&str> = error.lines().take(30).collect();
                    let _ = writeln!(out, "{}", lines.join("\n"));
                }
                let _ = writeln!(out, "```");
            }
        }
        let newly_failed: Vec<&String> =
            o.tracked.failed_tests.iter().filter(|t| !o.untracked.failed_tests.contains(t)).collect();
        if !newly_failed.is_empty() {
            let _ = writeln!(out, "tests failing only when tracked: {newly_failed:?}");
        }
        let warnings = o.new_warnings();
        if !warnings.is_empty() {
            let _ = writeln!(out, "new warnings ({}), the first ones:", warnings.len());
            for warning in warnings.iter().take(5) {
                let _ = writeln!(out, "- {warning}");
            }
        }
    }
    if outcomes.iter().any(|o| !o.unparsed.is_empty()) {
        let _ = writeln!(out, "\nFiles left untracked (not a module syn can parse):");
        for o in outcomes.iter().filter(|o| !o.unparsed.is_empty()) {
            let _ = writeln!(out, "- {}: {}", o.krate.name, o.unparsed.join(", "));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edition_is_read_from_the_package_table() {
        assert!(!is_edition_2015("[package]\nname = \"a\"\nedition = \"2021\"\n[lib]\n"));
        assert!(is_edition_2015("[package]\nname = \"a\"\n[dependencies.x]\nedition = \"2021\"\n"));
        assert!(is_edition_2015("[package]\nedition = \"2015\"\n"));
    }

    #[test]
    fn options_select_crates_and_a_time_limit() {
        let args = ["--ci", "--timeout", "30", "slab"].map(String::from);
        let options = parse_options(args.into_iter()).expect("valid");
        assert!(options.ci);
        assert_eq!(options.timeout, Duration::from_secs(30));
        assert_eq!(options.names, ["slab"]);
        assert!(parse_options(["--timeout".to_owned()].into_iter()).is_err());
        assert!(parse_options(["--bogus".to_owned()].into_iter()).is_err());
    }

    #[test]
    fn every_crate_is_pinned_and_the_ci_subset_has_three() {
        assert!(CRATES.iter().all(|k| k.version.split('.').count() == 3));
        assert!(CRATES.iter().filter(|k| k.ci).count() >= 3);
        assert!(CRATES.len() >= 12);
    }
}
