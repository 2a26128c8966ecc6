//! Permissions, CSRF, read-only GETs and the XSS corpus, over real HTTP.

mod support;

use error_tracker::{Status, Store};
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
