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
///   recorded, and returned untouched. An error that goes up through several
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
///   the caller. Such a frame is tracked for panics; an `Err` returned by a
///   `#[track_caller]` fn is recorded by the tracked frames it goes through,
///   without a frame of its own.
/// - **Applied twice** (as attribute macros such as rstest_reuse's
///   `#[apply]` do when they copy attributes), the fn is tracked once.
///   Bindings under a `#[cfg]` are not snapshotted (they may not exist in
///   the build).
///
/// # What it costs when nothing fails
/// Entering and leaving a frame is two thread-local accesses and no
/// allocation. What is kept until a failure depends on the value:
/// - arguments of shared-reference type (`&T`, `&str`, `&self`) are kept as
///   references and rendered only on failure;
/// - plain data (integers, floats, `bool`, `char`, types marked
///   `error_tracker::Plain`) is bit-copied where it is
///   bound and rendered only on failure;
/// - **any other owned value is rendered where it is bound** (on entry for
///   an argument, at its `let` for a local; in a loop, at every iteration):
///   the body may move, drop or mutate it later, and it is never read after
///   that. This allocates. `skip(..)`, `skip_all` and `locals = false` turn
///   it off where it matters; marking a small `Copy` type `Plain` makes it
///   free. `&mut T` arguments count as owned (rendered on entry).
///
/// A local is recorded as it was where it was bound, not as it was at the
/// failure: mutation after the `let` is not seen. A local whose type is not
/// known yet at its `let` (`let v = Vec::new();` typed by a later `push`,
/// `let n = s.parse()?;` typed by a later use) is recorded by its type name
/// only, because choosing how to render it there could break valid code;
/// annotate the type (`let n: u32 = s.parse()?;`) to get its value.
/// Bindings inside closures, async blocks and nested items are not this
/// frame's locals.
///
/// # Options
/// - `skip(a, b)`: do not keep or render these arguments;
/// - `skip_all`: no argument at all;
/// - `locals = false`: no local;
/// - `name = "billing::charge"`: the frame's function name;
/// - `fields(user = user.id, kind = "api")`: extra values, evaluated on
///   entry, stored with the occurrence's extra values.
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
