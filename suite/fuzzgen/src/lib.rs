//! Fuzzing support for the suite: a structure-aware HTTP request generator for the three
//! OAuth endpoints, the oracle that judges responses, and the invariant checks the
//! cargo-fuzz targets in `fuzz/` run (so `cargo test` can replay their regressions through
//! the very same code). Sending them to a target is `qoauth-remote-fuzz`'s job, through the
//! harness's sender; this crate sends nothing, so the fuzz targets stay free of a client.

// No unsafe code: the borrow checker then rules out touching a stack frame after its
// function returned, which is why local fuzzing can leave ASan's costly
// stack-use-after-return detection off (fuzz/README.md, "Sanitizer options").
#![forbid(unsafe_code)]

pub mod corpus;
pub mod oracle;
pub mod request;
pub mod targets;
pub mod tokens;
pub mod vocabulary;

pub use oracle::{Anomaly, AnomalyKind, Observed, Oracle};
pub use request::{FuzzRequest, HttpRequest, TokenTable};
pub use vocabulary::{Vocabulary, VocabularyError};
