//! HTTPS targets: the embedded reference with a generated self-signed certificate,
//! trusted explicitly, accepted on request, or refused by default.

use qoauth_harness::result::Verdict;
use qoauth_harness::{embedded, run, Catalogue, RunOptions};

fn client_credentials_cases() -> Vec<std::sync::Arc<qoauth_harness::Case>> {
    let cat = Catalogue::load(&Catalogue::default_dir()).unwrap_or_else(|e| panic!("{e}"));
    let cases = cat.filter("token.client_credentials.", false).cases;
    assert!(!cases.is_empty());
    cases
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_the_generated_certificate() {
    let target = embedded::start_with(true)
        .await
        .expect("embedded reference over TLS");
    assert!(target.profile.base().starts_with("https://"));
    let cases = client_credentials_cases();

    // Trusting exactly the server's certificate.
    let r = run(&cases, &target.profile, &RunOptions::default())
        .await
        .unwrap();
    for c in &r.cases {
        assert!(
            matches!(c.verdict, Verdict::Pass | Verdict::Info),
            "{}: {:?}",
            c.id,
            c.reason
        );
    }

    // Accepting any certificate, as a profile may ask for a self-signed test server.
    let mut lax = target.profile.clone();
    lax.ca_pem = None;
    lax.accept_invalid_certs = true;
    let r = run(&cases, &lax, &RunOptions::default()).await.unwrap();
    assert!(r.cases.iter().all(|c| c.verdict != Verdict::Error));

    // Neither: the certificate is refused and every case says so.
    let mut strict = target.profile.clone();
    strict.ca_pem = None;
    let r = run(&cases, &strict, &RunOptions::default()).await.unwrap();
    for c in &r.cases {
        assert_eq!(c.verdict, Verdict::Error, "{}", c.id);
        let reason = c.reason.as_deref().unwrap().to_ascii_lowercase();
        assert!(
            reason.contains("certificate") || reason.contains("connect"),
            "{reason}"
        );
    }
    target.shutdown().await;
}
