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
mod site;

/// Tracks a function: when it returns `Err` or panics, the stored occurrence
/// holds its arguments and its locals, masked.
///
/// ```
/// use error_tracker::track_exception;
///
/// #[derive(Debug, serde::Serialize)]
/// struct Settings { host: String, password: String }
///
/// #[track_exception]
/// fn connect(user: &str, attempt: u32, settings: &Settings) -> Result<(), std::io::Error> {
///     let timeout_ms = 100 * attempt;
///     Err(std::io::Error::other(format!("{user}@{} timed out after {timeout_ms} ms", settings.host)))
/// }
///
/// let s = Settings { host: "db".into(), password: "hunter2".into() };
/// // The same `Err` comes back; the occurrence (once `init` was called) holds
/// // user, attempt, settings (password masked) and timeout_ms.
/// assert!(connect("app", 3, &s).is_err());
/// ```
///
/// # What is recorded
/// - **`Err`:** any `Result<_, E>` where `E` is an `Error`, `AsRef<dyn Error>`
///   (`anyhow::Error`, `Box<dyn Error>`) or `Debug` (else its type name) is
///   recorded, and returned untouched. An `anyhow::Error` that captured a
///   backtrace gives it too, as where the error was created (runtime
///   feature `anyhow`). An error that goes up through several
///   tracked functions (with `?` or otherwise) is recorded **once**, with one
///   frame snapshot per tracked function, innermost first. A function that
///   does not return a `Result` is tracked for panics only.
/// - **Panics:** every tracked frame the panic unwinds through adds its
///   snapshot; unwinding goes on. No user code runs while the thread is
///   panicking: each frame catches the unwind, renders, and resumes it.
/// - **`async fn`:** the frame is entered on each poll (the future may move
///   between threads), and the future stays `Send` when the body is.
/// - **Names:** an argument or local whose name is secret for the configured
///   `Masking` (`password`, `token`,
///   ...) is stored as the mask string and never rendered.
/// - **Values:** strings, numbers and std's collections of them through
///   `Serialize` (kept structured); any other type through `Debug` where it
///   has it (secret `key: value` pairs masked), else `Serialize` (secret
///   nested keys masked), else `<TypeName>`. `Debug` comes before
///   `Serialize` because rendering never blocks: serde's `Serialize` for a
///   `Mutex` or `RwLock` takes the lock, std's `Debug` uses `try_lock` and
///   shows a lock held by this thread or another as `<locked>`.
/// - **`impl Trait` returns and `#[track_caller]`:** the body of a sync fn
///   returning `impl Trait`, or marked `#[track_caller]` (in either order),
///   runs inline rather than in a closure, so a returned closure keeps the
///   signature the `impl Fn…` gives it and `Location::caller()` still names
///   the caller. Such a frame is tracked for panics, with its arguments
///   (not its locals); an `Err` returned by a `#[track_caller]` fn is
///   recorded by the tracked frames it goes through, without a frame of its
///   own.
/// - **An error type that borrows or is generic** (`Result<_, Full<T>>`,
///   `Result<_, Error<'a>>`): its `Error` impl may need `'static`, which
///   the macro cannot see, so it is recorded through `Debug` (message and
///   type name, no `source()` chain).
/// - **Applied twice** (as attribute macros such as rstest_reuse's
///   `#[apply]` do when they copy attributes), the fn is tracked once.
///   Bindings under a `#[cfg]` are not snapshotted (they may not exist in
///   the build).
///
/// # Which values, and when
/// Values are read **where the frame fails**: at the `?`, `return` or tail
/// that gives an `Err` (the stored frame's line is that line), or while a
/// panic unwinds through the frame. So a local shows its value at the
/// failure, not at its `let`.
/// - Arguments of shared-reference type (`&T`, `&str`, `&self`) are always
///   shown: their referents outlive the call.
/// - Any other argument, and each `let` binding of the body, is read if
///   nothing since its binding could have moved it, changed it or borrowed
///   it mutably. The macro decides that from the syntax, conservatively: a
///   statement that names the binding other than by a shared borrow (`&x`,
///   `&x.field`, `x[i]`, a comparison, a formatting macro's argument) marks
///   it used, and `x = …;` binds it again. A binding used so, or bound after
///   one that was (it may borrow from it), is stored as
///   `<moved or borrowed: Type>`. A by-value use of a plain value or of a
///   shared reference copies it and does not count, nor does a method call
///   on a shared reference.
/// - Plain values (integers, floats, `bool`, `char`, types marked
///   `error_tracker::Plain`) are always shown: their last bound or assigned
///   value, even once used or out of scope.
/// - A binding whose type is not certain where it is bound (`let v =
///   Vec::new();` typed by a later `push`, `let p = setting("PORT")?;` with
///   a generic `setting`) is shown by its type name: choosing how to render
///   it there could commit type inference and break valid code. Annotate the
///   type (`let p: u16 = setting("PORT")?;`) to get its value.
/// - Bindings inside closures, async blocks and nested items are not this
///   frame's; bindings under `#[cfg]` are not tracked.
///
/// # What it costs when nothing fails
/// Nothing is rendered and nothing is allocated: entering and leaving a
/// frame is two thread-local accesses, and each tracked binding costs a few
/// stores where it is bound (its address, the function that renders its
/// type, and for a plain value a copy of its bytes), the same whatever the
/// value's size; a statement that uses a binding, and the end of a
/// binding's scope, add a pass over the frame's slots (today some tens of
/// nanoseconds for a small fn; see BENCHMARKS.md). In a loop, that is per
/// iteration. `skip(..)`, `skip_all` and `locals = false` turn it off where
/// it matters.
///
/// # Options
/// - `skip(a, b)`: do not keep or render these arguments;
/// - `skip_all`: no argument at all;
/// - `locals = false`: no local;
/// - `name = "billing::charge"`: the frame's function name;
/// - `fields(user = user.id, kind = "api")`: extra values, evaluated on
///   entry, stored with the occurrence's extra values;
/// - `crate = "my_facade::tracker"`: the path of the runtime crate in the
///   generated code (default `::error_tracker`), for a renamed dependency or
///   a facade crate that re-exports it, as serde's `crate = "…"`.
///
/// ```
/// #[error_tracker::track_exception(skip(body), fields(len = body.len()), name = "upload")]
/// fn upload(path: &str, body: Vec<u8>) -> Result<usize, std::io::Error> {
///     Ok(body.len() + path.len())
/// }
/// assert_eq!(upload("/a", vec![1, 2]).unwrap(), 4);
/// ```
///
/// A `const fn` cannot be tracked (a compile error says so).
#[proc_macro_attribute]
pub fn track_exception(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_with(attr, item, |opts, item| {
        let f: syn::ItemFn = syn::parse(item)?;
        expand::track_fn(opts, f)
    })
}

/// Tracks every fn of an `impl` block, a trait impl, a trait's default
/// methods or an inline `mod` (and the `impl` blocks and modules nested in
/// it), as [`macro@track_exception`] does, with the same options. On a
/// single fn it is `#[track_exception]`. `const fn`s and fns that carry
/// their own `#[track_exception]` are left alone.
///
/// ```
/// struct Account { balance: i64 }
///
/// #[error_tracker::auto_track_exception]
/// impl Account {
///     fn withdraw(&mut self, amount: i64) -> Result<i64, String> {
///         let after = self.balance - amount;
///         if after < 0 { return Err(format!("overdrawn by {}", -after)) }
///         self.balance = after;
///         Ok(after)
///     }
/// }
/// assert!(Account { balance: 1 }.withdraw(5).is_err());
/// ```
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

/// The line of the fn whose body holds the first of the input tokens (a
/// `record_exception!` caller's), as a `u32` literal; `0` when it cannot be
/// told. Not a public API: `record_exception!` calls it.
#[doc(hidden)]
#[proc_macro]
pub fn __enclosing_fn_line(input: TokenStream) -> TokenStream {
    let line = input.into_iter().next().and_then(|token| site::enclosing_fn_line(token.span())).unwrap_or(0);
    proc_macro::TokenTree::Literal(proc_macro::Literal::u32_suffixed(line)).into()
}
