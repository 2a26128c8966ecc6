//! The body rewrite: after each `let`, snapshot the names it binds.
//!
//! A snapshot is taken where the binding is made, while the value is
//! certainly alive and not borrowed mutably: plain data is bit-copied, other
//! values are rendered (masked) on the spot. Nothing is read later, so a
//! value that the body moves, drops or borrows afterwards is never touched.
//!
//! Choosing plain/`Serialize`/`Debug` needs the value's type where it is
//! bound. When the type is still being inferred there (`let v = Vec::new();`
//! typed by a later `push`, `let n = s.parse()?;` typed by a later use), the
//! choice could pick a trait the final type lacks and break valid code. So
//! [`Rewriter::certain`] decides conservatively, from the syntax, whether the
//! type is already known; when it is not, the local is recorded by its type
//! name only. A type annotation (`let n: u32 = s.parse()?;`) makes it known.

use std::collections::HashSet;

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::visit_mut::{self, VisitMut};
use syn::{Block, Expr, Ident, Local, Pat, Stmt, Type};

/// Methods and functions whose return type may be decided by a later use.
const INFERRED_RETURN: &[&str] = &[
    "parse",
    "into",
    "try_into",
    "from",
    "try_from",
    "collect",
    "sum",
    "product",
    "get",
    "try_get",
    "get_unwrap",
    "json",
    "deserialize",
    "decode",
    "extract",
    "default",
    "as_ref",
    "as_mut",
    "borrow",
    "borrow_mut",
    "fetch",
    "fetch_one",
    "fetch_all",
    "fetch_optional",
    "query_as",
    "query_scalar",
    "from_str",
    "from_slice",
    "from_reader",
    "from_value",
    "with_capacity",
    "with_hasher",
    "new_in",
];

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

/// One local binding that gets a slot.
pub(crate) struct Slot {
    pub(crate) name: String,
}

pub(crate) struct Rewriter {
    /// The slots, in the order the bindings appear.
    pub(crate) slots: Vec<Slot>,
    /// Index of the first local in the site's name list.
    name_offset: usize,
    /// The names whose type is known at this point (arguments, typed locals).
    known: HashSet<String>,
    /// `__error_tracker_l`: the `&mut` to the tuple of slots.
    slots_ref: Ident,
    site: Ident,
}

impl Rewriter {
    pub(crate) fn new(
        args: impl IntoIterator<Item = String>,
        name_offset: usize,
        slots_ref: Ident,
        site: Ident,
    ) -> Self {
        let mut known: HashSet<String> = args.into_iter().collect();
        known.insert("self".to_owned());
        Rewriter { slots: Vec::new(), name_offset, known, slots_ref, site }
    }

    pub(crate) fn rewrite(&mut self, block: &mut Block) {
        self.visit_block_mut(block);
    }

    fn snap_stmt(&mut self, ident: &Ident, typed: bool) -> Stmt {
        let index = self.slots.len();
        self.slots.push(Slot { name: ident.to_string() });
        let name_index = self.name_offset + index;
        let field = syn::Index { index: index as u32, span: Span::mixed_site() };
        let l = &self.slots_ref;
        let site = &self.site;
        // The user's identifier keeps its span so that it names the binding.
        let value: TokenStream = if typed {
            quote_spanned! {Span::mixed_site()=>
                (&&&&&::error_tracker::__private::Wrap(&#ident)).__error_tracker_snap(&#site, #name_index)
            }
        } else {
            quote_spanned! {Span::mixed_site()=> ::error_tracker::__private::NameSnap::of(&#ident) }
        };
        syn::parse_quote_spanned! {Span::mixed_site()=>
            #l.#field = ::core::option::Option::Some(#value);
        }
    }

    /// Whether the type of `e` is known where it is evaluated (see the module docs).
    fn certain(&self, e: &Expr) -> bool {
        match e {
            Expr::Lit(_) | Expr::Closure(_) | Expr::Assign(_) => true,
            Expr::Path(p) => {
                if p.qself.is_some() || p.path.segments.len() > 1 {
                    return true;
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
            Expr::Repeat(r) => self.certain(&r.expr),
            Expr::Range(r) => {
                r.start.as_deref().is_none_or(|e| self.certain(e)) && r.end.as_deref().is_none_or(|e| self.certain(e))
            }
            Expr::Struct(s) => {
                s.fields.iter().all(|f| self.certain(&f.expr)) && s.rest.as_deref().is_none_or(|e| self.certain(e))
            }
            Expr::Call(c) => {
                let Expr::Path(p) = &*c.func else { return false };
                let Some(last) = p.path.segments.last() else { return false };
                let name = last.ident.to_string();
                // `u64::from(x)`, `String::new()`, `Instant::now()`: an
                // associated fn of a type without parameters returns that
                // type or a type that does not depend on later uses.
                if p.qself.is_none()
                    && p.path.segments.len() == 2
                    && p.path.segments[0].arguments.is_none()
                    && CONCRETE_TYPES.contains(&p.path.segments[0].ident.to_string().as_str())
                    && !matches!(name.as_str(), "into" | "try_into" | "from_str" | "deserialize")
                {
                    return c.args.iter().all(|a| self.certain(a) && !matches!(a, Expr::Closure(_)));
                }
                if name == "Ok" || name == "Err" || c.args.is_empty() || INFERRED_RETURN.contains(&name.as_str()) {
                    return false;
                }
                c.args.iter().all(|a| self.certain(a) && !matches!(a, Expr::Closure(_)))
            }
            Expr::MethodCall(m) => {
                let name = m.method.to_string();
                if m.turbofish.is_none() && INFERRED_RETURN.contains(&name.as_str()) {
                    return false;
                }
                self.certain(&m.receiver) && m.args.iter().all(|a| self.certain(a) && !matches!(a, Expr::Closure(_)))
            }
            Expr::Try(t) => match &*t.expr {
                Expr::MethodCall(m) if ERROR_ADAPTERS.contains(&m.method.to_string().as_str()) => {
                    self.certain(&m.receiver)
                }
                inner => self.certain(inner),
            },
            Expr::Await(a) => self.certain(&a.base),
            Expr::Macro(m) => m.mac.path.get_ident().is_some_and(|i| {
                matches!(i.to_string().as_str(), "format" | "concat" | "stringify" | "line" | "column" | "file")
            }),
            _ => false,
        }
    }

    fn local(&mut self, local: &mut Local) -> Vec<Stmt> {
        if let Some(init) = &mut local.init {
            self.visit_expr_mut(&mut init.expr);
            if let Some((_, diverge)) = &mut init.diverge {
                self.visit_expr_mut(diverge);
            }
        }
        let mut names = Vec::new();
        bindings(&local.pat, &mut names);
        let Some(init) = &local.init else {
            // `let x;`: assigned later, maybe conditionally; never read.
            for n in &names {
                self.known.remove(&n.to_string());
            }
            return Vec::new();
        };
        let typed = match &local.pat {
            Pat::Type(t) => type_known(&t.ty),
            _ => self.certain(&init.expr),
        };
        let mut out = Vec::new();
        for ident in names {
            if typed {
                self.known.insert(ident.to_string());
            } else {
                self.known.remove(&ident.to_string());
            }
            out.push(self.snap_stmt(&ident, typed));
        }
        out
    }
}

impl VisitMut for Rewriter {
    fn visit_block_mut(&mut self, block: &mut Block) {
        let saved = self.known.clone();
        let stmts = std::mem::take(&mut block.stmts);
        for mut stmt in stmts {
            match &mut stmt {
                // A statement under `#[cfg]` may not exist in this build: a
                // slot for its bindings would never be written (its type
                // never inferred), and a snapshot after it would name a
                // binding that is not there. Leave it as written.
                Stmt::Local(local) if is_conditional(&local.attrs) => block.stmts.push(stmt),
                Stmt::Expr(e, _) if expr_attrs(e).is_some_and(is_conditional) => block.stmts.push(stmt),
                Stmt::Local(local) => {
                    let extra = self.local(local);
                    block.stmts.push(stmt);
                    block.stmts.extend(extra);
                }
                // Items run at another time, macros are opaque tokens.
                Stmt::Item(_) | Stmt::Macro(_) => block.stmts.push(stmt),
                Stmt::Expr(..) => {
                    self.visit_stmt_mut(&mut stmt);
                    block.stmts.push(stmt);
                }
            }
        }
        self.known = saved;
    }

    // Closures and async blocks run at another time, on other frames: their
    // `let`s are not this frame's locals.
    fn visit_expr_closure_mut(&mut self, _: &mut syn::ExprClosure) {}
    fn visit_expr_async_mut(&mut self, _: &mut syn::ExprAsync) {}
    // Const contexts cannot call the snapshot code.
    fn visit_expr_const_mut(&mut self, _: &mut syn::ExprConst) {}
    fn visit_expr_repeat_mut(&mut self, r: &mut syn::ExprRepeat) {
        self.visit_expr_mut(&mut r.expr);
    }
    fn visit_arm_mut(&mut self, arm: &mut syn::Arm) {
        if !is_conditional(&arm.attrs) {
            visit_mut::visit_arm_mut(self, arm);
        }
    }
    fn visit_type_mut(&mut self, _: &mut Type) {}
    fn visit_generic_argument_mut(&mut self, _: &mut syn::GenericArgument) {}
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
    fn visit_macro_mut(&mut self, _: &mut syn::Macro) {}
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        visit_mut::visit_expr_mut(self, e);
    }
    // The loop variables are typed by the iterator: known when it is.
    fn visit_expr_for_loop_mut(&mut self, f: &mut syn::ExprForLoop) {
        self.visit_expr_mut(&mut f.expr);
        let known = self.certain(&f.expr);
        let saved = self.known.clone();
        let mut names = Vec::new();
        bindings(&f.pat, &mut names);
        for n in names {
            if known {
                self.known.insert(n.to_string());
            } else {
                self.known.remove(&n.to_string());
            }
        }
        self.visit_block_mut(&mut f.body);
        self.known = saved;
    }
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
        _ => {}
    }
}

/// The tuple of empty slots, `(None, None, ..)`.
pub(crate) fn empty_slots(n: usize) -> TokenStream {
    let nones = (0..n).map(|_| quote!(::core::option::Option::None));
    quote!((#(#nones,)*))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names whose snapshot dispatches on the value's type, in order.
    fn typed(body: &str) -> Vec<(String, bool)> {
        let mut block: Block = syn::parse_str(body).expect("a block");
        let ms = Span::mixed_site();
        let mut r = Rewriter::new(["arg".to_owned()], 1, Ident::new("l", ms), Ident::new("S", ms));
        r.rewrite(&mut block);
        let text = quote!(#block).to_string();
        let typed_count = text.matches("__error_tracker_snap").count();
        let untyped_count = text.matches("NameSnap").count();
        assert_eq!(typed_count + untyped_count, r.slots.len(), "{text}");
        // Read the order back from the statements: each slot statement names
        // its field index, then either dispatch or `NameSnap`.
        let mut out = Vec::new();
        for (i, s) in r.slots.iter().enumerate() {
            let marker = format!("l . {i} = ");
            let at = text.find(&marker).expect("slot statement");
            let rest = &text[at..];
            let end = rest.find(';').unwrap_or(rest.len());
            out.push((s.name.clone(), rest[..end].contains("__error_tracker_snap")));
        }
        out
    }

    fn pairs(v: &[(&str, bool)]) -> Vec<(String, bool)> {
        v.iter().map(|(n, t)| ((*n).to_owned(), *t)).collect()
    }

    #[test]
    fn known_types_dispatch_and_inferred_ones_keep_the_type_name() {
        let got = typed(
            "{ let a = 1; let b = arg + a; let c = arg.len(); let v = Vec::new(); let n: u32 = s.parse()?; \
             let p = s.parse().unwrap(); let (x, y) = (a, b); let q = p; let f = format!(\"{a}\"); \
             let r = load(arg)?; let z = r.map_err(|e| e.into())?; let w = u64::from(a); let t = Instant::now(); \
             let e = Vec::new(); }",
        );
        assert_eq!(
            got,
            pairs(&[
                ("a", true),
                ("b", true),
                ("c", true),
                ("v", false),
                ("n", true),
                ("p", false),
                ("x", true),
                ("y", true),
                ("q", false),
                ("f", true),
                ("r", true),
                ("z", true),
                ("w", true),
                ("t", true),
                ("e", false),
            ])
        );
    }

    #[test]
    fn closures_items_and_uninitialized_lets_are_not_locals() {
        let got = typed("{ let c = || { let inner = 1; inner }; fn item() { let x = 1; } let u; u = 1; let w = u; }");
        assert_eq!(got, pairs(&[("c", true), ("w", false)]));
    }

    #[test]
    fn nested_blocks_and_loops_are_rewritten() {
        let got =
            typed("{ for i in 0..3 { let sq = i * i; } if arg > 0 { let pos = arg; } loop { let k = 1; break; } }");
        assert_eq!(got, pairs(&[("sq", true), ("pos", true), ("k", true)]));
    }

    #[test]
    fn bindings_under_cfg_get_no_slot() {
        let got = typed(
            "{ #[cfg(any())] let extra = 1; #[cfg(any())] { let x = 1; } \
             match arg { #[cfg(any())] 0 => { let y = 2; } _ => { let z = 3; } } let kept = 4; }",
        );
        assert_eq!(got, pairs(&[("z", true), ("kept", true)]));
    }

    #[test]
    fn shadowing_by_an_inferred_binding_forgets_the_known_type() {
        let got = typed("{ let arg = s.parse().unwrap(); let copy = arg; }");
        assert_eq!(got, pairs(&[("arg", false), ("copy", false)]));
    }
}
