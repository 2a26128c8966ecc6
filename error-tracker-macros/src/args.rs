//! The options of `#[track_exception(...)]`, parsed with `syn::parse::Parse`.

use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitBool, LitStr, Token};

/// What the user wrote between the parentheses.
#[derive(Default)]
pub(crate) struct Options {
    /// `skip(a, b)`: arguments that are neither snapshotted nor rendered.
    pub(crate) skip: Vec<Ident>,
    /// `skip_all`: no argument is snapshotted.
    pub(crate) skip_all: Option<Ident>,
    /// `locals = false`: no local is snapshotted.
    pub(crate) locals: Option<LitBool>,
    /// `name = "..."`: the frame's function name.
    pub(crate) name: Option<LitStr>,
    /// `fields(key = expr, ...)`: extra values, evaluated on entry.
    pub(crate) fields: Vec<(Ident, Expr)>,
    /// `crate = "path"`: where the runtime crate is, for a renamed
    /// dependency or a facade crate that re-exports it.
    pub(crate) krate: Option<syn::Path>,
}

impl Options {
    pub(crate) fn locals(&self) -> bool {
        self.locals.as_ref().is_none_or(LitBool::value)
    }

    /// The path of the runtime crate in the generated code.
    pub(crate) fn krate(&self) -> proc_macro2::TokenStream {
        match &self.krate {
            Some(path) => quote::quote!(#path),
            None => quote::quote!(::error_tracker),
        }
    }
}

impl Parse for Options {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut opts = Options::default();
        // Collect every mistake, as serde_derive's `Ctxt` does, so the user
        // fixes them all in one go.
        let mut errors: Option<syn::Error> = None;
        let mut push = |e: syn::Error| match &mut errors {
            Some(all) => all.combine(e),
            None => errors = Some(e),
        };
        while !input.is_empty() {
            let key: Ident = input.call(syn::ext::IdentExt::parse_any)?;
            let dup = |seen: bool| seen.then(|| syn::Error::new(key.span(), format!("`{key}` is given twice")));
            match key.to_string().as_str() {
                "skip" => {
                    let content;
                    syn::parenthesized!(content in input);
                    let names = Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
                    opts.skip.extend(names);
                }
                "skip_all" => {
                    if let Some(e) = dup(opts.skip_all.is_some()) {
                        push(e);
                    }
                    opts.skip_all = Some(key.clone());
                }
                "locals" => {
                    input.parse::<Token![=]>()?;
                    let value: LitBool = input.parse().map_err(|e| {
                        syn::Error::new(e.span(), "`locals` takes `true` or `false`, as in `locals = false`")
                    })?;
                    if let Some(e) = dup(opts.locals.is_some()) {
                        push(e);
                    }
                    opts.locals = Some(value);
                }
                "name" => {
                    input.parse::<Token![=]>()?;
                    let value: LitStr = input.parse().map_err(|e| {
                        syn::Error::new(e.span(), "`name` takes a string literal, as in `name = \"login\"`")
                    })?;
                    if let Some(e) = dup(opts.name.is_some()) {
                        push(e);
                    }
                    if value.value().is_empty() {
                        push(syn::Error::new(value.span(), "`name` must not be empty"));
                    }
                    opts.name = Some(value);
                }
                "crate" => {
                    input.parse::<Token![=]>()?;
                    let value: LitStr = input.parse().map_err(|e| {
                        syn::Error::new(
                            e.span(),
                            "`crate` takes a string literal, as in `crate = \"my_facade::tracker\"`",
                        )
                    })?;
                    if let Some(e) = dup(opts.krate.is_some()) {
                        push(e);
                    }
                    match value.parse::<syn::Path>() {
                        Ok(path) => opts.krate = Some(path),
                        Err(_) => {
                            push(syn::Error::new(value.span(), "`crate` must be a path, as in `::my_facade::tracker`"))
                        }
                    }
                }
                "fields" => {
                    let content;
                    syn::parenthesized!(content in input);
                    let fields = Punctuated::<Field, Token![,]>::parse_terminated(&content)?;
                    for f in fields {
                        if opts.fields.iter().any(|(k, _)| *k == f.key) {
                            push(syn::Error::new(f.key.span(), format!("field `{}` is given twice", f.key)));
                        }
                        opts.fields.push((f.key, f.value));
                    }
                }
                _ => {
                    push(syn::Error::new(
                        key.span(),
                        format!(
                            "unknown option `{key}`; expected one of `skip(..)`, `skip_all`, `locals = ..`, `name = \"..\"`, `fields(..)`, `crate = \"..\"`"
                        ),
                    ));
                    // Skip its value, so that only the one mistake is reported.
                    while !input.is_empty() && !input.peek(Token![,]) {
                        input.parse::<proc_macro2::TokenTree>()?;
                    }
                }
            }
            if input.is_empty() {
                break;
            }
            if let Err(e) = input.parse::<Token![,]>() {
                push(e);
                break;
            }
        }
        if let (Some(all), Some(first)) = (&opts.skip_all, opts.skip.first()) {
            push(syn::Error::new(first.span(), format!("`skip({first})` is redundant with `{all}`")));
        }
        match errors {
            Some(e) => Err(e),
            None => Ok(opts),
        }
    }
}

/// `key = expr` inside `fields(...)`.
struct Field {
    key: Ident,
    value: Expr,
}

impl Parse for Field {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key: Ident = input.call(syn::ext::IdentExt::parse_any)?;
        input.parse::<Token![=]>()?;
        let value: Expr = input.parse()?;
        Ok(Field { key, value })
    }
}
