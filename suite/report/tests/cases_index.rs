//! The counts and indexes of cases/README.md are generated from the case files; this keeps
//! the committed README equal to what the catalogue gives, so a case added without
//! re-indexing fails here instead of leaving the index wrong.

use qoauth_testkit::paths::repo_root;

#[test]
fn cases_readme_index_is_current() {
    let cases = repo_root().join("cases");
    let (old, new) = qoauth_report::cases_readme(&cases).expect("cases/README.md renders");
    if old != new {
        let first = old
            .lines()
            .zip(new.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| old.lines().count().min(new.lines().count()));
        panic!(
            "cases/README.md is stale from line {}: run `{}` and commit the result",
            first + 1,
            qoauth_report::INDEX_COMMAND
        );
    }
    assert!(new.contains("| **total** |"), "the counts table is missing");
}
