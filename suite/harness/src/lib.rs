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
pub use embedded::EmbeddedError;
pub use exec::EngineError;
pub use plan::{dry_run, PlanError, PlannedCase, PlannedRequest};
pub use profile::{Profile, ProfileError};
pub use run::{preflight, run, snapshot, Progress, RunError, RunOptions};
pub use template::TemplateError;

/// An error and every cause under it, joined by `: ` as the CLI prints them (`{:#}`).
///
/// The harness's errors keep their causes as sources rather than in their own messages,
/// but case results, dry-run listings and property reasons are text that is read without
/// the CLI: they must carry the whole chain, or a reason would say that a step failed and
/// not why.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A case's reason is all the user sees of a `let` that failed: it must say which
    /// binding and why.
    #[test]
    fn the_chain_names_the_context_and_its_cause() {
        let e = PlanError::Let {
            name: "verifier".into(),
            source: TemplateError::UnknownGenerator {
                name: "nope".into(),
            },
        };
        assert_eq!(error_chain(&e), r#"let verifier: unknown generator "nope""#);
    }
}
