//! The body rewrite: slots for the bindings, and the failure sites.
//!
//! Each owned argument and each `let` binding gets a slot (see the runtime's
//! `bindings` module), which records where the binding is, so that the
//! frame can render it where it fails. Nothing is rendered on the happy
//! path, and no trait is chosen for a binding where it is bound: the render
//! function is generated after the body, where every binding's type is
//! known, so tracking never commits type inference.
//!
//! The rewrite keeps each slot's state true, from the syntax alone:
//! - after a `let`, its bindings are bound (`bind`), and a guard ends them
//!   with their scope;
//! - before a statement that names a binding other than through a shared
//!   borrow (`&x`, `&x.field`, `&x[i]`, a comparison operand, a formatting
//!   macro's argument), the binding is marked used: the statement may move
//!   it or keep a mutable borrow of it. Heads of `if`, `match` and loops
//!   count as statements; their blocks are rewritten statement by
//!   statement;
//! - after `x = …;` or `x op= …;`, `x` is bound again.
//!
//! The failure sites: each `?` whose operand is an `Err`, and each `return`
//! and the body's tail when the value is an `Err`, render the frame there,
//! with the line, while the bindings in scope are alive. Closures, async
//! blocks and nested items are other frames: their bodies are left alone.

use std::collections::BTreeMap;

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned};
use std::collections::HashSet;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::visit_mut::{self, VisitMut};

use syn::{BinOp, Block, Expr, Ident, Local, Pat, Stmt, Token, Type};

/// Types without parameters whose associated fns (`from`, `new`, `now`, ...)
/// return a type known where they are called.
const CONCRETE_TYPES: &[&str] = &[
    "u8",
    "u16",
    "u32",
    "u64",
    "u128",
    "usize",
    "i8",
    "i16",
    "i32",
    "i64",
    "i128",
    "isize",
    "f32",
    "f64",
    "bool",
    "char",
    "String",
    "PathBuf",
    "OsString",
    "Duration",
    "Instant",
    "SystemTime",
    "IpAddr",
    "Ipv4Addr",
    "Ipv6Addr",
    "SocketAddr",
];

/// Methods that change only the error type of a `Result` or `Option`: after
/// `?`, the value's type is the receiver's.
const ERROR_ADAPTERS: &[&str] =
    &["map_err", "context", "with_context", "ok_or", "ok_or_else", "wrap_err", "wrap_err_with"];

/// Methods whose return type is fixed by their signature, whatever the
/// receiver: the value's type is known where it is bound. (A method generic
/// in its return type, `parse`, `collect`, `into`, `sum`, a user's
/// `random::<T>()`, is typed by a later use: its binding is shown by its
/// type name.)
const FIXED_RETURN: &[&str] = &[
    "len",
    "is_empty",
    "count",
    "is_some",
    "is_none",
    "is_ok",
    "is_err",
    "contains",
    "contains_key",
    "starts_with",
    "ends_with",
    "to_string",
    "to_lowercase",
    "to_uppercase",
    "as_str",
    "as_bytes",
    "trim",
    "clone",
    "to_owned",
    "to_vec",
    "elapsed",
    "as_secs",
    "as_millis",
];

/// One binding that gets a slot.
pub(crate) struct Slot {
    pub(crate) name: String,
    /// An argument (else a local).
    pub(crate) arg: bool,
}

pub(crate) struct Rewriter {
    /// The slots, arguments first, then the locals in the order they appear.
    pub(crate) slots: Vec<Slot>,
    /// Visible slotted names, innermost scope last.
    scopes: Vec<Vec<(String, usize)>>,
    /// Whether `let` bindings get slots.
    locals: bool,
    /// The return type that the failure sites check, when it can be written
    /// (no `impl Trait`, not `()` or `!`).
    ret: Option<TokenStream>,
    /// `__error_tracker_f`: the frame.
    frame: Ident,
    krate: TokenStream,
    /// Depth of blocks below the body's own block (0: the body).
    depth: usize,
    /// The names whose type is certain at this point (arguments, typed locals).
    known: HashSet<String>,
    /// The site's name index of each slot, and of the next local.
    pub(crate) names: Vec<usize>,
    next_name: usize,
}

impl Rewriter {
    /// `args`: every argument (their types are written, so known), with
    /// the site's name index of those that get a slot; locals' names follow
    /// from `first_local`.
    pub(crate) fn new(
        args: Vec<(String, Option<usize>)>,
        first_local: usize,
        locals: bool,
        ret: Option<TokenStream>,
        frame: Ident,
        krate: TokenStream,
    ) -> Self {
        let mut known: HashSet<String> = args.iter().map(|(n, _)| n.clone()).collect();
        known.insert("self".to_owned());
        let mut slots = Vec::new();
        let mut names = Vec::new();
        for (name, index) in args {
            if let Some(i) = index {
                slots.push(Slot { name, arg: true });
                names.push(i);
            }
        }
        let scope = slots.iter().enumerate().map(|(k, s)| (s.name.clone(), k)).collect();
        Rewriter {
            slots,
            scopes: vec![scope],
            locals,
            ret,
            frame,
            krate,
            depth: 0,
            known,
            names,
            next_name: first_local,
        }
    }

    /// Rewrites the body.
    pub(crate) fn rewrite(&mut self, block: &mut Block) {
        self.visit_block_mut(block);
    }

    fn visible(&self, name: &str) -> Option<usize> {
        self.scopes.iter().rev().flat_map(|s| s.iter().rev()).find(|(n, _)| n == name).map(|(_, k)| *k)
    }

    /// `__error_tracker_f.read(k);` or `.written(k);` for each slot that
    /// `exprs` may move, write or borrow mutably.
    fn used_stmts<'e>(&self, exprs: impl IntoIterator<Item = Mention<'e>>) -> Vec<Stmt> {
        let mut found = Mentions { rewriter: self, mode: Use::Read, floor: Use::Shared, out: BTreeMap::new() };
        for e in exprs {
            match e {
                Mention::Expr(e) => found.visit_expr(e),
                Mention::Stmt(s) => found.visit_stmt(s),
            }
        }
        let f = &self.frame;
        found
            .out
            .into_iter()
            .map(|(k, mode)| match mode {
                Use::Write => syn::parse_quote_spanned! {Span::mixed_site()=> #f.written(#k); },
                Use::Receiver => syn::parse_quote_spanned! {Span::mixed_site()=> #f.receiver(#k); },
                _ => syn::parse_quote_spanned! {Span::mixed_site()=> #f.read(#k); },
            })
            .collect()
    }

    /// The guard that ends slots `first..first + n` with their scope (one
    /// per `let`, or for all the owned arguments: fewer drops, and fewer
    /// unwinding paths, than one per binding).
    pub(crate) fn guard_stmt(&self, first: usize, n: usize) -> Stmt {
        let ms = Span::mixed_site();
        let (f, krate) = (&self.frame, &self.krate);
        let guard = Ident::new(&format!("__error_tracker_g{first}"), ms);
        syn::parse_quote_spanned! {ms=>
            let #guard = #krate::__private::SlotGuard::new(#f, #first, #n);
        }
    }

    /// `bind` after a binding is made: with the render function of its type
    /// when the type is certain here (see [`Rewriter::certain`]), else by
    /// its type name. A new binding also needs a guard ([`Rewriter::guard_stmt`]).
    pub(crate) fn bind_stmts(&self, ident: &Ident, k: usize, typed: bool) -> Vec<Stmt> {
        let ms = Span::mixed_site();
        let (f, krate) = (&self.frame, &self.krate);
        let name = self.names[k];
        let bind: Stmt = if typed {
            syn::parse_quote_spanned! {ms=>
                (&&&&&#krate::__private::Wrap(&#ident)).__error_tracker_bind(
                    #f,
                    #k,
                    #name,
                    (&&#krate::__private::Wrap(&#ident)).__error_tracker_shared_ref(),
                );
            }
        } else {
            syn::parse_quote_spanned! {ms=> #f.bind_unknown(#k, #name, &#ident); }
        };
        vec![bind]
    }

    /// The bindings of a `let`: new slots, bound after it.
    fn local(&mut self, local: &Local, typed: bool) -> Vec<Stmt> {
        if local.init.is_none() {
            // `let x;`: assigned later, maybe conditionally; not a slot.
            forget_bindings(self, &local.pat);
            return Vec::new();
        }
        let mut names = Vec::new();
        bindings(&local.pat, &mut names);
        let mut out = Vec::new();
        let first = self.slots.len();
        for ident in &names {
            let k = self.slots.len();
            self.slots.push(Slot { name: ident.to_string(), arg: false });
            self.names.push(self.next_name);
            self.next_name += 1;
            out.extend(self.bind_stmts(ident, k, typed));
            self.scopes.last_mut().expect("a scope").push((ident.to_string(), k));
            if typed {
                self.known.insert(ident.to_string());
            } else {
                self.known.remove(&ident.to_string());
            }
        }
        if !names.is_empty() {
            out.push(self.guard_stmt(first, names.len()));
        }
        out
    }

    /// Whether the type of `e` is certain where it is evaluated, from the
    /// syntax alone: choosing a render function for a type still being
    /// inferred could commit inference and break valid code, so anything
    /// whose type a later use may decide (a generic call, a method generic
    /// in its return type) is not certain.
    fn certain(&self, e: &Expr) -> bool {
        match e {
            Expr::Lit(_) => true,
            Expr::Path(p) => {
                if p.qself.is_some() || p.path.segments.len() > 1 {
                    return p.path.segments.iter().all(|s| s.arguments.is_none());
                }
                let Some(ident) = p.path.get_ident() else { return false };
                let name = ident.to_string();
                self.known.contains(&name) || (name.chars().all(|c| c.is_ascii_uppercase() || c == '_') && name != "_")
            }
            Expr::Unary(u) => self.certain(&u.expr),
            Expr::Binary(b) => self.certain(&b.left) && self.certain(&b.right),
            Expr::Paren(p) => self.certain(&p.expr),
            Expr::Group(g) => self.certain(&g.expr),
            Expr::Reference(r) => self.certain(&r.expr),
            Expr::Cast(c) => type_known(&c.ty),
            Expr::Field(f) => self.certain(&f.base),
            Expr::Index(i) => self.certain(&i.expr) && self.certain(&i.index),
            Expr::Tuple(t) => t.elems.iter().all(|e| self.certain(e)),
            Expr::Array(a) => !a.elems.is_empty() && a.elems.iter().all(|e| self.certain(e)),
            Expr::Range(r) => {
                r.start.as_deref().is_none_or(|e| self.certain(e)) && r.end.as_deref().is_none_or(|e| self.certain(e))
            }
            Expr::Call(c) => {
                let Expr::Path(p) = &*c.func else { return false };
                let Some(last) = p.path.segments.last() else { return false };
                let name = last.ident.to_string();
                let args_certain = c.args.iter().all(|a| self.certain(a) && !matches!(a, Expr::Closure(_)));
                // `u64::from(x)`, `String::new()`, `Instant::now()`: an
                // associated fn of a type without parameters returns a
                // type that does not depend on later uses.
                if p.qself.is_none()
                    && p.path.segments.len() == 2
                    && p.path.segments.iter().all(|s| s.arguments.is_none())
                    && CONCRETE_TYPES.contains(&p.path.segments[0].ident.to_string().as_str())
                    && !matches!(name.as_str(), "into" | "try_into" | "from_str" | "deserialize" | "default")
                {
                    return args_certain;
                }
                // A tuple struct or variant: `Some(x)`, `Point(1, 2)`
                // (not `Ok`/`Err`, whose other type is left to inference).
                p.path.segments.len() == 1
                    && last.arguments.is_none()
                    && name.starts_with(|c: char| c.is_ascii_uppercase())
                    && name != "Ok"
                    && name != "Err"
                    && !c.args.is_empty()
                    && args_certain
            }
            Expr::MethodCall(m) => {
                let name = m.method.to_string();
                m.turbofish.is_some() || FIXED_RETURN.contains(&name.as_str())
            }
            Expr::Try(t) => match &*t.expr {
                Expr::MethodCall(m) if ERROR_ADAPTERS.contains(&m.method.to_string().as_str()) => {
                    self.certain(&m.receiver)
                }
                Expr::MethodCall(m) => m.turbofish.is_some(),
                _ => false,
            },
            Expr::Macro(m) => m.mac.path.get_ident().is_some_and(|i| {
                matches!(i.to_string().as_str(), "format" | "concat" | "stringify" | "line" | "column" | "file")
            }),
            _ => false,
        }
    }

    /// A failure site: `value` is checked for an `Err` where it stands.
    fn check(&self, value: TokenStream, span: Span, ty: Option<&TokenStream>) -> Expr {
        let ms = Span::mixed_site();
        let (f, krate) = (&self.frame, &self.krate);
        let v = Ident::new("__error_tracker_v", ms);
        let line = quote_spanned!(span=> ::core::line!());
        // The return type's name, for the site's detail budget (see the
        // runtime's `budget`): decided here, where the bindings are rendered.
        let ret_name = match &self.ret {
            Some(ret) => quote_spanned!(ms=> ::core::option::Option::Some(::core::any::type_name::<#ret>())),
            None => quote_spanned!(ms=> ::core::option::Option::None),
        };
        let bind = match ty {
            Some(ty) => quote_spanned!(ms=> let #v: #ty = #value;),
            None => quote_spanned!(ms=> let #v = #value;),
        };
        syn::parse_quote_spanned! {ms=>
            {
                #bind
                if (&&#krate::__private::Wrap(&#v)).__error_tracker_err().is_some() {
                    #f.fail(#line, #ret_name);
                }
                #v
            }
        }
    }
}

/// What a statement's analysis looks at.
enum Mention<'e> {
    Expr(&'e Expr),
    Stmt(&'e Stmt),
}

/// The heads of a block-like expression: what runs before its blocks, whose
/// statements are rewritten one by one. `None` for other expressions.
fn heads(e: &Expr) -> Option<Vec<&Expr>> {
    Some(match e {
        Expr::Block(_) | Expr::Unsafe(_) | Expr::Loop(_) => Vec::new(),
        Expr::If(i) => {
            let mut out = vec![&*i.cond];
            let mut next = i.else_branch.as_ref().map(|(_, e)| &**e);
            while let Some(Expr::If(elif)) = next {
                out.push(&elif.cond);
                next = elif.else_branch.as_ref().map(|(_, e)| &**e);
            }
            out
        }
        Expr::While(w) => vec![&*w.cond],
        Expr::ForLoop(f) => vec![&*f.expr],
        Expr::Match(m) => {
            let mut out = vec![&*m.expr];
            for arm in &m.arms {
                if let Pat::Guard(g) = &arm.pat {
                    out.push(&g.guard);
                }
                if !matches!(&*arm.body, Expr::Block(_)) {
                    out.push(&arm.body);
                }
            }
            out
        }
        _ => return None,
    })
}

impl VisitMut for Rewriter {
    fn visit_block_mut(&mut self, block: &mut Block) {
        self.scopes.push(Vec::new());
        self.depth += 1;
        let body = self.depth == 1;
        let stmts = std::mem::take(&mut block.stmts);
        let last = stmts.len().saturating_sub(1);
        for (i, mut stmt) in stmts.into_iter().enumerate() {
            // A statement under `#[cfg]` may not exist in this build.
            let conditional = match &stmt {
                Stmt::Local(l) => is_conditional(&l.attrs),
                Stmt::Expr(e, _) => expr_attrs(e).is_some_and(is_conditional),
                Stmt::Macro(m) => is_conditional(&m.attrs),
                Stmt::Item(_) => false,
            };
            let used = match &stmt {
                Stmt::Item(_) => Vec::new(),
                Stmt::Expr(e, _) => match heads(e) {
                    Some(h) => self.used_stmts(h.into_iter().map(Mention::Expr)),
                    None => self.used_stmts([Mention::Stmt(&stmt)]),
                },
                _ => self.used_stmts([Mention::Stmt(&stmt)]),
            };
            block.stmts.extend(used);
            match &mut stmt {
                Stmt::Item(_) => block.stmts.push(stmt),
                Stmt::Local(local) => {
                    // Judged on the user's expression, before its `?`s are rewritten.
                    let typed = match (&local.pat, &local.init) {
                        (Pat::Type(t), _) => type_known(&t.ty),
                        (_, Some(init)) => self.certain(&init.expr),
                        _ => false,
                    };
                    if let Some(init) = &mut local.init {
                        self.visit_expr_mut(&mut init.expr);
                        if let Some((_, diverge)) = &mut init.diverge {
                            self.visit_expr_mut(diverge);
                        }
                    }
                    let bound = if self.locals && !conditional { self.local(local, typed) } else { Vec::new() };
                    if conditional || !self.locals {
                        // Its bindings, if any, hide ours of the same name.
                        forget_bindings(self, &local.pat);
                    }
                    block.stmts.push(stmt);
                    block.stmts.extend(bound);
                }
                Stmt::Expr(e, semi) => {
                    if !conditional {
                        self.visit_expr_mut(e);
                    }
                    let rebound = assigned(e)
                        .and_then(|x| self.visible(&x.to_string()).map(|k| (x.clone(), k)))
                        .filter(|(_, k)| *k != usize::MAX);
                    let tail = semi.is_none() && i == last;
                    // A macro as the tail is left in place: its expansion may
                    // be a block with inner attributes (`{ #![allow(..)] .. }`,
                    // as memchr writes), which are unstable on an expression
                    // inside a `let`. Its `Err` is recorded at the fn's line.
                    if tail
                        && body
                        && !conditional
                        && !matches!(e, Expr::Macro(_))
                        && let Some(ret) = self.ret.clone()
                    {
                        let span = e.span();
                        // The tail's own attributes (`#[allow(unreachable_code)]`,
                        // as async-trait writes) stay on the tail: on an
                        // expression inside a `let` they are unstable.
                        let attrs = take_attrs(e);
                        let value = std::mem::replace(e, Expr::Verbatim(TokenStream::new()));
                        *e = self.check(quote!(#value), span, Some(&ret));
                        if let Expr::Block(b) = e {
                            // A tail that diverges (`loop { … }`) leaves the check
                            // after it unreachable: not the user's warning.
                            b.attrs = attrs;
                            b.attrs.push(syn::parse_quote!(#[allow(unreachable_code)]));
                        }
                    }
                    if let Some((x, k)) = rebound {
                        // `x = …` as a block's tail (no `;`, of type `()`):
                        // it gets one, so that the statements after it are
                        // not read as a call on it.
                        if let Stmt::Expr(_, semi @ None) = &mut stmt {
                            *semi = Some(syn::Token![;](Span::mixed_site()));
                        }
                        block.stmts.push(stmt);
                        let typed = self.known.contains(&x.to_string());
                        block.stmts.extend(self.bind_stmts(&x, k, typed));
                    } else {
                        block.stmts.push(stmt);
                    }
                }
                Stmt::Macro(_) => block.stmts.push(stmt),
            }
        }
        self.depth -= 1;
        self.scopes.pop();
    }

    fn visit_expr_mut(&mut self, e: &mut Expr) {
        match e {
            // Closures and async blocks run at another time, on other
            // frames; const contexts cannot call the runtime.
            Expr::Closure(_) | Expr::Async(_) | Expr::Const(_) | Expr::Macro(_) => {}
            Expr::While(w) => {
                self.visit_expr_mut(&mut w.cond);
                // The condition runs again before each iteration.
                let again = self.used_stmts([Mention::Expr(&w.cond)]);
                self.scopes.push(Vec::new());
                forget_let_bindings(self, &w.cond);
                self.visit_block_mut(&mut w.body);
                self.scopes.pop();
                w.body.stmts.splice(0..0, again);
            }
            Expr::If(i) => {
                self.visit_expr_mut(&mut i.cond);
                self.scopes.push(Vec::new());
                forget_let_bindings(self, &i.cond);
                self.visit_block_mut(&mut i.then_branch);
                self.scopes.pop();
                if let Some((_, e)) = &mut i.else_branch {
                    self.visit_expr_mut(e);
                }
            }
            Expr::Try(t) => {
                self.visit_expr_mut(&mut t.expr);
                let span = t.question_token.span;
                let inner = &t.expr;
                let checked = self.check(quote!(#inner), span, None);
                *t.expr = checked;
            }
            Expr::Return(r) => {
                if let Some(value) = &mut r.expr {
                    self.visit_expr_mut(value);
                    if let Some(ret) = self.ret.clone() {
                        let span = r.return_token.span;
                        let inner = &**value;
                        let checked = self.check(quote!(#inner), span, Some(&ret));
                        **value = checked;
                    }
                }
            }
            _ => visit_mut::visit_expr_mut(self, e),
        }
    }

    fn visit_arm_mut(&mut self, arm: &mut syn::Arm) {
        if !is_conditional(&arm.attrs) {
            self.scopes.push(Vec::new());
            forget_bindings(self, &arm.pat);
            visit_mut::visit_arm_mut(self, arm);
            self.scopes.pop();
        }
    }
    fn visit_expr_for_loop_mut(&mut self, f: &mut syn::ExprForLoop) {
        self.visit_expr_mut(&mut f.expr);
        // The loop variables are typed by the iterator: certain when it is.
        let certain = self.certain(&f.expr);
        let saved = self.known.clone();
        let mut names = Vec::new();
        bindings(&f.pat, &mut names);
        for n in &names {
            if certain {
                self.known.insert(n.to_string());
            } else {
                self.known.remove(&n.to_string());
            }
        }
        self.scopes.push(Vec::new());
        forget_bindings(self, &f.pat);
        self.visit_block_mut(&mut f.body);
        self.scopes.pop();
        self.known = saved;
    }
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
    fn visit_type_mut(&mut self, _: &mut syn::Type) {}
    fn visit_generic_argument_mut(&mut self, _: &mut syn::GenericArgument) {}
    fn visit_macro_mut(&mut self, _: &mut syn::Macro) {}
}

/// A pattern binding that is not a slot (a loop variable, a `match` arm's
/// binding) hides the slotted binding of the same name in its scope.
fn forget_bindings(r: &mut Rewriter, pat: &Pat) {
    let mut names = Vec::new();
    bindings(pat, &mut names);
    let scope = r.scopes.last_mut().expect("a scope");
    for n in names {
        // An entry that maps the name to no slot.
        scope.push((n.to_string(), usize::MAX));
    }
}

/// The bindings of the `let`s of an `if let` / `while let` condition (let
/// chains included) hide slotted names in its block.
fn forget_let_bindings(r: &mut Rewriter, cond: &Expr) {
    match cond {
        Expr::Let(l) => forget_bindings(r, &l.pat),
        Expr::Binary(b) => {
            forget_let_bindings(r, &b.left);
            forget_let_bindings(r, &b.right);
        }
        Expr::Paren(p) => forget_let_bindings(r, &p.expr),
        _ => {}
    }
}

/// `x` of `x = …` and `x op= …`.
fn assigned(e: &Expr) -> Option<&Ident> {
    let lhs = match e {
        Expr::Assign(a) => &a.left,
        Expr::Binary(b) if is_compound_assign(&b.op) => &b.left,
        _ => return None,
    };
    match &**lhs {
        Expr::Path(p) if p.qself.is_none() => p.path.get_ident(),
        _ => None,
    }
}

fn is_compound_assign(op: &BinOp) -> bool {
    matches!(
        op,
        BinOp::AddAssign(_)
            | BinOp::SubAssign(_)
            | BinOp::MulAssign(_)
            | BinOp::DivAssign(_)
            | BinOp::RemAssign(_)
            | BinOp::BitXorAssign(_)
            | BinOp::BitAndAssign(_)
            | BinOp::BitOrAssign(_)
            | BinOp::ShlAssign(_)
            | BinOp::ShrAssign(_)
    )
}

fn is_comparison(op: &BinOp) -> bool {
    matches!(op, BinOp::Eq(_) | BinOp::Ne(_) | BinOp::Lt(_) | BinOp::Le(_) | BinOp::Gt(_) | BinOp::Ge(_))
}

/// How an expression uses a place it names.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Use {
    /// Only borrowed shared: `&x`, `x == y`, a formatting argument.
    Shared,
    /// Used by value: moved, or copied when it is `Copy`.
    Read,
    /// A method call's receiver: borrowed, moved or borrowed mutably, as
    /// the method takes `self`; harmless for a shared reference.
    Receiver,
    /// Maybe written or borrowed mutably: a method's receiver, `&mut x`,
    /// the left of an assignment, anything inside a closure or a macro.
    Write,
}

/// Finds the slotted bindings that an expression may move, write or borrow
/// mutably: any mention that is not a shared borrow of a place.
struct Mentions<'r> {
    rewriter: &'r Rewriter,
    /// How the expression being visited is used.
    mode: Use,
    /// The least use of any mention: `Read` inside a `move` closure or
    /// async block (it captures by value).
    floor: Use,
    out: BTreeMap<usize, Use>,
}

impl Mentions<'_> {
    fn with(&mut self, mode: Use, e: &Expr) {
        let saved = std::mem::replace(&mut self.mode, mode);
        self.visit_expr(e);
        self.mode = saved;
    }

    fn name(&mut self, name: &str, mode: Use) {
        let mode = mode.max(self.floor);
        if mode == Use::Shared {
            return;
        }
        if let Some(k) = self.rewriter.visible(name)
            && k != usize::MAX
        {
            let seen = self.out.entry(k).or_insert(mode);
            *seen = (*seen).max(mode);
        }
    }

    /// Every identifier in the tokens that names a binding (macro input we
    /// cannot read as expressions).
    fn tokens(&mut self, tokens: TokenStream) {
        for tt in tokens {
            match tt {
                TokenTree::Ident(i) => self.name(&i.to_string(), Use::Write),
                TokenTree::Group(g) => self.tokens(g.stream()),
                _ => {}
            }
        }
    }

    fn mac(&mut self, mac: &syn::Macro) {
        let name = mac.path.segments.last().map(|s| s.ident.to_string()).unwrap_or_default();
        // Formatting macros take their arguments by reference: `&x`.
        let (by_value, fmt) = match name.as_str() {
            "format" | "print" | "println" | "eprint" | "eprintln" | "format_args" | "panic" | "unreachable"
            | "todo" | "unimplemented" => (0, true),
            "write" | "writeln" | "assert" | "debug_assert" => (1, true),
            "assert_eq" | "assert_ne" | "debug_assert_eq" | "debug_assert_ne" => (0, true),
            _ => (0, false),
        };
        let args = fmt.then(|| mac.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated).ok()).flatten();
        let Some(args) = args else {
            self.tokens(mac.tokens.clone());
            return;
        };
        for (i, arg) in args.iter().enumerate() {
            // The writer of `write!` is a method's receiver; `assert!`'s
            // condition is evaluated.
            let first = if name.contains("write") { Use::Write } else { Use::Read };
            match arg {
                // `name = value`: a named formatting argument.
                Expr::Assign(a) if i >= by_value => self.with(Use::Shared, &a.right),
                _ if i >= by_value => self.with(Use::Shared, arg),
                _ => self.with(first, arg),
            }
        }
    }
}

impl<'a> Visit<'a> for Mentions<'_> {
    fn visit_expr(&mut self, e: &'a Expr) {
        let mode = self.mode;
        match e {
            Expr::Path(p) => {
                if p.qself.is_none()
                    && let Some(i) = p.path.get_ident()
                {
                    self.name(&i.to_string(), mode);
                }
            }
            Expr::Reference(r) => self.with(if r.mutability.is_none() { Use::Shared } else { Use::Write }, &r.expr),
            Expr::Field(f) => self.with(mode, &f.base),
            Expr::Index(i) => {
                // `x[i]` read is `*Index::index(&x, i)`: a shared borrow (a
                // value cannot move out of an index); written or a method's
                // receiver, it is `IndexMut`.
                self.with(if mode == Use::Read { Use::Shared } else { mode }, &i.expr);
                self.with(Use::Read, &i.index);
            }
            Expr::Paren(p) => self.with(mode, &p.expr),
            Expr::Group(g) => self.with(mode, &g.expr),
            Expr::Binary(b) if is_comparison(&b.op) => {
                self.with(Use::Shared, &b.left);
                self.with(Use::Shared, &b.right);
            }
            Expr::Binary(b) if is_compound_assign(&b.op) => {
                self.with(Use::Write, &b.left);
                self.with(Use::Read, &b.right);
            }
            Expr::Assign(a) => {
                self.with(Use::Write, &a.left);
                self.with(Use::Read, &a.right);
            }
            Expr::MethodCall(m) => {
                self.with(Use::Receiver, &m.receiver);
                for arg in &m.args {
                    self.with(Use::Read, arg);
                }
            }
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => self.with(Use::Write, &u.expr),
            Expr::Macro(m) => self.mac(&m.mac),
            // A closure or an async block captures what it names as its
            // body uses it (shared, mutably or by value), or by value with
            // `move`. Its parameters may shadow ours: conservative.
            Expr::Closure(c) => {
                let saved = self.floor;
                if c.capture.is_some() {
                    self.floor = self.floor.max(Use::Read);
                }
                self.with(Use::Read, &c.body);
                self.floor = saved;
            }
            Expr::Async(a) => {
                let saved = self.floor;
                if a.capture.is_some() {
                    self.floor = self.floor.max(Use::Read);
                }
                self.mode = Use::Read;
                for stmt in &a.block.stmts {
                    self.visit_stmt(stmt);
                }
                self.mode = mode;
                self.floor = saved;
            }
            _ => {
                self.mode = Use::Read;
                visit::visit_expr(self, e);
                self.mode = mode;
            }
        }
    }
    fn visit_stmt_macro(&mut self, m: &'a syn::StmtMacro) {
        self.mac(&m.mac);
    }
    fn visit_item(&mut self, _: &'a syn::Item) {}
}

/// Whether the attributes make their statement conditional (`#[cfg]`,
/// `#[cfg_attr]`, which may expand to a `cfg`).
pub(crate) fn is_conditional(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| a.path().is_ident("cfg") || a.path().is_ident("cfg_attr"))
}

/// The attributes of the expressions that can stand as a statement with
/// attributes on them.
fn expr_attrs(e: &Expr) -> Option<&[syn::Attribute]> {
    Some(match e {
        Expr::Block(b) => &b.attrs,
        Expr::Unsafe(b) => &b.attrs,
        Expr::If(i) => &i.attrs,
        Expr::Match(m) => &m.attrs,
        Expr::Loop(l) => &l.attrs,
        Expr::While(w) => &w.attrs,
        Expr::ForLoop(f) => &f.attrs,
        Expr::Call(c) => &c.attrs,
        Expr::MethodCall(m) => &m.attrs,
        Expr::Macro(m) => &m.attrs,
        Expr::Assign(a) => &a.attrs,
        Expr::Return(r) => &r.attrs,
        Expr::Path(p) => &p.attrs,
        _ => return None,
    })
}

/// Whether a written type names one type: no `_`, no `impl Trait`.
pub(crate) fn type_known(ty: &Type) -> bool {
    struct Finder(bool);
    impl<'a> syn::visit::Visit<'a> for Finder {
        fn visit_type_infer(&mut self, _: &'a syn::TypeInfer) {
            self.0 = false;
        }
        fn visit_type_impl_trait(&mut self, _: &'a syn::TypeImplTrait) {
            self.0 = false;
        }
        fn visit_type_macro(&mut self, _: &'a syn::TypeMacro) {
            self.0 = false;
        }
    }
    let mut f = Finder(true);
    syn::visit::Visit::visit_type(&mut f, ty);
    f.0
}

/// Takes the outer attributes off an expression.
fn take_attrs(e: &mut Expr) -> Vec<syn::Attribute> {
    match e {
        Expr::Path(x) => std::mem::take(&mut x.attrs),
        Expr::Block(x) => std::mem::take(&mut x.attrs),
        Expr::Call(x) => std::mem::take(&mut x.attrs),
        Expr::MethodCall(x) => std::mem::take(&mut x.attrs),
        Expr::Match(x) => std::mem::take(&mut x.attrs),
        Expr::If(x) => std::mem::take(&mut x.attrs),
        Expr::Macro(x) => std::mem::take(&mut x.attrs),
        Expr::Paren(x) => std::mem::take(&mut x.attrs),
        Expr::Try(x) => std::mem::take(&mut x.attrs),
        Expr::Unsafe(x) => std::mem::take(&mut x.attrs),
        _ => Vec::new(),
    }
}

/// The names a pattern binds, in order.
pub(crate) fn bindings(pat: &Pat, out: &mut Vec<Ident>) {
    match pat {
        Pat::Ident(p) => {
            let name = p.ident.to_string();
            // An upper-case name with no sub-pattern is a unit struct or a
            // constant, not a binding.
            let constant = p.subpat.is_none() && name.starts_with(|c: char| c.is_ascii_uppercase());
            if !constant {
                out.push(p.ident.clone());
            }
            if let Some((_, sub)) = &p.subpat {
                bindings(sub, out);
            }
        }
        Pat::Or(o) => {
            if let Some(first) = o.cases.first() {
                bindings(first, out);
            }
        }
        Pat::Paren(p) => bindings(&p.pat, out),
        Pat::Reference(r) => bindings(&r.pat, out),
        Pat::Slice(s) => s.elems.iter().for_each(|p| bindings(p, out)),
        Pat::Struct(s) => s.fields.iter().for_each(|f| bindings(&f.pat, out)),
        Pat::Tuple(t) => t.elems.iter().for_each(|p| bindings(p, out)),
        Pat::TupleStruct(t) => t.elems.iter().for_each(|p| bindings(p, out)),
        Pat::Type(t) => bindings(&t.pat, out),
        Pat::Guard(g) => bindings(&g.pat, out),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body after the rewrite, with one argument `arg` (slot 0).
    fn rewritten(body: &str) -> (String, Vec<String>) {
        let mut block: Block = syn::parse_str(body).expect("a block");
        let ms = Span::mixed_site();
        let mut r = Rewriter::new(
            vec![("arg".to_owned(), Some(0))],
            1,
            true,
            Some(quote!(R)),
            Ident::new("f", ms),
            quote!(::error_tracker),
        );
        r.rewrite(&mut block);
        let names = r.slots.iter().map(|s| s.name.clone()).collect();
        (quote!(#block).to_string().replace("  ", " "), names)
    }

    #[test]
    fn lets_get_slots_bound_after_them() {
        let (text, names) = rewritten("{ let a = 1; let (x, y) = (a, 2); let v = Vec::new(); }");
        assert_eq!(names, ["arg", "a", "x", "y", "v"]);
        assert!(text.contains("Wrap (& a)) . __error_tracker_bind (f , 1usize , 1usize ,"), "{text}");
        assert!(text.contains("f . bind_unknown (4usize , 4usize , & v)"), "{text}");
        assert!(text.contains("SlotGuard :: new (f , 2usize , 2usize)"), "{text}");
        assert!(text.contains("SlotGuard :: new (f , 4usize , 1usize)"), "{text}");
    }

    #[test]
    fn a_binding_named_other_than_by_shared_borrow_is_marked_used_first() {
        let (text, _) =
            rewritten("{ let a = String::new(); let n = a.len(); let r = &a; check(&a, a == *r); drop(a); }");
        // `a.len()` (a method call may take `&mut self`), then `drop(a)` (a
        // move); not `&a` nor `a == *r`.
        assert_eq!(text.matches("f . receiver (1usize)").count(), 1, "{text}");
        assert_eq!(text.matches("f . read (1usize)").count(), 1, "{text}");
    }

    #[test]
    fn formatting_macros_borrow_their_arguments() {
        let (text, _) = rewritten("{ let a = 1; println!(\"{} {a}\", a); write!(out, \"{}\", a); other!(a); }");
        assert_eq!(text.matches("f . written (1usize)").count(), 1, "only other!(a): {text}");
        assert!(!text.contains("f . read (1usize)"), "{text}");
    }

    #[test]
    fn assignment_binds_again() {
        let (text, _) = rewritten("{ let mut a = 1; a += 2; a = a * 3; }");
        assert_eq!(text.matches("Wrap (& a)) . __error_tracker_bind (f , 1usize , 1usize ,").count(), 3, "{text}");
    }

    #[test]
    fn failure_sites_check_try_return_and_tail() {
        let (text, _) = rewritten("{ let x = load(arg)?; if x > 0 { return Err(e); } Ok(x) }");
        assert_eq!(text.matches("f . fail").count(), 3, "{text}");
        assert_eq!(text.matches("__error_tracker_v : R").count(), 2, "{text}");
    }

    #[test]
    fn only_certain_types_choose_a_render_function_where_bound() {
        let (text, _) = rewritten(
            "{ let a = 1; let b = arg.len(); let c = g.random(); let d = setting(\"P\")?; let e: u16 = setting(\"P\")?; \
             let s = format!(\"{a}\"); let n = s.parse::<u8>()?; let w = Some(a); let v = Vec::new(); }",
        );
        for (k, typed) in
            [(1, true), (2, true), (3, false), (4, false), (5, true), (6, true), (7, true), (8, true), (9, false)]
        {
            let bound = format!("__error_tracker_bind (f , {k}usize");
            assert_eq!(text.contains(&bound), typed, "slot {k}: {text}");
        }
    }

    #[test]
    fn closures_items_cfg_and_uninitialized_lets_are_not_slots() {
        let (_, names) = rewritten(
            "{ let c = || { let inner = 1; inner }; fn item() { let x = 1; } let u; u = 1; \
             #[cfg(any())] let extra = 1; #[cfg(any())] { let x = 1; } \
             match arg { #[cfg(any())] 0 => { let y = 2; } _ => { let z = 3; } } }",
        );
        assert_eq!(names, ["arg", "c", "z"]);
    }

    #[test]
    fn loop_and_arm_bindings_hide_slotted_names() {
        let (text, _) =
            rewritten("{ for arg in 0..3 { take(arg); } match o { Some(arg) => { take(arg) } None => 0 }; }");
        assert!(!text.contains("(0usize)"), "{text}");
    }
}
