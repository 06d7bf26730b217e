//! Bad case files are refused at load time with the file, the case id, the field and,
//! where it is cheap to find, the line.

use qoauth_harness::cases::{parse_case_file, LoadError};
use qoauth_harness::{error_chain, Catalogue};
use std::path::Path;

fn errors(text: &str) -> Vec<LoadError> {
    parse_case_file(Path::new("cases/token/bad.json"), text).expect_err("must be refused")
}

const GOOD_STEP: &str =
    r#"{"request": {"method": "POST", "path": "/oauth/token"}, "expect": {"status": 200}}"#;

fn file_with(case_body: &str) -> String {
    format!(
        "{{\n  \"cases\": [\n    {{\n      \"id\": \"token.bad.case\",\n      \"title\": \"t\",\n      \"level\": \"MUST\",\n      \"refs\": [{{\"doc\": \"spec\", \"section\": \"x\"}}],\n{case_body}\n    }}\n  ]\n}}\n"
    )
}

#[test]
fn an_unknown_field_names_file_id_path_and_line() {
    let text = file_with(
        r#"      "steps": [{"request": {"method": "POST", "path": "/oauth/token", "methd": "x"}}]"#,
    );
    let errs = errors(&text);
    let e = &errs[0];
    assert_eq!(e.file, Path::new("cases/token/bad.json"));
    assert_eq!(e.case_id.as_deref(), Some("token.bad.case"));
    assert!(e.path.starts_with("/cases/0/steps/0"), "{}", e.path);
    assert_eq!(e.line, Some(4));
    let shown = e.to_string();
    assert!(
        shown.starts_with("cases/token/bad.json:4: case token.bad.case: /cases/0/steps/0"),
        "{shown}"
    );
    assert!(shown.contains("methd"), "{shown}");
}

#[test]
fn a_bad_level_is_named() {
    let text = file_with(&format!(
        r#"      "steps": [{GOOD_STEP}], "needs": ["teleport"]"#
    ))
    .replace("\"MUST\"", "\"MUSTNT\"");
    let errs = errors(&text);
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert!(paths.contains(&"/cases/0/level"), "{paths:?}");
    assert!(paths.contains(&"/cases/0/needs/0"), "{paths:?}");
}

#[test]
fn an_unknown_template_name_is_a_load_error_with_its_field() {
    let text = file_with(
        r#"      "let": {"v": {"pkce_verifier": {}}},
      "steps": [{"request": {"method": "POST", "path": "/oauth/token", "json": {"client_id": "{{clients.confidential.idd}}", "code_verifier": "{{v}}", "x": "{{later}}"}},
                 "capture": {"later": {"json": "/a"}}}]"#,
    );
    let errs = errors(&text);
    let shown: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    assert_eq!(errs.len(), 2, "{shown:?}");
    assert_eq!(errs[0].path, "/cases/0/steps/0/request/json/client_id");
    assert!(
        shown[0].contains("{{clients.confidential.idd}}"),
        "{shown:?}"
    );
    // A capture is only visible to later steps.
    assert_eq!(errs[1].path, "/cases/0/steps/0/request/json/x");
}

#[test]
fn a_bad_regex_and_an_unknown_schema_are_load_errors() {
    let text = file_with(
        r#"      "steps": [{"request": {"method": "GET", "path": "/x"}, "expect": {"schema": "NoSuch", "json": {"/a": {"matches": "(unclosed"}}}}]"#,
    );
    let errs = errors(&text);
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert!(
        paths.contains(&"/cases/0/steps/0/expect/schema"),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"/cases/0/steps/0/expect/json/~1a/matches"),
        "{paths:?}"
    );
}

#[test]
fn invalid_json_reports_the_line() {
    let errs = errors("{\n  \"cases\": [\n    {,\n  ]\n}\n");
    assert_eq!(errs[0].line, Some(3));
    assert!(errs[0].message.contains("not valid JSON"));
}

#[test]
fn duplicate_ids_across_files_are_an_error() {
    let dir = std::env::temp_dir().join(format!("qoauth-dup-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("token")).unwrap();
    std::fs::create_dir_all(dir.join("profiles")).unwrap();
    let text = file_with(&format!(r#"      "steps": [{GOOD_STEP}]"#));
    std::fs::write(dir.join("token/a.json"), &text).unwrap();
    std::fs::write(dir.join("token/b.json"), &text).unwrap();
    // Profiles are not cases and are not loaded as such.
    std::fs::write(dir.join("profiles/p.json"), "{\"name\": 1}").unwrap();
    let err = Catalogue::load(&dir).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(err.0.len(), 1, "{err}");
    assert!(err.0[0].message.contains("duplicate case id"), "{err}");
    assert_eq!(err.0[0].case_id.as_deref(), Some("token.bad.case"));
}

#[test]
fn the_committed_catalogue_loads() {
    let cat = Catalogue::load(&Catalogue::default_dir()).unwrap_or_else(|e| panic!("{e}"));
    assert!(cat
        .cases
        .iter()
        .any(|c| c.id == "token.client_credentials.json_body_secret"));
}

#[test]
fn the_reference_profile_loads_and_bad_profiles_are_refused() {
    let p = qoauth_harness::profile::reference_profile().unwrap();
    assert_eq!(p.name, "reference");
    assert!(p.capabilities().contains(&"client.assertion".to_string()));
    let bad = qoauth_harness::Profile::from_json(
        r#"{"name": "x", "base_url": "ftp://h", "allowed_hosts": ["h"], "login": {"mode": "none"}}"#,
        Path::new("."),
    );
    assert!(bad.unwrap_err().to_string().contains("base_url"));
    let env = qoauth_harness::Profile::from_json(
        r#"{"name": "x", "base_url": "https://h", "allowed_hosts": ["h"], "login": {"mode": "none"}, "clients": {"confidential": {"id": "c", "secret": {"env": "QOAUTH_TEST_UNSET_SECRET_VAR"}}}}"#,
        Path::new("."),
    );
    assert!(error_chain(&env.unwrap_err()).contains("QOAUTH_TEST_UNSET_SECRET_VAR"));
}

#[test]
fn a_capped_client_declares_a_cap_the_case_can_pass() {
    let with = |client: &str| {
        qoauth_harness::Profile::from_json(
            &format!(
                r#"{{"name": "x", "base_url": "https://h", "allowed_hosts": ["h"], "login": {{"mode": "none"}}, "clients": {{{client}}}}}"#
            ),
            Path::new("."),
        )
        .map_err(|e| error_chain(&e))
    };
    let ok = with(r#""capped": {"id": "c", "secret": "s", "token_cap": 20}"#).unwrap();
    assert!(ok.capabilities().contains(&"client.capped".to_string()));
    for (client, says) in [
        (
            r#""capped": {"id": "c", "secret": "s"}"#,
            "clients.capped.token_cap: required",
        ),
        (
            r#""capped": {"id": "c", "secret": "s", "token_cap": 51}"#,
            "token_cap",
        ),
        (
            r#""capped": {"id": "c", "secret": "s", "token_cap": 0}"#,
            "token_cap",
        ),
        (
            r#""confidential": {"id": "c", "secret": "s", "token_cap": 5}"#,
            "only the capped client",
        ),
    ] {
        let err = with(client).expect_err(client);
        assert!(err.contains(says), "{client}: {err}");
    }
}

#[test]
fn a_session_signs_in_its_own_user_only() {
    let profile = |login: &str| {
        qoauth_harness::Profile::from_json(
            &format!(
                r#"{{"name": "x", "base_url": "https://h", "allowed_hosts": ["h"], "login": {login},
                "clients": {{"public": {{"id": "p", "redirect_uri": "https://h/cb"}}}},
                "users": {{"default": {{"login_hint": "a@h"}}, "other": {{"login_hint": "b@h"}}}}}}"#
            ),
            Path::new("."),
        )
        .unwrap()
    };
    let session =
        profile(r#"{"mode": "session", "session": {"cookies": {"sid": "s3cr3t-session"}}}"#);
    let hint = profile(r#"{"mode": "login_hint"}"#);
    let cases = qoauth_harness::cases::parse_case_file(
        Path::new("inline.json"),
        r#"{"cases": [
            {"id": "x.default", "title": "t", "level": "MUST", "refs": [{"doc": "spec", "section": "x"}],
             "steps": [{"login": {"client": "public"}}]},
            {"id": "x.other", "title": "t", "level": "MUST", "refs": [{"doc": "spec", "section": "x"}],
             "steps": [{"login": {"client": "public", "user": "other"}}]}
        ]}"#,
    )
    .unwrap();
    let skip = |c: &qoauth_harness::Case, p: &qoauth_harness::Profile| {
        qoauth_harness::plan::skip_reason(c, p)
    };
    assert_eq!(skip(&cases[0], &session), None);
    assert!(skip(&cases[1], &session).is_some_and(|r| r.contains("session")));
    assert_eq!(skip(&cases[0], &hint), None);
    assert_eq!(skip(&cases[1], &hint), None);
}

/// The token-cap case asks for one token more than the largest cap a profile may declare,
/// and the profile schema allows no larger one: three places that must agree.
#[test]
fn the_token_cap_case_asks_for_one_more_than_any_declared_cap() {
    use qoauth_harness::profile::MAX_TOKEN_CAP;
    let cat = qoauth_harness::Catalogue::load(&qoauth_harness::Catalogue::default_dir()).unwrap();
    let case = cat
        .cases
        .iter()
        .find(|c| c.id == "cross.limits.token_cap_403")
        .expect("the token-cap case");
    assert_eq!(case.steps[0].repeat, Some(MAX_TOKEN_CAP as u32 + 1));
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            qoauth_testkit::paths::repo_root().join("cases/profiles/profile.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let max = schema
        .pointer("/$defs/client/properties/token_cap/maximum")
        .and_then(serde_json::Value::as_u64);
    assert_eq!(max, Some(MAX_TOKEN_CAP));
}
