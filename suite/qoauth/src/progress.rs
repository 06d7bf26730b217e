//! The progress bar `qoauth run` draws on stderr while cases run. Hidden when stderr is not
//! a terminal, so CI logs and piped output get only the summary.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use qoauth_harness::result::Verdict;
use qoauth_harness::run::{Progress, ProgressFn};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub struct RunProgress {
    bar: ProgressBar,
}

impl RunProgress {
    pub fn new(total: usize) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let target = if terminal {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(total as u64), target);
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} cases {msg}",
        ) {
            bar.set_style(style);
        }
        // Keeps the spinner and clock moving while a slow case holds the count still.
        if terminal {
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
        }
        Self { bar }
    }

    /// The callback the engine calls as cases finish; counts problems as they happen so a
    /// long run shows trouble before it ends.
    pub fn callback(&self) -> ProgressFn {
        let bar = self.bar.clone();
        let fails = Arc::new(AtomicUsize::new(0));
        let warns = Arc::new(AtomicUsize::new(0));
        let errors = Arc::new(AtomicUsize::new(0));
        Arc::new(move |p: Progress<'_>| match p {
            Progress::CaseDone { done, result, .. } => {
                let counter = match result.verdict {
                    Verdict::Fail => Some(&fails),
                    Verdict::Warn => Some(&warns),
                    Verdict::Error => Some(&errors),
                    _ => None,
                };
                if let Some(c) = counter {
                    c.fetch_add(1, Ordering::Relaxed);
                }
                bar.set_position(done as u64);
                bar.set_message(format!(
                    "{} fail, {} error, {} warn",
                    fails.load(Ordering::Relaxed),
                    errors.load(Ordering::Relaxed),
                    warns.load(Ordering::Relaxed)
                ));
            }
            Progress::Revoking { tokens } => {
                bar.set_message(format!("revoking {tokens} token(s) the run was issued"));
            }
            Progress::Revoked { revoked, failed } => {
                bar.set_message(format!("revoked {revoked}, {failed} failed"));
            }
        })
    }

    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}
