//! Property: secret values under secret keys, at any depth, never reach the
//! stored bytes (the SQLite file and its WAL) nor any rendering.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use error_tracker::{PageRequest, StoreQuery, record_exception};
use error_tracker_suite::{contains_bytes, database_bytes, flush, init_once, open};
use proptest::prelude::*;
use serde::Serialize;

/// A value tree with maps, structs and vectors.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
enum Tree {
    Leaf(String),
    Number(i64),
    List(Vec<Tree>),
    Map(BTreeMap<String, Tree>),
    Struct(Record),
}

#[derive(Debug, Clone, Serialize)]
struct Record {
    name: String,
    password: String,
    child: Option<Box<Tree>>,
}

const SECRET_KEYS: &[&str] = &["password", "Api_Key", "X-AUTH-TOKEN", "client_secret", "sessionid", "csrf"];

/// Trees whose secret-keyed values are unique markers, collected in `secrets`.
fn tree() -> impl Strategy<Value = Tree> {
    let leaf = prop_oneof!["[a-z ]{0,12}".prop_map(Tree::Leaf), any::<i64>().prop_map(Tree::Number),];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Tree::List),
            prop::collection::btree_map("[a-z_]{1,8}", inner.clone(), 0..4).prop_map(Tree::Map),
            (prop::sample::select(SECRET_KEYS), inner.clone(), any::<u32>()).prop_map(|(k, t, n)| {
                let mut m = BTreeMap::new();
                m.insert(format!("user_{k}"), Tree::Leaf(format!("SECRETVALUE{n:010}")));
                m.insert("data".into(), t);
                Tree::Map(m)
            }),
            (inner, any::<u32>()).prop_map(|(t, n)| Tree::Struct(Record {
                name: "n".into(),
                password: format!("SECRETVALUE{n:010}"),
                child: Some(Box::new(t)),
            })),
        ]
    })
}

fn secrets_in(t: &Tree, out: &mut Vec<String>) {
    match t {
        Tree::Leaf(s) if s.starts_with("SECRETVALUE") => out.push(s.clone()),
        Tree::Leaf(_) | Tree::Number(_) => {}
        Tree::List(v) => v.iter().for_each(|t| secrets_in(t, out)),
        Tree::Map(m) => m.values().for_each(|t| secrets_in(t, out)),
        Tree::Struct(r) => {
            out.push(r.password.clone());
            if let Some(c) = &r.child {
                secrets_in(c, out);
            }
        }
    }
}

/// A Debug-only wrapper: the fallback path must mask too.
struct DebugOnly(Tree);
impl std::fmt::Debug for DebugOnly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

static ALL_SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[derive(Debug)]
struct PropertyCase;

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn secrets_never_reach_the_store(t in tree()) {
        init_once(|c| c);
        let mut secrets = Vec::new();
        secrets_in(&t, &mut secrets);
        let debug = DebugOnly(t.clone());
        record_exception!(PropertyCase, "tree" => t, "debug_tree" => debug);
        ALL_SECRETS.lock().unwrap().extend(secrets);
    }
}

#[test]
fn secrets_are_absent_from_the_file_the_wal_and_the_renderings() {
    // Let the property run first in this process, then scan what it stored.
    secrets_never_reach_the_store();
    let path = init_once(|c| c);
    flush();
    let secrets = ALL_SECRETS.lock().unwrap().clone();
    assert!(secrets.len() > 50, "the generator produced secrets: {}", secrets.len());
    let bytes = database_bytes(&path);
    let store = open(&path);
    let groups = store.list_groups(&Default::default()).unwrap();
    let mut renderings = String::new();
    for g in &groups.items {
        renderings.push_str(&store.group(&g.hash).unwrap().unwrap().traceback);
        for o in store.occurrences(&g.hash, PageRequest::first(1000)).unwrap().items {
            renderings.push_str(&serde_json::to_string(&o).unwrap());
        }
    }
    assert!(renderings.contains("**************"), "masked values are stored as the mask");
    // One pass over the bytes: every marker found, then compared with the secrets.
    let found_in = |hay: &[u8]| -> HashSet<Vec<u8>> {
        let marker = b"SECRETVALUE";
        hay.windows(marker.len() + 10).filter(|w| w.starts_with(marker)).map(|w| w.to_vec()).collect()
    };
    let stored = found_in(&bytes);
    let rendered = found_in(renderings.as_bytes());
    assert!(contains_bytes(&bytes, b"**************"));
    for s in &secrets {
        assert!(!stored.contains(s.as_bytes()), "{s} found in the database bytes");
        assert!(!rendered.contains(s.as_bytes()), "{s} found in a rendering");
    }
}
