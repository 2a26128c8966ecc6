//! Mounting the UI in actix-web 4 (feature `actix`): [`scope`].

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, Scope, web};

use crate::{ErrorTrackerUi, UiRequest};

/// The UI as an actix-web `Scope` at its URL prefix
/// ([`ErrorTrackerUi::url_prefix`], `APP_ERROR_URL_PREFIX`, `/dev/error` by
/// default). Store reads run on actix's blocking pool, off the workers.
///
/// ```no_run
/// use actix_web::{App, HttpServer};
/// use error_tracker_ui::{ErrorTrackerUi, LocalhostOnly};
///
/// # fn run(ui: ErrorTrackerUi) -> std::io::Result<()> {
/// let ui = ui.permission(LocalhostOnly);
/// actix_web::rt::System::new().block_on(
///     HttpServer::new(move || App::new().service(error_tracker_ui::actix::scope(ui.clone())))
///         .bind("127.0.0.1:8080")?
///         .run(),
/// )
/// # }
/// ```
pub fn scope(ui: ErrorTrackerUi) -> Scope {
    let prefix = ui.url_prefix().to_owned();
    web::scope(&prefix).app_data(web::Data::new(ui)).default_service(web::to(handle))
}

/// The request in, the UI's response out.
async fn handle(req: HttpRequest, body: web::Bytes, ui: web::Data<ErrorTrackerUi>) -> HttpResponse {
    let mut request = UiRequest::new(req.method().as_str(), &req.uri().to_string()).with_body(body.to_vec());
    for (name, value) in req.headers() {
        request = request.with_header(name.as_str(), &String::from_utf8_lossy(value.as_bytes()));
    }
    if let Some(peer) = req.peer_addr() {
        request = request.with_peer(peer);
    }
    let ui = ui.into_inner();
    let Ok(response) = web::block(move || ui.handle(&request)).await else {
        return HttpResponse::InternalServerError().finish();
    };
    let mut out = HttpResponse::build(StatusCode::from_u16(response.status).unwrap_or(StatusCode::OK));
    for (name, value) in response.headers {
        out.insert_header((name, value));
    }
    out.body(response.body)
}
