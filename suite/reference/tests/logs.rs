//! Logs never carry a secret, a code, a token, a verifier or a session cookie, even at
//! TRACE level and including the HTTP stack's own events.

use std::io::Write;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use qoauth_testkit::pkce;
use qoauth_testkit::reference::*;
use qoauth_testkit::request::*;
use serde_json::{json, Value};

#[derive(Clone)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_hold_no_secret_or_token() {
    let buf = Captured(Arc::new(Mutex::new(Vec::new())));
    let writer = buf.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let srv = start().await;
    let mut secrets: Vec<String> = vec![CONF_SECRET.into(), IMP_SECRET.into()];
    let wrong = "Wr0ngSecretThatMustNotBeLogged42";
    secrets.push(wrong.into());

    let cc = cc_token(&srv).await;
    secrets.push(cc["access_token"].as_str().unwrap().into());
    let r = http()
        .post(format!("{}/oauth/token", srv.base_url))
        .header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{CONF_ID}:{wrong}"))),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    secrets.push(STANDARD.encode(format!("{CONF_ID}:{wrong}")));

    let (code, verifier) = get_code(
        &srv,
        PUBLIC_ID,
        PUBLIC_REDIRECT,
        "user_default offline_access",
    )
    .await;
    secrets.push(code.clone());
    secrets.push(verifier.clone());
    let t: Value = post_json(
        &srv,
        "/oauth/token",
        &code_body(PUBLIC_ID, &code, PUBLIC_REDIRECT, &verifier),
    )
    .await
    .json()
    .await
    .unwrap();
    // The replay is an error path, which does log.
    assert_eq!(
        post_json(
            &srv,
            "/oauth/token",
            &code_body(PUBLIC_ID, &code, PUBLIC_REDIRECT, &verifier)
        )
        .await
        .status(),
        401
    );
    secrets.push(t["access_token"].as_str().unwrap().into());
    secrets.push(t["refresh_token"].as_str().unwrap().into());
    let r = post_json(
        &srv,
        "/oauth/token",
        &json!({"grant_type":"refresh_token","refresh_token":t["refresh_token"]}),
    )
    .await;
    assert_eq!(r.status(), 401, "revoked by the replay");
    let r = post_json(&srv, "/oauth/revoke", &json!({"token": cc["access_token"]})).await;
    assert_eq!(r.status(), 200);

    let (_, ch) = pkce::pair();
    let r = http()
        .get(format!(
            "{}/oauth/authorize?{}",
            srv.base_url,
            authorize_query(
                PUBLIC_ID,
                PUBLIC_REDIRECT,
                "user_default",
                &ch,
                Some("bob@example.com")
            )
        ))
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    let value = cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    secrets.push(value);
    secrets.push(param(&location_params(&r), "code").unwrap());
    srv.shutdown().await;

    let logs = String::from_utf8_lossy(&buf.0.lock().unwrap()).into_owned();
    assert!(
        logs.contains("request refused"),
        "the refusals were logged: {logs}"
    );
    for s in &secrets {
        assert!(
            !logs.contains(s.as_str()),
            "a secret or token reached the log"
        );
    }
}
