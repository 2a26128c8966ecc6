//! Code generation: a tracked function becomes its own body run inside a
//! frame, with `quote!`.
//!
//! The frame is an array of slots (one per owned argument and `let`
//! binding; see `locals.rs` and the runtime's `bindings`) and a
//! `__private::Frame` over them. For a sync fn, the body moves into a
//! closure run by `__private::catch` (an `FnOnce`, so returned borrows of
//! `&mut self` keep their lifetime): `return` and `?` keep their meaning,
//! the return type annotates the closure so `?` conversions through `From`
//! are unchanged, and a panic is caught, the frame's snapshot added, then
//! resumed. An `async fn` runs its body as an `async move` block inside
//! `__private::Instrumented`, which enters the frame on each poll. A sync fn
//! returning `impl Trait` or marked `#[track_caller]` keeps its body inline
//! under a `__private::FrameGuard`. All generated names start with
//! `__error_tracker_` and use mixed-site hygiene; all paths are fully
//! qualified.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Block, Expr, FnArg, Ident, Item, ItemFn, Pat, ReceiverKind, ReturnType, Signature, Stmt, Type};

use crate::args::Options;
use crate::locals::{self, Rewriter};

/// How an argument is kept until the frame fails.
enum Keep {
    /// A shared reference (`&T`, `&self`): its referent outlives the call, so
    /// it is kept as is and rendered only on failure.
    Ref,
    /// Anything else: given a slot, read at the failure if the body has
    /// not moved or changed it since (see `locals.rs`).
    Slot,
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
        track_body(opts, &item.attrs, &item.sig, &mut item.block)?;
    }
    Ok(quote!(#item))
}

/// Instruments one fn's body: an `#[async_trait]` method's boxed future as
/// the `async fn` it was, any other body as it is.
fn track_body(opts: &Options, attrs: &[syn::Attribute], sig: &Signature, block: &mut Block) -> syn::Result<()> {
    if let Some((inner, output)) = async_trait_body(sig, block) {
        let mut as_async = sig.clone();
        as_async.asyncness = Some(syn::Token![async](sig.fn_token.span));
        as_async.output = ReturnType::Type(syn::Token![->](sig.fn_token.span), Box::new(output));
        inner.block = instrument(opts, &as_async, &inner.block, false)?;
        return Ok(());
    }
    *block = instrument(opts, sig, block, must_stay_inline(attrs, sig))?;
    Ok(())
}

/// The `async move { … }` block and the output type of a method as
/// `#[async_trait]` expands it: it returns a pinned boxed `dyn Future` whose
/// `Output` is the method's, and its body ends with
/// `Box::pin(async move { … })` (the shape tracing-attributes recognizes too).
fn async_trait_body<'b>(sig: &Signature, block: &'b mut Block) -> Option<(&'b mut syn::ExprAsync, Type)> {
    fn last_generic(ty: &Type, name: &str) -> Option<Type> {
        let Type::Path(p) = ty else { return None };
        let seg = p.path.segments.last().filter(|s| s.ident == name)?;
        let syn::PathArguments::AngleBracketed(a) = &seg.arguments else { return None };
        a.args.iter().find_map(|g| match g {
            syn::GenericArgument::Type(t) => Some(t.clone()),
            _ => None,
        })
    }
    if sig.asyncness.is_some() {
        return None;
    }
    let ReturnType::Type(_, ty) = &sig.output else { return None };
    let boxed = last_generic(ty, "Pin")?;
    let Type::TraitObject(dyn_future) = last_generic(&boxed, "Box")? else { return None };
    let output = dyn_future.bounds.iter().find_map(|b| {
        let syn::TypeParamBound::Trait(t) = b else { return None };
        let seg = t.path.segments.last().filter(|s| s.ident == "Future")?;
        let syn::PathArguments::AngleBracketed(a) = &seg.arguments else { return None };
        a.args.iter().find_map(|g| match g {
            syn::GenericArgument::AssocType(at) if at.ident == "Output" => Some(at.ty.clone()),
            _ => None,
        })
    })?;
    let Some(Stmt::Expr(Expr::Call(call), None)) = block.stmts.last_mut() else { return None };
    let Expr::Path(f) = &*call.func else { return None };
    let is_pin = f.path.segments.last().is_some_and(|s| s.ident == "pin")
        && f.path.segments.iter().rev().nth(1).is_some_and(|s| s.ident == "Box");
    if !is_pin || call.args.len() != 1 {
        return None;
    }
    match call.args.first_mut() {
        Some(Expr::Async(inner)) if inner.capture.is_some() => Some((inner, output)),
        _ => None,
    }
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
        Item::Fn(f) => track_body(opts, &f.attrs, &f.sig, &mut f.block)?,
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
        if let Err(e) = track_body(opts, attrs, sig, block) {
            match &mut errors {
                Some(all) => all.combine(e),
                None => errors = Some(e),
            }
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
                    _ => Keep::Slot,
                };
                let ident = Ident::new("self", r.self_token.span());
                all.push(Arg { ident, keep });
            }
            FnArg::Typed(pt) => match &*pt.pat {
                Pat::Ident(p) if p.subpat.is_none() && p.by_ref.is_none() => {
                    let keep = if is_shared_ref(&pt.ty) { Keep::Ref } else { Keep::Slot };
                    all.push(Arg { ident: p.ident.clone(), keep });
                }
                pat => {
                    let mut names = Vec::new();
                    locals::bindings(pat, &mut names);
                    all.extend(names.into_iter().map(|ident| Arg { ident, keep: Keep::Slot }));
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

/// The return type that the failure sites write in a `let`: the fn's,
/// unless it has `impl Trait` (which a `let` cannot name) or cannot be an
/// `Err` (`()`, `!`).
fn checked_return(output: &ReturnType) -> Option<TokenStream> {
    struct HasImpl(bool);
    impl<'a> syn::visit::Visit<'a> for HasImpl {
        fn visit_type_impl_trait(&mut self, _: &'a syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let ReturnType::Type(_, ty) = output else { return None };
    let mut has = HasImpl(false);
    syn::visit::Visit::visit_type(&mut has, ty);
    let unit_or_never = matches!(&**ty, Type::Never(_)) || matches!(&**ty, Type::Tuple(t) if t.elems.is_empty());
    (!has.0 && !unit_or_never).then(|| quote!(#ty))
}

/// Whether the `Err` type of the fn's `Result<_, E>` may borrow or be
/// generic: it mentions a lifetime (`'a`, `&`) or a type parameter (one of
/// the fn's, or a one-letter name, as an `impl`'s `T` is). The capture then
/// starts at `Debug`: an `Error` impl may need `E: 'static` (arrayvec's
/// `impl<T: Any> Error for CapacityError<T>`), which the dispatch, blind to
/// lifetimes, would choose and the borrow checker then refuse.
fn err_may_borrow(sig: &Signature) -> bool {
    struct Finder<'s> {
        params: &'s [String],
        found: bool,
    }
    impl<'a> syn::visit::Visit<'a> for Finder<'_> {
        fn visit_lifetime(&mut self, _: &'a syn::Lifetime) {
            self.found = true;
        }
        fn visit_type_reference(&mut self, _: &'a syn::TypeReference) {
            self.found = true;
        }
        fn visit_type_path(&mut self, p: &'a syn::TypePath) {
            // `Self`, `Self::Item`, `<T as Tr>::Error`: another type in
            // disguise, which may borrow (arrayvec's `Self::Error` is
            // `CapacityError<&'a str>`).
            if p.qself.is_some() || p.path.segments.first().is_some_and(|s| s.ident == "Self") {
                self.found = true;
            }
            if let Some(i) = p.path.get_ident() {
                let name = i.to_string();
                if self.params.contains(&name) || (name.len() == 1 && name.chars().all(|c| c.is_ascii_uppercase())) {
                    self.found = true;
                }
            }
            syn::visit::visit_type_path(self, p);
        }
    }
    let ReturnType::Type(_, ty) = &sig.output else { return false };
    let Type::Path(p) = &**ty else { return false };
    let Some(last) = p.path.segments.last() else { return false };
    let syn::PathArguments::AngleBracketed(a) = &last.arguments else { return false };
    let types: Vec<&Type> = a
        .args
        .iter()
        .filter_map(|g| match g {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        })
        .collect();
    let [_, err] = types.as_slice() else { return false };
    let params: Vec<String> = sig
        .generics
        .params
        .iter()
        .filter_map(|g| match g {
            syn::GenericParam::Type(t) => Some(t.ident.to_string()),
            _ => None,
        })
        .collect();
    let mut f = Finder { params: &params, found: false };
    syn::visit::Visit::visit_type(&mut f, err);
    f.found
}

/// The new body of a tracked function.
///
/// The generated frame: an array of slot states and a tuple of slots (the
/// owned arguments, then the locals; see `locals.rs`), the frame that ties
/// them, the body (in a closure, an async block, or inline), then the render
/// function, written after the body so that the bindings' types are known
/// there, then the call and its outcome. With `inline` (see
/// [`must_stay_inline`]) the body is not moved into a closure: a
/// `FrameGuard` tracks its panics, its locals get no slots and the render
/// function comes first (it sees only the arguments, whose types the
/// signature gives).
fn instrument(opts: &Options, sig: &Signature, block: &Block, inline: bool) -> syn::Result<Block> {
    if let Some(c) = &sig.constness {
        return Err(syn::Error::new(c.span, "#[track_exception] cannot track a `const fn`"));
    }
    if let Some(v) = &sig.variadic {
        return Err(syn::Error::new(v.dots.spans[0], "#[track_exception] cannot track a variadic fn"));
    }
    let args = collect_args(sig, opts)?;
    let krate = opts.krate();
    let ms = Span::mixed_site();
    let id = |name: &str| Ident::new(name, ms);
    let (site, here, slots, f, frame) = (
        id("__ERROR_TRACKER_SITE"),
        id("__error_tracker_here"),
        id("__error_tracker_slots"),
        id("__error_tracker_f"),
        id("__error_tracker_frame"),
    );
    let (t, m, snapshot, bound) =
        (id("__error_tracker_t"), id("__error_tracker_m"), id("__error_tracker_snapshot"), id("__error_tracker_b"));

    // Names: arguments, then fields, then locals (filled by the rewrite).
    let mut names: Vec<String> = args.iter().map(|a| a.ident.to_string()).collect();
    names.extend(opts.fields.iter().map(|(k, _)| k.to_string()));
    let first_local = names.len();

    // Owned arguments get slots 0..n, in order; shared references are kept
    // as they are (their referents outlive the call).
    let slotted: Vec<(String, Option<usize>)> = args
        .iter()
        .enumerate()
        .map(|(i, a)| (a.ident.to_string(), matches!(a.keep, Keep::Slot).then_some(i)))
        .collect();
    let owned: Vec<&Ident> = args.iter().filter(|a| matches!(a.keep, Keep::Slot)).map(|a| &a.ident).collect();
    let mut body = block.clone();
    let ret = if inline { None } else { checked_return(&sig.output) };
    let mut rewriter = Rewriter::new(slotted, first_local, opts.locals() && !inline, ret, f.clone(), krate.clone());
    rewriter.rewrite(&mut body);
    names.extend(rewriter.slots.iter().filter(|slot| !slot.arg).map(|slot| slot.name.clone()));
    let n_slots = rewriter.slots.len();
    // An argument's type is written in the signature: certain.
    let mut bind_args: Vec<Stmt> =
        owned.iter().enumerate().flat_map(|(k, ident)| rewriter.bind_stmts(ident, k, true)).collect();
    if !owned.is_empty() {
        bind_args.push(rewriter.guard_stmt(0, owned.len()));
    }

    // On entry: the `fields(...)` values. On failure: the snapshot.
    let mut entry = Vec::new();
    let mut render = Vec::new();
    let mut next_owned = 0usize;
    for (i, a) in args.iter().enumerate() {
        let ident = &a.ident;
        match a.keep {
            Keep::Ref => render.push(quote_spanned! {ms=>
                #snapshot.arg_ref(#t, &#site, #i, |#m| {
                    (&&&&#krate::__private::Wrap(#ident)).__error_tracker_render(#m)
                });
            }),
            Keep::Slot => {
                let k = next_owned;
                next_owned += 1;
                render.push(quote_spanned! {ms=>
                    #snapshot.push_arg(#bound.get_mut(#k).and_then(::core::option::Option::take));
                });
            }
        }
    }
    for (j, (_, expr)) in opts.fields.iter().enumerate() {
        let i = args.len() + j;
        let var = format_ident!("__error_tracker_f{}", j, span = ms);
        entry.push(quote_spanned! {ms=>
            let #var = (&&&&&#krate::__private::Wrap(&(#expr))).__error_tracker_snap(&#site, #i);
        });
        render.push(quote_spanned! {ms=> #snapshot.field(#t, &#site, #i, &#var); });
    }
    let n_owned = owned.len();

    let (function, named) = match &opts.name {
        Some(n) => (quote!(#n), true),
        None => (quote_spanned!(ms=> ::core::any::type_name_of_val(&#here)), false),
    };
    let line = quote_spanned!(sig.ident.span()=> ::core::line!());
    let file = quote_spanned!(sig.ident.span()=> ::core::file!());
    let prologue = quote_spanned! {ms=>
        #[allow(unused_imports)]
        use #krate::__private::{
            BindViaDebug as _, BindViaName as _, BindViaPlain as _, BindViaSerialize as _, BindViaUnlocked as _,
            CaptureViaAnyhow as _, CaptureViaAsDynError as _, CaptureViaAsDynErrorSend as _, CaptureViaDebug as _,
            CaptureViaError as _,
            CaptureViaName as _, ErrOfOther as _, ErrOfResult as _, IsNotSharedRef as _, IsSharedRef as _,
            RenderViaDebug as _, RenderViaName as _, RenderViaSerialize as _, RenderViaUnlocked as _, SnapViaDebug as _,
            SnapViaName as _, SnapViaPlain as _, SnapViaSerialize as _, SnapViaUnlocked as _,
        };
        static #site: #krate::__private::Site = #krate::__private::Site::new(#file, #line, &[#(#names),*]);
        #[allow(dead_code)]
        fn #here() {}
        #(#entry)*
        let #slots: [#krate::__private::Slot; #n_slots] = [#krate::__private::Slot::NEW; #n_slots];
        let #frame = #krate::__private::Frame::new(&#site, &#slots);
        let #f = &#frame;
    };
    // `move`: it takes the `fields(...)` values; the arguments kept by
    // reference are copied.
    // The capture dispatch, most specific first (see `err_may_borrow`).
    let capture_refs = if err_may_borrow(sig) { quote!(&&) } else { quote!(&&&&&) };
    let snapshot_fn = quote_spanned! {ms=>
        move |#t: &#krate::__private::Tracker| {
            #[allow(unused_mut)]
            let (mut #bound, line) = #f.bindings(#t);
            let mut #snapshot = #krate::__private::Snapshot::new(&#site, #function, #named);
            #(#render)*
            #snapshot.push_locals(#bound.into_iter().skip(#n_owned));
            #snapshot.failed_at(line);
            #snapshot
        }
    };

    if inline {
        let guard = id("__error_tracker_guard");
        let stmts = &body.stmts;
        let tokens = quote_spanned! {ms=>
            {
                #prologue
                let #guard = #krate::__private::FrameGuard::new(#snapshot_fn);
                #(#bind_args)*
                #(#stmts)*
            }
        };
        return syn::parse2(tokens);
    }

    let ret = closure_return(&sig.output);
    let never = matches!(&sig.output, ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)));
    let value = id("__error_tracker_value");
    let result = id("__error_tracker_result");
    let depth = id("__error_tracker_depth");
    let err = id("__error_tracker_err");
    let payload = id("__error_tracker_payload");
    let frame_local = id("__error_tracker_frame_local");
    let snapshot_var = id("__error_tracker_snapshot_fn");
    let from = id("__error_tracker_from");

    let (run, on_ok, leave) = if sig.asyncness.is_some() {
        let ret_var = id("__error_tracker_ret");
        (
            quote_spanned! {ms=>
                let (#result, #depth) = #krate::__private::Instrumented::new(#f, async move {
                    #(#bind_args)*
                    let #ret_var: #ret = #body;
                    #[allow(unreachable_code)]
                    #ret_var
                })
                .await;
            },
            quote_spanned!(ms=> { #krate::__private::exit_ok(#depth); #value }),
            quote!(false),
        )
    } else {
        // The body's statements go straight into the closure's block: a
        // block nested as its only tail would be `unused_braces` to rustc.
        let body_stmts = &body.stmts;
        (
            // Passed straight to `catch`, whose `FnOnce` bound makes it an
            // `FnOnce`: a returned borrow of `&mut self` keeps its lifetime.
            quote_spanned! {ms=>
                let #depth = #krate::__private::enter();
                let #result = #krate::__private::catch(move || -> #ret { #(#bind_args)* #(#body_stmts)* });
            },
            quote_spanned!(ms=> #krate::__private::leave_ok(#depth, #value)),
            quote!(true),
        )
    };

    let outcome = quote_spanned! {ms=>
        match #result {
            ::core::result::Result::Ok(#value) => {
                if (&&#krate::__private::Wrap(&#value)).__error_tracker_err().is_some() {
                    // A local of this frame: the stack is walked from it, so
                    // the tracker's frames under it are never stored.
                    let #frame_local = 0u8;
                    let #from = ::core::ptr::addr_of!(#frame_local) as usize;
                    #krate::__private::exit_err_value(
                        #depth,
                        #leave,
                        #f,
                        #value,
                        |#value, #t: &#krate::__private::Tracker| {
                            match (&&#krate::__private::Wrap(#value)).__error_tracker_err() {
                                ::core::option::Option::Some(#err) => ::core::option::Option::Some(
                                    (#capture_refs #krate::__private::Wrap(#err)).__error_tracker_capture(#t, #from),
                                ),
                                ::core::option::Option::None => ::core::option::Option::None,
                            }
                        },
                        #snapshot_var,
                    )
                } else {
                    #on_ok
                }
            }
            ::core::result::Result::Err(#payload) => {
                #krate::__private::exit_panic_resume(#depth, #leave, #payload, #snapshot_var)
            }
        }
    };
    let outcome = if never { quote_spanned!(ms=> match #outcome {}) } else { outcome };

    // One closure for both exits (an `Err` and a panic): its rendering code
    // is generated once per tracked fn, not twice.
    let tokens = quote_spanned! {ms=>
        {
            #prologue
            let #snapshot_var = #snapshot_fn;
            #run
            #outcome
        }
    };
    syn::parse2(tokens)
}
#[cfg(test)]
mod print_expansion {
    #[test]
    fn print() {
        let f: syn::ItemFn = syn::parse_str("async fn fetch(id: u32, name: &str) -> Result<u32, Failed> { let before = id + 1; sleep().await; let after = before + 1; Err(Failed(after)) }").unwrap();
        let out = super::track_fn(&Default::default(), f).unwrap();
        println!("{out}");
    }
}
