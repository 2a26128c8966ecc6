//! The failing line in context: a few lines of source around a frame's line,
//! read from the source tree where the UI runs.
//!
//! Frames name files as the compiler saw them (`src/db.rs`, or an absolute
//! path in a backtrace), and stored data is hostile: a file is read only
//! when it is a `.rs` file whose real path (symbolic links and `..`
//! resolved) lies under the source root, is at most [`MAX_FILE_BYTES`], and
//! only up to the lines shown. Otherwise the page says why it shows none.
//! The UI's handler runs off the async executor (`spawn_blocking`,
//! `web::block`), so these reads block no request thread.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use error_tracker::{DefaultMasking, Masking};

use serde::Serialize;

/// The masking of source lines (building the rules compiles a pattern: once).
static SOURCE_MASKING: LazyLock<DefaultMasking> = LazyLock::new(DefaultMasking::default);

/// Lines shown before and after the failing one.
pub(crate) const RADIUS: u32 = 3;
/// A larger source file is not read (a generated file, or not source at all).
pub(crate) const MAX_FILE_BYTES: u64 = 2 << 20;
/// A longer line is cut: minified or generated code.
const MAX_LINE_CHARS: usize = 240;

/// The lines around a frame's line, or why there are none.
#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct SourceContext {
    pub lines: Vec<SourceLine>,
    /// Set when `lines` is empty: why the source is not shown.
    pub unavailable: Option<&'static str>,
}

#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct SourceLine {
    pub number: u32,
    pub text: String,
    pub failing: bool,
}

impl SourceContext {
    fn unavailable(why: &'static str) -> Self {
        SourceContext { lines: Vec::new(), unavailable: Some(why) }
    }
}

/// The canonical form of `root`, or `None` when it does not exist or is the
/// file system's root (a service started from `/` has no workspace there).
pub(crate) fn canonical_root(root: &Path) -> Option<PathBuf> {
    root.canonicalize().ok().filter(|p| p.is_dir() && p.parent().is_some())
}

/// The lines around `line` (from 1) of `file`, resolved against `root` (a
/// canonical directory; `None`: showing source is off).
pub(crate) fn context(root: Option<&Path>, file: &str, line: u32) -> SourceContext {
    let Some(root) = root else { return SourceContext::unavailable("showing source is off") };
    if line == 0 {
        return SourceContext::unavailable("no line number was recorded");
    }
    let named = Path::new(file);
    if named.extension().is_none_or(|e| e != "rs") {
        return SourceContext::unavailable("not a Rust source file");
    }
    // `canonicalize` resolves `..` and symbolic links: what is compared
    // with the root is the file that would be opened.
    let Ok(path) = root.join(named).canonicalize() else {
        return SourceContext::unavailable("the file is not readable where the UI runs");
    };
    if !path.starts_with(root) {
        return SourceContext::unavailable("the file is outside the source root");
    }
    match path.metadata() {
        Ok(m) if m.is_file() && m.len() <= MAX_FILE_BYTES => {}
        Ok(m) if m.is_file() => return SourceContext::unavailable("the file is too large to show"),
        _ => return SourceContext::unavailable("the file is not readable where the UI runs"),
    }
    let Ok(f) = std::fs::File::open(&path) else {
        return SourceContext::unavailable("the file is not readable where the UI runs");
    };
    let first = line.saturating_sub(RADIUS).max(1);
    let last = line.saturating_add(RADIUS);
    let mut lines = Vec::with_capacity((last - first + 1) as usize);
    let mut reader = BufReader::new(f);
    let mut buf = Vec::new();
    for number in 1..=last {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if number >= first {
            let text = String::from_utf8_lossy(&buf);
            let text = text.trim_end_matches(['\n', '\r']);
            // A secret written in the source (`let password = "…";`, a
            // token in a test) is masked as stored text is, with the
            // default rules: the UI may run without the app's configuration.
            let text = SOURCE_MASKING.mask_text(text);
            let text = match text.char_indices().nth(MAX_LINE_CHARS) {
                Some((i, _)) => format!("{}…", &text[..i]),
                None => text.into_owned(),
            };
            lines.push(SourceLine { number, text, failing: number == line });
        }
    }
    if !lines.iter().any(|l| l.failing) {
        // The file changed since: its lines would mislead.
        return SourceContext::unavailable("the file is shorter than the line: it changed since");
    }
    SourceContext { lines, unavailable: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("root/src")).unwrap();
        let text: String = (1..=20).map(|i| format!("line {i}\n")).collect();
        std::fs::write(dir.path().join("root/src/lib.rs"), text).unwrap();
        std::fs::write(dir.path().join("secret.rs"), "let key = 1;\n").unwrap();
        std::fs::write(dir.path().join("root/.env"), "KEY=1\n").unwrap();
        let root = canonical_root(&dir.path().join("root")).unwrap();
        (dir, root)
    }

    #[test]
    fn shows_the_lines_around_the_failing_one() {
        let (_dir, root) = tree();
        let c = context(Some(&root), "src/lib.rs", 10);
        assert_eq!(c.unavailable, None);
        let shown: Vec<_> = c.lines.iter().map(|l| (l.number, l.text.as_str(), l.failing)).collect();
        assert_eq!(shown.len(), 7);
        assert_eq!(shown[0], (7, "line 7", false));
        assert_eq!(shown[3], (10, "line 10", true));
        // At the ends of the file.
        assert_eq!(context(Some(&root), "src/lib.rs", 1).lines.len(), 4);
        assert_eq!(context(Some(&root), "src/lib.rs", 20).lines.len(), 4);
        // An absolute path under the root is the same file.
        let abs = root.join("src/lib.rs");
        assert_eq!(context(Some(&root), abs.to_str().unwrap(), 10).lines.len(), 7);
    }

    #[test]
    fn secrets_written_in_the_source_are_masked() {
        let (_dir, root) = tree();
        let text = "let password = \"hunter2-in-source\";\nlet key = \"AKIAIOSFODNN7EXAMPLE\";\nlet n = 1;\n";
        std::fs::write(root.join("src/secrets.rs"), text).unwrap();
        let shown: Vec<String> = context(Some(&root), "src/secrets.rs", 2).lines.into_iter().map(|l| l.text).collect();
        assert_eq!(shown.len(), 3);
        assert!(!shown.iter().any(|l| l.contains("hunter2") || l.contains("AKIAIOSFODNN7EXAMPLE")), "{shown:?}");
        assert_eq!(shown[2], "let n = 1;");
    }

    #[test]
    fn refuses_what_is_outside_or_not_source() {
        let (dir, root) = tree();
        let why = |file: &str, line| context(Some(&root), file, line).unavailable.unwrap_or("shown");
        assert_eq!(why("../secret.rs", 1), "the file is outside the source root");
        assert_eq!(why("src/../../secret.rs", 1), "the file is outside the source root");
        assert_eq!(why(dir.path().join("secret.rs").to_str().unwrap(), 1), "the file is outside the source root");
        assert_eq!(why(".env", 1), "not a Rust source file");
        assert_eq!(why("/etc/passwd", 1), "not a Rust source file");
        assert_eq!(why("src/missing.rs", 1), "the file is not readable where the UI runs");
        assert_eq!(why("src/lib.rs", 99), "the file is shorter than the line: it changed since");
        assert_eq!(why("src/lib.rs", 0), "no line number was recorded");
        assert_eq!(context(None, "src/lib.rs", 1).unavailable, Some("showing source is off"));
        assert_eq!(canonical_root(Path::new("/")), None, "the file system's root is no workspace");
        assert_eq!(canonical_root(&dir.path().join("nowhere")), None);
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("secret.rs"), root.join("src/link.rs")).unwrap();
            assert_eq!(why("src/link.rs", 1), "the file is outside the source root");
        }
        let big = vec![b'\n'; MAX_FILE_BYTES as usize + 1];
        std::fs::write(root.join("src/big.rs"), big).unwrap();
        assert_eq!(why("src/big.rs", 1), "the file is too large to show");
    }
}
