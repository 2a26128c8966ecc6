//! Puts `#[::error_tracker::track_exception]` on every fn with a body.
//!
//! syn finds the fns; the attribute is inserted as text, on the fn's own line
//! just before its visibility or `fn` keyword (after its doc comments and
//! other attributes), so every other byte of the file, and so every line
//! number in a warning or a test's expected panic location, stays as it was.
//!
//! Left alone, because the attribute cannot apply to them or syn cannot see
//! them: `const fn` (a tracked body is not const), fns without a body (trait
//! method declarations, `extern` blocks), and fns written inside a
//! `macro_rules!` definition or any macro invocation (their tokens are not
//! parsed as items until the macro expands).

use proc_macro2::{LineColumn, TokenStream, TokenTree};
use quote::ToTokens;
use syn::visit::{self, Visit};

/// The attribute the suite adds, with the space that separates it from the fn.
pub const ATTRIBUTE: &str = "#[::error_tracker::track_exception] ";

/// A file with the attribute added.
#[derive(Debug)]
pub struct Tracked {
    /// The new text of the file.
    pub text: String,
    /// How many fns got the attribute.
    pub fns: usize,
}

/// Adds [`ATTRIBUTE`] before every fn of `source` that has a body and is not
/// `const`.
///
/// ```ignore
/// let out = track_source("/// Doc.\npub fn f() {}\n")?;
/// assert_eq!(out.text, "/// Doc.\n#[::error_tracker::track_exception] pub fn f() {}\n");
/// ```
pub fn track_source(source: &str) -> syn::Result<Tracked> {
    let file = syn::parse_file(source)?;
    let mut finder = Finder::default();
    finder.visit_file(&file);
    // syn reports columns in chars, counted after a BOM it strips.
    let body_start = if source.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
    let mut offsets: Vec<usize> =
        finder.starts.iter().filter_map(|at| byte_offset(&source[body_start..], *at).map(|o| o + body_start)).collect();
    offsets.sort_unstable();
    offsets.dedup();
    let mut text = String::with_capacity(source.len() + offsets.len() * ATTRIBUTE.len());
    let mut copied = 0;
    for offset in &offsets {
        text.push_str(&source[copied..*offset]);
        text.push_str(ATTRIBUTE);
        copied = *offset;
    }
    text.push_str(&source[copied..]);
    Ok(Tracked { text, fns: offsets.len() })
}

/// The places where a tracked fn's first token (after its attributes) starts.
#[derive(Default)]
struct Finder {
    starts: Vec<LineColumn>,
}

impl Finder {
    fn mark(&mut self, parts: &[TokenStream]) {
        if let Some(start) = parts.iter().find_map(first_token_start) {
            self.starts.push(start);
        }
    }
}

impl<'ast> Visit<'ast> for Finder {
    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        if item.sig.constness.is_none() {
            self.mark(&[tokens(&item.vis), tokens(&item.modifiers.defaultness), tokens(&item.sig)]);
        }
        visit::visit_item_fn(self, item);
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        if item.sig.constness.is_none() {
            self.mark(&[tokens(&item.vis), tokens(&item.modifiers.defaultness), tokens(&item.sig)]);
        }
        visit::visit_impl_item_fn(self, item);
    }

    fn visit_trait_item_fn(&mut self, item: &'ast syn::TraitItemFn) {
        if item.default.is_some() && item.sig.constness.is_none() {
            self.mark(&[tokens(&item.modifiers.defaultness), tokens(&item.sig)]);
        }
        visit::visit_trait_item_fn(self, item);
    }
}

fn tokens(part: &impl ToTokens) -> TokenStream {
    part.to_token_stream()
}

/// Where a stream's first token starts, if it has one.
fn first_token_start(stream: &TokenStream) -> Option<LineColumn> {
    stream.clone().into_iter().next().map(|tree| match tree {
        // A group's own span covers its delimiters, so it starts at the opening one.
        TokenTree::Group(group) => group.span_open().start(),
        other => other.span().start(),
    })
}

/// The byte offset of a line (1-based) and column (0-based, in chars).
fn byte_offset(source: &str, at: LineColumn) -> Option<usize> {
    let line_start = if at.line <= 1 { 0 } else { source.match_indices('\n').nth(at.line - 2).map(|(i, _)| i + 1)? };
    let line = &source[line_start..];
    match line.char_indices().nth(at.column) {
        Some((i, _)) => Some(line_start + i),
        None => (line.chars().count() == at.column).then_some(source.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracked(source: &str) -> String {
        track_source(source).expect("parses").text
    }

    #[test]
    fn attribute_goes_after_doc_and_attributes_on_the_fn_line() {
        let source = "/// Doc.\n#[inline]\npub(crate) async unsafe fn f() {}\n";
        assert_eq!(
            tracked(source),
            "/// Doc.\n#[inline]\n#[::error_tracker::track_exception] pub(crate) async unsafe fn f() {}\n"
        );
    }

    #[test]
    fn methods_defaults_nested_and_inline_modules_are_tracked() {
        let source = "\
mod m {
    struct S;
    impl S { pub fn a(&self) { fn inner() {} } }
    trait T { fn req(&self); fn def(&self) {} }
    impl T for S { fn req(&self) {} }
}
";
        let out = track_source(source).expect("parses");
        assert_eq!(out.fns, 4, "{}", out.text);
        assert!(out.text.contains("#[::error_tracker::track_exception] fn inner() {}"));
        assert!(out.text.contains("fn req(&self); #[::error_tracker::track_exception] fn def"));
        assert_eq!(out.text.lines().count(), source.lines().count());
    }

    #[test]
    fn const_fns_bodiless_fns_and_macro_bodies_are_left_alone() {
        let source = "\
const fn c() -> u8 { 1 }
extern \"C\" { fn ext(); }
macro_rules! m { () => { fn in_macro() {} } }
m!();
thread_local! { static X: u8 = { fn in_invocation() -> u8 { 1 } in_invocation() }; }
";
        let out = track_source(source).expect("parses");
        assert_eq!(out.fns, 0);
        assert_eq!(out.text, source);
    }

    #[test]
    fn columns_are_counted_in_chars_not_bytes() {
        let source = "\u{feff}/* é ü */ fn f() {}\nconst S: &str = \"ö\"; fn g() {}\n";
        assert_eq!(
            tracked(source),
            "\u{feff}/* é ü */ #[::error_tracker::track_exception] fn f() {}\n\
             const S: &str = \"ö\"; #[::error_tracker::track_exception] fn g() {}\n"
        );
    }

    #[test]
    fn a_file_that_is_not_rust_items_is_an_error() {
        assert!(track_source("1 + 1").is_err());
    }
}
