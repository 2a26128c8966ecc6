//! Support code shared by the workspace integration tests, examples and benches.
