//! Where tests read and write files: the repository, scratch directories, and generated
//! files that must equal what is committed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The repository root (the workspace's folder), where `cases/`, `reports/` and `fuzz/`
/// are. Every crate sits two levels below it, this one too.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A path under the system's temporary directory that no other test uses:
/// `qoauth-<tag>-<process id>-<counter>`, emptied of anything an earlier run left there and
/// not created, for a test that checks what the code under test creates.
pub fn scratch_path(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "qoauth-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// [`scratch_path`], created empty.
pub fn scratch_dir(tag: &str) -> PathBuf {
    let dir = scratch_path(tag);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// Asserts the committed file at `relative` (from the repository root) is `rendered`, what
/// the code generates today. When it is not, the fresh text is written to the temporary
/// directory and the failure says how to regenerate the file (`regenerate`, a command).
pub fn assert_current(relative: &str, rendered: &str, regenerate: &str) {
    let committed = std::fs::read_to_string(repo_root().join(relative)).unwrap_or_default();
    if committed != rendered {
        let name = Path::new(relative)
            .file_name()
            .expect("a file name")
            .to_owned();
        let fresh = std::env::temp_dir().join(name);
        let _ = std::fs::write(&fresh, rendered);
        panic!(
            "{relative} is out of date; regenerate it with `{regenerate}` (fresh copy: {})",
            fresh.display()
        );
    }
}
