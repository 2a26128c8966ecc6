//! Attribute macros of error-tracker: `#[track_exception]` and
//! `#[auto_track_exception]`. Use them through the runtime crate, as
//! `error_tracker::track_exception` and `error_tracker::auto_track_exception`;
//! the generated code calls `::error_tracker::__private`.
//!
//! `args.rs` parses the options, `expand.rs` generates the tracked function,
//! `locals.rs` rewrites the body to snapshot its `let` bindings.

use proc_macro::TokenStream;

mod args;
mod expand;
mod locals;

/// Tracks a function: when it returns `Err` or panics, the occurrence holds
/// its arguments and locals, masked. See the `error_tracker` crate docs.
///
/// Options: `skip(a, b)`, `skip_all`, `locals = false`, `name = "..."`,
/// `fields(key = expr, ...)`.
#[proc_macro_attribute]
pub fn track_exception(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_with(attr, item, |opts, item| {
        let f: syn::ItemFn = syn::parse(item)?;
        expand::track_fn(opts, f)
    })
}

/// Tracks every fn of an `impl` block, a trait impl, a trait's default
/// methods or an inline `mod`, as `#[track_exception]` does. On a single fn
/// it is `#[track_exception]`. `const fn`s are left alone.
#[proc_macro_attribute]
pub fn auto_track_exception(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_with(attr, item, |opts, item| {
        let i: syn::Item = syn::parse(item)?;
        expand::auto_track(opts, i)
    })
}

/// Parses the options and the item. On any error the item is emitted
/// unchanged next to the error, so that IDEs keep working and the user sees
/// only the one mistake.
fn expand_with(
    attr: TokenStream,
    item: TokenStream,
    f: impl FnOnce(&args::Options, TokenStream) -> syn::Result<proc_macro2::TokenStream>,
) -> TokenStream {
    let out = syn::parse::<args::Options>(attr).and_then(|opts| f(&opts, item.clone()));
    match out {
        Ok(ts) => ts.into(),
        Err(e) => {
            let mut ts = proc_macro2::TokenStream::from(item);
            ts.extend(e.into_compile_error());
            ts.into()
        }
    }
}
