//! The masking defaults: a leaf, so that masking needs nothing of the
//! configuration, which sits above it.

/// The default list of masked key substrings.
pub const DEFAULT_MASKED_KEYS: &[&str] = &[
    "password",
    "secret",
    "passwd",
    "pwd",
    "token",
    "api_key",
    "apikey",
    "auth",
    "credential",
    "private_key",
    "session",
    "cookie",
    "csrf",
];

/// The default mask string.
pub const DEFAULT_MASK_WITH: &str = "**************";
