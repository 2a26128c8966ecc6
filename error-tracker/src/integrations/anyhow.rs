//! The `anyhow` integration (feature `anyhow`): an `anyhow::Error` given to
//! [`record_exception!`](crate::record_exception), or returned by a
//! `#[track_exception]` fn, that carries a captured
//! backtrace (`RUST_BACKTRACE=1` or `RUST_LIB_BACKTRACE=1`) gives its own
//! backtrace, the point where the error was created, as the occurrence's
//! [`error_backtrace`](crate::Occurrence::error_backtrace), in addition to
//! the capture site's `backtrace`. Without a captured backtrace nothing
//! changes.
//!
//! On stable Rust a `std::backtrace::Backtrace` shows its frames only
//! through its `Display` text, so that text is what is read: one frame per
//! `N: function` line, with the `at file:line:column` line under it. Text
//! that does not read so is skipped, never a panic. Formatting it resolves
//! the symbols on the thread that records (as printing the error with `{:?}`
//! would); it happens only for errors that carry a backtrace, which their
//! creator asked for.
//!
//! ```
//! # fn main() {
//! let err = anyhow::anyhow!("config file missing");
//! // Recorded with its own backtrace when one was captured; nothing is
//! // recorded here, as the tracker is not initialized in this example.
//! assert!(error_tracker::record_exception!(err).is_nil());
//! # }
//! ```

use std::backtrace::{Backtrace, BacktraceStatus};

use crate::occurrence::StackFrame;
use crate::symbolize::is_in_app;

/// The most frames read of one backtrace.
const MAX_FRAMES: usize = 128;

/// The frames of a captured backtrace, innermost first, without those of
/// the backtrace's own capture and of anyhow's construction; empty when
/// none was captured.
pub(crate) fn frames_of(backtrace: &Backtrace, in_app_prefixes: &[String]) -> Vec<StackFrame> {
    if backtrace.status() != BacktraceStatus::Captured {
        return Vec::new();
    }
    let text = crate::mask::render::bounded_format(format_args!("{backtrace}"));
    let mut frames = parse(&text, in_app_prefixes);
    let own = frames.iter().take_while(|f| is_capture_machinery(&f.function)).count();
    // Should every frame look like machinery, keep them all rather than none.
    if own < frames.len() {
        frames.drain(..own);
    }
    frames
}

/// The frames that capture the backtrace and build the `anyhow::Error`.
fn is_capture_machinery(function: &str) -> bool {
    let path = function.trim_start_matches('<');
    path.starts_with("std::backtrace")
        || path.starts_with("anyhow::")
        || path.starts_with("core::result::Result<T,E> as anyhow")
        || path.starts_with("core::ops::function")
        || function.contains(" as anyhow::")
        || function.contains(" as core::convert::From<")
}

/// Reads the frames of a `std::backtrace::Backtrace`'s `Display` text,
/// innermost first:
///
/// ```text
///    4: my_app::config::load
///              at ./src/config.rs:12:5
///    5: <unknown>
/// ```
///
/// A function inlined into a frame is the line under it, unnumbered. A
/// function's hash suffix (`::h0123456789abcdef`, in the `{:#}` form) is
/// dropped. Lines that read otherwise are ignored.
pub(crate) fn parse(text: &str, in_app_prefixes: &[String]) -> Vec<StackFrame> {
    let mut frames: Vec<StackFrame> = Vec::new();
    // Whether the last frame has its place already (a frame's inlined
    // callers are listed as frames of their own, each with its own `at`).
    let mut placed = true;
    for line in text.lines() {
        let line = line.trim();
        if let Some(at) = line.strip_prefix("at ") {
            if let Some(last) = frames.last_mut()
                && !placed
            {
                let (file, line) = split_location(at.trim());
                last.file = Some(file.to_owned());
                last.line = line;
                last.in_app = is_in_app(&last.function, last.file.as_deref(), in_app_prefixes);
                placed = true;
            }
            continue;
        }
        let function = match line.split_once(": ") {
            Some((index, function)) if !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()) => function,
            // A function inlined into the frame above: listed under it,
            // without an index.
            _ if !frames.is_empty() && line.contains("::") && !line.contains(' ') => line,
            _ => continue,
        };
        if frames.len() >= MAX_FRAMES {
            break;
        }
        let function = without_hash(function.trim());
        let function = if function.is_empty() { "<unknown>" } else { function };
        frames.push(StackFrame {
            function: function.to_owned(),
            file: None,
            line: None,
            in_app: is_in_app(function, None, in_app_prefixes),
        });
        placed = false;
    }
    frames
}

/// `path/to/file.rs:12:5` → (`path/to/file.rs`, 12); a path with no line
/// stays whole.
fn split_location(at: &str) -> (&str, Option<u32>) {
    let mut parts = at.rsplitn(3, ':');
    let (last, middle, first) = (parts.next(), parts.next(), parts.next());
    match (last.and_then(|s| s.parse::<u32>().ok()), middle.and_then(|s| s.parse::<u32>().ok()), first) {
        // file:line:column
        (Some(_), Some(line), Some(file)) if !file.is_empty() => (file, Some(line)),
        // file:line (a path that holds a `:` of its own has a column too)
        (Some(line), _, _) => match at.rsplit_once(':') {
            Some((file, _)) if !file.is_empty() => (file, Some(line)),
            _ => (at, None),
        },
        _ => (at, None),
    }
}

/// `my_app::load::h0123456789abcdef` → `my_app::load`.
fn without_hash(function: &str) -> &str {
    match function.rsplit_once("::h") {
        Some((path, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => path,
        _ => function,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "   0: std::backtrace_rs::backtrace::libunwind::trace
             at /rustc/abc/library/std/src/../../backtrace/src/backtrace/libunwind.rs:117:9
   1: std::backtrace::Backtrace::create::h0123456789abcdef
   2: anyhow::error::<impl anyhow::Error>::msg
             at /home/u/.cargo/registry/src/index/anyhow-1.0.105/src/error.rs:83:36
   3: my_app::config::load
             at ./src/config.rs:12:5
      my_app::config::read
             at ./src/config.rs:30:9
      junk that reads like nothing
   4: <unknown>
   5: C:\\app\\src\\main.rs weird
             at C:\\app\\src\\main.rs:3:1
   6: main
             at ./src/main.rs
";

    #[test]
    fn the_display_text_reads_into_frames() {
        let frames = parse(TEXT, &["my_app".to_owned()]);
        let names: Vec<&str> = frames.iter().map(|f| f.function.as_str()).collect();
        assert_eq!(
            names,
            [
                "std::backtrace_rs::backtrace::libunwind::trace",
                "std::backtrace::Backtrace::create",
                "anyhow::error::<impl anyhow::Error>::msg",
                "my_app::config::load",
                "my_app::config::read",
                "<unknown>",
                "C:\\app\\src\\main.rs weird",
                "main",
            ]
        );
        assert_eq!(
            (frames[3].file.as_deref(), frames[3].line, frames[3].in_app),
            (Some("./src/config.rs"), Some(12), true)
        );
        assert_eq!((frames[4].file.as_deref(), frames[4].line), (Some("./src/config.rs"), Some(30)));
        assert_eq!((frames[6].file.as_deref(), frames[6].line), (Some("C:\\app\\src\\main.rs"), Some(3)));
        assert_eq!((frames[7].file.as_deref(), frames[7].line), (Some("./src/main.rs"), None));
        assert_eq!(frames[1].file, None);
    }

    #[test]
    fn odd_text_never_panics() {
        for text in ["", ":", "0:", "0: ", "at ", "at :", "at ::", "x: y", "1: a\nat b:c:d", "\u{0}: é\n  at é:é:9"]
        {
            let _ = parse(text, &[]);
        }
        let long: String = (0..1000).map(|i| format!("{i}: f{i}\n at a.rs:{i}:1\n")).collect();
        assert_eq!(parse(&long, &[]).len(), MAX_FRAMES);
    }

    #[test]
    fn a_real_backtrace_reads() {
        let bt = Backtrace::force_capture();
        let frames = parse(&format!("{bt}"), &[]);
        // Without debug info the names may be missing; the text still reads.
        assert!(!frames.is_empty());
        assert!(frames_of(&Backtrace::disabled(), &[]).is_empty());
    }
}
