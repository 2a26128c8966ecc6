//! The crates of the suite, pinned, each picked for a style of Rust code the
//! attribute has to survive. Each one ships its tests in the published
//! package (unit tests in `src/`, `tests/`, or doctests), and all its
//! dev-dependencies must resolve from the registry (anyhow 1.0.105 is not here
//! for that reason: it needs a `trybuild` newer than the registry has).
//!
//! The CI subset is small crates with few doctests: every doctest of a tracked
//! crate links error-tracker and its dependencies, and that link is most of
//! a crate's time on two cores.

/// One crate of the suite.
#[derive(Debug, Clone, Copy)]
pub struct Crate {
    /// The package name on the registry.
    pub name: &'static str,
    /// The exact version that is fetched.
    pub version: &'static str,
    /// Cargo features passed to `cargo test` (with `--features`).
    pub features: &'static [&'static str],
    /// Part of the quick subset that `.ci/run` runs with `--ci`.
    pub ci: bool,
    /// Why it is in the suite.
    pub why: &'static str,
}

/// The whole suite, in the order it runs.
pub const CRATES: &[Crate] = &[
    Crate {
        name: "either",
        version: "1.19.0",
        features: &["serde"],
        ci: false,
        why: "generic enum with closures and iterator impls, a serde feature",
    },
    Crate {
        name: "semver",
        version: "1.0.28",
        features: &[],
        ci: true,
        why: "a parser with unsafe packed identifiers",
    },
    Crate {
        name: "slab",
        version: "0.4.12",
        features: &["serde"],
        ci: true,
        why: "a collection with #[track_caller] panics and serde impls",
    },
    Crate {
        name: "smallvec",
        version: "1.16.6",
        features: &["write", "union", "const_generics", "const_new"],
        ci: false,
        why: "an unsafe collection with cfg features and macro_rules",
    },
    Crate {
        name: "arrayvec",
        version: "0.7.8",
        features: &["serde"],
        ci: false,
        why: "an unsafe fixed-capacity collection, const generics",
    },
    Crate {
        name: "indexmap",
        version: "2.14.2",
        features: &["serde", "rayon"],
        ci: false,
        why: "#[track_caller], cfg features, rayon parallel iterators, edition 2024",
    },
    Crate {
        name: "itertools",
        version: "0.13.0",
        features: &[],
        ci: false,
        why: "iterator adaptors heavy on generics, closures and impl Trait returns",
    },
    Crate { name: "glob", version: "0.3.4", features: &[], ci: true, why: "a pattern parser and file-system walker" },
    Crate {
        name: "base64",
        version: "0.22.1",
        features: &[],
        ci: false,
        why: "an encoder whose unit tests use rstest and rstest_reuse's #[apply]",
    },
    Crate {
        name: "thiserror",
        version: "2.0.21",
        features: &[],
        ci: false,
        why: "a derive facade: tests run the derive on error enums",
    },
    Crate {
        name: "bytes",
        version: "1.12.2",
        features: &["serde"],
        ci: false,
        why: "unsafe shared buffers with atomics and vtables",
    },
    Crate {
        name: "memchr",
        version: "2.8.3",
        features: &[],
        ci: false,
        why: "SIMD search with unsafe target-feature fns",
    },
    Crate {
        name: "humantime",
        version: "2.4.0",
        features: &[],
        ci: false,
        why: "a duration and timestamp parser and formatter",
    },
    Crate {
        name: "async-channel",
        version: "2.5.0",
        features: &[],
        ci: false,
        why: "an async channel: futures and Drop impls, tests across threads",
    },
    Crate {
        name: "tokio-stream",
        version: "0.1.19",
        features: &["full"],
        ci: false,
        why: "async stream adaptors with pin-project-lite and #[tokio::test] tests",
    },
];
