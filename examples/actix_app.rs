//! An actix-web 4 app with error-tracker (the seed's Django app): routes
//! that succeed, fail with a 500 through `?` or a `ResponseError`, panic, or
//! give a 404, and the UI as a `Scope` at `/dev/error` (for clients on this
//! machine).
//!
//! ```sh
//! APP_ADDR=127.0.0.1:8080 cargo run --example actix_app --features actix
//! curl -X POST localhost:8080/login -H 'content-type: application/json' \
//!      -d '{"user":"alice","profile":{"security":{"password":"hunter2"}}}'
//! # then open http://127.0.0.1:8080/dev/error/
//! ```
//!
//! `APP_ADDR` (or the first argument) is the listen address; `APP_RUN_SECONDS`
//! stops the server after that many seconds; a `POST /shutdown` from
//! loopback stops it at once. The `APP_ERROR_*` settings are read from the
//! environment.

use std::sync::Mutex;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, ResponseError, web};
use error_tracker::integrations::actix::ErrorTrackerMiddleware;
use error_tracker::track_exception;
use error_tracker_ui::{ErrorTrackerUi, LocalhostOnly};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::Value;

/// A handler error: a 500 that says nothing of the cause. The cause was
/// recorded where it happened, with that function's values.
#[derive(Debug)]
pub struct AppError(Box<dyn std::error::Error>);

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<E: std::error::Error + 'static> From<E> for AppError {
    fn from(e: E) -> Self {
        AppError(Box::new(e))
    }
}

impl ResponseError for AppError {
    fn error_response(&self) -> HttpResponse {
        HttpResponse::InternalServerError().body("500 Internal Server Error\n")
    }
}

/// An error nothing records but the middleware: its `ResponseError` gives a 503.
#[derive(Debug)]
struct Maintenance;

impl std::fmt::Display for Maintenance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the service is down for maintenance")
    }
}

impl ResponseError for Maintenance {
    fn status_code(&self) -> StatusCode {
        StatusCode::SERVICE_UNAVAILABLE
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

async fn user(id: web::Path<String>) -> Result<web::Json<User>, AppError> {
    // Stands for a database call: what is recorded after it still carries
    // this request's context.
    actix_web::rt::time::sleep(Duration::from_millis(1)).await;
    let id = parse_user_id(&id)?;
    Ok(web::Json(User { id, name: format!("user {id}") }))
}

async fn fail() -> Result<String, AppError> {
    Ok(read_settings("/no/such/settings.toml")?)
}

async fn login(body: web::Json<Value>) -> Result<web::Json<User>, AppError> {
    let user = body.get("user").and_then(Value::as_str).unwrap_or("");
    let password = body.pointer("/profile/security/password").and_then(Value::as_str).unwrap_or("");
    Ok(web::Json(check_login(user, password)?))
}

async fn maintenance() -> Result<String, Maintenance> {
    Err(Maintenance)
}

async fn boom() -> &'static str {
    panic!("the boom route always panics");
}

async fn unauthorized() -> HttpResponse {
    HttpResponse::Unauthorized().finish()
}

/// Counts the bytes of a body as they stream in, without buffering it.
async fn upload(mut body: web::Payload) -> Result<String, actix_web::Error> {
    let mut total = 0usize;
    while let Some(chunk) = body.next().await {
        total += chunk?.len();
    }
    Ok(format!("{total}\n"))
}

async fn shutdown(req: HttpRequest, handle: web::Data<Mutex<Option<ServerHandle>>>) -> HttpResponse {
    if !req.peer_addr().is_some_and(|p| p.ip().is_loopback()) {
        return HttpResponse::Forbidden().finish();
    }
    if let Some(h) = handle.lock().unwrap_or_else(|e| e.into_inner()).take() {
        // Stopping waits for this very request: do it on its own task.
        actix_web::rt::spawn(async move { h.stop(true).await });
    }
    HttpResponse::Accepted().finish()
}

/// The app's routes and the UI scope at the configured prefix.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index))
        .route("/users/{id}", web::get().to(user))
        .route("/fail", web::get().to(fail))
        .route("/login", web::post().to(login))
        .route("/maintenance", web::get().to(maintenance))
        .route("/panic", web::get().to(boom))
        .route("/private", web::get().to(unauthorized))
        .route("/upload", web::post().to(upload))
        .route("/shutdown", web::post().to(shutdown));
    if let Some(ui_app) = ErrorTrackerUi::from_tracker() {
        cfg.service(error_tracker_ui::actix::scope(ui_app.permission(LocalhostOnly)));
    }
}

/// Serves the app on `listener` until `POST /shutdown` (from loopback) or
/// until `run_for` passes. Runs inside an actix system.
pub async fn serve(listener: std::net::TcpListener, run_for: Option<Duration>) -> std::io::Result<()> {
    let handle = web::Data::new(Mutex::new(None::<ServerHandle>));
    let data = handle.clone();
    let server = HttpServer::new(move || {
        App::new().wrap(ErrorTrackerMiddleware::new()).app_data(data.clone()).configure(routes)
    })
    .workers(2)
    .disable_signals()
    .listen(listener)?
    .run();
    *handle.lock().unwrap_or_else(|e| e.into_inner()) = Some(server.handle());
    if let Some(d) = run_for {
        let h = server.handle();
        actix_web::rt::spawn(async move {
            actix_web::rt::time::sleep(d).await;
            h.stop(true).await;
        });
    }
    server.await
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = error_tracker::Config::from_env()?;
    let db = config.get_database().clone();
    let prefix = config.get_url_prefix().to_owned();
    let _guard = error_tracker::init(config)?;
    let addr = std::env::args().nth(1).or_else(|| std::env::var("APP_ADDR").ok());
    let addr = addr.unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let run_for = match std::env::var("APP_RUN_SECONDS") {
        Ok(s) => {
            Some(Duration::from_secs_f64(s.parse().map_err(|_| format!("APP_RUN_SECONDS={s:?} is not a number"))?))
        }
        Err(_) => None,
    };
    let listener = std::net::TcpListener::bind(&addr)?;
    let local = listener.local_addr()?;
    println!("listening on http://{local}");
    println!("errors are stored in {db:?}; the UI is at http://{local}{prefix}/");
    actix_web::rt::System::new().block_on(serve(listener, run_for))?;
    println!("stopped");
    Ok(())
}
