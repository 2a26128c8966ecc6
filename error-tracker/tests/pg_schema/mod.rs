//! A PostgreSQL schema of its own for one test, so that parallel tests (and
//! parallel test runs) never see each other's tables.

#![allow(dead_code)] // each test binary uses a part of it

use std::sync::atomic::{AtomicU32, Ordering};

/// The server the tests use, from `ERROR_TRACKER_TEST_PG`; `None` (with a
/// printed note) when it is unset.
pub fn server(test: &str) -> Option<String> {
    // Tests that get here were not ignored at build time (see build.rs):
    // the service is expected, and its absence is a failure, never a pass.
    match std::env::var("ERROR_TRACKER_TEST_PG") {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_owned()),
        _ => panic!(
            "{test} needs PostgreSQL: set ERROR_TRACKER_TEST_PG=postgres://user@host:port/db (it was set, or \
             CI=true, when the tests were built)"
        ),
    }
}

/// A schema created empty for one test and dropped when this is dropped.
pub struct TestSchema {
    /// The schema name.
    pub name: String,
    /// The server's URL with the search path set to the schema, and an
    /// application name that tells this test's connections apart.
    pub url: String,
    server: String,
}

impl TestSchema {
    /// Drops any leftover schema of that name and creates it empty.
    pub fn create(server: &str, test: &str) -> TestSchema {
        static N: AtomicU32 = AtomicU32::new(0);
        let tag: String =
            test.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
        let name = format!("et_{tag}_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let mut admin = postgres::Client::connect(server, postgres::NoTls).expect("connect to ERROR_TRACKER_TEST_PG");
        admin
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name};"))
            .expect("create the test schema");
        let sep = if server.contains('?') { '&' } else { '?' };
        let url = format!("{server}{sep}options=-c%20search_path%3D{name}&application_name={name}");
        TestSchema { name, url, server: server.to_owned() }
    }

    /// A plain connection on the schema, to look at the tables directly.
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).expect("connect to the test schema")
    }

    /// Ends every connection of this test but `except`'s, as a server
    /// restart would; returns how many were ended.
    pub fn terminate_connections(&self) -> i64 {
        let mut admin = postgres::Client::connect(&self.server, postgres::NoTls).expect("connect");
        admin
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                 WHERE application_name = $1 AND pid <> pg_backend_pid()",
                &[&self.name],
            )
            .expect("terminate")
            .get(0)
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.server, postgres::NoTls) {
            let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}
