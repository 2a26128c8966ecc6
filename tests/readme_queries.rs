//! Every SQL block of the README's "Query the database directly" section
//! runs against a real database that holds errors.

use error_tracker::record_exception;
use error_tracker_suite::{flush, init_once};

fn readme_sql_blocks() -> Vec<String> {
    let readme = include_str!("../README.md");
    let section = readme.split("### Query the database directly").nth(1).expect("the section exists");
    let section = section.split("\n## ").next().unwrap_or(section);
    section.split("```sql").skip(1).map(|b| b.split("```").next().unwrap().trim().to_owned()).collect()
}

#[test]
fn the_readme_queries_work() {
    let path = init_once(|c| c);
    // Breadcrumbs and spans for the queries that read them.
    #[cfg(feature = "tracing")]
    let _span = {
        use tracing_subscriber::prelude::*;
        let layer = error_tracker::integrations::tracing::layer();
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer)).expect("subscriber");
        tracing::info!(order = 17, "loading the order");
        tracing::info_span!("request", method = "GET").entered()
    };
    record_exception!(std::io::Error::other("disk full"), "user_id" => 7, "password" => "hunter2");
    flush();
    let blocks = readme_sql_blocks();
    assert!(blocks.len() >= 3, "{blocks:?}");
    let conn = rusqlite::Connection::open(&path).unwrap();
    for sql in blocks {
        // Without the integration nothing fills these columns.
        if !cfg!(feature = "tracing") && (sql.contains("o.breadcrumbs") || sql.contains("o.spans")) {
            continue;
        }
        let mut stmt = conn.prepare(&sql).unwrap_or_else(|e| panic!("{sql}\n{e}"));
        let rows = stmt.query_map([], |_| Ok(())).unwrap().count();
        assert!(rows > 0, "no rows from:\n{sql}");
    }
}
