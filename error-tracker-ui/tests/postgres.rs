//! The pages over the PostgreSQL store (feature `postgres`), against the
//! server in `ERROR_TRACKER_TEST_PG`, in a schema of the test's own.
#![cfg(feature = "postgres")]

mod support;

use std::sync::Arc;

use error_tracker::store::PostgresStore;
use error_tracker::{Status, StoreQuery, StoreWrite};
use error_tracker_ui::{AllowAll, ErrorTrackerUi};
use support::{Server, csrf_token, grouped, hostile_groups, occurrence};

/// A schema created empty for this test and dropped at the end.
struct Schema {
    server: String,
    name: String,
    url: String,
}

impl Schema {
    fn create(server: &str) -> Self {
        let name = format!("et_ui_pages_{}", std::process::id());
        let mut admin = postgres::Client::connect(server, postgres::NoTls).expect("connect to ERROR_TRACKER_TEST_PG");
        admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name};")).unwrap();
        let sep = if server.contains('?') { '&' } else { '?' };
        let url = format!("{server}{sep}options=-c%20search_path%3D{name}&application_name={name}");
        Self { server: server.to_owned(), name, url }
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.server, postgres::NoTls) {
            let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

#[test]
#[cfg_attr(not(test_pg), ignore = "needs PostgreSQL: set ERROR_TRACKER_TEST_PG (see the README)")]
fn pages_and_actions_over_postgres() {
    // Not ignored at build time (see build.rs): PostgreSQL is expected.
    let server = std::env::var("ERROR_TRACKER_TEST_PG")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .expect("needs PostgreSQL: set ERROR_TRACKER_TEST_PG=postgres://user@host:port/db");
    let schema = Schema::create(server.trim());
    let store = Arc::new(PostgresStore::open(&schema.url, 100).expect("open the PostgreSQL store"));
    let mut batch = hostile_groups();
    for i in 0..12 {
        batch.push(grouped(&format!("pg{i:02}"), occurrence("shop::PgError", &format!("pg failure {i}"), i)));
    }
    store.write(&batch).unwrap();
    let http = Server::start(ErrorTrackerUi::new(store.clone()).permission(AllowAll));

    let list = http.get("/dev/error/?q=PgError");
    assert_eq!(list.status, 200);
    assert!(list.text().contains("12 groups, page 1 of 2"), "{}", list.body);
    assert!(!list.body.to_ascii_lowercase().contains("<script"));
    let page2 = http.get("/dev/error/?q=PgError&page=2");
    assert!(page2.text().contains("pg failure 11"));
    let detail = http.get("/dev/error/group/pg00");
    assert!(detail.text().contains("connection refused") && detail.text().contains("order_id"));
    let xss = http.get("/dev/error/group/xss0");
    assert!(!xss.body.to_ascii_lowercase().contains("<script"));
    assert_eq!(http.get("/dev/error/api/groups/pg01").json()["message"], "pg failure 1");
    // An occurrence's page, the facets, another order and a host filter, over PostgreSQL.
    let id = http.get("/dev/error/api/groups/pg01/occurrences").json()["items"][0]["id"].as_str().unwrap().to_owned();
    let occurrence = http.get(&format!("/dev/error/group/pg01/occurrence/{id}"));
    assert!(occurrence.text().contains("Occurrence 1 of 1 stored") && occurrence.text().contains("pg failure 1"));
    assert!(detail.text().contains("Variable facets") && detail.text().contains("same in every occurrence"));
    let by_count = http.get("/dev/error/api/groups?sort=count&host=web-1&release=1.2.3&q=PgError").json();
    assert_eq!(by_count["total"], 12, "{by_count}");

    let token = csrf_token(&detail.body);
    assert_eq!(http.post_form("/dev/error/group/pg00/resolve", "csrf_token=wrong").status, 403);
    assert_eq!(http.post_form("/dev/error/group/pg00/resolve", &format!("csrf_token={token}")).status, 303);
    assert_eq!(store.group("pg00").unwrap().unwrap().summary.status, Status::Resolved);
    assert_eq!(http.post_form("/dev/error/group/pg00/delete", &format!("csrf_token={token}")).status, 303);
    assert!(store.group("pg00").unwrap().is_none());
}
