//! Every variant changes what the server answers, and in the way its clause permits: each
//! probe runs once against the reference and once against the variant, and the two
//! answers must differ and the variant's must be the one named. A variant that changed
//! nothing would pass the latitude matrix without proving anything.

use qoauth_reference::{spawn_varied, Faults, Fixture, RunningServer, Tls, Variant, Variants};
use qoauth_testkit::reference::*;
use qoauth_testkit::request::*;
use qoauth_testkit::server::loopback;
use serde_json::{json, Value};

async fn start_varied(v: Option<Variant>) -> RunningServer {
    spawn_varied(
        Fixture::default_fixture(),
        loopback(),
        Tls::None,
        Faults::default(),
        Variants::of(v),
    )
    .await
    .unwrap()
}

fn status(r: &reqwest::Response) -> String {
    r.status().as_u16().to_string()
}

async fn token(srv: &RunningServer, body: Value) -> reqwest::Response {
    post_json(srv, "/oauth/token", &body).await
}

async fn refresh(
    srv: &RunningServer,
    client: &str,
    secret: Option<&str>,
    rt: &str,
) -> reqwest::Response {
    let mut body = json!({"grant_type": "refresh_token", "client_id": client, "refresh_token": rt});
    if let Some(s) = secret {
        body["client_secret"] = json!(s);
    }
    token(srv, body).await
}

async fn revoke(srv: &RunningServer, body: Value) -> reqwest::Response {
    post_json(srv, "/oauth/revoke", &body).await
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_owned()
}

/// What the probe for `v` observes on `srv`, as a short text.
async fn observe(v: Variant, srv: &RunningServer) -> String {
    use Variant::*;
    match v {
        Forbidden403 => status(
            &token(
                srv,
                json!({"grant_type": "urn:qlik:oauth:user-impersonation", "client_id": CONF_ID,
                       "client_secret": CONF_SECRET,
                       "user_lookup": {"field": "subject", "value": "auth0|alice"}}),
            )
            .await,
        ),
        InvalidClientFirst => status(
            &http()
                .post(format!("{}/oauth/token", srv.base_url))
                .header("content-type", "application/json")
                .body("[]")
                .send()
                .await
                .unwrap(),
        ),
        MissingGrant401 => status(
            &token(
                srv,
                json!({"grant_type": "authorization_code", "client_id": PUBLIC_ID,
                       "redirect_uri": PUBLIC_REDIRECT, "code_verifier": "v".repeat(43)}),
            )
            .await,
        ),
        InvalidGrant400 => status(&refresh(srv, PUBLIC_ID, None, "no-such-token").await),
        AssertionKidOptional | AssertionReplayAllowed | AssertionJtiOptional => {
            let mut claims = assertion_claims(srv);
            if v == AssertionJtiOptional {
                claims.as_object_mut().unwrap().remove("jti");
            }
            let kid = (v != AssertionKidOptional).then_some("assertion-es384");
            let a = assertion("assertion-es384.pem", jsonwebtoken::Algorithm::ES384, kid, claims);
            let body = json!({"grant_type": "client_credentials", "client_id": ASSERT_ID,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": a});
            let first = token(srv, body.clone()).await;
            if v == AssertionReplayAllowed {
                assert_eq!(first.status(), 200, "a fresh assertion works");
                return status(&token(srv, body).await);
            }
            status(&first)
        }
        RefreshKeptConfidential => {
            let (code, verifier) =
                get_code(srv, CONF_ID, CONF_REDIRECT, "user_default offline_access").await;
            let mut body = code_body(CONF_ID, &code, CONF_REDIRECT, &verifier);
            body["client_secret"] = json!(CONF_SECRET);
            let t: Value = token(srv, body).await.json().await.unwrap();
            let r: Value = refresh(srv, CONF_ID, Some(CONF_SECRET), &s(&t, "refresh_token"))
                .await
                .json()
                .await
                .unwrap();
            if s(&r, "refresh_token") == s(&t, "refresh_token") { "kept" } else { "rotated" }.into()
        }
        RefreshNoneForPublic => public_tokens(srv).await["refresh_token"].is_string().to_string(),
        RefreshWithoutOfflineAccess => {
            let (code, verifier) = get_code(srv, PUBLIC_ID, PUBLIC_REDIRECT, "user_default").await;
            let t: Value = token(srv, code_body(PUBLIC_ID, &code, PUBLIC_REDIRECT, &verifier))
                .await
                .json()
                .await
                .unwrap();
            t["refresh_token"].is_string().to_string()
        }
        RotationWithoutFamilyRevocation => {
            let t = public_tokens(srv).await;
            let r: Value = refresh(srv, PUBLIC_ID, None, &s(&t, "refresh_token")).await.json().await.unwrap();
            let reuse = refresh(srv, PUBLIC_ID, None, &s(&t, "refresh_token")).await;
            assert_eq!(reuse.status(), 401, "a rotated-out token is refused either way");
            status(&refresh(srv, PUBLIC_ID, None, &s(&r, "refresh_token")).await)
        }
        AccessSurvivesRefreshRevocation | AccessRevocationUnsupported => {
            let t = public_tokens(srv).await;
            let which = if v == AccessRevocationUnsupported { "access_token" } else { "refresh_token" };
            let r = revoke(srv, json!({"token": s(&t, which)})).await;
            assert_eq!(r.status(), 200);
            status(&exchange(srv, PUBLIC_ID, &s(&t, "access_token")).await)
        }
        RevokeIgnoresClient => {
            let t = public_tokens(srv).await;
            status(
                &revoke(
                    srv,
                    json!({"token": s(&t, "refresh_token"), "client_id": CONF_ID, "client_secret": CONF_SECRET}),
                )
                .await,
            )
        }
        ExchangeAnyClient => {
            let t = public_tokens(srv).await;
            status(&exchange(srv, CONSENT_ID, &s(&t, "access_token")).await)
        }
        ExchangeMachineTokens => {
            let t = cc_token(srv).await;
            status(&exchange(srv, CONF_ID, &s(&t, "access_token")).await)
        }
        ScopeNarrowing => {
            let r = token(
                srv,
                json!({"grant_type": "client_credentials", "client_id": CONF_ID,
                       "client_secret": CONF_SECRET, "scope": "user_default admin_classic"}),
            )
            .await;
            let st = status(&r);
            let body: Value = r.json().await.unwrap();
            format!("{st} {}", body["scope"].as_str().unwrap_or("-"))
        }
        DuplicateFirstWins => status(
            &post_form(
                srv,
                "/oauth/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", CONF_ID),
                    ("client_secret", CONF_SECRET),
                    ("scope", "user_default"),
                    ("scope", "apps:read"),
                ],
            )
            .await,
        ),
        OneAuthMethodUsed => status(
            &http()
                .post(format!("{}/oauth/token", srv.base_url))
                .basic_auth(CONF_ID, Some(CONF_SECRET))
                .json(&json!({"grant_type": "client_credentials", "client_secret": CONF_SECRET}))
                .send()
                .await
                .unwrap(),
        ),
        MediaTypeSniffed => status(
            &http()
                .post(format!("{}/oauth/token", srv.base_url))
                .header("content-type", "text/plain")
                .body(
                    json!({"grant_type": "client_credentials", "client_id": CONF_ID, "client_secret": CONF_SECRET})
                        .to_string(),
                )
                .send()
                .await
                .unwrap(),
        ),
        UserLookupJsonString => status(
            &post_form(
                srv,
                "/oauth/token",
                &[
                    ("grant_type", "urn:qlik:oauth:user-impersonation"),
                    ("client_id", IMP_ID),
                    ("client_secret", IMP_SECRET),
                    ("user_lookup", r#"{"field":"subject","value":"auth0|alice"}"#),
                ],
            )
            .await,
        ),
        NoDiscovery => status(
            &http()
                .get(format!("{}/.well-known/oauth-authorization-server", srv.base_url))
                .send()
                .await
                .unwrap(),
        ),
        Bare405 => {
            let r = http()
                .put(format!("{}/oauth/token", srv.base_url))
                .send()
                .await
                .unwrap();
            let st = status(&r);
            let allow = r.headers().contains_key("allow");
            let body = r.bytes().await.unwrap();
            format!("{st} allow={allow} body={}", !body.is_empty())
        }
        NoRetryAfter => {
            let mut last = None;
            for _ in 0..7 {
                let r = token(
                    srv,
                    json!({"grant_type": "client_credentials", "client_id": LIMITED_ID, "client_secret": LIMITED_SECRET}),
                )
                .await;
                if r.status() == 429 {
                    last = Some(r.headers().contains_key("retry-after"));
                    break;
                }
            }
            format!("429 retry-after={:?}", last.expect("the limited client hits 429"))
        }
        ChallengeOptional => {
            let mut codes = Vec::new();
            for _ in 0..2 {
                let q = format!(
                    "response_type=code&client_id={PUBLIC_ID}&redirect_uri={}&scope=user_default&state=st4te&login_hint=alice%40example.com",
                    enc(PUBLIC_REDIRECT)
                );
                let r = http()
                    .get(format!("{}/oauth/authorize?{q}", srv.base_url))
                    .send()
                    .await
                    .unwrap();
                let params = location_params(&r);
                match param(&params, "code") {
                    Some(code) => codes.push(code),
                    None => return format!("error={}", param(&params, "error").unwrap_or_default()),
                }
            }
            // RFC 9700 2.1.1: without a challenge, a verifier is a downgrade and refused
            // (and, like any failed PKCE check here, it burns the code).
            let with_verifier =
                token(srv, code_body(PUBLIC_ID, &codes[0], PUBLIC_REDIRECT, &"v".repeat(43))).await;
            let mut without = code_body(PUBLIC_ID, &codes[1], PUBLIC_REDIRECT, "");
            without.as_object_mut().unwrap().remove("code_verifier");
            let plain = token(srv, without).await;
            format!("code; with a verifier {}, without {}", status(&with_verifier), status(&plain))
        }
        DisablingRevokesGrants => {
            // Erin's refresh token, then she is disabled and re-enabled: the token works
            // again unless disabling revoked it.
            let tokens = public_tokens_of(srv, "erin@example.com").await;
            let admin = cc_token_of(srv, ADMIN_ID, ADMIN_SECRET).await;
            for value in ["disabled", "active"] {
                let r = set_user_status(
                    srv,
                    SUSPENDABLE_USER,
                    Some(&s(&admin, "access_token")),
                    &status_patch(value),
                )
                .await;
                assert_eq!(r.status(), 204);
            }
            status(
                &token(
                    srv,
                    json!({"grant_type": "refresh_token", "client_id": PUBLIC_ID,
                           "refresh_token": s(&tokens, "refresh_token")}),
                )
                .await,
            )
        }
    }
}

/// What the variant itself answers to its probe.
fn expected(v: Variant) -> &'static str {
    use Variant::*;
    match v {
        Forbidden403 => "403",
        InvalidClientFirst => "401",
        MissingGrant401 => "401",
        InvalidGrant400 => "400",
        AssertionKidOptional | AssertionReplayAllowed | AssertionJtiOptional => "200",
        RefreshKeptConfidential => "kept",
        RefreshNoneForPublic => "false",
        RefreshWithoutOfflineAccess => "true",
        RotationWithoutFamilyRevocation => "200",
        AccessSurvivesRefreshRevocation | AccessRevocationUnsupported => "200",
        RevokeIgnoresClient => "200",
        ExchangeAnyClient | ExchangeMachineTokens => "200",
        ScopeNarrowing => "200 user_default",
        DuplicateFirstWins | OneAuthMethodUsed | MediaTypeSniffed | UserLookupJsonString => "200",
        NoDiscovery => "404",
        Bare405 => "405 allow=true body=false",
        NoRetryAfter => "429 retry-after=false",
        // The downgrade is refused: 400 (a verifier where none belongs) or 401.
        ChallengeOptional => "code; with a verifier 401, without 200",
        // A revoked refresh token, answered as any revoked grant is.
        DisablingRevokesGrants => "401",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_variant_answers_its_probe_differently_from_the_reference() {
    for &v in Variant::ALL {
        let reference = start_varied(None).await;
        let varied = start_varied(Some(v)).await;
        let before = observe(v, &reference).await;
        let after = observe(v, &varied).await;
        assert_ne!(
            before, after,
            "{v}: the variant changed nothing the probe sees"
        );
        assert_eq!(
            after,
            expected(v),
            "{v}: the variant's answer (the reference said {before})"
        );
        reference.shutdown().await;
        varied.shutdown().await;
    }
}
