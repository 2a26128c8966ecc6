//! Routing and the handlers: the pages, the actions and the JSON API.
//!
//! | method | path (under the prefix)              | what                               |
//! |--------|--------------------------------------|------------------------------------|
//! | GET    | `/`                                  | list page (`page`, `status`, `q`, `host`, `release`, `sort`) |
//! | GET    | `/group/{hash}`                      | detail page (`page` of history)    |
//! | GET    | `/group/{hash}/occurrence/{id}`      | one stored occurrence, prev/next   |
//! | GET    | `/group/{hash}/delete`               | the confirmation page of a delete  |
//! | POST   | `/group/{hash}/{action}`             | resolve, ignore, reopen, delete    |
//! | POST   | `/bulk`                              | resolve, ignore, reopen the groups ticked on a list page |
//! | GET    | `/static/style.css`                  | the stylesheet                     |
//! | GET    | `/api/groups`                        | JSON list (as the list page, and `per_page`) |
//! | GET    | `/api/groups/{hash}`                 | JSON group with hourly counts      |
//! | GET    | `/api/groups/{hash}/occurrences`     | JSON occurrences (`page`, `per_page`) |
//! | GET    | `/api/groups/{hash}/occurrences/{id}`| JSON occurrence with its neighbours |
//! | GET    | `/api/groups/{hash}/facets`          | JSON variable facets               |

use std::time::Duration;

use serde::Serialize;

use error_tracker::{GroupQuery, GroupSort, Page, PageRequest, Status, StoreError, Timestamp};

use crate::ErrorTrackerUi;
use crate::charts::{hourly_bars, sparkline};
use crate::facets::facets;
use crate::permission::constant_time_eq;
use crate::request::{UiRequest, UiResponse, form_pairs, percent_decode, percent_encode};
use crate::templates::STYLE_CSS;
use crate::views::{GroupRow, HistoryRow, OccurrenceView, TimeView, pager};

/// Why a handler failed: a 500.
#[derive(Debug)]
enum Failure {
    Store(StoreError),
    Template(minijinja::Error),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

impl From<minijinja::Error> for Failure {
    fn from(e: minijinja::Error) -> Self {
        Failure::Template(e)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Store(e) => write!(f, "{e}"),
            Failure::Template(e) => write!(f, "template error: {e:#}"),
        }
    }
}

type Handled = Result<UiResponse, Failure>;

/// The sparklines cover this long.
const SPARKLINE_SPAN: Duration = Duration::from_secs(24 * 3600);
/// The detail page's chart covers this long.
const CHART_SPAN: Duration = Duration::from_secs(7 * 24 * 3600);
/// Facets are computed over at most this many of a group's stored
/// occurrences, the newest (the store keeps `occurrences_per_group`, 100 by
/// default).
pub(crate) const FACET_OCCURRENCES: u32 = 500;
/// The most groups one bulk change may name (the largest list page).
const MAX_BULK: usize = 500;
/// The most items an API page may hold.
const API_MAX_PER_PAGE: u32 = 100;

/// `?page=` as a page number; anything else (missing, 0, not a number) is page 1.
fn page_number(req: &UiRequest) -> u32 {
    req.query_param("page").and_then(|p| p.trim().parse::<u32>().ok()).filter(|&p| p > 0).unwrap_or(1)
}

fn status_filter(req: &UiRequest) -> Option<Status> {
    req.query_param("status").and_then(|s| s.parse().ok())
}

fn search_text(req: &UiRequest) -> Option<String> {
    text_param(req, "q")
}

/// A text parameter, trimmed; empty is none.
fn text_param(req: &UiRequest, name: &str) -> Option<String> {
    req.query_param(name).map(|q| q.trim().to_owned()).filter(|q| !q.is_empty())
}

/// `?sort=`: an unknown order is the default.
fn sort_order(req: &UiRequest) -> GroupSort {
    req.query_param("sort").and_then(|s| s.parse().ok()).unwrap_or_default()
}

/// The list's filters and order, as a query string (without `page`), so
/// that pager links, sort links and the bulk form keep them.
fn list_query_string(q: &GroupQuery) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    if let Some(s) = q.status {
        out.append_pair("status", s.as_str());
    }
    for (name, value) in [("q", &q.search), ("host", &q.host), ("release", &q.release)] {
        if let Some(v) = value {
            out.append_pair(name, v);
        }
    }
    if q.sort != GroupSort::LastSeen {
        out.append_pair("sort", q.sort.as_str());
    }
    out.finish()
}

/// A search (or host, or release) holding a NUL or another control character is refused (400):
/// no stored text holds one that a user could type, and a NUL ends the
/// text early at the SQLite C boundary, so `q=%00` would be an empty
/// search that matches everything.
fn search_is_valid(req: &UiRequest) -> bool {
    ["q", "host", "release"].iter().all(|name| req.query_param(name).is_none_or(|q| !q.chars().any(char::is_control)))
}

impl ErrorTrackerUi {
    /// The path under the prefix. Adapters that strip the prefix (axum's
    /// nest_service) pass the rest.
    fn relative<'a>(&self, path: &'a str) -> &'a str {
        match path.strip_prefix(&*self.prefix) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
            _ => path,
        }
    }

    /// Whether `path` is under `…/api/`: its answers are JSON, refusals included.
    pub(crate) fn is_api(&self, path: &str) -> bool {
        self.relative(path).split('/').find(|s| !s.is_empty()).is_some_and(|s| percent_decode(s.as_bytes()) == "api")
    }

    pub(crate) fn route(&self, req: &UiRequest) -> UiResponse {
        let rel = self.relative(&req.path);
        let segments: Vec<String> =
            rel.split('/').filter(|s| !s.is_empty()).map(|s| percent_decode(s.as_bytes())).collect();
        let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
        let method = req.method.to_ascii_uppercase();
        let read = method == "GET" || method == "HEAD";
        let is_api = segs.first() == Some(&"api");
        if !search_is_valid(req) {
            return if is_api {
                UiResponse::json(400, &ApiError { error: "the search may not hold control characters" })
            } else {
                self.message_page(400, "Bad search", "The search may not hold control characters.")
                    .unwrap_or_else(|_| UiResponse::text(400, "400 Bad Request\n"))
            };
        }
        let result = match (segs.as_slice(), read, method.as_str()) {
            ([], true, _) => self.list_page(req),
            (["static", "style.css"], true, _) => {
                let mut r = UiResponse::new(200, "text/css; charset=utf-8", STYLE_CSS);
                r.headers.push(("cache-control", "max-age=3600".to_owned()));
                Ok(r)
            }
            (["group", hash], true, _) => self.detail_page(req, hash),
            (["group", hash, "occurrence", id], true, _) => self.occurrence_page(req, hash, id),
            (["group", hash, "delete"], true, _) => self.delete_page(req, hash),
            (["group", hash, action], false, "POST") => self.action(req, hash, action),
            (["bulk"], false, "POST") => self.bulk_action(req),
            (["api", "groups"], true, _) => self.api_groups(req),
            (["api", "groups", hash], true, _) => self.api_group(hash),
            (["api", "groups", hash, "occurrences"], true, _) => self.api_occurrences(req, hash),
            (["api", "groups", hash, "occurrences", id], true, _) => self.api_occurrence(hash, id),
            (["api", "groups", hash, "facets"], true, _) => self.api_facets(hash),
            (
                [] | ["group", _] | ["group", _, "occurrence", _] | ["api", "groups", ..] | ["static", "style.css"],
                false,
                _,
            )
            | (["group", _, _] | ["bulk"], _, _) => Ok(self.method_not_allowed(is_api)),
            _ if is_api => Ok(UiResponse::json(404, &ApiError { error: "not found" })),
            _ => self.message_page(404, "Not found", "There is nothing at this address."),
        };
        result.unwrap_or_else(|failure| {
            // The page says little (it may be seen by people who should not see store
            // internals); the operator gets the cause on stderr.
            eprintln!("error-tracker-ui: {} {}: {failure}", req.method, req.path);
            if is_api {
                UiResponse::json(500, &ApiError { error: "internal error" })
            } else {
                self.message_page(500, "Internal error", "The error tracker could not answer; see its log.")
                    .unwrap_or_else(|_| UiResponse::text(500, "500 Internal error\n"))
            }
        })
    }

    fn method_not_allowed(&self, is_api: bool) -> UiResponse {
        let mut r = if is_api {
            UiResponse::json(405, &ApiError { error: "method not allowed" })
        } else {
            UiResponse::text(405, "405 Method Not Allowed\n")
        };
        r.headers.push(("allow", "GET, HEAD, POST".to_owned()));
        r
    }

    fn render(&self, status: u16, template: &str, ctx: minijinja::Value) -> Handled {
        let html = self.templates.get_template(template)?.render(ctx)?;
        Ok(UiResponse::html(status, html))
    }

    fn message_page(&self, status: u16, title: &str, text: &str) -> Handled {
        self.render(status, "message.html", minijinja::context! { status, title, text, ..self.layout(None) })
    }

    /// What the layout of every page reads: the mount prefix, the status
    /// links (none current), and the CSRF token of the page's forms when it
    /// has any. A page's own values come before it in `context!`, and win.
    fn layout(&self, req: Option<&UiRequest>) -> minijinja::Value {
        minijinja::context! {
            prefix => &*self.prefix,
            statuses => STATUS_NAMES,
            current_status => "",
            csrf_token => req.map(|req| self.csrf_token(req)),
        }
    }

    /// [`layout`](Self::layout), and the header of a group's pages: which
    /// group, and its status.
    fn group_layout(&self, req: &UiRequest, s: &error_tracker::GroupSummary) -> minijinja::Value {
        minijinja::context! {
            hash => &s.hash,
            href_hash => percent_encode(&s.hash),
            exception_name => &s.exception_name,
            message => &s.message,
            status => s.status.as_str(),
            ..self.layout(Some(req))
        }
    }

    /// A page of groups; a page past the end gives the first page.
    fn groups_page(&self, req: &UiRequest, per_page: u32) -> Result<Page<error_tracker::GroupSummary>, StoreError> {
        let mut query = list_query(req);
        query.page = PageRequest { page: page_number(req), per_page };
        let page = self.store.list_groups(&query)?;
        if page.items.is_empty() && query.page.page > 1 {
            query.page.page = 1;
            return self.store.list_groups(&query);
        }
        Ok(page)
    }

    fn list_page(&self, req: &UiRequest) -> Handled {
        let query = list_query(req);
        let page = self.groups_page(req, self.page_size)?;
        let now = Timestamp::now();
        let since = now.saturating_sub(SPARKLINE_SPAN);
        let mut rows = Vec::with_capacity(page.items.len());
        for g in &page.items {
            let counts = self.store.hourly_counts(&g.hash, since)?;
            rows.push(GroupRow::new(g, sparkline(&counts, 96, 20), now));
        }
        let status = query.status;
        let filters = list_query_string(&query);
        let keep = if filters.is_empty() { String::new() } else { format!("&{filters}") };
        // The column headers sort; each keeps the filters but not the page.
        let sort_links: std::collections::BTreeMap<&str, String> = GroupSort::ALL
            .iter()
            .map(|&sort| {
                let href = list_query_string(&GroupQuery { sort, ..query.clone() });
                (sort.as_str(), format!("{}/?{href}", self.prefix))
            })
            .collect();
        self.render(
            200,
            "list.html",
            minijinja::context! {
                back => format!("page={}{keep}", page.page),
                rows,
                total => page.total,
                more => !page.total_is_exact,
                page => page.page,
                pages => page.pages(),
                list_pager => pager(page.page, page.pages(), !page.total_is_exact, &keep),
                current_status => status.map(Status::as_str).unwrap_or(""),
                q => query.search.clone().unwrap_or_default(),
                host => query.host.clone().unwrap_or_default(),
                release => query.release.clone().unwrap_or_default(),
                sort => query.sort.as_str(),
                sort_links,
                delivery => delivery_line(),
                ..self.layout(Some(req))
            },
        )
    }

    fn detail_page(&self, req: &UiRequest, hash: &str) -> Handled {
        let Some(group) = self.store.group(hash)? else {
            return self.group_not_found();
        };
        let now = Timestamp::now();
        let mut history =
            self.store.occurrences(hash, PageRequest { page: page_number(req), per_page: self.page_size })?;
        if history.items.is_empty() && history.page > 1 {
            history = self.store.occurrences(hash, PageRequest::first(self.page_size))?;
        }
        // The facets read the newest stored occurrences; the latest is the first of them.
        let sample = self.store.occurrences(hash, PageRequest::first(FACET_OCCURRENCES))?;
        let latest = sample.items.first().map(|o| OccurrenceView::new(o, self.source_dir(), now));
        let since = now.saturating_sub(CHART_SPAN);
        let counts = self.store.hourly_counts(hash, since)?;
        let chart = hourly_bars(&counts, since.as_secs().div_euclid(3600), 100);
        let s = &group.summary;
        self.render(
            200,
            "detail.html",
            minijinja::context! {
                count => s.count,
                first_seen => TimeView::new(s.created_on, now),
                last_seen => TimeView::new(s.last_seen, now),
                host => &s.host,
                method => &s.method,
                path => &s.path,
                notification_sent => s.notification_sent,
                ticket => &s.ticket_raised,
                traceback => &group.traceback,
                latest,
                chart,
                facets => facets(&sample.items),
                facets_of => sample.items.len(),
                history => history.items.iter().map(|o| HistoryRow::new(o, now)).collect::<Vec<_>>(),
                history_total => history.total,
                history_pager => pager(history.page, history.pages(), !history.total_is_exact, ""),
                ..self.group_layout(req, s)
            },
        )
    }

    fn group_not_found(&self) -> Handled {
        self.message_page(404, "Group not found", "No error group has this id; it may have been deleted.")
    }

    /// One stored occurrence, with links to the newer and the older one.
    fn occurrence_page(&self, req: &UiRequest, hash: &str, id: &str) -> Handled {
        let Some(group) = self.store.group(hash)? else {
            return self.group_not_found();
        };
        let Some(at) = self.store.occurrence(hash, id)? else {
            return self.message_page(
                404,
                "Occurrence not found",
                "This group holds no stored occurrence with this id: older ones are dropped as new ones come.",
            );
        };
        let now = Timestamp::now();
        let s = &group.summary;
        let href_hash = percent_encode(&s.hash);
        let link = |id: &Option<String>| {
            id.as_deref().map(|id| format!("{}/group/{href_hash}/occurrence/{}", self.prefix, percent_encode(id)))
        };
        self.render(
            200,
            "occurrence.html",
            minijinja::context! {
                position => at.position,
                total => at.total,
                newer => link(&at.newer),
                older => link(&at.older),
                o => OccurrenceView::new(&at.occurrence, self.source_dir(), now),
                ..self.group_layout(req, s)
            },
        )
    }

    /// The confirmation page of a delete: the group page links here, and
    /// only its form deletes (a POST with the CSRF token), without script.
    fn delete_page(&self, req: &UiRequest, hash: &str) -> Handled {
        let Some(group) = self.store.group(hash)? else {
            return self.group_not_found();
        };
        let s = &group.summary;
        self.render(
            200,
            "confirm.html",
            minijinja::context! {
                count => s.count,
                last_seen => TimeView::new(s.last_seen, Timestamp::now()),
                ..self.group_layout(req, s)
            },
        )
    }

    /// Why a change is refused: read-only credentials, or a missing or wrong
    /// CSRF token. `None`: go ahead.
    fn change_refused(&self, req: &UiRequest) -> Option<Handled> {
        if !self.permission.may_change(req) {
            return Some(self.message_page(
                403,
                "Request refused",
                "These credentials may read the error tracker but not change it.",
            ));
        }
        if !self.csrf_ok(req) {
            return Some(self.message_page(
                403,
                "Request refused",
                "The form's CSRF token is missing or wrong. Reload the page and try again.",
            ));
        }
        None
    }

    /// Sets the status of the groups ticked on a list page, then shows the
    /// list again with its filters (`back`, rebuilt from the known keys only,
    /// so the redirect stays on this UI).
    fn bulk_action(&self, req: &UiRequest) -> Handled {
        if let Some(refused) = self.change_refused(req) {
            return refused;
        }
        let form = form_pairs(&req.body);
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let status = match field("action") {
            Some("resolve") => Status::Resolved,
            Some("ignore") => Status::Ignored,
            Some("reopen") => Status::Unresolved,
            _ => return self.message_page(400, "Bad request", "Choose resolve, ignore or reopen."),
        };
        let hashes: Vec<&str> = form.iter().filter(|(k, _)| k == "hash").map(|(_, v)| v.as_str()).collect();
        if hashes.len() > MAX_BULK {
            return self.message_page(400, "Bad request", "Too many groups at once: change at most 500.");
        }
        for hash in hashes {
            // A group deleted meanwhile is no error: there is nothing left to change.
            self.store.set_status(hash, status)?;
        }
        let back: Vec<(String, String)> = form_pairs(field("back").unwrap_or("").as_bytes())
            .into_iter()
            .filter(|(k, _)| matches!(k.as_str(), "page" | "status" | "q" | "host" | "release" | "sort"))
            .collect();
        let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(back).finish();
        let query = if query.is_empty() { query } else { format!("?{query}") };
        Ok(UiResponse::redirect(format!("{}/{query}", self.prefix)))
    }

    fn action(&self, req: &UiRequest, hash: &str, action: &str) -> Handled {
        let status = match action {
            "resolve" => Some(Status::Resolved),
            "ignore" => Some(Status::Ignored),
            "reopen" => Some(Status::Unresolved),
            "delete" => None,
            _ => return self.message_page(404, "Not found", "There is no such action."),
        };
        if let Some(refused) = self.change_refused(req) {
            return refused;
        }
        let found = match status {
            Some(st) => self.store.set_status(hash, st)?,
            None => self.store.delete_group(hash)?,
        };
        if !found {
            return self.group_not_found();
        }
        Ok(match status {
            Some(_) => UiResponse::redirect(format!("{}/group/{}", self.prefix, percent_encode(hash))),
            None => UiResponse::redirect(format!("{}/", self.prefix)),
        })
    }

    /// The CSRF token of the client's identity: an HMAC, under the
    /// per-process key, of the credentials it authenticated with (its
    /// `Authorization` header). Another user's token, or one read with other
    /// credentials, does not fit. Without credentials (a loopback UI) every
    /// client has the same identity, and the Host and Origin checks keep
    /// other sites out.
    fn csrf_token(&self, req: &UiRequest) -> String {
        use hmac::{KeyInit, Mac};
        let mut mac = match hmac::Hmac::<sha2::Sha256>::new_from_slice(&*self.csrf_key) {
            Ok(m) => m,
            // HMAC takes keys of any length: unreachable, but no reason to panic.
            Err(_) => return String::new(),
        };
        mac.update(b"error-tracker-ui csrf v1\0");
        mac.update(req.header("authorization").unwrap_or("").trim().as_bytes());
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A change needs the token that the UI's own forms carry for this
    /// client, and must not come from another site.
    fn csrf_ok(&self, req: &UiRequest) -> bool {
        if req.header("sec-fetch-site").is_some_and(|s| s.eq_ignore_ascii_case("cross-site")) {
            return false;
        }
        let expected = self.csrf_token(req);
        !expected.is_empty()
            && form_pairs(&req.body)
                .iter()
                .find(|(k, _)| k == "csrf_token")
                .is_some_and(|(_, v)| constant_time_eq(v.as_bytes(), expected.as_bytes()))
    }

    fn api_groups(&self, req: &UiRequest) -> Handled {
        let per_page = api_per_page(req, self.page_size);
        let page = self.groups_page(req, per_page)?;
        Ok(UiResponse::json(200, &ApiPage { pages: page.pages(), page: &page }))
    }

    fn api_group(&self, hash: &str) -> Handled {
        let Some(group) = self.store.group(hash)? else {
            return Ok(UiResponse::json(404, &ApiError { error: "group not found" }));
        };
        let since = Timestamp::now().saturating_sub(SPARKLINE_SPAN);
        let counts = self.store.hourly_counts(hash, since)?;
        let first_hour = Timestamp::from_micros(since.as_secs().div_euclid(3600) * 3600 * 1_000_000);
        Ok(UiResponse::json(
            200,
            &ApiGroup { group: &group, hourly_counts: HourlyCounts { since: first_hour, counts } },
        ))
    }

    fn api_occurrence(&self, hash: &str, id: &str) -> Handled {
        match self.store.occurrence(hash, id)? {
            Some(at) => Ok(UiResponse::json(200, &at)),
            None => Ok(UiResponse::json(404, &ApiError { error: "occurrence not found" })),
        }
    }

    fn api_facets(&self, hash: &str) -> Handled {
        if self.store.group(hash)?.is_none() {
            return Ok(UiResponse::json(404, &ApiError { error: "group not found" }));
        }
        let sample = self.store.occurrences(hash, PageRequest::first(FACET_OCCURRENCES))?;
        #[derive(Serialize)]
        struct ApiFacets {
            occurrences: usize,
            facets: Vec<crate::facets::Facet>,
        }
        Ok(UiResponse::json(200, &ApiFacets { occurrences: sample.items.len(), facets: facets(&sample.items) }))
    }

    fn api_occurrences(&self, req: &UiRequest, hash: &str) -> Handled {
        if self.store.group(hash)?.is_none() {
            return Ok(UiResponse::json(404, &ApiError { error: "group not found" }));
        }
        let per_page = api_per_page(req, self.page_size);
        let mut page = self.store.occurrences(hash, PageRequest { page: page_number(req), per_page })?;
        if page.items.is_empty() && page.page > 1 {
            page = self.store.occurrences(hash, PageRequest::first(per_page))?;
        }
        Ok(UiResponse::json(200, &ApiPage { pages: page.pages(), page: &page }))
    }
}

const STATUS_NAMES: [&str; 3] = ["unresolved", "resolved", "ignored"];

/// The list's filters and order from the query string (page 1).
fn list_query(req: &UiRequest) -> GroupQuery {
    GroupQuery {
        status: status_filter(req),
        search: search_text(req),
        host: text_param(req, "host"),
        release: text_param(req, "release"),
        sort: sort_order(req),
        ..GroupQuery::default()
    }
}

fn api_per_page(req: &UiRequest, default: u32) -> u32 {
    req.query_param("per_page")
        .and_then(|p| p.parse::<u32>().ok())
        .filter(|&p| p > 0)
        .unwrap_or(default)
        .min(API_MAX_PER_PAGE)
}

#[derive(Serialize)]
struct ApiError {
    error: &'static str,
}

#[derive(Serialize)]
struct ApiPage<'a, T: Serialize> {
    #[serde(flatten)]
    page: &'a Page<T>,
    pages: u64,
}

#[derive(Serialize)]
struct ApiGroup<'a> {
    #[serde(flatten)]
    group: &'a error_tracker::Group,
    hourly_counts: HourlyCounts,
}

#[derive(Serialize)]
struct HourlyCounts {
    /// The start of the first hour.
    since: Timestamp,
    /// One count per hour, oldest first, up to the current hour.
    counts: Vec<u64>,
}

/// What the notification worker of this process did, for the list page:
/// `None` when notifications are off here (the bundled binary, or no
/// notifier configured) or nothing was sent yet.
fn delivery_line() -> Option<String> {
    let s = error_tracker::notify::status()?;
    if s.sent + s.failed + s.unconfirmed + s.dropped + s.pending == 0 {
        return None;
    }
    let mut line = format!("Notifications: {} sent", s.sent);
    if s.unconfirmed > 0 {
        // Sent, no answer in time: the peer may have them (not sent again).
        line.push_str(&format!(", {} unconfirmed", s.unconfirmed));
    }
    line.push_str(&format!(", {} failed, {} dropped, {} waiting", s.failed, s.dropped, s.pending));
    if let Some((at, error)) = &s.last_error {
        line.push_str(&format!(". Last error, {at}: {error}"));
    }
    Some(line)
}
