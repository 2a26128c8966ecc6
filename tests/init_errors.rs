//! `init` fails with a clear error and never panics.

use error_tracker::{Config, InitError, StoreError};

#[test]
fn a_store_that_cannot_be_opened_is_a_clear_init_error() {
    let dir = tempfile::tempdir().unwrap();
    // A directory is not a database file.
    let err = error_tracker::init(Config::default().database(dir.path().to_str().unwrap())).unwrap_err();
    assert!(matches!(err, InitError::Store(StoreError::Open { .. })), "{err:?}");
    assert!(err.to_string().contains(dir.path().to_str().unwrap()), "{err}");
    let missing = dir.path().join("no/such/dir/errors.sqlite");
    let err = error_tracker::init(Config::default().database(missing.to_str().unwrap())).unwrap_err();
    assert!(err.to_string().starts_with("cannot open the store at"), "{err}");

    #[cfg(not(feature = "postgres"))]
    {
        let c = Config::default().database("postgres://u:pw@127.0.0.1:1/x");
        let err = error_tracker::init(c).unwrap_err();
        assert!(matches!(err, InitError::FeatureDisabled { feature: "postgres", .. }), "{err:?}");
    }

    // A libpq `key=value` string is PostgreSQL's, never a file name: init
    // fails (nothing listens on port 1, or the feature is off) and creates
    // no file named after the password.
    let kv = "host=127.0.0.1 port=1 user=app password=kv-s3cret dbname=errors connect_timeout=2";
    let err = error_tracker::init(Config::default().database(kv)).unwrap_err();
    #[cfg(feature = "postgres")]
    assert!(matches!(err, InitError::Store(StoreError::Open { .. })), "{err:?}");
    #[cfg(not(feature = "postgres"))]
    assert!(matches!(err, InitError::FeatureDisabled { feature: "postgres", .. }), "{err:?}");
    assert!(!err.to_string().contains("kv-s3cret"), "{err}");
    assert!(!std::path::Path::new(kv).exists(), "a file named after the connection string");

    // After failures, init still works once, then refuses a second time.
    let ok = dir.path().join("errors.sqlite");
    let guard = error_tracker::init(Config::default().database(ok.to_str().unwrap())).expect("first init");
    let again = error_tracker::init(Config::default().database(ok.to_str().unwrap())).unwrap_err();
    assert!(matches!(again, InitError::AlreadyInitialized), "{again:?}");
    drop(guard);
}

#[test]
fn a_bad_environment_value_names_the_variable() {
    // from_lookup reads like from_env without touching the process environment.
    let err =
        Config::from_lookup(|name| (name == "APP_ERROR_SEND_NOTIFICATION").then(|| "perhaps".to_owned())).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid value \"perhaps\" for APP_ERROR_SEND_NOTIFICATION: expected true/false, 1/0, yes/no or on/off"
    );
}
