//! Why [`init`](crate::init) or [`Config::from_env`](crate::Config::from_env)
//! failed: shared by the configuration, the stores' opening and the
//! notification channels' set-up, below all of them.

use std::fmt;

/// Why [`init`](crate::init) or [`Config::from_env`](crate::Config::from_env) failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum InitError {
    /// A setting has a value that cannot be used.
    InvalidSetting {
        /// The setting (environment variable) name.
        name: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The store cannot be opened.
    Store(crate::StoreError),
    /// A feature needed by the configuration is not compiled in.
    FeatureDisabled {
        /// The Cargo feature to enable.
        feature: &'static str,
        /// What needs it.
        needed_for: String,
    },
    /// `init` was already called in this process.
    AlreadyInitialized,
    /// The background writer thread could not be started.
    Spawn(std::io::Error),
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::InvalidSetting { name, value, reason } => {
                write!(f, "invalid value {value:?} for {name}: {reason}")
            }
            InitError::Store(e) => write!(f, "{e}"),
            InitError::FeatureDisabled { feature, needed_for } => {
                write!(f, "{needed_for} needs the `{feature}` feature of error-tracker")
            }
            InitError::AlreadyInitialized => f.write_str("error_tracker::init was already called in this process"),
            InitError::Spawn(e) => write!(f, "cannot start the error-tracker writer thread: {e}"),
        }
    }
}

impl std::error::Error for InitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InitError::Store(e) => Some(e),
            InitError::Spawn(e) => Some(e),
            _ => None,
        }
    }
}
