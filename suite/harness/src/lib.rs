//! The conformance engine: case files -> plan -> requests -> observations -> verdicts.
pub mod result;
