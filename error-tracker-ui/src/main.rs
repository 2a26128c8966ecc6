//! `error-tracker-ui`: serves the error-tracker web UI for a database.
//!
//! ```text
//! error-tracker-ui --db errors.sqlite [--listen 127.0.0.1:8080] [--prefix /dev/error]
//!                  [--allowed-host errors.internal]... [--user U --password P] [--token-can-change]
//! error-tracker-ui --db errors.sqlite prune [--max-groups N] [--max-size-mb MB] [--max-age-days D]
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use error_tracker::{Database, SqliteStore, Store, StoreWrite};
use error_tracker_ui::{AnyOf, BasicAuth, BearerToken, ErrorTrackerUi, LocalhostOnly};

/// The environment variable holding a bearer token (kept out of the command
/// line, where other users could read it with `ps`).
const TOKEN_VAR: &str = "ERROR_TRACKER_UI_TOKEN";

/// Serves the error-tracker web UI for a database.
///
/// Without credentials it only listens on a loopback address and only
/// answers local clients naming a loopback host (localhost, 127.0.0.1,
/// [::1]) or an --allowed-host. With --user/--password (HTTP Basic) or a
/// token in ERROR_TRACKER_UI_TOKEN (Authorization: Bearer), every request
/// must carry them; the token only reads unless --token-can-change is given.
#[derive(Debug, Parser)]
#[command(name = "error-tracker-ui", version, about, long_about)]
struct Args {
    /// The database: a SQLite file, or a postgres:// URL.
    #[arg(long, env = "APP_ERROR_DB")]
    db: String,

    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,

    /// The URL prefix of the UI.
    #[arg(long, env = "APP_ERROR_URL_PREFIX", default_value = error_tracker_ui::DEFAULT_PREFIX)]
    prefix: String,

    /// Groups per list page.
    #[arg(long, env = "EXCEPTION_APP_DEFAULT_LIST_SIZE", default_value_t = 10)]
    page_size: u32,

    /// User name for HTTP Basic authentication (needs --password).
    #[arg(long, env = "ERROR_TRACKER_UI_USER", requires = "password")]
    user: Option<String>,

    /// Password for HTTP Basic authentication (better given as ERROR_TRACKER_UI_PASSWORD).
    #[arg(long, env = "ERROR_TRACKER_UI_PASSWORD", hide_env_values = true, requires = "user")]
    password: Option<String>,

    /// A host name requests may name besides the loopback ones (e.g. the
    /// name a local reverse proxy passes on); repeat for more.
    #[arg(long = "allowed-host", value_name = "HOST")]
    allowed_hosts: Vec<String>,

    /// The workspace the application was built from: the failing line of
    /// each frame is shown with the lines around it when its file is there
    /// (only `.rs` files under it are read). Default: the current directory.
    #[arg(long, env = "ERROR_TRACKER_UI_SOURCE_ROOT", value_name = "DIR", conflicts_with = "no_source")]
    source_root: Option<std::path::PathBuf>,

    /// Show no source lines at all.
    #[arg(long)]
    no_source: bool,

    /// Let the bearer token resolve, ignore, reopen and delete, not only read.
    #[arg(long)]
    token_can_change: bool,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Deletes the least recently seen groups past the limits given, as the
    /// tracker's writer does with its own (Config::retention), for a database
    /// written elsewhere or with other limits; prints what it deleted. The
    /// counts of what it deleted are added to the table `pruned`.
    Prune {
        /// Keep at most this many groups.
        #[arg(long)]
        max_groups: Option<u64>,
        /// Keep at most this many MiB of data (SQLite: the pages in use; the
        /// file does not shrink, its free pages are reused).
        #[arg(long)]
        max_size_mb: Option<u64>,
        /// Delete the groups not seen for this many days.
        #[arg(long)]
        max_age_days: Option<u64>,
    },
}

/// `prune`: the limits given, the store's prune, a line saying what it did.
fn prune(db: &str, limits: error_tracker::Retention) -> ExitCode {
    if limits == error_tracker::Retention::UNLIMITED {
        eprintln!("error-tracker-ui prune: give at least one of --max-groups, --max-size-mb, --max-age-days");
        return ExitCode::from(2);
    }
    let store = match open_store(db) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error-tracker-ui: {e}");
            return ExitCode::from(2);
        }
    };
    match store.prune(&limits) {
        Ok(p) => {
            println!("error-tracker-ui: pruned {} group(s), {} occurrence(s) in all", p.groups, p.occurrences);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error-tracker-ui prune: {e}");
            ExitCode::FAILURE
        }
    }
}

fn open_store(db: &str) -> Result<Arc<dyn Store>, String> {
    match Database::parse(db) {
        Database::Sqlite(path) => {
            if !path.exists() {
                return Err(format!(
                    "no database at {}: give the file your app records into (APP_ERROR_DB, default errors.sqlite)",
                    path.display()
                ));
            }
            let store = SqliteStore::open(&path, 100).map_err(|e| e.to_string())?;
            Ok(Arc::new(store))
        }
        Database::Postgres(_) => open_postgres(db),
    }
}

#[cfg(not(feature = "postgres"))]
fn open_postgres(_: &str) -> Result<Arc<dyn Store>, String> {
    Err("this build of error-tracker-ui cannot read PostgreSQL: build it with the `postgres` feature, \
         or use a SQLite file"
        .to_owned())
}

#[cfg(feature = "postgres")]
fn open_postgres(url: &str) -> Result<Arc<dyn Store>, String> {
    let store = error_tracker::store::PostgresStore::open(url, 100)
        .map_err(|e| format!("cannot open the PostgreSQL store: {e}"))?;
    Ok(Arc::new(store))
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(Command::Prune { max_groups, max_size_mb, max_age_days }) = args.command {
        let limits = error_tracker::Retention {
            max_groups,
            max_bytes: max_size_mb.map(|mb| mb.saturating_mul(1 << 20)),
            max_age: max_age_days.map(|d| std::time::Duration::from_secs(d.saturating_mul(86_400))),
        };
        return prune(&args.db, limits);
    }
    if args.user.as_deref().is_some_and(|u| u.trim().is_empty()) || args.password.as_deref().is_some_and(str::is_empty)
    {
        eprintln!(
            "error-tracker-ui: refusing an empty user name or password: anyone could log in with it. \
             Give a non-empty --user and --password (or ERROR_TRACKER_UI_USER and ERROR_TRACKER_UI_PASSWORD)."
        );
        return ExitCode::from(2);
    }
    let token = std::env::var(TOKEN_VAR).ok().filter(|t| !t.trim().is_empty());
    let has_credentials = args.user.is_some() || token.is_some();
    if !args.listen.ip().is_loopback() && !has_credentials {
        eprintln!(
            "error-tracker-ui: refusing to listen on {} without credentials: the UI shows production data. \
             Give --user and --password, or a token in {TOKEN_VAR}, or listen on a loopback address.",
            args.listen
        );
        return ExitCode::from(2);
    }
    let store = match open_store(&args.db) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error-tracker-ui: {e}");
            return ExitCode::from(2);
        }
    };
    let mut ui = ErrorTrackerUi::new(store).prefix(&args.prefix).page_size(args.page_size);
    if args.no_source {
        ui = ui.source_root(None::<&std::path::Path>);
    } else if let Some(root) = &args.source_root {
        if !root.is_dir() {
            eprintln!("error-tracker-ui: --source-root {}: not a directory", root.display());
            return ExitCode::from(2);
        }
        ui = ui.source_root(Some(root));
    }
    for host in &args.allowed_hosts {
        ui = ui.allowed_host(host);
    }
    ui = if has_credentials {
        let mut any = AnyOf::new();
        if let (Some(user), Some(password)) = (args.user, args.password) {
            any = any.or(BasicAuth::new(user, password));
        }
        if let Some(token) = token {
            any = any.or(BearerToken::new(token.trim()).allow_changes(args.token_can_change));
        }
        ui.permission(any)
    } else {
        ui.permission(LocalhostOnly)
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error-tracker-ui: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        let addr = listener.local_addr()?;
        println!("error-tracker-ui: serving {} at http://{addr}{}/", args.db, ui.url_prefix());
        error_tracker_ui::serve(listener, ui).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error-tracker-ui: cannot listen on {}: {e}", args.listen);
            ExitCode::FAILURE
        }
    }
}
