//! The conformance engine: case files -> plan -> requests -> observations -> verdicts.
//!
//! The report writers and the CLI use [`cases::Catalogue`] to load cases,
//! [`profile::Profile`] (or [`embedded::start`]) to describe the target, [`run::run`] to
//! run, [`plan::dry_run`] to list requests without sending, and read [`result`].
//!
//! The case format belongs to this crate: [`cases`] holds its typed model, its one schema
//! validator ([`cases::parse_case_file`]) and its one writer ([`write_case_file`]), which
//! the properties and remote fuzzing use for the cases they generate.
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

pub use cases::{
    write_case_file, Case, CaseFile, Catalogue, LoadError, LoadErrors, WriteCaseError,
};
pub use plan::{dry_run, PlannedCase, PlannedRequest};
pub use profile::Profile;
pub use run::{preflight, run, snapshot, Progress, RunOptions};
