//! Permissions, CSRF, read-only GETs and the XSS corpus, over real HTTP.

mod support;

use error_tracker::{Status, StoreQuery};
use error_tracker_ui::{AllowAll, BasicAuth, BearerToken, ErrorTrackerUi, LocalhostOnly};
use support::{CORPUS, Server, TestStore, csrf_token, grouped, hostile_groups, occurrence};

fn one_group() -> TestStore {
    let store = TestStore::new();
    store.write(&[grouped("g1", occurrence("shop::DbError", "insert failed", 5))]);
    store
}

const PATHS: [&str; 5] = [
    "/dev/error/",
    "/dev/error/group/g1",
    "/dev/error/static/style.css",
    "/dev/error/api/groups",
    "/dev/error/api/groups/g1/occurrences",
];

#[test]
fn denied_by_default() {
    let store = one_group();
    let server = Server::start(ErrorTrackerUi::new(store.store.clone()));
    for path in PATHS {
        let res = server.get(path);
        assert_eq!(res.status, 403, "{path}");
        assert!(!res.body.contains("insert failed"));
        assert_eq!(res.header("x-frame-options"), Some("DENY"));
    }
    let post = server.post_form("/dev/error/group/g1/delete", "csrf_token=x");
    assert_eq!(post.status, 403);
    assert!(store.store.group("g1").unwrap().is_some());
}

#[test]
fn basic_auth_asks_for_credentials_and_accepts_the_right_ones() {
    let store = one_group();
    let server = Server::start(ErrorTrackerUi::new(store.store.clone()).permission(BasicAuth::new("admin", "s3cret")));
    for path in PATHS {
        let res = server.get(path);
        assert_eq!(res.status, 401, "{path}");
        assert!(res.header("www-authenticate").unwrap().starts_with("Basic realm="));
        // admin:wrong
        assert_eq!(server.get_with(path, &[("authorization", "Basic YWRtaW46d3Jvbmc=")]).status, 401);
        // admin:s3cret
        let ok = server.get_with(path, &[("authorization", "Basic YWRtaW46czNjcmV0")]);
        assert_eq!(ok.status, 200, "{path}");
    }
}

#[test]
fn bearer_token_for_the_api() {
    let store = one_group();
    let server = Server::start(ErrorTrackerUi::new(store.store.clone()).permission(BearerToken::new("t0k3n")));
    let res = server.get("/dev/error/api/groups");
    assert_eq!(res.status, 401);
    assert_eq!(server.get_with("/dev/error/api/groups", &[("authorization", "Bearer wrong")]).status, 401);
    let ok = server.get_with("/dev/error/api/groups", &[("authorization", "Bearer t0k3n")]);
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["total"], 1);
}

#[test]
fn localhost_only_serves_loopback_clients() {
    let store = one_group();
    let server = Server::start(ErrorTrackerUi::new(store.store.clone()).permission(LocalhostOnly));
    // The test client connects from 127.0.0.1.
    assert_eq!(server.get("/dev/error/").status, 200);
}

fn allow_all(store: &TestStore) -> Server {
    Server::start(ErrorTrackerUi::new(store.store.clone()).permission(AllowAll))
}

#[test]
fn actions_need_the_csrf_token() {
    let store = one_group();
    let server = allow_all(&store);
    let page = server.get("/dev/error/group/g1");
    let token = csrf_token(&page.body);
    assert_eq!(token.len(), 64);

    for (action, form) in [
        ("delete", String::new()),
        ("delete", "csrf_token=".to_owned()),
        ("delete", "csrf_token=0000".to_owned()),
        ("resolve", format!("csrf_token={}", &token[..63])),
        ("resolve", format!("token={token}")),
    ] {
        let res = server.post_form(&format!("/dev/error/group/g1/{action}"), &form);
        assert_eq!(res.status, 403, "{action} with {form:?}");
        assert!(res.text().contains("CSRF token is missing or wrong"));
    }
    // A cross-site form post carrying a stolen token is refused too.
    let cross = support::request(
        server.addr,
        "POST",
        "/dev/error/group/g1/delete",
        &[("content-type", "application/x-www-form-urlencoded"), ("sec-fetch-site", "cross-site")],
        format!("csrf_token={token}").as_bytes(),
    );
    assert_eq!(cross.status, 403);
    let g = store.store.group("g1").unwrap().expect("not deleted");
    assert_eq!(g.summary.status, Status::Unresolved);

    // With the token: each action does what it says.
    for (action, status) in [("resolve", Status::Resolved), ("ignore", Status::Ignored), ("reopen", Status::Unresolved)]
    {
        let res =
            server.post_form(&format!("/dev/error/group/g1/{action}"), &format!("csrf_token={token}&action={action}"));
        assert_eq!(res.status, 303, "{action}");
        assert_eq!(res.header("location"), Some("/dev/error/group/g1"));
        assert_eq!(store.store.group("g1").unwrap().unwrap().summary.status, status, "{action}");
    }
    assert_eq!(server.post_form("/dev/error/group/nope/resolve", &format!("csrf_token={token}")).status, 404);
    assert_eq!(server.post_form("/dev/error/group/g1/explode", &format!("csrf_token={token}")).status, 404);
    let res = server.post_form("/dev/error/group/g1/delete", &format!("csrf_token={token}"));
    assert_eq!((res.status, res.header("location")), (303, Some("/dev/error/")));
    assert!(store.store.group("g1").unwrap().is_none());
    assert_eq!(server.get("/dev/error/group/g1").status, 404);
}

#[test]
fn get_never_changes_anything() {
    let store = TestStore::new();
    store.write(
        &(0..15).map(|i| grouped(&format!("h{i}"), occurrence("shop::E", &format!("m{i}"), i))).collect::<Vec<_>>(),
    );
    let server = allow_all(&store);
    let token = csrf_token(&server.get("/dev/error/group/h1").body);
    let snapshot = || {
        serde_json::to_string(
            &store
                .store
                .list_groups(&error_tracker::GroupQuery {
                    page: error_tracker::PageRequest::first(100),
                    ..Default::default()
                })
                .unwrap(),
        )
        .unwrap()
    };
    let before = snapshot();
    for path in [
        "/dev/error/",
        "/dev/error/?page=2&status=resolved&q=m1",
        "/dev/error/group/h1",
        "/dev/error/group/h1?page=2",
        "/dev/error/group/h1/delete",
        &format!("/dev/error/group/h1/delete?csrf_token={token}"),
        &format!("/dev/error/group/h1/resolve?csrf_token={token}"),
        "/dev/error/api/groups",
        "/dev/error/api/groups/h1",
        "/dev/error/api/groups/h1/occurrences",
    ] {
        for method in ["GET", "HEAD"] {
            let res = support::request(server.addr, method, path, &[], b"");
            assert!(res.status == 200 || res.status == 405, "{method} {path}: {}", res.status);
        }
    }
    // The other methods are refused, not treated as actions.
    for method in ["PUT", "DELETE", "PATCH"] {
        let res = support::request(
            server.addr,
            method,
            "/dev/error/group/h1/delete",
            &[],
            format!("csrf_token={token}").as_bytes(),
        );
        assert_eq!(res.status, 405, "{method}");
    }
    assert_eq!(snapshot(), before);
}

/// No tag, attribute or URL from the corpus survives unescaped.
fn assert_inert(path: &str, body: &str) {
    let lower = body.to_ascii_lowercase();
    for bad in
        ["<script", "<img", "<svg onload", "<a href=\"javascript", "onerror=\"", "onerror='", "href=\"javascript"]
    {
        assert!(!lower.contains(bad), "{path} contains {bad:?}");
    }
}

#[test]
fn the_xss_corpus_is_rendered_as_text() {
    let store = TestStore::new();
    store.write(&hostile_groups());
    let server = allow_all(&store);
    let list = server.get("/dev/error/?q=shop");
    assert_eq!(list.status, 200);
    assert_inert("list", &list.body);
    assert!(list.text().contains("shop::Error<script>window.__xss=1</script>"), "the payload is shown as text");
    for (i, payload) in CORPUS.iter().enumerate() {
        let path = format!("/dev/error/group/xss{i}");
        let res = server.get(&path);
        assert_eq!(res.status, 200, "{path}");
        assert_inert(&path, &res.body);
        let text = res.text();
        for field in ["message", "source", "x-header", "header-value", "value", "function", "bt", "body", "extra"] {
            assert!(text.contains(&format!("{field}{}", payload)), "{path}: {field} not shown");
        }
        // Structured values are shown as JSON, with JSON's own escapes.
        let item = serde_json::to_string(&format!("item{}", payload)).unwrap();
        assert!(text.contains(&item), "{path}: nested item not shown");
        // Searches reflect the query into the page: that is hostile too.
        let search = server.get(&format!("/dev/error/?q={}", urlencode(payload)));
        assert_inert("search", &search.body);
        let api = server.get(&format!("/dev/error/api/groups/xss{i}"));
        assert_eq!(api.header("content-type"), Some("application/json"));
        assert_eq!(api.json()["message"], format!("message{}", payload));
    }
    // The hostile hash is percent-encoded in links and still reachable.
    let encoded = urlencode(CORPUS[1]);
    assert!(list.text().contains(&format!("/dev/error/group/{encoded}")));
    let res = server.get(&format!("/dev/error/group/{encoded}"));
    assert_eq!(res.status, 200);
    assert_inert("hostile hash", &res.body);
    assert!(res.text().contains("shop::HostileHash"));
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The security headers that every answer carries, refusals included.
fn assert_security_headers(what: &str, res: &support::Response) {
    assert_eq!(res.header("x-frame-options"), Some("DENY"), "{what}");
    assert_eq!(res.header("x-content-type-options"), Some("nosniff"), "{what}");
    assert!(res.header("content-security-policy").is_some_and(|c| c.contains("default-src 'none'")), "{what}");
    assert_eq!(res.header("cache-control"), Some("no-store"), "{what}");
}

#[test]
fn a_loopback_ui_answers_loopback_host_names_only() {
    let store = one_group();
    let server = Server::start(ErrorTrackerUi::new(store.store.clone()).permission(LocalhostOnly));
    let port = server.addr.port().to_string();
    for host in ["localhost".to_owned(), format!("localhost:{port}"), format!("127.0.0.1:{port}"), "[::1]:1".into()] {
        let res = server.get_with("/dev/error/", &[("host", &host)]);
        assert_eq!(res.status, 200, "{host}");
    }
    // A page on attacker.example whose name now resolves to 127.0.0.1: the
    // client is local, the host is not. Nothing is shown, nothing changes.
    let rebound = [("host", "attacker.example"), ("origin", "http://attacker.example")];
    let page = server.get_with("/dev/error/group/g1", &rebound);
    assert_eq!(page.status, 421);
    assert!(!page.body.contains("insert failed") && !page.body.contains("csrf_token"));
    assert_security_headers("421 page", &page);
    let api = server.get_with("/dev/error/api/groups", &rebound);
    assert_eq!(api.status, 421);
    assert_eq!(api.header("content-type"), Some("application/json"));
    assert!(api.json()["error"].as_str().unwrap().contains("Misdirected"));
    let token = csrf_token(&server.get("/dev/error/group/g1").body);
    let mut headers = rebound.to_vec();
    headers.push(("content-type", "application/x-www-form-urlencoded"));
    let form = format!("csrf_token={token}");
    let post = support::request(server.addr, "POST", "/dev/error/group/g1/delete", &headers, form.as_bytes());
    assert_eq!(post.status, 421);
    assert!(store.store.group("g1").unwrap().is_some(), "not deleted");
    for host in ["127.0.0.1.nip.io", "localhost.attacker.example", "10.0.0.1"] {
        assert_eq!(server.get_with("/dev/error/", &[("host", host)]).status, 421, "{host}");
    }

    // A configured host is answered too; others still are not.
    let server = Server::start(
        ErrorTrackerUi::new(store.store.clone()).permission(LocalhostOnly).allowed_host("errors.internal"),
    );
    assert_eq!(server.get_with("/dev/error/", &[("host", "errors.internal:8080")]).status, 200);
    assert_eq!(server.get_with("/dev/error/", &[("host", "localhost")]).status, 200);
    assert_eq!(server.get_with("/dev/error/", &[("host", "attacker.example")]).status, 421);
}

#[test]
fn a_post_from_another_origin_is_refused() {
    let store = one_group();
    let server = allow_all(&store);
    let token = csrf_token(&server.get("/dev/error/group/g1").body);
    let form = format!("csrf_token={token}");
    let own = format!("http://{}", server.addr);
    let post = |origin: &str| {
        support::request(
            server.addr,
            "POST",
            "/dev/error/group/g1/resolve",
            &[("content-type", "application/x-www-form-urlencoded"), ("origin", origin)],
            form.as_bytes(),
        )
    };
    for origin in ["http://attacker.example", "null", "http://127.0.0.1:1"] {
        let res = post(origin);
        assert_eq!(res.status, 403, "{origin}");
        assert_security_headers(origin, &res);
    }
    assert_eq!(store.store.group("g1").unwrap().unwrap().summary.status, Status::Unresolved);
    assert_eq!(post(&own).status, 303);
    assert_eq!(store.store.group("g1").unwrap().unwrap().summary.status, Status::Resolved);
}

#[test]
fn credentials_are_checked_before_the_body_and_every_refusal_has_the_headers() {
    let store = one_group();
    let server = Server::start(ErrorTrackerUi::new(store.store.clone()).permission(BasicAuth::new("admin", "s3cret")));
    let big = vec![b'a'; 70 * 1024];
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let anonymous = support::request(server.addr, "POST", "/dev/error/group/g1/delete", &form, &big);
    assert_eq!(anonymous.status, 401, "authentication comes before the body");
    assert_security_headers("401", &anonymous);
    let authed = [form[0], ("authorization", "Basic YWRtaW46czNjcmV0")];
    let too_big = support::request(server.addr, "POST", "/dev/error/group/g1/delete", &authed, &big);
    assert_eq!(too_big.status, 413);
    assert_security_headers("413", &too_big);
    let api_too_big = support::request(server.addr, "POST", "/dev/error/api/groups", &authed, &big);
    assert_eq!(api_too_big.status, 413);
    assert_eq!(api_too_big.json()["error"], "413 Payload Too Large");
    let long = "x".repeat(20 * 1024);
    let head = server.get_with("/dev/error/", &[("x-long", &long)]);
    assert_eq!(head.status, 431);
    assert_security_headers("431", &head);
    assert!(store.store.group("g1").unwrap().is_some());
}

#[test]
fn every_api_answer_is_json() {
    let store = one_group();
    let basic = Server::start(ErrorTrackerUi::new(store.store.clone()).permission(BasicAuth::new("admin", "s3cret")));
    let denied = Server::start(ErrorTrackerUi::new(store.store.clone()));
    let local = Server::start(ErrorTrackerUi::new(store.store.clone()).permission(LocalhostOnly));
    for (what, res, status) in [
        ("401", basic.get("/dev/error/api/groups"), 401),
        ("403", denied.get("/dev/error/api/groups/g1"), 403),
        ("421", local.get_with("/dev/error/api/groups", &[("host", "attacker.example")]), 421),
        ("404", local.get("/dev/error/api/nothing"), 404),
        ("405", support::request(local.addr, "POST", "/dev/error/api/groups", &[], b""), 405),
        ("400", local.get("/dev/error/api/groups?q=%00"), 400),
    ] {
        assert_eq!(res.status, status, "{what}");
        assert_eq!(res.header("content-type"), Some("application/json"), "{what}");
        assert!(res.json()["error"].is_string(), "{what}");
        assert_security_headers(what, &res);
    }
    assert!(basic.get("/dev/error/api/groups").header("www-authenticate").is_some());
}

#[test]
fn a_search_with_control_characters_is_refused_not_widened() {
    let store = TestStore::new();
    store.write(&[
        grouped("g1", occurrence("shop::DbError", "insert failed", 5)),
        grouped("g2", occurrence("shop::Timeout", "upstream slow", 6)),
    ]);
    let server = allow_all(&store);
    for q in ["%00", "a%00", "%01", "%1F", "%7F", "%0A"] {
        let page = server.get(&format!("/dev/error/?q={q}"));
        assert_eq!(page.status, 400, "{q}");
        assert!(!page.body.contains("shop::DbError"), "{q}");
        assert!(page.text().contains("control characters"), "{q}");
        assert_eq!(server.get(&format!("/dev/error/api/groups?q={q}")).status, 400, "{q}");
    }
    assert_eq!(server.get("/dev/error/api/groups?q=insert").json()["total"], 1);
}

#[test]
fn the_csrf_token_is_bound_to_the_credentials() {
    use error_tracker_ui::AnyOf;
    let store = one_group();
    let ui = ErrorTrackerUi::new(store.store.clone()).permission(
        AnyOf::new()
            .or(BasicAuth::new("admin", "s3cret"))
            .or(BearerToken::new("reader"))
            .or(BearerToken::new("writer").allow_changes(true)),
    );
    let server = Server::start(ui);
    let admin = ("authorization", "Basic YWRtaW46czNjcmV0");
    let reader = ("authorization", "Bearer reader");
    let writer = ("authorization", "Bearer writer");
    let token_of = |who: (&str, &str)| csrf_token(&server.get_with("/dev/error/group/g1", &[who]).body);
    let (admin_token, reader_token, writer_token) = (token_of(admin), token_of(reader), token_of(writer));
    assert_eq!(admin_token.len(), 64);
    assert_ne!(admin_token, reader_token);
    assert_ne!(admin_token, writer_token);
    assert_eq!(admin_token, token_of(admin), "stable for one identity");
    let post = |who: (&str, &str), token: &str, action: &str| {
        support::request(
            server.addr,
            "POST",
            &format!("/dev/error/group/g1/{action}"),
            &[("content-type", "application/x-www-form-urlencoded"), who],
            format!("csrf_token={token}").as_bytes(),
        )
    };
    // Someone else's token does not fit.
    assert_eq!(post(admin, &writer_token, "delete").status, 403);
    assert_eq!(post(writer, &admin_token, "delete").status, 403);
    // A read-only token reads (its own CSRF token included) but changes nothing.
    let refused = post(reader, &reader_token, "delete");
    assert_eq!(refused.status, 403);
    assert!(refused.text().contains("may read the error tracker but not change it"));
    assert!(store.store.group("g1").unwrap().is_some());
    assert_eq!(post(writer, &writer_token, "resolve").status, 303);
    assert_eq!(post(admin, &admin_token, "delete").status, 303);
    assert!(store.store.group("g1").unwrap().is_none());
}

#[test]
fn empty_credentials_grant_nothing() {
    let store = one_group();
    let server = Server::start(ErrorTrackerUi::new(store.store.clone()).permission(BasicAuth::new("admin", "")));
    // "admin:" and ":" in base64
    assert_eq!(server.get_with("/dev/error/", &[("authorization", "Basic YWRtaW46")]).status, 401);
    let server = Server::start(ErrorTrackerUi::new(store.store.clone()).permission(BasicAuth::new("", "")));
    assert_eq!(server.get_with("/dev/error/", &[("authorization", "Basic Og==")]).status, 401);
}

#[test]
fn the_binary_refuses_empty_credentials() {
    let bin = env!("CARGO_BIN_EXE_error-tracker-ui");
    let store = one_group();
    let db = store.store.path().to_str().unwrap().to_owned();
    for (listen, user, password) in
        [("0.0.0.0:0", "admin", ""), ("127.0.0.1:0", "admin", ""), ("0.0.0.0:0", "", "pw"), ("127.0.0.1:0", " ", "pw")]
    {
        let out = std::process::Command::new(bin)
            .args(["--db", &db, "--listen", listen, "--user", user, "--password", password])
            .env_remove("ERROR_TRACKER_UI_TOKEN")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{listen} {user:?} {password:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("refusing an empty user name or password"), "{err}");
    }
}

/// Every POST that changes something: the bulk form and the delete
/// confirmation are no exception to the token, the Origin and the
/// read-only credentials.
#[test]
fn the_bulk_form_and_the_delete_confirmation_need_the_token_and_write_access() {
    use error_tracker_ui::AnyOf;
    let store = one_group();
    let ui = ErrorTrackerUi::new(store.store.clone())
        .permission(AnyOf::new().or(BearerToken::new("reader")).or(BearerToken::new("writer").allow_changes(true)));
    let server = Server::start(ui);
    let reader = ("authorization", "Bearer reader");
    let writer = ("authorization", "Bearer writer");
    let form = ("content-type", "application/x-www-form-urlencoded");
    let writer_token = csrf_token(&server.get_with("/dev/error/", &[writer]).body);
    let reader_token = csrf_token(&server.get_with("/dev/error/group/g1/delete", &[reader]).body);
    let post = |who: (&str, &str), path: &str, body: String, extra: &[(&str, &str)]| {
        let mut headers = vec![form, who];
        headers.extend_from_slice(extra);
        support::request(server.addr, "POST", path, &headers, body.as_bytes())
    };
    let bulk = |token: &str| format!("csrf_token={token}&action=ignore&hash=g1");
    assert_eq!(post(writer, "/dev/error/bulk", bulk(""), &[]).status, 403, "no token");
    assert_eq!(post(writer, "/dev/error/bulk", bulk(&reader_token), &[]).status, 403, "another's token");
    assert_eq!(post(reader, "/dev/error/bulk", bulk(&reader_token), &[]).status, 403, "read-only");
    let foreign = [("origin", "https://evil.example")];
    assert_eq!(post(writer, "/dev/error/bulk", bulk(&writer_token), &foreign).status, 403, "another site");
    let cross = [("sec-fetch-site", "cross-site")];
    assert_eq!(post(writer, "/dev/error/bulk", bulk(&writer_token), &cross).status, 403, "cross-site");
    assert_eq!(store.store.group("g1").unwrap().unwrap().summary.status, Status::Unresolved);
    assert_eq!(post(writer, "/dev/error/bulk", bulk(&writer_token), &[]).status, 303);
    assert_eq!(store.store.group("g1").unwrap().unwrap().summary.status, Status::Ignored);

    // The confirmation page only shows a form: a read-only client sees it, and its post is refused.
    assert_eq!(server.get_with("/dev/error/group/g1/delete", &[reader]).status, 200);
    let refused = post(reader, "/dev/error/group/g1/delete", format!("csrf_token={reader_token}"), &[]);
    assert_eq!(refused.status, 403);
    assert!(store.store.group("g1").unwrap().is_some());
}
