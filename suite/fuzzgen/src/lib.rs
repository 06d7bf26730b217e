//! Fuzzing support for the suite: a structure-aware HTTP request generator for the three
//! OAuth endpoints, the oracle that judges responses, remote fuzzing of any target, and the
//! invariant checks the cargo-fuzz targets in `fuzz/` run (so `cargo test` can replay
//! their regressions through the very same code).

// No unsafe code: the borrow checker then rules out touching a stack frame after its
// function returned, which is why local fuzzing can leave ASan's costly
// stack-use-after-return detection off (fuzz/README.md, "Sanitizer options").
#![forbid(unsafe_code)]

pub mod case_file;
pub mod corpus;
pub mod oracle;
pub mod remote;
pub mod request;
pub mod targets;
pub mod tokens;
pub mod vocabulary;

pub use oracle::{Anomaly, AnomalyKind, Observed, Oracle};
pub use remote::{fuzz_remote, replay_case, RemoteFuzzConfig, RemoteFuzzSummary};
pub use request::{FuzzRequest, HttpRequest, TokenTable};
pub use vocabulary::Vocabulary;
