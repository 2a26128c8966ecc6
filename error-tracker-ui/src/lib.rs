//! Web UI of error-tracker.
