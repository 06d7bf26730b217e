//! The whole catalogue against the embedded reference: no secret of the profile and no
//! token, code or other sensitive value the run saw appears in any output, and three
//! runs (each against a fresh reference) give identical snapshots.

use qoauth_harness::{dry_run, embedded, run, snapshot, Catalogue, RunOptions};
use std::sync::{Arc, Mutex};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_output_holds_a_secret_and_snapshots_repeat() {
    let catalogue = Catalogue::load(&Catalogue::default_dir()).unwrap_or_else(|e| panic!("{e}"));
    let mut runs = Vec::new();
    // Values are sensitive within the case that saw them (an error code captured by one
    // case may be shown by another), so each case's result is searched for its own.
    let seen = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    for _ in 0..3 {
        let target = embedded::start().await.expect("embedded reference");
        let s2 = Arc::clone(&seen);
        let opts = RunOptions {
            sensitive_sink: Some(Arc::new(move |id: &str, v: &str| {
                s2.lock().unwrap().push((id.to_string(), v.to_string()))
            })),
            ..RunOptions::default()
        };
        let r = run(&catalogue.cases, &target.profile, &opts)
            .await
            .expect("run");
        let mut slow: Vec<(f64, &str)> = r
            .cases
            .iter()
            .map(|c| (c.duration_ms, c.id.as_str()))
            .collect();
        slow.sort_by(|a, b| b.0.total_cmp(&a.0));
        eprintln!(
            "run: {:.0} ms wall, slowest cases: {:?}",
            r.stats.wall_ms,
            &slow[..3]
        );
        let plan = serde_json::to_string(&dry_run(&catalogue.cases, &target.profile)).unwrap();
        let secrets: Vec<String> = target
            .profile
            .secrets()
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        target.shutdown().await;
        let seen = seen.lock().unwrap();
        assert!(
            seen.len() > 100,
            "the run saw only {} sensitive values",
            seen.len()
        );
        let whole = serde_json::to_string(&r).unwrap();
        for out in [&whole, &plan] {
            for s in &secrets {
                assert!(!out.contains(s.as_str()), "profile secret in an output");
            }
        }
        for c in &r.cases {
            let out = serde_json::to_string(c).unwrap();
            for (_, v) in seen.iter().filter(|(id, v)| *id == c.id && v.len() >= 6) {
                if let Some(at) = out.find(v.as_str()) {
                    let ctx = &out[at.saturating_sub(120)..(at + v.len() + 40).min(out.len())];
                    panic!(
                        "{}: sensitive value {v:?} reached its result: ...{ctx}...",
                        c.id
                    );
                }
            }
        }
        // Tokens are single-use material: none may appear in any case's result. Every
        // delimited word of the output is looked up among the values seen.
        let long: std::collections::HashSet<&str> = seen
            .iter()
            .map(|(_, v)| v.as_str())
            .filter(|v| v.len() >= 24)
            .collect();
        for word in whole.split(|c: char| !(c.is_ascii_alphanumeric() || "-._~+/=|".contains(c))) {
            assert!(
                !long.contains(word),
                "sensitive value {word:?} in the run result"
            );
        }
        drop(seen);
        runs.push(r);
    }
    let snaps: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            r.cases
                .iter()
                .map(|c| serde_json::to_string_pretty(&snapshot(c)).unwrap())
                .collect()
        })
        .collect();
    let mut differing = Vec::new();
    for (i, c) in runs[0].cases.iter().enumerate() {
        if snaps[0][i] != snaps[1][i] || snaps[1][i] != snaps[2][i] {
            differing.push(c.id.clone());
        }
    }
    let detail: Vec<String> = differing
        .iter()
        .map(|id| {
            let i = runs[0].cases.iter().position(|c| &c.id == id).unwrap();
            let (a, b) = if snaps[0][i] != snaps[1][i] {
                (&snaps[0][i], &snaps[1][i])
            } else {
                (&snaps[1][i], &snaps[2][i])
            };
            let line = a
                .lines()
                .zip(b.lines())
                .position(|(x, y)| x != y)
                .unwrap_or(0);
            let around = |s: &String| {
                s.lines()
                    .skip(line.saturating_sub(3))
                    .take(6)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            format!("{id} at line {line}:\n{}\n  vs\n{}", around(a), around(b))
        })
        .collect();
    assert!(
        differing.is_empty(),
        "snapshots differ between runs:\n{}",
        detail.join("\n\n")
    );
}
