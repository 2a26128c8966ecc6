//! Serves the UI over a SQLite file filled with made-up errors, to look at it:
//!
//! ```sh
//! cargo run -p error-tracker-ui --example demo -- demo.sqlite 127.0.0.1:8080
//! ```
//! then open <http://127.0.0.1:8080/dev/error/>. Only loopback clients are served.

use std::sync::Arc;
use std::time::Duration;

use error_tracker::{
    FrameSnapshot, Grouped, Occurrence, RequestContext, SqliteStore, StackFrame, StoreWrite, Timestamp, Variable,
};
use error_tracker_ui::{ErrorTrackerUi, LocalhostOnly};

/// serde_json's `json!`, as the tracker's own [`error_tracker::Value`].
macro_rules! json {
    ($($t:tt)+) => {
        serde_json::from_value::<error_tracker::Value>(serde_json::json!($($t)+)).expect("a JSON value")
    };
}

/// The demo's own "application": the frames of its occurrences point at
/// these lines, so that the pages show the failing line in context when the
/// UI runs from the workspace.
mod shop {
    pub const FILE: &str = "error-tracker-ui/examples/demo.rs";

    pub fn load_line() -> u32 {
        // A stand-in for the query that times out in the made-up errors.
        let failing = line!(); // db.query("SELECT * FROM orders WHERE id = $1", &[&order_id])?
        failing
    }

    pub fn handler_line() -> u32 {
        line!() // let order = orders::load(&db, order_id, currency).await?;
    }
}

fn occurrence(i: u64, kind: &str, message: String, secs_ago: u64) -> Occurrence {
    let frame = |f: &str, in_app: bool| StackFrame {
        function: f.to_owned(),
        file: Some(if in_app { shop::FILE.to_owned() } else { format!("src/{}.rs", f.rsplit("::").next().unwrap()) }),
        line: Some(if f.ends_with("load") {
            shop::load_line()
        } else if in_app {
            shop::handler_line()
        } else {
            10 + i as u32 % 90
        }),
        in_app,
    };
    Occurrence {
        id: format!("00000000-0000-4000-8000-{i:012}"),
        exception_name: kind.to_owned(),
        message,
        sources: vec!["connection reset by peer (os error 104)".into()],
        backtrace: vec![
            frame("std::io::error::repr", false),
            frame("error_tracker::capture::record", false),
            frame("shop::orders::load", true),
            frame("shop::http::handler", true),
            frame("tokio::runtime::task::harness::poll", false),
            frame("tokio::runtime::scheduler::multi_thread::worker::run", false),
        ],
        thread: Some(format!("tokio-runtime-worker-{}", i % 4)),
        timestamp: Timestamp::now().saturating_sub(Duration::from_secs(secs_ago)),
        host: format!("web-{}", i % 3 + 1),
        pid: 4000 + (i % 3) as u32,
        release: Some("2.4.1".into()),
        panic: None,
        frames: vec![FrameSnapshot {
            function: "shop::orders::load".into(),
            file: Some(shop::FILE.into()),
            line: Some(shop::load_line()),
            function_line: None,
            args: vec![
                Variable { name: "order_id".into(), value: json!(i) },
                // The same in every failure: what the facets point at.
                Variable { name: "currency".into(), value: json!("EUR") },
                Variable { name: "api_token".into(), value: json!("**************") },
            ],
            locals: vec![Variable { name: "cart".into(), value: json!({"items": [3, 5, 8], "total_cents": 4599}) }],
        }],
        request: Some(RequestContext {
            method: if i.is_multiple_of(2) { "GET" } else { "POST" }.into(),
            url: format!("https://shop.example/orders/{i}?expand=items"),
            path: format!("/orders/{i}"),
            route: Some("/orders/{id}".into()),
            headers: vec![("user-agent".into(), "Mozilla/5.0".into()), ("cookie".into(), "**************".into())],
            query: vec![("expand".into(), "items".into())],
            body: Some(json!({"quantity": 1 + i % 3})),
            client_addr: Some("198.51.100.7:51234".into()),
            custom: vec![Variable { name: "user_id".into(), value: json!(1000 + i) }],
        }),
        extra: vec![Variable { name: "attempt".into(), value: json!(1 + i % 3) }],
        site: None,
        breadcrumbs: Vec::new(),
        spans: Vec::new(),
        error_backtrace: Vec::new(),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "demo.sqlite".into());
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    let store = Arc::new(SqliteStore::open(&path, 100)?);
    let kinds = ["sqlx::Error", "std::io::Error", "serde_json::Error", "tokio::time::error::Elapsed", "reqwest::Error"];
    let mut batch = Vec::new();
    for i in 0..400u64 {
        let g = i % 23;
        let kind = kinds[g as usize % kinds.len()];
        batch.push(Grouped {
            hash: format!("demo{g:02}"),
            occurrence: occurrence(
                i,
                kind,
                format!("request {g} failed: timed out after {} ms", 100 + g * 7),
                (400 - i) * 210 + i % 7,
            ),
            times: 1,
            count_only: false,
        });
    }
    // A panic: its message once.
    let mut p = occurrence(400, "panic", "index out of bounds: the len is 3 but the index is 7".into(), 90);
    p.panic = Some(error_tracker::PanicInfo {
        message: p.message.clone(),
        location: Some(format!("{}:{}:9", shop::FILE, shop::load_line())),
    });
    batch.push(Grouped { hash: "demo-panic".into(), occurrence: p, times: 1, count_only: false });
    store.write(&batch)?;
    // The workspace root: the frames name their files from there.
    let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let ui = ErrorTrackerUi::new(store).permission(LocalhostOnly).source_root(Some(workspace));
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(&listen).await?;
        println!("demo UI at http://{}{}/", listener.local_addr()?, ui.url_prefix());
        error_tracker_ui::serve(listener, ui).await
    })?;
    Ok(())
}
