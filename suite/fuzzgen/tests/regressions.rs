//! Replays every saved fuzz finding (`fuzz/regressions/<target>/*`) and every seed the case
//! catalogue yields through the targets' invariant checks, so `cargo test` keeps covering
//! them on stable without cargo-fuzz.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use qoauth_fuzzgen::{corpus, targets};
use qoauth_testkit::paths::repo_root;

/// The seeds the case catalogue yields, by target.
fn catalogue_seeds() -> corpus::Seeds {
    corpus::seeds_from_catalogue(
        &repo_root().join("cases"),
        &repo_root().join("suite/reference/fixtures"),
    )
    .expect("the catalogue yields seeds")
}

/// Runs every input, collecting failures so one report names all of them.
fn replay(
    inputs: impl IntoIterator<Item = (String, &'static str, Vec<u8>)>,
) -> (usize, Vec<String>) {
    let mut failures = Vec::new();
    let mut ran = 0;
    for (name, target, data) in inputs {
        ran += 1;
        if catch_unwind(AssertUnwindSafe(|| targets::run(target, &data))).is_err() {
            failures.push(format!("{target}: {name}"));
        }
    }
    (ran, failures)
}

/// `fuzz/regressions/open.txt`: findings in code this crate does not own, not fixed yet.
fn open_findings(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("open.txt"))
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            line.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[test]
fn saved_regressions_hold() {
    let dir = repo_root().join("fuzz/regressions");
    let open = open_findings(&dir);
    let mut fixed = Vec::new();
    let mut inputs = Vec::new();
    for &target in targets::TARGETS {
        let Ok(entries) = std::fs::read_dir(dir.join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("readable regression dir").path();
            let name = format!("{target}/{}", path.file_name().unwrap().to_string_lossy());
            let data = std::fs::read(&path).expect("readable regression input");
            if open.contains(&name) {
                let fails = catch_unwind(AssertUnwindSafe(|| targets::run(target, &data))).is_err();
                if !fails {
                    fixed.push(name);
                }
            } else {
                inputs.push((name, target, data));
            }
        }
    }
    for entry in std::fs::read_dir(&dir).expect("fuzz/regressions exists") {
        let path = entry.expect("readable").path();
        if path.is_dir() {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                targets::TARGETS.contains(&name.as_str()),
                "fuzz/regressions/{name} names no target"
            );
        }
    }
    for name in &open {
        assert!(
            dir.join(name).is_file(),
            "open.txt lists {name}, which does not exist"
        );
    }
    let (ran, failures) = replay(inputs);
    println!(
        "replayed {ran} regression inputs, {} open findings",
        open.len()
    );
    assert!(failures.is_empty(), "regressions failing: {failures:#?}");
    assert!(
        fixed.is_empty(),
        "fixed now, remove from fuzz/regressions/open.txt: {fixed:#?}"
    );
}

#[test]
fn catalogue_seeds_hold_every_invariant() {
    let seeds = catalogue_seeds();
    for &target in targets::TARGETS {
        assert!(
            seeds.get(target).is_some_and(|inputs| !inputs.is_empty()),
            "the catalogue yields no seed for {target}"
        );
    }
    let inputs = seeds.iter().flat_map(|(target, inputs)| {
        inputs
            .iter()
            .enumerate()
            .map(move |(index, data)| (format!("seed #{index}"), *target, data.clone()))
    });
    let (ran, failures) = replay(inputs);
    println!("replayed {ran} catalogue seeds");
    assert!(failures.is_empty(), "seeds failing: {failures:#?}");
}

/// Seeds that only reach error paths would leave the success branches of the invariants
/// unfuzzed: the catalogue must yield accepted inputs too.
#[test]
fn catalogue_seeds_reach_the_success_paths() {
    use qoauth_reference::{parse, Fixture};
    let seeds = catalogue_seeds();
    let fixture = Fixture::default_fixture();
    let accepted_assertions = seeds["client_assertion"]
        .iter()
        .filter(|data| {
            let client =
                targets::ASSERTION_CLIENTS[data[0] as usize % targets::ASSERTION_CLIENTS.len()];
            let assertion = std::str::from_utf8(&data[1..]).unwrap_or_default();
            parse::client_assertion(
                &fixture,
                client,
                assertion,
                targets::ASSERTION_AUDIENCE,
                targets::ASSERTION_NOW,
            )
            .is_ok()
        })
        .count();
    assert!(accepted_assertions > 0, "no seed assertion validates");
    let accepted_bodies = seeds["token_body"]
        .iter()
        .filter(|data| {
            let newline = data.iter().position(|b| *b == b'\n').unwrap_or(0);
            let content_type = std::str::from_utf8(&data[..newline]).ok();
            parse::token_request(content_type, &data[newline + 1..]).is_ok()
        })
        .count();
    assert!(accepted_bodies > 0, "no seed token body parses");
    println!("{accepted_assertions} assertions and {accepted_bodies} token bodies accepted");
}

/// The router seeds must reach the app's successes (tokens, redirects back to clients), not
/// only its error paths, or the router target would fuzz little beyond the first check.
#[test]
fn catalogue_router_seeds_reach_success_and_redirects() {
    let seeds = catalogue_seeds();
    let mut statuses = std::collections::BTreeMap::new();
    for data in &seeds["router"] {
        if let Some((_, observed)) = targets::router_exchange(data) {
            *statuses.entry(observed.status).or_insert(0usize) += 1;
        }
    }
    println!("router seed statuses: {statuses:?}");
    assert!(
        statuses.contains_key(&200),
        "no seed gets a 200: {statuses:?}"
    );
    assert!(
        statuses.contains_key(&302),
        "no seed gets a redirect: {statuses:?}"
    );
    assert!(
        statuses.keys().any(|s| (400..500).contains(s)),
        "no seed gets a 4xx"
    );
}
