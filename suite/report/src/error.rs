//! The crate's errors.
//!
//! A person reads these on the command line, usually with the whole chain of sources
//! (`qoauth: error: cannot write reports/latest/junit.xml: Permission denied`), so each
//! variant names the file it is about and leaves the underlying cause to its source rather
//! than repeating it.

use std::path::PathBuf;

use crate::results::RESULTS_FORMAT;

/// Why a report could not be written, a file could not be read back, or the catalogue's
/// README could not be indexed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot create report directory {}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot list {}", path.display())]
    List {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Serialising the result model cannot fail for the types it holds; kept rather than
    /// unwrapped so a future field that can fail surfaces as an error, not a panic.
    #[error("cannot serialise results.json")]
    ResultsJson { source: serde_json::Error },
    #[error("cannot serialise junit.xml")]
    Junit { source: quick_junit::SerializeError },
    #[error("{} is not a results.json file", path.display())]
    NotResults {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// A `results.json` of another version: its fields may mean something else, so it is
    /// refused rather than half read.
    #[error("{} has format {found:?}; this version reads {RESULTS_FORMAT:?}", path.display())]
    ResultsFormat { path: PathBuf, found: String },
    /// The indexer reads only the fields it lists; `qoauth run` validates the whole file and
    /// reports every problem at once, hence the pointer.
    #[error("{}: not a case file (run `qoauth run` to see every error)", path.display())]
    CaseFile {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// `marker` is the whole comment, as it must be written (`<!-- index:end -->`).
    #[error("{} lacks the {marker} marker", path.display())]
    MissingMarker { path: PathBuf, marker: String },
    #[error("{}: the <!-- {name}:start marker is not closed", path.display())]
    UnclosedMarker { path: PathBuf, name: &'static str },
    #[error("cannot read baseline {}", path.display())]
    ReadBaseline {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid baseline {}", path.display())]
    Baseline {
        path: PathBuf,
        source: BaselineError,
    },
}

/// What is wrong with a baseline's text: the first problem, naming the entry (by index and
/// case id) and the field, so it can be fixed without searching the file.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error(
        "expected {{\"accepted\": [{{\"id\": CASE_ID, \"reason\": TEXT, \"expires\": \"YYYY-MM-DD\" (optional)}}]}}"
    )]
    Format { source: serde_json::Error },
    #[error("accepted[{index}].id is empty")]
    EmptyId { index: usize },
    /// An accepted failure without a reason cannot be reviewed when it comes up again.
    #[error("accepted[{index}] ({id}): reason is empty; say why the failure is accepted")]
    EmptyReason { index: usize, id: String },
    /// Two entries for one case could disagree on reason or expiry.
    #[error("accepted[{index}] ({id}): listed more than once")]
    Duplicate { index: usize, id: String },
    #[error("accepted[{index}] ({id}): expires {value:?} is not a YYYY-MM-DD date")]
    Expires {
        index: usize,
        id: String,
        value: String,
        source: time::error::Parse,
    },
}
