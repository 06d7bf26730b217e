//! Turns a [`RunResult`] into the files people and CI systems read, and decides whether a run
//! passes the gate.
//!
//! Every writer reads the already-redacted result model and nothing else, so none of them can
//! leak a secret the engine did not already remove. Every writer orders what it prints
//! (endpoints, documents, sections, case ids) so two runs with the same verdicts give the same
//! files apart from timings.

mod baseline;
mod console;
mod error;
mod html;
mod index;
mod junit;
mod markdown;
mod results;
mod tally;
mod text;

use qoauth_harness::result::RunResult;
use std::path::{Path, PathBuf};

pub use baseline::{Accepted, AcceptedFailure, Baseline, Gate, Offence};
pub use console::console_summary;
pub use error::{BaselineError, ReportError};
pub use html::render_html;
pub use index::{cases_readme, INDEX_COMMAND};
pub use junit::render_junit;
pub use markdown::render_markdown;
pub use results::{read_results, render_results, ResultsFile, RESULTS_FORMAT};

/// The directory `qoauth run` writes to when no `--report` is given.
pub const DEFAULT_REPORT_DIR: &str = "reports/latest";

/// Writes `results.json`, `junit.xml`, `report.html` and `summary.md` into `dir` (created if
/// missing) and returns their paths in that order.
///
/// The gate is optional so reports can be written for runs without a baseline; when given,
/// accepted failures are marked as such in every format.
pub fn write_reports(
    dir: &Path,
    run: &RunResult,
    gate: &Gate,
) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let files = [
        ("results.json", render_results(run, gate)?),
        ("junit.xml", render_junit(run, gate)?),
        ("report.html", render_html(run, gate)),
        ("summary.md", render_markdown(run, gate)),
    ];
    let mut written = Vec::with_capacity(files.len());
    for (name, body) in files {
        let path = dir.join(name);
        if let Err(source) = std::fs::write(&path, body) {
            return Err(ReportError::Write { path, source });
        }
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::results::tests::{case, run_of};
    use qoauth_harness::result::{Level, Verdict};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh directory under the system temp dir, unique per process and call.
    pub(crate) fn temp_dir(tag: &str) -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "qoauth-report-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn write_reports_writes_all_four_files() {
        let dir = temp_dir("all").join("nested/latest");
        let run = run_of(vec![case("token.a", Level::Must, Verdict::Pass)]);
        let written = write_reports(&dir, &run, &Gate::default()).unwrap();
        let names: Vec<_> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            names,
            ["results.json", "junit.xml", "report.html", "summary.md"]
        );
        for p in &written {
            assert!(std::fs::metadata(p).unwrap().len() > 0, "{}", p.display());
        }
        std::fs::remove_dir_all(dir.parent().unwrap().parent().unwrap()).ok();
    }

    #[test]
    fn every_format_is_independent_of_run_order() {
        let cases = vec![
            case("token.b", Level::Must, Verdict::Fail),
            case("authorize.a", Level::Should, Verdict::Warn),
            case("revoke.c", Level::Must, Verdict::Pass),
            case("token.a", Level::Info, Verdict::Info),
        ];
        let mut reversed = cases.clone();
        reversed.reverse();
        let (one, two) = (run_of(cases), run_of(reversed));
        let today = time::macros::date!(2026 - 01 - 01);
        let (g1, g2) = (
            Gate::evaluate(&one, None, today),
            Gate::evaluate(&two, None, today),
        );
        assert_eq!(
            render_results(&one, &g1).unwrap(),
            render_results(&two, &g2).unwrap()
        );
        assert_eq!(
            render_junit(&one, &g1).unwrap(),
            render_junit(&two, &g2).unwrap()
        );
        assert_eq!(render_html(&one, &g1), render_html(&two, &g2));
        assert_eq!(render_markdown(&one, &g1), render_markdown(&two, &g2));
        assert_eq!(console_summary(&one, &g1), console_summary(&two, &g2));
    }

    #[test]
    fn write_reports_fails_clearly_on_an_unwritable_dir() {
        let base = temp_dir("blocked");
        let file = base.join("a-file");
        std::fs::write(&file, "x").unwrap();
        let run = run_of(vec![]);
        let err = write_reports(&file.join("sub"), &run, &Gate::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot create report directory"), "{err}");
        std::fs::remove_dir_all(base).ok();
    }
}
