//! Code generation: a tracked function becomes its own body run inside a
//! frame, with `quote!`.
//!
//! For a sync fn, the body moves into a closure run by
//! `__private::catch` (an `FnOnce`, so returned borrows of `&mut self` keep
//! their lifetime): `return` and `?` keep their meaning, the return type
//! annotates the closure so `?` conversions through `From` are unchanged,
//! and a panic is caught so that this frame can add its snapshot once the
//! thread is no longer panicking, then resumed. An `async fn` runs its body
//! as an `async move` block inside `__private::Instrumented`, which enters
//! the frame on each poll. All generated names start with `__error_tracker_`
//! and use mixed-site hygiene; all paths are fully qualified.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Block, FnArg, Ident, Item, ItemFn, Pat, ReceiverKind, ReturnType, Signature, Type};

use crate::args::Options;
use crate::locals::{self, Rewriter};

/// How an argument is kept until the frame fails.
enum Keep {
    /// A shared reference (`&T`, `&self`): its referent outlives the call, so
    /// it is kept as is and rendered only on failure.
    Ref,
    /// Anything else: snapshotted on entry (plain data bit-copied, other
    /// values rendered), because the body may move, drop or mutate it.
    Snap,
}

struct Arg {
    /// The binding (the receiver's own `self` token for methods).
    ident: Ident,
    keep: Keep,
}

/// `#[track_exception]` on one fn.
pub(crate) fn track_fn(opts: &Options, mut item: ItemFn) -> syn::Result<TokenStream> {
    // Applied twice (attribute macros such as rstest_reuse's `#[apply]` copy
    // a template's attributes onto each fn): the attribute still on the item
    // tracks it, once.
    if !already_tracked(&item.attrs) {
        let inline = must_stay_inline(&item.attrs, &item.sig);
        *item.block = instrument(opts, &item.sig, &item.block, inline)?;
    }
    Ok(quote!(#item))
}

/// Whether the body must run inline rather than move into a closure: a
/// `#[track_caller]` fn (a closure would report its own location to
/// `Location::caller()`), or a fn returning `impl Trait` (a closure returned
/// from a closure would lose the signature the `impl Fn…` gives it).
fn must_stay_inline(attrs: &[syn::Attribute], sig: &Signature) -> bool {
    fn impl_trait(ty: &Type) -> bool {
        match ty {
            Type::ImplTrait(_) => true,
            Type::Paren(p) => impl_trait(&p.elem),
            Type::Group(g) => impl_trait(&g.elem),
            _ => false,
        }
    }
    sig.asyncness.is_none()
        && (attrs.iter().any(|a| a.path().is_ident("track_caller"))
            || matches!(&sig.output, ReturnType::Type(_, ty) if impl_trait(ty)))
}

/// `#[auto_track_exception]`: every fn of an impl block, trait or inline module.
pub(crate) fn auto_track(opts: &Options, mut item: Item) -> syn::Result<TokenStream> {
    match &mut item {
        Item::Fn(f) => {
            let inline = must_stay_inline(&f.attrs, &f.sig);
            *f.block = instrument(opts, &f.sig, &f.block, inline)?;
        }
        Item::Impl(_) | Item::Trait(_) => auto_item(opts, &mut item)?,
        Item::Mod(m) if m.content.is_some() => auto_item(opts, &mut item)?,
        other => {
            return Err(syn::Error::new(
                other.span(),
                "#[auto_track_exception] goes on an `impl` block, a trait, an inline `mod` or a fn",
            ));
        }
    }
    Ok(quote!(#item))
}

fn already_tracked(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().segments.last().is_some_and(|s| s.ident == "track_exception" || s.ident == "auto_track_exception")
    })
}

fn auto_item(opts: &Options, item: &mut Item) -> syn::Result<()> {
    let mut errors: Option<syn::Error> = None;
    let mut run = |attrs: &[syn::Attribute], sig: &Signature, block: &mut Block| {
        if sig.constness.is_some() {
            return;
        }
        match instrument(opts, sig, block, must_stay_inline(attrs, sig)) {
            Ok(b) => *block = b,
            Err(e) => match &mut errors {
                Some(all) => all.combine(e),
                None => errors = Some(e),
            },
        }
    };
    match item {
        Item::Fn(f) if !already_tracked(&f.attrs) => run(&f.attrs, &f.sig, &mut f.block),
        Item::Impl(i) => {
            for it in &mut i.items {
                if let syn::ImplItem::Fn(f) = it
                    && !already_tracked(&f.attrs)
                {
                    run(&f.attrs, &f.sig, &mut f.block);
                }
            }
        }
        Item::Trait(t) => {
            for it in &mut t.items {
                if let syn::TraitItem::Fn(f) = it
                    && !already_tracked(&f.attrs)
                    && let Some(block) = &mut f.default
                {
                    run(&f.attrs, &f.sig, block);
                }
            }
        }
        Item::Mod(m) => {
            if let Some((_, items)) = &mut m.content {
                for it in items {
                    if !matches!(it, Item::Fn(_) | Item::Impl(_) | Item::Trait(_) | Item::Mod(_)) {
                        continue;
                    }
                    if let Err(e) = auto_item(opts, it) {
                        match &mut errors {
                            Some(all) => all.combine(e),
                            None => errors = Some(e),
                        }
                    }
                }
            }
        }
        _ => {}
    }
    match errors {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn is_shared_ref(ty: &Type) -> bool {
    match ty {
        Type::Reference(r) => r.mutability.is_none(),
        Type::Paren(p) => is_shared_ref(&p.elem),
        Type::Group(g) => is_shared_ref(&g.elem),
        _ => false,
    }
}

fn collect_args(sig: &Signature, opts: &Options) -> syn::Result<Vec<Arg>> {
    let mut all = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => {
                let keep = match &r.kind {
                    ReceiverKind::Reference(_, _, None) => Keep::Ref,
                    ReceiverKind::Typed(_, ty) if is_shared_ref(ty) => Keep::Ref,
                    _ => Keep::Snap,
                };
                let ident = Ident::new("self", r.self_token.span());
                all.push(Arg { ident, keep });
            }
            FnArg::Typed(pt) => match &*pt.pat {
                Pat::Ident(p) if p.subpat.is_none() && p.by_ref.is_none() => {
                    let keep = if is_shared_ref(&pt.ty) { Keep::Ref } else { Keep::Snap };
                    all.push(Arg { ident: p.ident.clone(), keep });
                }
                pat => {
                    let mut names = Vec::new();
                    locals::bindings(pat, &mut names);
                    all.extend(names.into_iter().map(|ident| Arg { ident, keep: Keep::Snap }));
                }
            },
        }
    }
    let mut errors: Option<syn::Error> = None;
    for s in &opts.skip {
        if !all.iter().any(|a| a.ident == *s) {
            let e = syn::Error::new(s.span(), format!("cannot skip `{s}`: the function has no argument of that name"));
            match &mut errors {
                Some(all) => all.combine(e),
                None => errors = Some(e),
            }
        }
    }
    if let Some(e) = errors {
        return Err(e);
    }
    if opts.skip_all.is_some() {
        return Ok(Vec::new());
    }
    all.retain(|a| !opts.skip.contains(&a.ident));
    Ok(all)
}

/// The closure's return type: the fn's, with `impl Trait` left to inference.
fn closure_return(output: &ReturnType) -> TokenStream {
    struct Infer;
    impl VisitMut for Infer {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(i) = ty {
                *ty = Type::Infer(syn::TypeInfer { attrs: Vec::new(), underscore_token: syn::Token![_](i.span()) });
            } else {
                syn::visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    match output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)) => quote!(::core::convert::Infallible),
        ReturnType::Type(_, ty) => {
            let mut ty = (**ty).clone();
            Infer.visit_type_mut(&mut ty);
            quote!(#ty)
        }
    }
}

/// The new body of a tracked function. With `inline`, the body is not moved
/// into a closure (see [`must_stay_inline`]): a [`FrameGuard`] tracks its
/// panics, and its `Err`s are not recorded.
///
/// [`FrameGuard`]: https://docs.rs/error-tracker
fn instrument(opts: &Options, sig: &Signature, block: &Block, inline: bool) -> syn::Result<Block> {
    if let Some(c) = &sig.constness {
        return Err(syn::Error::new(c.span, "#[track_exception] cannot track a `const fn`"));
    }
    if let Some(v) = &sig.variadic {
        return Err(syn::Error::new(v.dots.spans[0], "#[track_exception] cannot track a variadic fn"));
    }
    let args = collect_args(sig, opts)?;
    let ms = Span::mixed_site();
    let site = Ident::new("__ERROR_TRACKER_SITE", ms);
    let here = Ident::new("__error_tracker_here", ms);
    let slots = Ident::new("__error_tracker_locals", ms);
    let slots_ref = Ident::new("__error_tracker_l", ms);
    let t = Ident::new("__error_tracker_t", ms);
    let m = Ident::new("__error_tracker_m", ms);
    let snapshot = Ident::new("__error_tracker_snapshot", ms);

    // Names: arguments, then fields, then locals (filled by the rewrite).
    let mut names: Vec<String> = args.iter().map(|a| a.ident.to_string()).collect();
    names.extend(opts.fields.iter().map(|(k, _)| k.to_string()));

    let mut body = block.clone();
    let mut rewriter =
        Rewriter::new(args.iter().map(|a| a.ident.to_string()), names.len(), slots_ref.clone(), site.clone());
    if opts.locals() {
        rewriter.rewrite(&mut body);
    }
    names.extend(rewriter.slots.iter().map(|s| s.name.clone()));

    // On entry: snapshots of the arguments that are not shared references,
    // and the `fields(...)` values.
    let mut entry = Vec::new();
    let mut render = Vec::new();
    for (i, a) in args.iter().enumerate() {
        let ident = &a.ident;
        match a.keep {
            Keep::Ref => render.push(quote_spanned! {ms=>
                #snapshot.arg_ref(#t, &#site, #i, |#m| {
                    (&&&&::error_tracker::__private::Wrap(#ident)).__error_tracker_render(#m)
                });
            }),
            Keep::Snap => {
                let var = format_ident!("__error_tracker_a{}", i, span = ms);
                entry.push(quote_spanned! {ms=>
                    let #var = (&&&&&::error_tracker::__private::Wrap(&#ident)).__error_tracker_snap(&#site, #i);
                });
                render.push(quote_spanned! {ms=> #snapshot.arg(#t, &#site, #i, &#var); });
            }
        }
    }
    for (j, (_, expr)) in opts.fields.iter().enumerate() {
        let i = args.len() + j;
        let var = format_ident!("__error_tracker_f{}", j, span = ms);
        entry.push(quote_spanned! {ms=>
            let #var = (&&&&&::error_tracker::__private::Wrap(&(#expr))).__error_tracker_snap(&#site, #i);
        });
        render.push(quote_spanned! {ms=> #snapshot.field(#t, &#site, #i, &#var); });
    }
    let n_locals = rewriter.slots.len();
    let first_local = names.len() - n_locals;
    let empty = locals::empty_slots(n_locals);
    if n_locals > 0 && !inline {
        entry.push(quote_spanned! {ms=>
            let mut #slots = #empty;
            let #slots_ref = &mut #slots;
        });
    }
    if n_locals > 0 {
        for k in 0..n_locals {
            let field = syn::Index { index: k as u32, span: ms };
            let i = first_local + k;
            render.push(quote_spanned! {ms=> #snapshot.local(#t, &#site, #i, &#slots.#field); });
        }
    }

    let (function, named) = match &opts.name {
        Some(n) => (quote!(#n), true),
        None => (quote_spanned!(ms=> ::core::any::type_name_of_val(&#here)), false),
    };
    let line = quote_spanned!(sig.ident.span()=> ::core::line!());
    let file_tokens = quote_spanned!(sig.ident.span()=> ::core::file!());
    // `move`: on the failure paths the snapshot takes the arguments' copies
    // and the slots, so that nothing lives across a call on the happy path.
    let snapshot_fn = quote_spanned! {ms=>
        move |#t: &::error_tracker::__private::Tracker| {
            let mut #snapshot = ::error_tracker::__private::Snapshot::new(&#site, #function, #named);
            #(#render)*
            #snapshot
        }
    };

    if inline {
        let guard = Ident::new("__error_tracker_guard", ms);
        let slots_param = if n_locals > 0 { quote!(#slots) } else { quote!(_) };
        let slots_ref_stmt = (n_locals > 0).then(|| quote_spanned!(ms=> let #slots_ref = &mut #guard.slots;));
        let stmts = &body.stmts;
        let tokens = quote_spanned! {ms=>
            {
                #[allow(unused_imports)]
                use ::error_tracker::__private::{
                    RenderViaDebug as _, RenderViaName as _, RenderViaSerialize as _, RenderViaUnlocked as _,
                    SnapViaDebug as _, SnapViaName as _, SnapViaPlain as _, SnapViaSerialize as _, SnapViaUnlocked as _,
                };
                static #site: ::error_tracker::__private::Site =
                    ::error_tracker::__private::Site::new(#file_tokens, #line, &[#(#names),*]);
                #[allow(dead_code)]
                fn #here() {}
                #(#entry)*
                #[allow(unused_mut)]
                let mut #guard = ::error_tracker::__private::FrameGuard::new(
                    #empty,
                    move |#slots_param, #t: &::error_tracker::__private::Tracker| {
                        let mut #snapshot = ::error_tracker::__private::Snapshot::new(&#site, #function, #named);
                        #(#render)*
                        #snapshot
                    },
                );
                #slots_ref_stmt
                #(#stmts)*
            }
        };
        return syn::parse2(tokens);
    }

    let ret = closure_return(&sig.output);
    let never = matches!(&sig.output, ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)));
    let value = Ident::new("__error_tracker_value", ms);
    let result = Ident::new("__error_tracker_result", ms);
    let depth = Ident::new("__error_tracker_depth", ms);
    let err = Ident::new("__error_tracker_err", ms);
    let payload = Ident::new("__error_tracker_payload", ms);

    let (run, on_ok, leave) = if sig.asyncness.is_some() {
        let ret_var = Ident::new("__error_tracker_ret", ms);
        (
            quote_spanned! {ms=>
                let (#result, #depth) = ::error_tracker::__private::Instrumented::new(async move {
                    let #ret_var: #ret = #body;
                    #[allow(unreachable_code)]
                    #ret_var
                })
                .await;
            },
            quote_spanned!(ms=> { ::error_tracker::__private::exit_ok(#depth); #value }),
            quote!(false),
        )
    } else {
        (
            quote_spanned! {ms=>
                let #depth = ::error_tracker::__private::enter();
                let #result = ::error_tracker::__private::catch(move || -> #ret #body);
            },
            quote_spanned!(ms=> ::error_tracker::__private::leave_ok(#depth, #value)),
            quote!(true),
        )
    };

    let outcome = quote_spanned! {ms=>
        match #result {
            ::core::result::Result::Ok(#value) => {
                if (&&::error_tracker::__private::Wrap(&#value)).__error_tracker_err().is_some() {
                    ::error_tracker::__private::exit_err_value(
                        #depth,
                        #leave,
                        #value,
                        |#value, #t: &::error_tracker::__private::Tracker| {
                            match (&&::error_tracker::__private::Wrap(#value)).__error_tracker_err() {
                                ::core::option::Option::Some(#err) => ::core::option::Option::Some(
                                    (&&&&&::error_tracker::__private::Wrap(#err)).__error_tracker_capture(#t),
                                ),
                                ::core::option::Option::None => ::core::option::Option::None,
                            }
                        },
                        #snapshot_fn,
                    )
                } else {
                    #on_ok
                }
            }
            ::core::result::Result::Err(#payload) => {
                ::error_tracker::__private::exit_panic_resume(#depth, #leave, #payload, #snapshot_fn)
            }
        }
    };
    let outcome = if never { quote_spanned!(ms=> match #outcome {}) } else { outcome };

    let tokens = quote_spanned! {ms=>
        {
            #[allow(unused_imports)]
            use ::error_tracker::__private::{
                CaptureViaAsDynError as _, CaptureViaAsDynErrorSend as _, CaptureViaDebug as _, CaptureViaError as _,
                CaptureViaName as _, ErrOfOther as _, ErrOfResult as _, RenderViaDebug as _, RenderViaName as _,
                RenderViaSerialize as _, RenderViaUnlocked as _, SnapViaDebug as _, SnapViaName as _, SnapViaPlain as _,
                SnapViaSerialize as _, SnapViaUnlocked as _,
            };
            static #site: ::error_tracker::__private::Site =
                ::error_tracker::__private::Site::new(#file_tokens, #line, &[#(#names),*]);
            #[allow(dead_code)]
            fn #here() {}
            #(#entry)*
            #run
            #outcome
        }
    };
    syn::parse2(tokens)
}
