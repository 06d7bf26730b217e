//! Turning a shrunk counterexample into a scenario case: the scenario's lets and steps up
//! to the failing one, the expectations that lead there, and the expectation it breaks.
//! Every file is validated against `cases/case.schema.json` and loaded by the harness's
//! own parser before it is written, so what a person reviews is a case that runs.

use crate::catalogue::Property;
use crate::rules::Violation;
use crate::scenario::Scenario;
use anyhow::{anyhow, Context, Result};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The case file for a violation of `prop` found with `seed`.
pub fn build(prop: &Property, sc: &Scenario, v: &Violation, seed: u64, endpoint: &str) -> Value {
    let mut steps = Vec::new();
    for (i, step) in sc.steps.iter().enumerate().take(v.step + 1) {
        let mut s = step.to_case();
        if i == v.step {
            // The last step's captures feed nothing, and a refused request has none.
            if let Some(o) = s.as_object_mut() {
                o.remove("capture");
            }
        }
        let expect = if i == v.step {
            Some(v.expect.clone())
        } else {
            v.pre.iter().find(|(j, _)| *j == i).map(|(_, e)| e.clone())
        };
        if let Some(mut e) = expect {
            if let Some(count) = e.as_object_mut().and_then(|o| o.remove("expect_count")) {
                s["expect_count"] = count;
            }
            if e.as_object().is_some_and(|o| !o.is_empty()) {
                s["expect"] = e;
            }
        }
        steps.push(s);
    }
    let refs: Vec<Value> = prop
        .refs
        .iter()
        .map(|r| {
            let mut o = json!({"doc": r.doc, "section": r.section});
            if let Some(q) = &r.quote {
                o["quote"] = Value::String(q.clone());
            }
            o
        })
        .collect();
    let mut case = Map::new();
    case.insert(
        "id".into(),
        Value::String(format!("{endpoint}.property.{}_{seed:016x}", prop.name)),
    );
    case.insert(
        "title".into(),
        Value::String(format!("{} (found by property {})", prop.title, prop.name)),
    );
    case.insert(
        "description".into(),
        Value::String(format!(
            "Minimal counterexample found by property {} with seed {seed}: expected {}.",
            prop.name, v.expected
        )),
    );
    case.insert(
        "level".into(),
        serde_json::to_value(prop.level).unwrap_or(json!("MUST")),
    );
    case.insert("refs".into(), Value::Array(refs));
    if !sc.lets.is_empty() {
        case.insert("let".into(), Value::Object(sc.lets_json()));
    }
    case.insert("steps".into(), Value::Array(steps));
    json!({
        "description": format!("Found by qoauth property {} (seed {seed}); review before adding to cases/.", prop.name),
        "cases": [Value::Object(case)]
    })
}

fn schema() -> Result<&'static jsonschema::Validator, String> {
    static V: OnceLock<Result<jsonschema::Validator, String>> = OnceLock::new();
    V.get_or_init(|| {
        let text = include_str!("../../../cases/case.schema.json");
        let doc: Value =
            serde_json::from_str(text).map_err(|e| format!("case.schema.json: {e}"))?;
        jsonschema::validator_for(&doc)
            .map_err(|e| format!("case.schema.json does not compile: {e}"))
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// Checks a case file against the schema and the harness's loader.
pub fn validate(file: &Value) -> Result<()> {
    let v = schema().map_err(|e| anyhow!(e))?;
    let errors: Vec<String> = v
        .iter_errors(file)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    if !errors.is_empty() {
        return Err(anyhow!(
            "the case file does not match case.schema.json: {}",
            errors.join("; ")
        ));
    }
    let text = serde_json::to_string_pretty(file)?;
    qoauth_harness::cases::parse_case_file(Path::new("generated.json"), &text).map_err(|errs| {
        anyhow!(
            "the harness refuses the case file: {}",
            errs.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
    Ok(())
}

/// Validates and writes the case file under `dir`; returns its path.
pub fn write(dir: &Path, name: &str, seed: u64, file: &Value) -> Result<PathBuf> {
    validate(file)?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(format!("{name}-{seed:016x}.json"));
    let mut text = serde_json::to_string_pretty(file)?;
    text.push('\n');
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}
