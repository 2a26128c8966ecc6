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

/// Action bodies (small forms) are refused beyond this, as in the tower adapter.
const MAX_BODY: usize = 64 * 1024;

/// The request in, the UI's response out. The client is admitted (host,
/// credentials, origin) before its body is read.
async fn handle(req: HttpRequest, payload: web::Payload, ui: web::Data<ErrorTrackerUi>) -> HttpResponse {
    let mut request = UiRequest::new(req.method().as_str(), &req.uri().to_string());
    for (name, value) in req.headers() {
        request = request.with_header(name.as_str(), &String::from_utf8_lossy(value.as_bytes()));
    }
    if let Some(peer) = req.peer_addr() {
        request = request.with_peer(peer);
    }
    let ui = ui.into_inner();
    if let Err(refusal) = ui.admit(&request) {
        return into_actix(ui.finish(refusal));
    }
    if request.method.eq_ignore_ascii_case("POST") {
        request.body = match payload.to_bytes_limited(MAX_BODY).await {
            Ok(Ok(body)) => body.to_vec(),
            Ok(Err(_)) => {
                return into_actix(ui.refuse(&request.path, 400, "400 Bad Request: the body could not be read"));
            }
            Err(_) => return into_actix(ui.refuse(&request.path, 413, "413 Payload Too Large")),
        };
    }
    let (ui2, path) = (ui.clone(), request.path.clone());
    let response = match web::block(move || ui2.respond(&request)).await {
        Ok(r) => r,
        Err(_) => ui.refuse(&path, 500, "500 Internal error: the handler failed"),
    };
    into_actix(response)
}

fn into_actix(response: crate::UiResponse) -> HttpResponse {
    let mut out = HttpResponse::build(StatusCode::from_u16(response.status).unwrap_or(StatusCode::OK));
    for (name, value) in response.headers {
        out.insert_header((name, value));
    }
    out.body(response.body)
}
