//! The trail of an occurrence on its group's page (templates/trail.html):
//! the spans as a path, the breadcrumbs as a timeline, the error's own
//! backtrace; all of it escaped.

mod support;

use error_tracker::{Breadcrumb, SpanRecord, StackFrame, Timestamp, Variable};
use error_tracker_ui::{AllowAll, ErrorTrackerUi};
use support::{Server, TestStore, grouped, occurrence};

#[test]
fn breadcrumbs_show_as_a_timeline_and_spans_as_a_path() {
    let store = TestStore::new();
    let mut o = occurrence("shop::DbError", "insert failed", 10);
    let at = Timestamp::parse("2026-11-25T14:37:42.123456Z").expect("time");
    o.breadcrumbs = vec![
        Breadcrumb {
            timestamp: at,
            level: "INFO".into(),
            target: "shop::orders".into(),
            message: "loading order".into(),
            fields: vec![Variable { name: "rows".into(), value: 3.into() }],
        },
        Breadcrumb {
            timestamp: at,
            level: "WARN".into(),
            target: "shop::db".into(),
            message: "<script>alert(1)</script> retrying".into(),
            fields: vec![],
        },
    ];
    o.spans = vec![
        SpanRecord {
            name: "request".into(),
            target: "shop".into(),
            fields: vec![
                Variable { name: "method".into(), value: "GET".into() },
                Variable { name: "path".into(), value: "/orders/17".into() },
            ],
        },
        SpanRecord {
            name: "load_order".into(),
            target: "shop::orders".into(),
            fields: vec![Variable { name: "id".into(), value: 17.into() }],
        },
    ];
    o.error_backtrace = vec![StackFrame {
        function: "shop::db::connect".into(),
        file: Some("src/db.rs".into()),
        line: Some(4),
        in_app: true,
    }];
    store.write(&[grouped("g1", o), grouped("g2", occurrence("shop::Plain", "nothing logged", 5))]);
    let server = Server::start(ErrorTrackerUi::new(store.store.clone()).permission(AllowAll));

    let res = server.get("/dev/error/group/g1");
    // What a reader sees, and what the browser parses.
    let (page, raw) = (res.text(), &res.body);
    let path = page.find("<code>request{method=GET path=/orders/17}</code>").expect("the outer span");
    let inner = page.find("<code>load_order{id=17}</code>").expect("the inner span");
    assert!(path < inner, "outermost first");
    let first = raw.find("loading order").expect("the first breadcrumb");
    let second = raw.find("&lt;script&gt;alert(1)&lt;").expect("escaped");
    assert!(first < second, "oldest first");
    assert!(!raw.contains("<script>alert(1)"));
    assert!(raw.contains("<time datetime=\"2026-11-25T14:37:42.123456Z\""));
    assert!(raw.contains(">14:37:42.123</time>"));
    assert!(raw.contains("<li class=\"level-warn\">"));
    assert!(raw.contains("<dt>rows</dt><dd>3</dd>"));
    assert!(raw.contains("Breadcrumbs <span class=\"muted\">(2, oldest first)"));
    assert!(page.contains("<code>shop::db::connect</code><br><span class=\"loc\">src/db.rs:4</span>"));

    let plain = server.get("/dev/error/group/g2").text();
    assert!(
        !plain.contains("Breadcrumbs") && !plain.contains("Spans") && !plain.contains("Where the error was created")
    );
}
