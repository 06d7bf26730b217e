//! The vendored OpenAPI spec's component schemas as JSON Schema validators. OpenAPI 3.0
//! schemas are a dialect of draft 4: `nullable` becomes a `null` type, `example` and
//! the like are ignored, and `#/components/schemas/X` refs resolve inside the document.

use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;

struct Spec {
    validators: BTreeMap<String, Result<jsonschema::Validator, String>>,
}

fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let doc: Value =
            serde_json::from_str(include_str!("../../../cases/openapi/qlik-oauth.json"))
                .unwrap_or(Value::Null);
        let components = doc
            .pointer("/components/schemas")
            .cloned()
            .unwrap_or_else(|| Value::Object(Default::default()));
        let mut converted = components.clone();
        convert(&mut converted);
        let mut validators = BTreeMap::new();
        if let Value::Object(map) = &components {
            for name in map.keys() {
                let root = serde_json::json!({
                    "$ref": format!("#/components/schemas/{name}"),
                    "components": {"schemas": converted.clone()},
                });
                let v = jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft4)
                    .should_validate_formats(false)
                    .build(&root)
                    .map_err(|e| format!("component schema {name} does not compile: {e}"));
                validators.insert(name.clone(), v);
            }
        }
        Spec { validators }
    })
}

/// Rewrites OpenAPI-only keywords into their JSON Schema meaning.
fn convert(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if o.get("nullable") == Some(&Value::Bool(true)) {
                match o.get("type").cloned() {
                    Some(Value::String(t)) => {
                        o.insert("type".into(), serde_json::json!([t, "null"]));
                    }
                    Some(Value::Array(mut ts)) => {
                        ts.push(Value::String("null".into()));
                        o.insert("type".into(), Value::Array(ts));
                    }
                    _ => {}
                }
                if let Some(Value::Array(e)) = o.get_mut("enum") {
                    e.push(Value::Null);
                }
            }
            for k in [
                "nullable",
                "example",
                "examples",
                "discriminator",
                "xml",
                "externalDocs",
                "readOnly",
                "writeOnly",
                "deprecated",
            ] {
                o.remove(k);
            }
            for (_, x) in o.iter_mut() {
                convert(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(convert),
        _ => {}
    }
}

pub fn has_schema(name: &str) -> bool {
    spec().validators.contains_key(name)
}

pub fn schema_names() -> Vec<String> {
    spec().validators.keys().cloned().collect()
}

/// Validates `instance` against a named component schema; the errors say where.
pub fn check(name: &str, instance: &Value) -> Result<(), Vec<String>> {
    match spec().validators.get(name) {
        None => Err(vec![format!("no component schema named {name}")]),
        Some(Err(e)) => Err(vec![e.clone()]),
        Some(Ok(v)) => {
            let errs: Vec<String> = v
                .iter_errors(instance)
                .map(|e| {
                    let p = e.instance_path().to_string();
                    format!(
                        "{}: {}",
                        if p.is_empty() { "/".into() } else { p },
                        short(&e.to_string())
                    )
                })
                .collect();
            if errs.is_empty() {
                Ok(())
            } else {
                Err(errs)
            }
        }
    }
}

fn short(s: &str) -> String {
    let s = s.replace('\n', " ");
    if s.chars().count() > 160 {
        format!("{}...", s.chars().take(160).collect::<String>())
    } else {
        s
    }
}
