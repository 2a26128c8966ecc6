//! Attribute macros of error-tracker.
