//! An axum app with error-tracker (the seed's Flask app): routes that
//! succeed, fail with a 500 through `?`, panic, or give a 404, and the UI at
//! `/dev/error` (for clients on this machine).
//!
//! ```sh
//! APP_ADDR=127.0.0.1:3000 cargo run --example axum_app --features axum,tracing
//! curl -X POST localhost:3000/login -H 'content-type: application/json' \
//!      -d '{"user":"alice","profile":{"security":{"password":"hunter2"}}}'
//! # then open http://127.0.0.1:3000/dev/error/
//! ```
//!
//! `APP_ADDR` (or the first argument) is the listen address; `APP_RUN_SECONDS`
//! stops the server after that many seconds; a `POST /shutdown` from
//! loopback stops it at once. The `APP_ERROR_*` settings are read from the
//! environment (the database is `errors.sqlite` unless `APP_ERROR_DB` says otherwise).
//!
//! The app logs through `tracing`, each request in a `request{method path}`
//! span. With the `tracing` feature, `main` installs error-tracker's layer
//! (next to a `fmt` layer that prints the warnings): each occurrence then
//! shows what its request logged before it (breadcrumbs) and the spans it
//! was in, such as `request{method=GET path=/users/abc} → parse_user_id{raw=abc}`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use error_tracker::integrations::axum::{ErrorTrackerLayer, nest_ui};
use error_tracker::track_exception;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Notify;
use tracing::Instrument;

/// A handler error: answered with a 500 that says nothing of the cause.
/// The cause was recorded where it happened, with that function's values.
#[derive(Debug)]
pub struct AppError(Box<dyn std::error::Error + Send + Sync>);

impl<E: Into<Box<dyn std::error::Error + Send + Sync>>> From<E> for AppError {
    fn from(e: E) -> Self {
        AppError(e.into())
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, "500 Internal Server Error\n").into_response()
    }
}

#[derive(Serialize)]
struct User {
    id: u64,
    name: String,
}

/// Login failed.
#[derive(Debug)]
struct LoginError {
    user: String,
}

impl std::fmt::Display for LoginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no account accepts these credentials for {:?}", self.user)
    }
}

impl std::error::Error for LoginError {}

// Tracked functions: when one returns `Err`, the error is recorded with the
// function's arguments and locals (masked by name: `password` is never
// stored) and the request's context; `?` then carries it up to a 500.
#[track_exception]
fn check_login(user: &str, password: &str) -> Result<User, LoginError> {
    let known = !password.is_empty() && user == "nobody";
    if known { Ok(User { id: 0, name: user.to_owned() }) } else { Err(LoginError { user: user.to_owned() }) }
}

#[track_exception]
fn parse_user_id(id: &str) -> Result<u64, std::num::ParseIntError> {
    id.parse::<u64>()
}

#[track_exception]
fn read_settings(path: &str) -> Result<String, std::io::Error> {
    std::fs::read_to_string(path)
}

async fn index() -> &'static str {
    "ok\n"
}

async fn user(Path(id): Path<String>) -> Result<Json<User>, AppError> {
    // Stands for a database call: the task may resume on another worker
    // thread, and what it records still carries this request's context.
    tokio::task::yield_now().await;
    tracing::info!(%id, "loading the user");
    let id = tracing::info_span!("parse_user_id", raw = %id).in_scope(|| parse_user_id(&id))?;
    Ok(Json(User { id, name: format!("user {id}") }))
}

async fn fail() -> Result<String, AppError> {
    tracing::info!(path = "/no/such/settings.toml", "reading the settings");
    Ok(read_settings("/no/such/settings.toml")?)
}

async fn login(Json(body): Json<Value>) -> Result<Json<User>, AppError> {
    let user = body.get("user").and_then(Value::as_str).unwrap_or("");
    let password = body.pointer("/profile/security/password").and_then(Value::as_str).unwrap_or("");
    // `password` is a secret name: the breadcrumb keeps the mask, not the value.
    tracing::info!(user, password, "login attempt");
    Ok(Json(check_login(user, password)?))
}

async fn maintenance() -> (StatusCode, &'static str) {
    tracing::warn!("maintenance mode: refusing the request");
    (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance\n")
}

async fn boom() -> &'static str {
    panic!("the boom route always panics");
}

async fn unauthorized() -> StatusCode {
    StatusCode::UNAUTHORIZED
}

/// Counts the bytes of a body as they stream in, without buffering it.
async fn upload(body: Body) -> Result<String, AppError> {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        total += frame?.data_ref().map_or(0, |d| d.len());
    }
    Ok(format!("{total}\n"))
}

async fn shutdown(State(stop): State<Arc<Notify>>, ConnectInfo(peer): ConnectInfo<SocketAddr>) -> StatusCode {
    if !peer.ip().is_loopback() {
        return StatusCode::FORBIDDEN;
    }
    stop.notify_one();
    StatusCode::ACCEPTED
}

/// Serves each request inside a `request` span, so that what it logs, and
/// the errors it records, say which request they belong to.
async fn request_span(req: Request<Body>, next: Next) -> Response {
    let span = tracing::info_span!("request", method = %req.method(), path = %req.uri().path());
    next.run(req).instrument(span).await
}

/// The UI's `LocalhostOnly` permission reads the client address from this extension.
async fn peer_for_ui(ConnectInfo(peer): ConnectInfo<SocketAddr>, mut req: Request<Body>) -> Request<Body> {
    req.extensions_mut().insert(error_tracker_ui::PeerAddr(peer));
    req
}

/// The app's routes, tracked, and the UI at the configured prefix.
pub fn app(stop: Arc<Notify>) -> Router {
    let routes = Router::new()
        .route("/", get(index))
        .route("/users/{id}", get(user))
        .route("/fail", get(fail))
        .route("/login", post(login))
        .route("/maintenance", get(maintenance))
        .route("/panic", get(boom))
        .route("/private", get(unauthorized))
        .route("/upload", post(upload))
        .route("/shutdown", post(shutdown))
        .with_state(stop)
        // Inside the tracker's layer: the request's breadcrumbs are its own.
        .layer(axum::middleware::from_fn(request_span))
        .layer(ErrorTrackerLayer::new());
    match error_tracker_ui::ErrorTrackerUi::from_tracker() {
        Some(ui) => nest_ui(routes, ui.permission(error_tracker_ui::LocalhostOnly).service())
            .layer(axum::middleware::map_request(peer_for_ui)),
        None => routes,
    }
}

/// Serves [`app`] until `POST /shutdown` (from loopback) or until `run_for` passes.
pub async fn serve(listener: tokio::net::TcpListener, run_for: Option<Duration>) -> std::io::Result<()> {
    let stop = Arc::new(Notify::new());
    let app = app(stop.clone());
    let stopped = async move {
        match run_for {
            Some(d) => {
                let _ = tokio::time::timeout(d, stop.notified()).await;
            }
            None => stop.notified().await,
        }
    };
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(stopped).await
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = error_tracker::Config::from_env()?;
    let db = config.get_database().clone();
    let prefix = config.get_url_prefix().to_owned();
    let _guard = error_tracker::init(config)?;
    #[cfg(feature = "tracing")]
    {
        use tracing_subscriber::prelude::*;
        let print = tracing_subscriber::fmt::layer().with_filter(tracing_subscriber::filter::LevelFilter::WARN);
        tracing_subscriber::registry().with(error_tracker::integrations::tracing::layer()).with(print).init();
    }
    let addr = std::env::args().nth(1).or_else(|| std::env::var("APP_ADDR").ok());
    let addr = addr.unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let run_for = match std::env::var("APP_RUN_SECONDS") {
        Ok(s) => {
            Some(Duration::from_secs_f64(s.parse().map_err(|_| format!("APP_RUN_SECONDS={s:?} is not a number"))?))
        }
        Err(_) => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        let local = listener.local_addr()?;
        println!("listening on http://{local}");
        println!("errors are stored in {db:?}; the UI is at http://{local}{prefix}/");
        serve(listener, run_for).await
    })?;
    println!("stopped");
    Ok(())
}
