//! Where a `record_exception!` call is, relative to its enclosing fn.
//!
//! A group must survive code added above the function, so a capture site
//! is keyed by its line *within* the function. A `macro_rules!` macro knows
//! only its own line; this proc macro, given one of the caller's tokens,
//! reads the caller's source file (parsed once per file and compilation)
//! and finds the innermost fn whose body holds that line.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;

use syn::spanned::Spanned;
use syn::visit::{self, Visit};

/// A fn's `fn` line and the last line of its body.
type Body = (usize, usize);

thread_local! {
    /// Per source file: its fn bodies (`None`: unreadable).
    static BODIES: RefCell<HashMap<PathBuf, Option<Vec<Body>>>> = RefCell::new(HashMap::new());
}

/// The line of the `fn` whose body holds `span`, or `None` where it cannot
/// be told (no file on disk, a file syn cannot parse, a token outside any fn).
pub(crate) fn enclosing_fn_line(span: proc_macro::Span) -> Option<u32> {
    let file = span.local_file()?;
    let line = span.line();
    BODIES.with(|cache| {
        let mut cache = cache.borrow_mut();
        let bodies = cache.entry(file).or_insert_with_key(|file| fn_bodies(&std::fs::read_to_string(file).ok()?));
        innermost(bodies.as_deref()?, line)
    })
}

/// The innermost of `bodies` (`(fn line, body's last line)`) holding `line`.
fn innermost(bodies: &[Body], line: usize) -> Option<u32> {
    bodies
        .iter()
        .filter(|(start, end)| (*start..=*end).contains(&line))
        .max_by_key(|(start, _)| *start)
        .and_then(|(start, _)| u32::try_from(*start).ok())
}

/// The fns of a source text: the line of each `fn` keyword and the last line
/// of its body.
fn fn_bodies(text: &str) -> Option<Vec<Body>> {
    // The compiler's spans of a string parsed inside a proc macro carry no
    // line; proc-macro2's own parser does (feature `span-locations`). The
    // guard gives the compiler's back even if parsing panics.
    struct Fallback;
    impl Drop for Fallback {
        fn drop(&mut self) {
            proc_macro2::fallback::unforce();
        }
    }
    proc_macro2::fallback::force();
    let _restore = Fallback;
    // Parsed, read and dropped while forced: proc-macro2 refuses to mix its
    // tokens with the compiler's.
    let parsed = syn::parse_file(text).ok()?;
    let mut v = Bodies(Vec::new());
    v.visit_file(&parsed);
    drop(parsed);
    Some(v.0)
}

struct Bodies(Vec<Body>);

impl Bodies {
    fn push(&mut self, fn_token: &syn::token::Fn, body: &syn::Block) {
        self.0.push((fn_token.span.start().line, body.span().end().line));
    }
}

impl<'ast> Visit<'ast> for Bodies {
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.push(&f.sig.fn_token, &f.block);
        visit::visit_item_fn(self, f);
    }
    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.push(&f.sig.fn_token, &f.block);
        visit::visit_impl_item_fn(self, f);
    }
    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        if let Some(body) = &f.default {
            self.push(&f.sig.fn_token, body);
        }
        visit::visit_trait_item_fn(self, f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_innermost_fn_holding_the_line() {
        let text = "\
fn outer() {
    let a = 1;
    fn inner() {
        record();
    }
    record();
}

impl X {
    fn method(&self) {
        record();
    }
}
";
        let bodies = fn_bodies(text).expect("parses");
        assert_eq!(innermost(&bodies, 2), Some(1));
        assert_eq!(innermost(&bodies, 4), Some(3));
        assert_eq!(innermost(&bodies, 6), Some(1));
        assert_eq!(innermost(&bodies, 11), Some(10));
        assert_eq!(innermost(&bodies, 8), None);
    }
}
