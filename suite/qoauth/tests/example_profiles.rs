//! The example profiles under `cases/profiles/examples/` describe tenants unlike the
//! reference's default (a single RS256 or RS512 assertion key, no impersonation grant on
//! the assertion client, no discovery). Each runs the whole catalogue against the reference
//! serving its matching fixture: nothing may end in `error` (every assertion case is
//! judged or skipped with a reason), and the gate passes.

use qoauth_harness::result::{Level, Verdict};
use qoauth_harness::{error_chain, run, Catalogue, Profile, RunOptions};
use qoauth_reference::{spawn_varied, Faults, Fixture, Tls, Variant, Variants};
use qoauth_testkit::paths::repo_root;
use qoauth_testkit::server::loopback;

async fn check(name: &str) {
    let dir = repo_root().join("cases/profiles/examples");
    let fixture = Fixture::from_path(&dir.join(format!("{name}.fixture.json")))
        .unwrap_or_else(|e| panic!("{name}: the fixture loads: {e}"));
    let server = spawn_varied(
        fixture,
        loopback(),
        Tls::None,
        Faults::default(),
        Variants::of([Variant::NoDiscovery]),
    )
    .await
    .expect("the reference starts");
    let profile = Profile::load(&dir.join(format!("{name}.json")))
        .unwrap_or_else(|e| panic!("{name}: the profile loads: {}", error_chain(&e)))
        .with_base_url(&server.base_url)
        .expect("base url");
    let catalogue = Catalogue::load(&Catalogue::default_dir()).expect("the catalogue loads");
    let result = run(&catalogue.cases, &profile, &RunOptions::default())
        .await
        .expect("the run starts");
    let errors: Vec<String> = result
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::Error)
        .map(|c| format!("{}: {}", c.id, c.reason.as_deref().unwrap_or("")))
        .collect();
    assert!(
        errors.is_empty(),
        "{name}: cases that could not be judged: {errors:#?}"
    );
    let failures: Vec<String> = result
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::Fail && c.level == Level::Must)
        .map(|c| format!("{}: {}", c.id, c.reason.as_deref().unwrap_or("")))
        .collect();
    assert!(failures.is_empty(), "{name}: MUST failures: {failures:#?}");
    let assertion: Vec<_> = result
        .cases
        .iter()
        .filter(|c| c.id.starts_with("token.client_assertion."))
        .collect();
    assert!(
        assertion
            .iter()
            .filter(|c| c.verdict == Verdict::Pass)
            .count()
            >= 20,
        "{name}: most assertion cases are judged, with the profile's own key"
    );
    for c in &assertion {
        if c.verdict == Verdict::Skip {
            assert!(
                c.reason.as_deref().is_some_and(|r| r.contains("needs")),
                "{name}: {} skipped without saying why",
                c.id
            );
        }
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rs256_only_tenant_gets_no_error() {
    check("rs256-tenant").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rs512_only_tenant_gets_no_error() {
    check("rs512-tenant").await;
}
