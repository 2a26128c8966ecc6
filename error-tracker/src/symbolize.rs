//! Symbolization on the writer thread, cached per instruction address and
//! per whole stack, so that repeated errors cost no symbolization.

use std::collections::HashMap;
use std::sync::Arc;

use crate::occurrence::StackFrame;

/// Leading frames that belong to the capture machinery, not to the failure.
const MACHINERY: &[&str] = &[
    "backtrace::",
    "error_tracker::",
    "std::panicking::",
    "core::panicking::",
    "std::panic::",
    "rust_begin_unwind",
    "std::sys::backtrace::",
    "std::sys_common::backtrace::",
    "__rustc::rust_begin_unwind",
];

/// Crates whose frames are never in-app.
const LIBRARY_CRATES: &[&str] = &["std", "core", "alloc", "backtrace", "error_tracker", "test", "__rustc"];

/// Resolves stacks, remembering every address and every stack it has seen.
pub(crate) struct Symbolizer {
    in_app_prefixes: Vec<String>,
    addresses: HashMap<usize, Arc<[StackFrame]>>,
    stacks: HashMap<u64, Arc<[StackFrame]>>,
}

impl Symbolizer {
    pub(crate) fn new(in_app_prefixes: Vec<String>) -> Self {
        Self { in_app_prefixes, addresses: HashMap::new(), stacks: HashMap::new() }
    }

    /// The frames of a stack, innermost first, without the leading capture
    /// and panic machinery.
    pub(crate) fn resolve(&mut self, ips: &[usize]) -> Arc<[StackFrame]> {
        let key = stack_key(ips);
        if let Some(frames) = self.stacks.get(&key) {
            return frames.clone();
        }
        let mut frames = Vec::with_capacity(ips.len());
        for &ip in ips {
            let resolved = match self.addresses.get(&ip) {
                Some(f) => f.clone(),
                None => {
                    let f: Arc<[StackFrame]> = resolve_address(ip, &self.in_app_prefixes).into();
                    self.addresses.insert(ip, f.clone());
                    f
                }
            };
            frames.extend(resolved.iter().cloned());
        }
        let skip = frames.iter().take_while(|f| is_machinery(&f.function)).count();
        frames.drain(..skip);
        let frames: Arc<[StackFrame]> = strip_tracker_frames(frames).into();
        if self.stacks.len() > 100_000 {
            self.stacks.clear();
        }
        self.stacks.insert(key, frames.clone());
        frames
    }
}

fn stack_key(ips: &[usize]) -> u64 {
    // FNV-1a: stable within the process, which is all this cache needs.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for ip in ips {
        for b in ip.to_le_bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Whether a frame is the tracker's own plumbing: error-tracker's code
/// (its trait impls are named `<&&&&&error_tracker::__private::Wrap<T> as
/// …>::…`) and the `catch_unwind` a tracked fn runs its body in.
fn is_tracker_plumbing(function: &str) -> bool {
    let path = function.trim_start_matches(['<', '&']);
    path.starts_with("error_tracker::")
        || function.contains("error_tracker::__private::")
        || path.starts_with("std::panicking::catch_unwind")
        || path.starts_with("std::panic::catch_unwind")
        || path.starts_with("std::panicking::try")
        || path.starts_with("core::panic::unwind_safe::AssertUnwindSafe")
        || function == "__rust_try"
}

/// Closure-call shims, plumbing only next to the tracker's.
fn is_call_shim(function: &str) -> bool {
    function.starts_with("core::ops::function::FnOnce::call_once")
        || (function.starts_with('<')
            && function.contains("as core::ops::function::FnOnce<")
            && function.contains(">::call_once"))
}

/// Drops the tracker's frames anywhere in the stack. A tracked fn `f` runs
/// its body as a closure inside that plumbing, so the stack holds
/// `f::{{closure}}` (the body, at the failing line), the plumbing, then `f`
/// (at the attribute): they are one frame, named `f`, at the closure's line.
fn strip_tracker_frames(frames: Vec<StackFrame>) -> Vec<StackFrame> {
    let mut drop: Vec<bool> = frames.iter().map(|f| is_tracker_plumbing(&f.function)).collect();
    for i in 0..frames.len() {
        let next_to_plumbing = (i > 0 && drop[i - 1]) || (i + 1 < frames.len() && drop[i + 1]);
        if !drop[i] && next_to_plumbing && is_call_shim(&frames[i].function) {
            drop[i] = true;
        }
    }
    let mut out: Vec<StackFrame> = Vec::with_capacity(frames.len());
    let mut dropped_since_kept = false;
    for (f, dropped) in frames.into_iter().zip(drop) {
        if dropped {
            dropped_since_kept = true;
            continue;
        }
        if dropped_since_kept
            && let Some(inner) = out.last_mut()
            && closure_of(&inner.function) == Some(f.function.as_str())
        {
            inner.function = f.function;
            dropped_since_kept = false;
            continue;
        }
        dropped_since_kept = false;
        out.push(f);
    }
    out
}

/// `f` for `f::{{closure}}`.
fn closure_of(function: &str) -> Option<&str> {
    function.strip_suffix("::{{closure}}")
}

fn is_machinery(function: &str) -> bool {
    // The boxed panic hook's `Fn::call` shim is named after its signature.
    MACHINERY.iter().any(|m| function.starts_with(m)) || function.contains("PanicHookInfo")
}

/// All frames at one address (more than one where calls were inlined).
fn resolve_address(ip: usize, in_app_prefixes: &[String]) -> Vec<StackFrame> {
    let mut out = Vec::new();
    // SAFETY-free: `resolve` is the synchronized API; the writer thread is
    // the only caller in this crate.
    backtrace::resolve(ip as *mut std::ffi::c_void, |sym| {
        let function = sym.name().map(|n| format!("{n:#}")).unwrap_or_else(|| "<unknown>".to_owned());
        let file = sym.filename().map(|p| p.to_string_lossy().into_owned());
        let in_app = is_in_app(&function, file.as_deref(), in_app_prefixes);
        out.push(StackFrame { function, file, line: sym.lineno(), in_app });
    });
    if out.is_empty() {
        out.push(StackFrame { function: format!("<unknown {ip:#x}>"), file: None, line: None, in_app: false });
    }
    out
}

/// Completes a symbolized backtrace with what the compiler told the capture
/// site, for a stripped binary as for one with debug info:
/// - frames of the crates whose code captured the occurrence (the
///   `record_exception!` call's and the tracked fns' crates) are in-app,
///   whatever their file paths say;
/// - the capture site is the innermost frame: when symbols name its
///   function, that frame gets the site's line; else the site goes first.
pub(crate) fn add_static_sites(o: &mut crate::occurrence::Occurrence) {
    let crate_of = |function: &str| function.trim_start_matches('<').split("::").next().unwrap_or("").to_owned();
    let mut crates: Vec<String> = o.frames.iter().map(|f| crate_of(&f.function)).collect();
    if let Some(site) = o.site.as_ref().filter(|s| !s.function.is_empty()) {
        crates.push(crate_of(&site.function));
    }
    crates.retain(|c| !c.is_empty() && !LIBRARY_CRATES.contains(&c.as_str()));
    for f in o.backtrace.iter_mut().filter(|f| !f.in_app) {
        let krate = crate_of(&f.function);
        f.in_app = crates.contains(&krate) && f.function.contains("::");
    }
    let Some(site) = o.site.as_ref().filter(|s| !s.function.is_empty()) else { return };
    match o.backtrace.iter_mut().find(|f| f.in_app) {
        Some(f) if crate::frames::without_closures(&f.function) == site.function => {
            f.file = Some(site.file.clone());
            f.line = Some(site.line);
        }
        _ => o.backtrace.insert(
            0,
            StackFrame {
                function: site.function.clone(),
                file: Some(site.file.clone()),
                line: Some(site.line),
                in_app: true,
            },
        ),
    }
}

/// A frame is in-app when it comes from the application: by the configured
/// prefixes, or else when it is neither std, a registry dependency, nor
/// error-tracker itself.
pub(crate) fn is_in_app(function: &str, file: Option<&str>, prefixes: &[String]) -> bool {
    let path = function.trim_start_matches('<');
    if function.starts_with("<unknown") {
        return false;
    }
    if !prefixes.is_empty() {
        return prefixes.iter().any(|p| path.starts_with(p.as_str()));
    }
    // `<T as Trait>::f`: the application's when `T` or `Trait` is (a
    // primitive `T` is no crate's).
    let crates: Vec<&str> = match function.strip_prefix('<').and_then(|rest| rest.split_once(" as ")) {
        Some((ty, tr)) => {
            // `<&&Wrap<E> as Trait>`: the references are no part of the crate's name.
            [ty, tr]
                .into_iter()
                .map(|p| p.trim_start_matches(['&', '*']).trim_start_matches("mut ").trim_start_matches("const "))
                .filter(|p| p.contains("::"))
                .filter_map(|p| p.split("::").next())
                .collect()
        }
        None if path.contains("::") => path.split("::").next().into_iter().collect(),
        None => Vec::new(),
    };
    if !crates.iter().any(|k| !LIBRARY_CRATES.contains(k)) {
        return false;
    }
    match file {
        Some(f) => {
            !(f.starts_with("/rustc/")
                || f.contains("/.cargo/registry/")
                || f.contains("/.cargo/git/")
                || f.contains("/rustlib/"))
        }
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(function: &str, line: u32) -> StackFrame {
        StackFrame {
            function: function.to_owned(),
            file: Some("src/lib.rs".to_owned()),
            line: Some(line),
            in_app: true,
        }
    }

    #[test]
    fn the_tracker_frames_are_dropped_and_a_tracked_body_is_its_fn() {
        let frames = vec![
            frame(
                "<&&&&&error_tracker::__private::Wrap<app::Failed> as error_tracker::frames::CaptureViaError>::__error_tracker_capture",
                1,
            ),
            frame("app::load::{{closure}}", 12),
            frame("error_tracker::frames::catch", 300),
            frame("std::panicking::catch_unwind::do_call", 500),
            frame("__rust_try", 0),
            frame("std::panic::catch_unwind", 359),
            frame("core::ops::function::FnOnce::call_once", 250),
            frame("app::load", 10),
            frame("app::main", 40),
        ];
        let got: Vec<(String, Option<u32>)> =
            strip_tracker_frames(frames).into_iter().map(|f| (f.function, f.line)).collect();
        assert_eq!(got, [("app::load".to_owned(), Some(12)), ("app::main".to_owned(), Some(40))]);
    }

    #[test]
    fn a_user_closure_stays_a_closure() {
        let frames = vec![frame("app::run::{{closure}}", 5), frame("app::run", 3)];
        let got: Vec<String> = strip_tracker_frames(frames).into_iter().map(|f| f.function).collect();
        assert_eq!(got, ["app::run::{{closure}}", "app::run"]);
    }

    #[test]
    fn in_app_excludes_std_dependencies_and_the_tracker() {
        assert!(is_in_app("my_app::db::load", Some("/src/app/src/db.rs"), &[]));
        assert!(is_in_app("<my_app::Db as my_app::Load>::load", Some("src/db.rs"), &[]));
        assert!(is_in_app("<my_app::Db as core::fmt::Debug>::fmt", None, &[]));
        assert!(!is_in_app("<usize as core::slice::index::SliceIndex<[T]>>::index", None, &[]));
        assert!(!is_in_app("std::rt::lang_start", Some("/rustc/abc/library/std/src/rt.rs"), &[]));
        assert!(!is_in_app("tokio::runtime::park", Some("/root/.cargo/registry/src/x/tokio/park.rs"), &[]));
        assert!(!is_in_app("error_tracker::capture::raw_stack", None, &[]));
        // The capture frame of `record_exception!` on a reference (issue 15: emails marked it in-app).
        let capture = "<&&&&&error_tracker::__private::Wrap<app::Failed> as \
                       error_tracker::frames::CaptureViaError>::__error_tracker_capture";
        assert!(!is_in_app(capture, Some("/src/app/src/main.rs"), &[]));
        assert!(is_in_app("<&mut my_app::Db as core::fmt::Debug>::fmt", None, &[]));
        assert!(!is_in_app("main", None, &[]));
        assert!(is_in_app("my_app::x", None, &["my_app::".into()]));
        assert!(!is_in_app("other::x", None, &["my_app::".into()]));
    }

    #[test]
    fn resolves_this_stack_with_caching() {
        let mut s = Symbolizer::new(vec![]);
        let ips = crate::capture::raw_stack(0);
        let a = s.resolve(&ips);
        let b = s.resolve(&ips);
        assert!(Arc::ptr_eq(&a, &b));
        // Every frame of this crate counts as machinery, so the test's own frame is gone too.
        assert!(!a.is_empty() && !is_machinery(&a[0].function), "{a:#?}");
        assert!(a.iter().any(|f| f.function.starts_with("std::") || f.function.starts_with("test::")), "{a:#?}");
    }
}
