//! Turning a shrunk counterexample into a scenario case: the scenario's lets and steps up
//! to the failing one, the expectations that lead there, and the expectation it breaks.
//! The runner writes it with the harness's case-file writer, which loads every file before
//! writing it, so what a person reviews is a case that runs.

use crate::catalogue::Property;
use crate::rules::Violation;
use crate::scenario::Scenario;
use qoauth_harness::cases::{Case, CaseFile};

/// The case file for a violation of `prop` found with `seed`.
pub fn build(prop: &Property, sc: &Scenario, v: &Violation, seed: u64, endpoint: &str) -> CaseFile {
    let mut steps = Vec::new();
    for (i, step) in sc.steps.iter().enumerate().take(v.step + 1) {
        let mut s = step.to_case();
        let expect = if i == v.step {
            // The last step's captures feed nothing, and a refused request has none.
            s.capture.clear();
            s.expect_count = v.expect_count.clone();
            Some(v.expect.clone())
        } else {
            v.pre.iter().find(|(j, _)| *j == i).map(|(_, e)| e.clone())
        };
        s.expect = expect.filter(|e| !e.is_empty());
        steps.push(s);
    }
    let mut case = Case::new(
        format!("{endpoint}.property.{}_{seed:016x}", prop.name),
        format!("{} (found by property {})", prop.title, prop.name),
        prop.level,
        prop.refs.clone(),
        steps,
    );
    case.description = Some(format!(
        "Minimal counterexample found by property {} with seed {seed}: expected {}.",
        prop.name, v.expected
    ));
    case.lets = sc.lets_json();
    CaseFile {
        description: Some(format!(
            "Found by qoauth property {} (seed {seed}); review before adding to cases/.",
            prop.name
        )),
        cases: vec![case],
    }
}

/// The name of the file a failure of property `name` with `seed` is written to.
pub fn file_name(name: &str, seed: u64) -> String {
    format!("{name}-{seed:016x}.json")
}
