//! End to end in real headless Chromium through WebDriver: load the list,
//! open a group, resolve it, delete it through its confirmation page, walk
//! a group's occurrences, read its facets, resolve groups in bulk; no page
//! logs a console error and no stored string runs script (`window.__xss`
//! stays undefined).
//!
//! Needs /usr/bin/chromium and /usr/bin/chromedriver (Debian's `chromium
//! chromium-driver`); without them the tests are reported as ignored, and under
//! `CI=true` they fail.

mod support;

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use error_tracker::{Status, StoreQuery};
use error_tracker_ui::{ErrorTrackerUi, LocalhostOnly};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use support::{CORPUS, Server, TestStore, grouped, hostile_groups, occurrence};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// Kills chromedriver (and with it the browser) however the test ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_driver() -> (Driver, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    (driver, port)
}

/// chromedriver's log endpoint (not in the W3C protocol, hence a custom command):
/// the browser console entries since the last call.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({"type": "browser"}).to_string()))
    }
}

/// Fails on console errors and on `window.__xss` having been set.
async fn assert_clean_page(c: &Client, what: &str) {
    let log = c.issue_cmd(BrowserLog).await.expect("the browser log");
    let errors: Vec<&Value> = log.as_array().expect("a log array").iter().filter(|e| e["level"] == "SEVERE").collect();
    assert!(errors.is_empty(), "{what}: console errors {errors:#?}");
    let xss = c.execute("return typeof window.__xss;", vec![]).await.unwrap();
    assert_eq!(xss, json!("undefined"), "{what}: a stored string ran script");
    let ready = c.execute("return document.readyState;", vec![]).await.unwrap();
    assert_eq!(ready, json!("complete"), "{what}");
}

/// A WebDriver session in headless Chromium, with `extra` flags.
async fn session(port: u16, extra: &[&str]) -> Client {
    let mut args = vec![
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--window-size=1280,1024",
    ];
    args.extend_from_slice(extra);
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        "goog:loggingPrefs": {"browser": "ALL"},
    });
    let Value::Object(caps) = caps else { unreachable!() };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session")
}

/// Whether the browser test can run. Tests that get here were not ignored
/// at build time (see build.rs): a missing browser is a failure.
fn browser_present() -> bool {
    let present = Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists();
    assert!(present, "{CHROMEDRIVER} or {CHROMIUM} is missing (apt-get install chromium chromium-driver)");
    present
}

/// DNS rebinding, as a browser does it: `attacker.example` resolves to
/// 127.0.0.1 (Chromium's resolver rules stand in for the attacker's DNS),
/// so its pages talk to the UI as a local client. The UI answers 421 to
/// every page, API call and form post naming that host, while the same
/// browser at `localhost` is served.
#[test]
#[cfg_attr(not(test_browser), ignore = "needs /usr/bin/chromium and /usr/bin/chromedriver (see the README)")]
fn a_rebound_host_name_is_refused_in_headless_chromium() {
    if !browser_present() {
        return;
    }
    let store = TestStore::new();
    store.write(&[grouped("target", occurrence("shop::TargetError", "the group an attacker wants", 0))]);
    let server = Server::start(ErrorTrackerUi::new(store.store.clone()).permission(LocalhostOnly));
    let (_driver, port) = start_driver();
    let ui_port = server.addr.port();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let c = session(port, &["--host-resolver-rules=MAP attacker.example 127.0.0.1"]).await;
        let attacker = |path: &str| format!("http://attacker.example:{ui_port}{path}");

        // The legitimate page, through a loopback name, with its token.
        c.goto(&format!("http://localhost:{ui_port}/dev/error/group/target")).await.unwrap();
        assert!(heading(&c).await.contains("shop::TargetError"));
        let token = c
            .find(Locator::Css("input[name=csrf_token]"))
            .await
            .unwrap()
            .attr("value")
            .await
            .unwrap()
            .expect("a token");

        for path in ["/dev/error/", "/dev/error/group/target", "/dev/error/api/groups"] {
            c.goto(&attacker(path)).await.unwrap();
            let source = c.source().await.unwrap();
            assert!(source.contains("421 Misdirected Request"), "{path}: {source}");
            assert!(!source.contains("shop::TargetError"), "{path}: the group is shown to the rebound page");
        }
        // Even holding a valid token, a form on the rebound origin cannot delete.
        c.goto(&attacker("/dev/error/")).await.unwrap();
        c.execute(
            "const f = document.createElement('form');
             f.method = 'POST'; f.action = arguments[0];
             const i = document.createElement('input');
             i.name = 'csrf_token'; i.value = arguments[1]; f.appendChild(i);
             document.body.appendChild(f); f.submit();",
            vec![json!("/dev/error/group/target/delete"), json!(token)],
        )
        .await
        .unwrap();
        c.wait().for_url(&url::Url::parse(&attacker("/dev/error/group/target/delete")).unwrap()).await.unwrap();
        assert!(c.source().await.unwrap().contains("421 Misdirected Request"));
        assert!(store.store.group("target").unwrap().is_some(), "the rebound page deleted the group");
        c.close().await.unwrap();
    });
}

async fn heading(c: &Client) -> String {
    c.find(Locator::Css("h1")).await.unwrap().text().await.unwrap()
}

#[test]
#[cfg_attr(not(test_browser), ignore = "needs /usr/bin/chromium and /usr/bin/chromedriver (see the README)")]
fn list_open_resolve_delete_in_headless_chromium() {
    if !browser_present() {
        return;
    }
    let store = TestStore::new();
    let mut batch = hostile_groups();
    batch.push(grouped("target", occurrence("shop::TargetError", "the group to resolve and delete", 0)));
    store.write(&batch);
    let server = Server::start(ErrorTrackerUi::new(store.store.clone()).permission(LocalhostOnly).page_size(50));
    let (_driver, port) = start_driver();

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let c = session(port, &[]).await;

        // The list, with every hostile group on it.
        c.goto(&server.url("/dev/error/")).await.unwrap();
        assert!(c.title().await.unwrap().contains("Errors"));
        assert_clean_page(&c, "list").await;
        let rows = c.find_all(Locator::Css("table.groups tbody tr")).await.unwrap();
        assert_eq!(rows.len(), CORPUS.len() + 2);

        // Each hostile group's page.
        for (i, payload) in CORPUS.iter().enumerate() {
            c.goto(&server.url(&format!("/dev/error/group/xss{i}"))).await.unwrap();
            assert!(heading(&c).await.contains(payload), "the payload is shown as text");
            assert_clean_page(&c, &format!("group xss{i}")).await;
        }
        c.goto(&server.url("/dev/error/?q=%3Cscript%3Ewindow.__xss%3D1%3C%2Fscript%3E")).await.unwrap();
        assert_clean_page(&c, "hostile search").await;

        // Open the target group from the list.
        c.goto(&server.url("/dev/error/")).await.unwrap();
        c.find(Locator::LinkText("shop::TargetError")).await.unwrap().click().await.unwrap();
        c.wait().for_element(Locator::Css("button.resolve")).await.unwrap();
        assert!(heading(&c).await.contains("shop::TargetError"));
        assert!(c.current_url().await.unwrap().path().ends_with("/dev/error/group/target"));
        assert_clean_page(&c, "detail").await;

        // Resolve: the form posts with its CSRF token and comes back to the group.
        c.find(Locator::Css("button.resolve")).await.unwrap().click().await.unwrap();
        c.wait().for_element(Locator::Css("button.reopen")).await.unwrap();
        assert!(heading(&c).await.contains("resolved"));
        assert_eq!(store.store.group("target").unwrap().unwrap().summary.status, Status::Resolved);
        assert_clean_page(&c, "after resolve").await;

        // Delete: a confirmation page first; Cancel goes back and deletes nothing.
        c.find(Locator::Css("a.delete")).await.unwrap().click().await.unwrap();
        c.wait().for_element(Locator::Css("section.confirm")).await.unwrap();
        assert!(heading(&c).await.contains("Delete this error group?"));
        assert_clean_page(&c, "delete confirmation").await;
        c.find(Locator::LinkText("Cancel")).await.unwrap().click().await.unwrap();
        c.wait().for_element(Locator::Css("a.delete")).await.unwrap();
        assert!(store.store.group("target").unwrap().is_some(), "cancel deletes nothing");
        c.find(Locator::Css("a.delete")).await.unwrap().click().await.unwrap();
        c.wait().for_element(Locator::Css("section.confirm")).await.unwrap();
        // Confirmed: back on the list, without the group.
        c.find(Locator::Css("button.delete")).await.unwrap().click().await.unwrap();
        c.wait().for_element(Locator::Css("form.filters")).await.unwrap();
        assert!(c.current_url().await.unwrap().path().ends_with("/dev/error/"));
        assert!(!c.source().await.unwrap().contains("shop::TargetError"));
        assert!(store.store.group("target").unwrap().is_none());
        assert_clean_page(&c, "after delete").await;

        c.close().await.unwrap();
    });
}

async fn texts(c: &Client, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in c.find_all(Locator::Css(css)).await.unwrap() {
        out.push(e.text().await.unwrap());
    }
    out
}

#[test]
#[cfg_attr(not(test_browser), ignore = "needs /usr/bin/chromium and /usr/bin/chromedriver (see the README)")]
fn occurrences_facets_and_bulk_changes_in_headless_chromium() {
    if !browser_present() {
        return;
    }
    let store = TestStore::new();
    let v = |name: &str, value: serde_json::Value| error_tracker::Variable {
        name: name.into(),
        value: serde_json::from_value(value).unwrap(),
    };
    // Three occurrences, oldest written first: the same order_id each time, a new attempt each time.
    let batch: Vec<_> = (0..3u64)
        .rev()
        .map(|i| {
            let mut o = occurrence("shop::PayError", &format!("card declined #{i}"), 60 * (i + 1));
            o.host = format!("web-{i}");
            o.frames[0].args = vec![v("order_id", json!(17))];
            o.frames[0].locals = vec![v("try_no", json!(i))];
            grouped("pay", o)
        })
        .chain([grouped("other", occurrence("shop::OtherError", "another group", 5))])
        .collect();
    store.write(&batch);
    let server = Server::start(ErrorTrackerUi::new(store.store.clone()).permission(LocalhostOnly));
    let (_driver, port) = start_driver();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let c = session(port, &[]).await;
        c.goto(&server.url("/dev/error/group/pay")).await.unwrap();
        assert_clean_page(&c, "group").await;

        // The facets: order_id the same in every failure, try_no never.
        let facets = texts(&c, "section.facets .facet").await;
        let facet =
            |name: &str| facets.iter().find(|f| f.contains(name)).unwrap_or_else(|| panic!("{name} in {facets:?}"));
        assert!(facet("order_id").contains("same in every occurrence"), "{}", facet("order_id"));
        assert!(facet("order_id").contains("100%"));
        assert!(facet("try_no").contains("different in every occurrence"));
        assert!(facet("try_no").contains("3 distinct values"));
        let marked = c.find_all(Locator::Css(".facet.same")).await.unwrap().len();
        assert!(marked >= 2, "order_id and the release at least");

        // The history's rows link each occurrence: open the newest, walk to the oldest and back.
        c.find(Locator::Css("table.history tbody tr:first-child a")).await.unwrap().click().await.unwrap();
        c.wait().for_element(Locator::Css("nav.occurrence-nav")).await.unwrap();
        assert_clean_page(&c, "occurrence 1").await;
        let position =
            || async { c.find(Locator::Css(".occurrence-nav .position")).await.unwrap().text().await.unwrap() };
        assert!(position().await.contains("Occurrence 1 of 3"));
        assert!(c.source().await.unwrap().contains("card declined #0"));
        assert!(c.find(Locator::Css("a[rel=prev]")).await.is_err(), "nothing newer than the newest");
        for (n, message, host) in [(2, "card declined #1", "web-1"), (3, "card declined #2", "web-2")] {
            c.find(Locator::Css("a[rel=next]")).await.unwrap().click().await.unwrap();
            c.wait()
                .for_element(Locator::XPath(&format!("//span[@class='position'][contains(., 'Occurrence {n} of 3')]")))
                .await
                .unwrap();
            let page = c.source().await.unwrap();
            assert!(page.contains(message) && page.contains(host), "occurrence {n}");
            assert_clean_page(&c, &format!("occurrence {n}")).await;
        }
        assert!(c.find(Locator::Css("a[rel=next]")).await.is_err(), "nothing older than the oldest");
        c.find(Locator::Css("a[rel=prev]")).await.unwrap().click().await.unwrap();
        c.wait()
            .for_element(Locator::XPath("//span[@class='position'][contains(., 'Occurrence 2 of 3')]"))
            .await
            .unwrap();
        // The tracked frame's arguments and locals of this occurrence.
        let frame = c.find(Locator::Css(".frame")).await.unwrap().text().await.unwrap();
        assert!(frame.contains("order_id") && frame.contains("try_no") && frame.contains('1'), "{frame}");
        // Back to the group through the crumbs.
        c.find(Locator::LinkText("shop::PayError")).await.unwrap().click().await.unwrap();
        c.wait().for_element(Locator::Css("section.facets")).await.unwrap();

        // Bulk: tick both groups on the list, ignore them.
        c.goto(&server.url("/dev/error/")).await.unwrap();
        for hash in ["pay", "other"] {
            c.find(Locator::Css(&format!("input[name=hash][value={hash}]"))).await.unwrap().click().await.unwrap();
        }
        c.find(Locator::Css(".bulk-actions button[value=ignore]")).await.unwrap().click().await.unwrap();
        c.wait().for_element(Locator::Css("form.filters")).await.unwrap();
        assert_clean_page(&c, "after bulk ignore").await;
        for hash in ["pay", "other"] {
            assert_eq!(store.store.group(hash).unwrap().unwrap().summary.status, Status::Ignored, "{hash}");
        }
        assert_eq!(texts(&c, "table.groups .badge").await, ["ignored", "ignored"]);
        c.close().await.unwrap();
    });
}
