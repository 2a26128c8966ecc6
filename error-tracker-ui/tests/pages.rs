//! The pages and the JSON API over real HTTP, against a real server on loopback.

mod support;

use error_tracker::Status;
use error_tracker_ui::{AllowAll, ErrorTrackerUi};
use support::{Server, TestStore, grouped, occurrence, with_panic};

fn seeded(n: usize) -> (TestStore, Server) {
    let store = TestStore::new();
    let batch: Vec<_> = (0..n)
        .map(|i| {
            grouped(
                &format!("hash{i:03}"),
                occurrence(&format!("shop::Error{i:03}"), &format!("failure number {i}"), 60 * i as u64 + 5),
            )
        })
        .collect();
    store.write(&batch);
    let ui = ErrorTrackerUi::new(store.store.clone()).permission(AllowAll).page_size(10);
    let server = Server::start(ui);
    (store, server)
}

#[test]
fn list_page_shows_groups_newest_first_with_pages_and_total() {
    let (_store, server) = seeded(25);
    let res = server.get("/dev/error/");
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
    let body = &res.text();
    assert!(body.contains("25 groups, page 1 of 3"), "{body}");
    // Newest last_seen first: Error000 is 5 s old, Error009 ten minutes.
    let first = body.find("shop::Error000").unwrap();
    assert!(first < body.find("shop::Error009").unwrap());
    assert!(!body.contains("shop::Error010"));
    for column in ["Exception", "Message", "Request", "Host", "Count", "First seen", "Last seen", "Status"] {
        // Count and the times are links that sort by them; the current order is marked.
        assert!(
            body.contains(&format!("<th>{column}</th>"))
                || body.contains(&format!(">{column}<"))
                || body.contains(&format!(">{column} ▾<")),
            "{column}"
        );
    }
    assert!(body.contains("<span class=\"method\">POST</span> /orders/17"));
    assert!(body.contains("web-1"));
    assert!(body.contains("<svg class=\"spark\""), "a sparkline per group");
    assert!(body.contains("href=\"/dev/error/group/hash000\""));
    assert!(body.contains("href=\"?page=3\""), "a link to the last page");

    let page3 = server.get("/dev/error/?page=3");
    assert!(page3.text().contains("shop::Error024") && !page3.body.contains("shop::Error000"));
}

#[test]
fn bad_page_numbers_give_the_first_page() {
    let (_store, server) = seeded(15);
    for page in ["abc", "0", "-1", "99999", "", "1.5", "%FF", "4294967296"] {
        let res = server.get(&format!("/dev/error/?page={page}"));
        assert_eq!(res.status, 200, "page={page}");
        assert!(res.body.contains("page 1 of 2") && res.body.contains("shop::Error000"), "page={page}");
        let detail = server.get(&format!("/dev/error/group/hash001?page={page}"));
        assert_eq!(detail.status, 200, "detail page={page}");
        let api = server.get(&format!("/dev/error/api/groups?page={page}"));
        assert_eq!(api.json()["page"], 1, "api page={page}");
    }
}

#[test]
fn filter_by_status_and_search() {
    let (store, server) = seeded(12);
    use error_tracker::StoreQuery;
    store.store.set_status("hash003", Status::Resolved).unwrap();
    store.store.set_status("hash004", Status::Ignored).unwrap();
    let resolved = server.get("/dev/error/?status=resolved");
    assert!(resolved.body.contains("1 group") && resolved.body.contains("shop::Error003"));
    assert!(!resolved.body.contains("shop::Error000"));
    // The page's own status wins over the layout's "none": its link is marked.
    assert!(resolved.body.contains(r#"?status=resolved" class="on""#), "{}", resolved.body);
    assert!(!resolved.body.contains(r#"/dev/error/" class="on""#));
    let search = server.get("/dev/error/?q=number+11");
    assert!(search.text().contains("1 group") && search.text().contains("shop::Error011"), "{}", search.body);
    let by_name = server.get("/dev/error/?q=Error00");
    assert!(by_name.body.contains("10 groups"));
    let by_path = server.get("/dev/error/?q=%2Forders%2F17&status=unresolved");
    assert!(by_path.body.contains("10 groups"), "12 minus the resolved and the ignored");
    // The filter is kept on the pager links.
    let nothing = server.get("/dev/error/?q=no+such+thing");
    assert!(nothing.body.contains("No errors match this filter"));
}

#[test]
fn detail_page_shows_everything_stored() {
    let store = TestStore::new();
    let mut batch = Vec::new();
    for i in 0..13 {
        batch.push(grouped("g1", occurrence("shop::DbError", &format!("insert failed #{i}"), 3600 * i + 10)));
    }
    batch.push(grouped("g2", with_panic(occurrence("panic", "index out of bounds", 1), "index out of bounds")));
    store.write(&batch);
    let server = Server::start(ErrorTrackerUi::new(store.store.clone()).permission(AllowAll));

    let res = server.get("/dev/error/group/g1");
    assert_eq!(res.status, 200);
    let b = &res.text();
    for expected in [
        "shop::DbError",
        "insert failed #0",   // the latest message
        "connection refused", // the source chain
        "os error 111",
        "https://shop.example/orders/17?verbose=1", // the request URL
        "route /orders/{id}",
        "user-agent", // headers
        "curl/8.0",
        "verbose",               // query
        "\"quantity\": 2",       // body, as pretty JSON
        "shop::orders::load",    // tracked frame
        "order_id",              // argument
        "\"total_cents\": 1999", // local
        "class=\"in-app\"",      // in-app frame highlighted
        "<details><summary>1 library frame</summary>",
        "<details><summary>2 library frames</summary>",
        "attempt",                 // extra
        "13 stored, newest first", // history
        "worker-3",
        "1.2.3",
        "<svg class=\"chart\"", // hourly chart
        "13 in the last 7 days",
        "value=\"resolve\"",
        "value=\"ignore\"",
        "href=\"/dev/error/group/g1/delete\"", // delete goes through a confirmation page
        "Stored traceback text",
    ] {
        assert!(b.contains(expected), "missing {expected:?}");
    }
    assert!(!b.contains("value=\"reopen\""), "an unresolved group is not reopened");
    assert_eq!(b.matches("<rect ").count(), 13, "one bar per non-empty hour");
    // History pages: 13 occurrences, 10 a page.
    assert!(b.contains("href=\"?page=2\""));
    let page2 = server.get("/dev/error/group/g1?page=2");
    assert!(
        page2.text().contains("insert failed #12") && page2.text().contains("insert failed #0"),
        "latest still shown"
    );

    let panic = server.get("/dev/error/group/g2");
    let p = panic.text();
    assert!(p.contains("Panicked at <code>src/main.rs:1:1</code>"), "{p}");
    // Once at the top, and in the history row and the stored traceback: not
    // repeated as the latest occurrence's message and the panic's.
    assert_eq!(p.matches("index out of bounds").count(), 3, "{p}");
}

/// The event id of each history row, newest first, as the page links them.
fn history_links(html: &str, hash: &str) -> Vec<String> {
    let marker = format!("href=\"/dev/error/group/{hash}/occurrence/");
    let table = &html[html.find("<table class=\"history\"").expect("a history table")..];
    table.match_indices(&marker).map(|(i, _)| table[i + marker.len()..].split('"').next().unwrap().to_owned()).collect()
}

#[test]
fn every_stored_occurrence_has_a_page_with_newer_and_older() {
    let store = TestStore::new();
    // Written oldest first: #0 is the newest.
    let batch: Vec<_> = (0..3)
        .rev()
        .map(|i| {
            let mut o = occurrence("shop::DbError", &format!("insert failed #{i}"), 60 * (i + 1));
            o.host = format!("web-{i}");
            o.extra = vec![error_tracker::Variable {
                name: "attempt".into(),
                value: serde_json::from_str(&i.to_string()).unwrap(),
            }];
            grouped("g1", o)
        })
        .collect();
    store.write(&batch);
    let server = Server::start(ErrorTrackerUi::new(store.store.clone()).permission(AllowAll));
    let group = server.get("/dev/error/group/g1").text();
    let ids = history_links(&group, "g1");
    assert_eq!(ids.len(), 3, "each history row links its occurrence");

    // The newest: no newer one, the next older one linked.
    let newest = server.get(&format!("/dev/error/group/g1/occurrence/{}", ids[0]));
    assert_eq!(newest.status, 200);
    let n = newest.text();
    assert!(n.contains("Occurrence 1 of 3 stored"), "{n}");
    assert!(n.contains("insert failed #0") && n.contains("web-0"));
    assert!(n.contains(&format!("rel=\"next\" href=\"/dev/error/group/g1/occurrence/{}\"", ids[1])));
    assert!(!n.contains("rel=\"prev\""), "nothing newer");
    // Everything of the occurrence: frames with their variables, request, extras, chain, backtrace.
    for expected in [
        "shop::orders::load",
        "order_id",
        "total_cents",
        "curl/8.0",
        "attempt",
        "os error 111",
        "worker-3",
        "1.2.3",
        "class=\"in-app\"",
    ] {
        assert!(n.contains(expected), "missing {expected:?}");
    }

    let middle = server.get(&format!("/dev/error/group/g1/occurrence/{}", ids[1])).text();
    assert!(
        middle.contains("Occurrence 2 of 3 stored") && middle.contains("insert failed #1") && middle.contains("web-1")
    );
    assert!(middle.contains(&format!("rel=\"prev\" href=\"/dev/error/group/g1/occurrence/{}\"", ids[0])));
    assert!(middle.contains(&format!("rel=\"next\" href=\"/dev/error/group/g1/occurrence/{}\"", ids[2])));

    let oldest = server.get(&format!("/dev/error/group/g1/occurrence/{}", ids[2])).text();
    assert!(oldest.contains("Occurrence 3 of 3 stored") && !oldest.contains("rel=\"next\""));

    // Unknown, of another group, or a hostile id: a 404 page, and JSON under the API.
    assert_eq!(server.get("/dev/error/group/g1/occurrence/nope").status, 404);
    assert_eq!(server.get(&format!("/dev/error/group/g2/occurrence/{}", ids[0])).status, 404);
    assert_eq!(server.get("/dev/error/group/g1/occurrence/%27%20OR%201%3D1").status, 404);
    let api = server.get(&format!("/dev/error/api/groups/g1/occurrences/{}", ids[1]));
    assert_eq!(api.status, 200);
    let j = api.json();
    assert_eq!((j["position"].as_u64(), j["total"].as_u64()), (Some(2), Some(3)));
    assert_eq!(j["newer"], ids[0].as_str());
    assert_eq!(j["occurrence"]["host"], "web-1");
    assert_eq!(server.get("/dev/error/api/groups/g1/occurrences/nope").json()["error"], "occurrence not found");
}

#[test]
fn facets_show_which_inputs_fail() {
    let store = TestStore::new();
    let v = |name: &str, json: &str| error_tracker::Variable {
        name: name.into(),
        value: serde_json::from_str(json).unwrap(),
    };
    let batch: Vec<_> = (0..4)
        .map(|i| {
            let mut o = occurrence("shop::PayError", "card declined", 60 * (i + 1));
            // The same order in every failure, a different attempt each time, two hosts.
            o.frames[0].args = vec![v("order_id", "17"), v("password", "\"**************\"")];
            o.frames[0].locals = vec![v("try_no", &i.to_string())];
            o.host = if i < 3 { "web-1".into() } else { "web-2".into() };
            grouped("g1", o)
        })
        .collect();
    store.write(&batch);
    let server = Server::start(ErrorTrackerUi::new(store.store.clone()).permission(AllowAll));
    let b = server.get("/dev/error/group/g1").text();
    let facets = &b[b.find("<section class=\"facets\">").expect("a facets section")..];
    let facets = &facets[..facets.find("</section>").unwrap()];
    let facet = |name: &str| {
        let at = facets.find(&format!("<code>{name}</code>")).unwrap_or_else(|| panic!("no facet {name}"));
        let rest = &facets[at..];
        rest[..rest.find("</table>").unwrap()].to_owned()
    };
    let order = facet("order_id");
    assert!(order.contains("in shop::orders::load") && order.contains("1 distinct value"), "{order}");
    assert!(order.contains("same in every occurrence"), "{order}");
    assert!(order.contains("<td class=\"num\">4</td><td class=\"num\">100%</td>"), "{order}");
    let attempt = facet("try_no");
    assert!(attempt.contains("4 distinct values") && attempt.contains("different in every occurrence"), "{attempt}");
    let host = facet("host");
    assert!(host.contains("2 distinct values") && !host.contains("same in every"), "{host}");
    assert!(host.contains("<code>web-1</code></td><td class=\"num\">3</td><td class=\"num\">75%</td>"), "{host}");
    // Masked values stay masked, and are one value.
    let password = facet("password");
    assert!(password.contains("1 distinct value") && password.contains("**************"), "{password}");
    for fixed in ["release", "route", "thread"] {
        assert!(facets.contains(&format!("<code>{fixed}</code>")), "a {fixed} facet");
    }
    assert!(facets.contains("POST /orders/{id}"), "the route's value");

    let api = server.get("/dev/error/api/groups/g1/facets").json();
    assert_eq!(api["occurrences"], 4);
    let order = api["facets"].as_array().unwrap().iter().find(|f| f["name"] == "order_id").unwrap().clone();
    assert_eq!((order["distinct"].as_u64(), order["marker"].as_str()), (Some(1), Some("same")));
    assert_eq!(server.get("/dev/error/api/groups/nope/facets").status, 404);
}

#[test]
fn the_failing_line_is_shown_in_context_when_the_source_is_readable() {
    let store = TestStore::new();
    let mut o = occurrence("shop::DbError", "insert failed", 10);
    o.backtrace[1].file = Some("src/orders.rs".into());
    o.frames[0].file = Some("src/orders.rs".into());
    o.frames.push(error_tracker::FrameSnapshot {
        function: "shop::escape".into(),
        file: Some("../outside.rs".into()),
        line: Some(1),
        function_line: None,
        args: vec![],
        locals: vec![],
    });
    store.write(&[grouped("g1", o)]);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("workspace");
    std::fs::create_dir_all(root.join("src")).unwrap();
    let text: String = (1..=60).map(|i| format!("let line_{i} = {i}; // <b>{i}</b>\n")).collect();
    std::fs::write(root.join("src/orders.rs"), text).unwrap();
    std::fs::write(dir.path().join("outside.rs"), "secret\n").unwrap();
    let ui = ErrorTrackerUi::new(store.store.clone()).permission(AllowAll).source_root(Some(&root));
    let server = Server::start(ui);
    let b = server.get("/dev/error/group/g1").body;
    // The tracked frame's line 40, with three lines either side, escaped.
    assert!(b.contains("<li value=\"40\" class=\"failing\"><code>let line_40 = 40; &#x2f;&#x2f; &lt;b&gt;40&lt;&#x2f;b&gt;</code></li>"), "{b}");
    assert!(b.contains("<li value=\"37\"><code>let line_37") && b.contains("<li value=\"43\"><code>let line_43"));
    // Nothing past the three lines around 40 (the tracked frame) and 42 (the backtrace).
    assert!(!b.contains("let line_36 ") && !b.contains("let line_46 "));
    // The in-app backtrace frame's line 42.
    assert!(b.contains("<li value=\"42\" class=\"failing\">"));
    // A path out of the root is refused, and the page says so.
    assert!(b.contains("Source not shown: the file is outside the source root."));
    assert!(!b.contains("secret"));

    // Without the source where the UI runs: said, not hidden.
    let server = Server::start(
        ErrorTrackerUi::new(store.store.clone()).permission(AllowAll).source_root(Some(store.dir.path())),
    );
    let b = server.get("/dev/error/group/g1").text();
    assert!(b.contains("Source not shown: the file is not readable where the UI runs."));
    assert!(!b.contains("class=\"failing\""));
}

#[test]
fn times_are_relative_with_the_utc_time_on_hover() {
    let (_store, server) = seeded(1);
    let list = server.get("/dev/error/").text();
    assert!(list.contains("title=\"") && list.contains(" UTC\">just now</time>"), "{list}");
    let detail = server.get("/dev/error/group/hash000").text();
    assert!(detail.contains("<time datetime=\""), "{detail}");
    let (_store, server) = seeded(3);
    let list = server.get("/dev/error/").text();
    assert!(list.contains(">2 minutes ago</time>"), "{list}");
}

#[test]
fn the_pager_has_first_previous_next_and_last() {
    let (_store, server) = seeded(45);
    let p1 = server.get("/dev/error/").text();
    assert!(
        p1.contains("<a href=\"?page=2\" rel=\"next\">Next ›</a>")
            && p1.contains("<a href=\"?page=5\" rel=\"last\">Last »</a>")
    );
    assert!(p1.contains("<span class=\"gap\">« First</span>"), "no link to the page shown");
    let p3 = server.get("/dev/error/?page=3&q=shop").text();
    for link in [
        "?page=1&q=shop\" rel=\"first\"",
        "?page=2&q=shop\" rel=\"prev\"",
        "?page=4&q=shop\" rel=\"next\"",
        "?page=5&q=shop\" rel=\"last\"",
    ] {
        assert!(p3.contains(link), "{link} in {p3}");
    }
}

#[test]
fn delete_asks_for_confirmation_first() {
    let (store, server) = seeded(2);
    let detail = server.get("/dev/error/group/hash001").text();
    assert!(!detail.contains("value=\"delete\""), "no delete button on the group page");
    let confirm = server.get("/dev/error/group/hash001/delete");
    assert_eq!(confirm.status, 200);
    let c = confirm.text();
    assert!(c.contains("Delete this error group?") && c.contains("shop::Error001") && c.contains("failure number 1"));
    assert!(
        c.contains("action=\"/dev/error/group/hash001/delete\"")
            && c.contains("href=\"/dev/error/group/hash001\">Cancel")
    );
    use error_tracker::StoreQuery;
    assert!(store.store.group("hash001").unwrap().is_some(), "showing the page deletes nothing");
    let token = support::csrf_token(&c);
    let done = server.post_form("/dev/error/group/hash001/delete", &format!("csrf_token={token}"));
    assert_eq!((done.status, done.header("location")), (303, Some("/dev/error/")));
    assert!(store.store.group("hash001").unwrap().is_none());
    assert_eq!(server.get("/dev/error/group/hash001/delete").status, 404);
}

#[test]
fn the_chart_labels_its_axes() {
    let (_store, server) = seeded(1);
    let b = server.get("/dev/error/group/hash000").text();
    let chart = &b[b.find("<svg class=\"chart\"").unwrap()..];
    let chart = &chart[..chart.find("</svg>").unwrap()];
    assert!(
        chart.contains("text-anchor=\"end\">0</text>") && chart.contains("text-anchor=\"end\">1</text>"),
        "{chart}"
    );
    assert_eq!(chart.matches("<text class=\"x\"").count(), 7, "a label per day: {chart}");
}

#[test]
fn missing_group_and_unknown_paths_give_404_pages() {
    let (_store, server) = seeded(1);
    let res = server.get("/dev/error/group/nope");
    assert_eq!(res.status, 404);
    assert!(res.body.contains("Group not found") && res.body.contains("<link rel=\"stylesheet\""));
    assert_eq!(server.get("/dev/error/nowhere").status, 404);
    assert_eq!(server.get("/dev/error/api/groups/nope").status, 404);
    assert_eq!(server.get("/dev/error/api/groups/nope").json()["error"], "group not found");
    assert_eq!(server.get("/dev/error/api/nothing").json()["error"], "not found");
}

#[test]
fn security_headers_on_every_response() {
    let (_store, server) = seeded(1);
    for path in [
        "/dev/error/",
        "/dev/error/group/hash000",
        "/dev/error/group/nope",
        "/dev/error/static/style.css",
        "/dev/error/api/groups",
        "/dev/error/nowhere",
    ] {
        let res = server.get(path);
        let csp = res.header("content-security-policy").unwrap_or_else(|| panic!("{path}: no CSP"));
        assert!(
            csp.contains("default-src 'none'") && !csp.contains("unsafe-inline") && !csp.contains("script-src"),
            "{csp}"
        );
        assert_eq!(res.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(res.header("x-content-type-options"), Some("nosniff"), "{path}");
        assert_eq!(res.header("referrer-policy"), Some("same-origin"), "{path}");
    }
    let css = server.get("/dev/error/static/style.css");
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert!(css.body.contains("svg.spark"));
}

#[test]
fn json_api_lists_groups_a_group_and_its_occurrences() {
    let (_store, server) = seeded(12);
    let list = server.get("/dev/error/api/groups?per_page=5&page=2");
    assert_eq!(list.status, 200);
    assert_eq!(list.header("content-type"), Some("application/json"));
    let v = list.json();
    assert_eq!(
        (v["total"].as_u64(), v["page"].as_u64(), v["per_page"].as_u64(), v["pages"].as_u64()),
        (Some(12), Some(2), Some(5), Some(3))
    );
    assert_eq!(v["items"][0]["hash"], "hash005");
    assert_eq!(v["items"][0]["status"], "unresolved");
    let filtered = server.get("/dev/error/api/groups?q=Error011").json();
    assert_eq!(filtered["total"], 1);

    let group = server.get("/dev/error/api/groups/hash001").json();
    assert_eq!(group["exception_name"], "shop::Error001");
    assert_eq!(group["count"], 1);
    assert!(group["traceback"].as_str().unwrap().contains("order_id"));
    let counts = group["hourly_counts"]["counts"].as_array().unwrap();
    assert_eq!(counts.iter().map(|c| c.as_u64().unwrap()).sum::<u64>(), 1);
    assert!(counts.len() >= 24);

    let occ = server.get("/dev/error/api/groups/hash001/occurrences").json();
    assert_eq!(occ["total"], 1);
    let o: error_tracker::Occurrence = serde_json::from_value(occ["items"][0].clone()).unwrap();
    assert_eq!(o.message, "failure number 1");
    assert_eq!(o.request.unwrap().path, "/orders/17");
    assert_eq!(server.get("/dev/error/api/groups/nope/occurrences").status, 404);
}

#[test]
fn works_nested_in_axum() {
    let store = TestStore::new();
    store.write(&[grouped("h", occurrence("shop::AxumError", "boom", 1))]);
    let ui = ErrorTrackerUi::new(store.store.clone()).permission(AllowAll).prefix("/admin/errors");
    let app: axum::Router = axum::Router::new()
        .route("/", axum::routing::get(|| async { "the app" }))
        .nest_service("/admin/errors", ui.service());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            axum::serve(tokio::net::TcpListener::from_std(listener).unwrap(), app).await.unwrap();
        });
    });
    let list = support::request(addr, "GET", "/admin/errors/", &[], b"");
    assert_eq!(list.status, 200);
    assert!(list.text().contains("href=\"/admin/errors/group/h\""), "links keep the prefix");
    let detail = support::request(addr, "GET", "/admin/errors/group/h", &[], b"");
    assert!(detail.body.contains("shop::AxumError"));
    let token = support::csrf_token(&detail.body);
    let resolved = support::request(
        addr,
        "POST",
        "/admin/errors/group/h/resolve",
        &[("content-type", "application/x-www-form-urlencoded")],
        format!("csrf_token={token}").as_bytes(),
    );
    assert_eq!(resolved.status, 303);
    assert_eq!(resolved.header("location"), Some("/admin/errors/group/h"));
    assert_eq!(support::request(addr, "GET", "/", &[], b"").body, "the app");
}

#[test]
fn the_binary_refuses_a_public_address_without_credentials() {
    let bin = env!("CARGO_BIN_EXE_error-tracker-ui");
    let store = TestStore::new();
    let db = store.store.path().to_str().unwrap().to_owned();
    let out = std::process::Command::new(bin)
        .args(["--db", &db, "--listen", "0.0.0.0:0"])
        .env_remove("ERROR_TRACKER_UI_TOKEN")
        .env_remove("ERROR_TRACKER_UI_USER")
        .env_remove("ERROR_TRACKER_UI_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to listen on 0.0.0.0:0 without credentials"), "{err}");

    let out = std::process::Command::new(bin).args(["--db", "postgres://postgres@127.0.0.1:1/x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PostgreSQL"));

    let out = std::process::Command::new(bin).args(["--db", "/no/such/errors.sqlite"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no database at /no/such/errors.sqlite"));

    let help = std::process::Command::new(bin).arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("--listen"));
}

#[test]
fn the_binary_serves_with_basic_auth() {
    use std::io::BufRead;
    let bin = env!("CARGO_BIN_EXE_error-tracker-ui");
    let store = TestStore::new();
    store.write(&[grouped("h", occurrence("shop::BinError", "from the binary", 1))]);
    let db = store.store.path().to_str().unwrap().to_owned();
    let mut child = std::process::Command::new(bin)
        .args(["--db", &db, "--listen", "127.0.0.1:0", "--prefix", "/errors", "--user", "admin"])
        .env("ERROR_TRACKER_UI_PASSWORD", "pw")
        .env_remove("ERROR_TRACKER_UI_TOKEN")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.split("at http://").nth(1).expect(&line).trim().to_owned();
    let addr: std::net::SocketAddr = url.split('/').next().unwrap().parse().unwrap();
    let denied = support::request(addr, "GET", "/errors/", &[], b"");
    let allowed = support::request(addr, "GET", "/errors/", &[("authorization", "Basic YWRtaW46cHc=")], b"");
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(denied.status, 401);
    assert_eq!(allowed.status, 200);
    assert!(allowed.body.contains("shop::BinError"));
}

#[test]
fn every_page_in_order_from_both_ends() {
    let store = TestStore::new();
    // Some groups share a last_seen, so that the hash decides their order.
    let batch: Vec<_> = (0..25)
        .map(|i| {
            grouped(&format!("h{:02}", (i * 7) % 25), occurrence("shop::E", &format!("m{i}"), (i / 3) as u64 * 60))
        })
        .collect();
    store.write(&batch);
    use error_tracker::StoreQuery;
    store.store.set_status("h03", Status::Resolved).unwrap();
    let server = Server::start(ErrorTrackerUi::new(store.store.clone()).permission(AllowAll));
    for filter in ["", "&status=unresolved", "&q=shop"] {
        let all: Vec<String> = server.get(&format!("/dev/error/api/groups?per_page=100{filter}")).json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["hash"].as_str().unwrap().to_owned())
            .collect();
        for per_page in [3, 4, 10] {
            let mut paged = Vec::new();
            for page in 1..=all.len().div_ceil(per_page) {
                let v = server.get(&format!("/dev/error/api/groups?per_page={per_page}&page={page}{filter}")).json();
                assert_eq!(v["total"].as_u64(), Some(all.len() as u64));
                paged.extend(v["items"].as_array().unwrap().iter().map(|g| g["hash"].as_str().unwrap().to_owned()));
            }
            assert_eq!(paged, all, "per_page={per_page}{filter}");
        }
    }
}

#[test]
fn bulk_resolve_and_ignore_the_groups_ticked_on_a_page() {
    let (store, server) = seeded(12);
    let list = server.get("/dev/error/?page=1&q=shop").text();
    assert!(list.contains("name=\"hash\" value=\"hash000\"") && list.contains("value=\"resolve\">Resolve</button>"));
    let token = support::csrf_token(&list);
    let form =
        format!("csrf_token={token}&back=page%3D1%26q%3Dshop&action=resolve&hash=hash000&hash=hash002&hash=gone");
    let done = server.post_form("/dev/error/bulk", &form);
    assert_eq!(
        (done.status, done.header("location")),
        (303, Some("/dev/error/?page=1&q=shop")),
        "back to the same list"
    );
    use error_tracker::StoreQuery;
    let status = |h: &str| store.store.group(h).unwrap().unwrap().summary.status;
    assert_eq!(
        (status("hash000"), status("hash001"), status("hash002")),
        (Status::Resolved, Status::Unresolved, Status::Resolved)
    );
    let ignore = format!("csrf_token={token}&action=ignore&hash=hash001");
    assert_eq!(server.post_form("/dev/error/bulk", &ignore).header("location"), Some("/dev/error/"));
    assert_eq!(status("hash001"), Status::Ignored);
    // Only the list's own keys come back: the redirect stays on the UI.
    let odd = format!("csrf_token={token}&action=reopen&hash=hash001&back=%2F%2Fevil.example%3Fx%26status%3Dignored");
    assert_eq!(server.post_form("/dev/error/bulk", &odd).header("location"), Some("/dev/error/?status=ignored"));
    assert_eq!(status("hash001"), Status::Unresolved);
    assert_eq!(
        server.post_form("/dev/error/bulk", &format!("csrf_token={token}&action=delete&hash=hash001")).status,
        400
    );
    assert_eq!(server.get("/dev/error/bulk").status, 405);
}

#[test]
fn the_list_sorts_and_filters_by_host_and_release_with_the_search() {
    let store = TestStore::new();
    // Group i: i + 1 occurrences, first seen i hours ago, on web-(i % 2), release 1.i.
    let mut batch = Vec::new();
    for i in 0..4u64 {
        for k in 0..=i {
            let mut o = occurrence(&format!("shop::Error{i}"), &format!("failure {i}"), 3600 * i + 10 * (i - k) + 5);
            o.id = format!("00000000-0000-4000-8000-{i:06}{k:06}");
            o.host = format!("web-{}", i % 2);
            o.release = Some(format!("1.{i}"));
            batch.push(grouped(&format!("g{i}"), o));
        }
    }
    store.write(&batch);
    let server = Server::start(ErrorTrackerUi::new(store.store.clone()).permission(AllowAll));
    let order = |path: &str| {
        let body = server.get(path).text();
        let mut found: Vec<(usize, String)> =
            (0..4).filter_map(|i| body.find(&format!(">shop::Error{i}<")).map(|at| (at, format!("g{i}")))).collect();
        found.sort();
        found.into_iter().map(|(_, g)| g).collect::<Vec<_>>()
    };
    assert_eq!(order("/dev/error/"), ["g0", "g1", "g2", "g3"], "last seen");
    assert_eq!(order("/dev/error/?sort=count"), ["g3", "g2", "g1", "g0"]);
    assert_eq!(order("/dev/error/?sort=first_seen"), ["g0", "g1", "g2", "g3"]);
    assert_eq!(order("/dev/error/?sort=nonsense"), ["g0", "g1", "g2", "g3"], "an unknown order is the default");
    assert_eq!(order("/dev/error/?host=web-1&sort=count"), ["g3", "g1"]);
    assert_eq!(order("/dev/error/?release=1.2"), ["g2"]);
    assert_eq!(order("/dev/error/?release=1.2&host=web-1"), Vec::<String>::new());
    assert_eq!(order("/dev/error/?q=Error3&host=web-1"), ["g3"]);
    let page = server.get("/dev/error/?host=web-1&sort=count").text();
    assert!(page.contains("2 groups"), "{page}");
    // The form shows the filters; the headers sort and keep them.
    assert!(page.contains("name=\"host\" value=\"web-1\"") && page.contains("<option value=\"count\" selected>"));
    assert!(page.contains("href=\"/dev/error/?host=web-1&sort=first_seen\""), "{page}");
    assert!(page.contains("<span class=\"sorted\">Count ▾</span>"));
    // The bulk form comes back to the same list.
    assert!(page.contains("name=\"back\" value=\"page=1&host=web-1&sort=count\""), "{page}");
    let empty = server.get("/dev/error/?host=nowhere").text();
    assert!(empty.contains("No errors match this filter"));
    assert_eq!(server.get("/dev/error/?host=a%00b").status, 400);
    let api = server.get("/dev/error/api/groups?sort=count&release=1.3").json();
    assert_eq!((api["total"].as_u64(), api["items"][0]["hash"].as_str()), (Some(1), Some("g3")));
}
