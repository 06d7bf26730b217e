//! A handler that panics answers with a 500 Errors envelope instead of a dropped
//! connection. The panic comes from the `panic-on-json-array` fault.

use qoauth_reference::{Fault, Faults, Fixture, Tls};
use qoauth_testkit::envelope::expect_envelope;
use qoauth_testkit::server::loopback;

#[tokio::test]
async fn panicking_handler_answers_500_envelope_and_server_keeps_serving() {
    let server = qoauth_reference::spawn_faulty(
        Fixture::default_fixture(),
        loopback(),
        Tls::None,
        Faults::of([Fault::PanicOnJsonArray]),
    )
    .await
    .expect("server starts");
    let client = reqwest::Client::new();
    let url = format!("{}/oauth/token", server.base_url);
    let resp = client
        .post(&url)
        .header("content-type", "application/json")
        .body("[1]")
        .send()
        .await
        .expect("an answer, not a dropped connection");
    let error = expect_envelope(resp, 500).await;
    let detail = error["detail"].as_str().unwrap_or_default();
    assert!(
        !detail.contains("panic"),
        "the panic message leaked: {detail}"
    );

    // The same server still answers the next request normally.
    let resp = client
        .post(&url)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("an answer");
    assert_eq!(resp.status().as_u16(), 400);
    server.shutdown().await;
}
