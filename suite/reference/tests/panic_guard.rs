//! A handler that panics answers with a 500 Errors envelope instead of a dropped
//! connection. The panic comes from the `panic-on-json-array` fault.

use std::net::SocketAddr;

use qoauth_reference::{Fault, Faults, Fixture, Tls};

#[tokio::test]
async fn panicking_handler_answers_500_envelope_and_server_keeps_serving() {
    let addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let server = qoauth_reference::spawn_faulty(
        Fixture::default_fixture(),
        addr,
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
    assert_eq!(resp.status().as_u16(), 500);
    assert!(resp
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json")));
    let body: serde_json::Value = resp.json().await.expect("a JSON body");
    assert_eq!(body["errors"][0]["status"], "500");
    assert!(body["errors"][0]["code"].is_string());
    let detail = body["errors"][0]["detail"].as_str().unwrap_or_default();
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
