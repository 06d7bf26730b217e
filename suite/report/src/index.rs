//! The generated parts of `cases/README.md`: the counts and the two indexes of the catalogue
//! (by endpoint and file, and by clause). The prose around them is written by hand; only
//! the text between the `<!-- counts:start -->`/`<!-- index:start -->` markers and their
//! `:end` markers comes from here, so the index cannot drift from the case files: a test
//! compares the committed README with what this renders.

use crate::error::ReportError;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Endpoints in the order the README lists them; others follow, by name.
const ENDPOINTS: &[&str] = &["authorize", "token", "revoke", "discovery", "cross"];
/// Documents in the order the clause index lists them.
const DOCS: &[&str] = &[
    "RFC6749", "RFC6750", "RFC7009", "RFC7523", "RFC7636", "RFC8414", "RFC8693", "RFC9700", "OIDC",
    "spec", "notes",
];
/// Directories under `cases/` that hold no case files.
const SKIP_DIRS: &[&str] = &["profiles", "openapi"];
/// The command that rewrites the README, named in its markers and in stale-file messages.
pub const INDEX_COMMAND: &str = "cargo run -- index";

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    description: String,
    cases: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    id: String,
    title: String,
    level: String,
    refs: Vec<Ref>,
}

#[derive(Deserialize)]
struct Ref {
    doc: String,
    section: String,
}

struct Indexed {
    file: String,
    description: String,
    case: Entry,
}

impl Indexed {
    fn endpoint(&self) -> &str {
        self.case.id.split('.').next().unwrap_or("")
    }
}

/// The README of `cases_dir` as it is and as it should be, in that order.
pub fn cases_readme(cases_dir: &Path) -> Result<(String, String), ReportError> {
    let cases = load(cases_dir)?;
    let path = cases_dir.join("README.md");
    let old = std::fs::read_to_string(&path).map_err(|source| ReportError::Read {
        path: path.clone(),
        source,
    })?;
    let new = replace(&old, "counts", &counts(&cases)).map_err(|e| e.at(&path))?;
    let new = replace(&new, "index", &index(&cases)).map_err(|e| e.at(&path))?;
    Ok((old, new))
}

fn load(root: &Path) -> Result<Vec<Indexed>, ReportError> {
    let mut files = Vec::new();
    collect(root, root, &mut files)?;
    files.sort();
    let mut out = Vec::new();
    for rel in files {
        let path = root.join(&rel);
        let text = std::fs::read_to_string(&path).map_err(|source| ReportError::Read {
            path: path.clone(),
            source,
        })?;
        let doc: File =
            serde_json::from_str(&text).map_err(|source| ReportError::CaseFile { path, source })?;
        let file = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        for case in doc.cases {
            out.push(Indexed {
                file: file.clone(),
                description: doc.description.clone(),
                case,
            });
        }
    }
    // Stable: cases keep their order within a file.
    out.sort_by(|a, b| {
        (rank(a.endpoint()), a.endpoint(), &a.file).cmp(&(
            rank(b.endpoint()),
            b.endpoint(),
            &b.file,
        ))
    });
    Ok(out)
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ReportError> {
    let list = |source| ReportError::List {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(list)? {
        let path = entry.map_err(list)?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.is_dir() {
            if dir == root && (SKIP_DIRS.contains(&name.as_str()) || name.starts_with('.')) {
                continue;
            }
            collect(root, &path, out)?;
        } else if dir != root && name.ends_with(".json") && !name.ends_with(".schema.json") {
            out.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
        }
    }
    Ok(())
}

fn rank(endpoint: &str) -> usize {
    ENDPOINTS
        .iter()
        .position(|e| *e == endpoint)
        .unwrap_or(ENDPOINTS.len())
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn counts(cases: &[Indexed]) -> String {
    let mut by_endpoint: BTreeMap<(usize, &str), usize> = BTreeMap::new();
    let mut by_level: BTreeMap<&str, usize> = BTreeMap::new();
    for c in cases {
        *by_endpoint
            .entry((rank(c.endpoint()), c.endpoint()))
            .or_default() += 1;
        *by_level.entry(c.case.level.as_str()).or_default() += 1;
    }
    let mut s = String::from("| endpoint | cases |\n|---|---:|\n");
    for ((_, e), n) in &by_endpoint {
        let _ = writeln!(s, "| {e} | {n} |");
    }
    let _ = writeln!(s, "| **total** | **{}** |", cases.len());
    s.push_str("\n| level | cases | verdict when broken |\n|---|---:|---|");
    for (level, verdict) in [
        ("MUST", "fail"),
        ("SHOULD", "warn"),
        ("MAY", "recorded"),
        ("INFO", "recorded"),
    ] {
        if let Some(n) = by_level.get(level) {
            let _ = write!(s, "\n| {level} | {n} | {verdict} |");
        }
    }
    s
}

/// Orders sections numerically where they are numbers ("4.1.2" before "4.10").
fn section_key(section: &str) -> Vec<(u8, u64, String)> {
    section
        .split(['.', ' ', '\t', '\n'])
        .map(|p| match p.parse::<u64>() {
            Ok(n) if p.bytes().all(|b| b.is_ascii_digit()) => (0, n, String::new()),
            _ => (1, 0, p.to_string()),
        })
        .collect()
}

fn index(cases: &[Indexed]) -> String {
    let mut per_endpoint: BTreeMap<&str, usize> = BTreeMap::new();
    for c in cases {
        *per_endpoint.entry(c.endpoint()).or_default() += 1;
    }
    let mut lines = vec!["## Index by endpoint".to_string()];
    let (mut endpoint, mut file): (Option<&str>, Option<&str>) = (None, None);
    for c in cases {
        if endpoint != Some(c.endpoint()) {
            lines.push(String::new());
            lines.push(format!(
                "### {} ({})",
                c.endpoint(),
                per_endpoint[c.endpoint()]
            ));
            endpoint = Some(c.endpoint());
            file = None;
        }
        if file != Some(c.file.as_str()) {
            lines.push(String::new());
            lines.push(format!("`{}`: {}", c.file, c.description));
            lines.push(String::new());
            lines.push("| id | level | title | clauses |".into());
            lines.push("|---|---|---|---|".into());
            file = Some(c.file.as_str());
        }
        let refs: BTreeSet<String> = c
            .case
            .refs
            .iter()
            .map(|r| format!("{} {}", r.doc, r.section))
            .collect();
        let refs: Vec<String> = refs.into_iter().collect();
        lines.push(format!(
            "| `{}` | {} | {} | {} |",
            c.case.id,
            c.case.level,
            cell(&c.case.title),
            cell(&refs.join(", "))
        ));
    }
    lines.push(String::new());
    lines.push("## Index by clause".into());
    lines.push(String::new());
    lines.push("Every RFC section, spec operation and notes heading the catalogue enforces, with the cases that exercise it.".into());
    let mut by_clause: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    for c in cases {
        for r in &c.case.refs {
            by_clause
                .entry((r.doc.as_str(), r.section.as_str()))
                .or_default()
                .insert(c.case.id.as_str());
        }
    }
    for doc in DOCS {
        let mut keys: Vec<&(&str, &str)> = by_clause.keys().filter(|k| k.0 == *doc).collect();
        if keys.is_empty() {
            continue;
        }
        keys.sort_by_key(|k| section_key(k.1));
        lines.push(String::new());
        lines.push(format!("### {doc}"));
        lines.push(String::new());
        lines.push("| section | cases |".into());
        lines.push("|---|---|".into());
        for k in keys {
            let ids: Vec<String> = by_clause[k].iter().map(|i| format!("`{i}`")).collect();
            lines.push(format!("| {} | {} |", cell(k.1), ids.join(", ")));
        }
    }
    lines.join("\n")
}

/// A marker `replace` did not find; the README's path is added by [`cases_readme`], which
/// knows it.
#[derive(Debug)]
enum MarkerMissing {
    Start(&'static str),
    Unclosed(&'static str),
    End(&'static str),
}

impl MarkerMissing {
    fn at(self, path: &Path) -> ReportError {
        let path = path.to_path_buf();
        match self {
            MarkerMissing::Start(name) => ReportError::MissingMarker {
                path,
                marker: format!("<!-- {name}:start -->"),
            },
            MarkerMissing::Unclosed(name) => ReportError::UnclosedMarker { path, name },
            MarkerMissing::End(name) => ReportError::MissingMarker {
                path,
                marker: format!("<!-- {name}:end -->"),
            },
        }
    }
}

/// Replaces what lies between `<!-- NAME:start ... -->` and `<!-- NAME:end -->`.
fn replace(text: &str, name: &'static str, body: &str) -> Result<String, MarkerMissing> {
    let start = format!("<!-- {name}:start");
    let end = format!("\n<!-- {name}:end -->");
    let a = text.find(&start).ok_or(MarkerMissing::Start(name))?;
    let open_end = text[a..]
        .find("-->\n")
        .map(|i| a + i + 4)
        .ok_or(MarkerMissing::Unclosed(name))?;
    let b = text[open_end..]
        .find(&end)
        .map(|i| open_end + i)
        .ok_or(MarkerMissing::End(name))?;
    let marker = format!("<!-- {name}:start (generated by `{INDEX_COMMAND}`) -->\n");
    Ok(format!("{}{marker}{body}{}", &text[..a], &text[b..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_order_numerically() {
        let mut v = vec!["4.10", "4.1.2", "4.2", "10", "Appendix B"];
        v.sort_by_key(|s| section_key(s));
        assert_eq!(v, ["4.1.2", "4.2", "4.10", "10", "Appendix B"]);
    }

    #[test]
    fn replace_keeps_the_prose_and_needs_both_markers() {
        let text = "intro\n<!-- counts:start (old) -->\nstale\n<!-- counts:end -->\noutro\n";
        let new = replace(text, "counts", "fresh").unwrap();
        assert_eq!(
            new,
            format!("intro\n<!-- counts:start (generated by `{INDEX_COMMAND}`) -->\nfresh\n<!-- counts:end -->\noutro\n")
        );
        assert!(replace("no markers", "counts", "x").is_err());
        assert!(replace("<!-- counts:start -->\nx", "counts", "x").is_err());
    }

    #[test]
    fn a_missing_marker_names_the_readme_and_the_marker() {
        let readme = Path::new("cases/README.md");
        let err = replace("<!-- index:start -->\nx", "index", "x")
            .unwrap_err()
            .at(readme);
        assert_eq!(
            err.to_string(),
            "cases/README.md lacks the <!-- index:end --> marker"
        );
        let err = replace("no markers", "counts", "x").unwrap_err().at(readme);
        assert_eq!(
            err.to_string(),
            "cases/README.md lacks the <!-- counts:start --> marker"
        );
    }
}
