//! The conformance engine: case files -> plan -> requests -> observations -> verdicts.
//!
//! The report writers and the CLI use [`cases::Catalogue`] to load cases,
//! [`profile::Profile`] (or [`embedded::start`]) to describe the target, [`run::run`] to
//! run, [`plan::dry_run`] to list requests without sending, and read [`result`].
pub mod cases;
pub mod embedded;
pub mod exec;
pub mod invariants;
pub mod plan;
pub mod profile;
pub mod redact;
pub mod result;
pub mod run;
pub mod spec;
pub mod template;
pub mod verdict;

pub use cases::{Case, Catalogue, LoadError, LoadErrors};
pub use plan::{dry_run, PlannedCase, PlannedRequest};
pub use profile::Profile;
pub use run::{preflight, run, snapshot, Progress, RunOptions};
