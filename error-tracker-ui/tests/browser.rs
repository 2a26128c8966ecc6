//! End to end in real headless Chromium through WebDriver: load the list,
//! open a group, resolve it, delete it; no page logs a console error and
//! no stored string runs script (`window.__xss` stays undefined).
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

        // Delete: back on the list, without the group.
        c.find(Locator::Css("button.delete")).await.unwrap().click().await.unwrap();
        c.wait().for_element(Locator::Css("form.filters")).await.unwrap();
        assert!(c.current_url().await.unwrap().path().ends_with("/dev/error/"));
        assert!(!c.source().await.unwrap().contains("shop::TargetError"));
        assert!(store.store.group("target").unwrap().is_none());
        assert_clean_page(&c, "after delete").await;

        c.close().await.unwrap();
    });
}
