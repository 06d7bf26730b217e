//! The crate's error.
//!
//! Any of these stops a matrix before it judges anything: a matrix with a run missing
//! would report its fault as missed, or its entry as passing, for a reason that has
//! nothing to do with the suite. Each variant says which step failed and for which server;
//! the cause is its source, so the command line prints the whole chain.
//!
//! The sources are the harness's, the reference's and the property runner's own typed
//! errors, so a caller can tell a refused profile from a server that would not start.

use std::path::PathBuf;

/// Why the detection or the latitude matrix could not run.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// Every run's profile derives from the reference's, so none can run without it.
    #[error("the reference profile {} does not load", path.display())]
    Profile {
        path: PathBuf,
        source: qoauth_harness::ProfileError,
    },
    /// Each server listens on a port of its own, which the profile must take.
    #[error("the reference profile does not take the server's URL {url}")]
    BaseUrl {
        url: String,
        source: qoauth_harness::ProfileError,
    },
    #[error("the fixture {fixture} is refused")]
    Fixture {
        /// Its path, or how it differs from the default one.
        fixture: String,
        source: qoauth_reference::FixtureError,
    },
    /// `server` says which reference it was: clean, with which fault, or as which
    /// latitude entry.
    #[error("cannot start {server}")]
    Server {
        server: String,
        source: qoauth_reference::ServeError,
    },
    /// The harness fails a run only when it cannot start one; whatever the server answers
    /// becomes a verdict instead.
    #[error("the case run against {url} could not start")]
    Cases {
        url: String,
        source: qoauth_harness::RunError,
    },
    #[error("the property run against {url} did not finish")]
    Properties {
        url: String,
        source: qoauth_props::PropsError,
    },
    /// A run's task panicked or was cancelled: a bug in the suite, never the server's doing.
    #[error("{run} ended abnormally")]
    Aborted {
        /// Which kind of run: the property runner, or a run of the matrix.
        run: &'static str,
        source: tokio::task::JoinError,
    },
    /// The property runs always write their failing scenarios somewhere; the matrix gives
    /// them a directory of its own so they never land in `reports/properties/`.
    #[error("cannot create the scratch directory {}", path.display())]
    Scratch {
        path: PathBuf,
        source: std::io::Error,
    },
}
