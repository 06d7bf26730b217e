//! The `oauth2` crate against the reference over TLS: every grant the crate can send,
//! through its own API, with each token it then holds checked by a raw probe
//! (`qoauth_interop_oauth2::probe`). Token exchange and user impersonation are not in the
//! crate's API (interop/README.md).

use std::time::Duration;

use anyhow::{bail, ensure, Context as _};
use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse,
    BasicTokenIntrospectionResponse, BasicTokenResponse, BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ErrorResponse, HttpClientError, PkceCodeChallenge, RedirectUrl, RefreshToken,
    RequestTokenError, RevocationUrl, Scope, StandardRevocableToken, TokenResponse, TokenUrl,
};
use qoauth_interop_oauth2::browser::{self, Callback};
use qoauth_interop_oauth2::probe;
use qoauth_interop_oauth2::qlik_errors::QlikErrors;
use qoauth_interop_oauth2::tenant::{
    access_token_seconds, fixture_client, FixtureClient, Tenant, LOGIN_HINT,
};

type Result<T = ()> = anyhow::Result<T>;

/// The crate's client with all three endpoints and a redirect URI set; `TE`/`TRE` are its
/// error types for token and revocation requests.
type Configured<TE, TRE> = oauth2::Client<
    TE,
    BasicTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    TRE,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
    EndpointSet,
>;
/// What an application gets from `BasicClient` as the crate documents it.
type Stock = Configured<BasicErrorResponse, BasicRevocationErrorResponse>;
/// The same with Qlik's `Errors` envelope as the error type.
type Qlik = Configured<QlikErrors, QlikErrors>;

type Failure<TE> = RequestTokenError<HttpClientError<reqwest::Error>, TE>;

fn configure<TE, TRE>(
    tenant: &Tenant,
    c: &FixtureClient,
    auth: AuthType,
) -> Result<Configured<TE, TRE>>
where
    TE: ErrorResponse + 'static,
    TRE: ErrorResponse + 'static,
{
    let e = &tenant.endpoints;
    let mut client = oauth2::Client::new(ClientId::new(c.id.clone()))
        .set_auth_type(auth)
        .set_auth_uri(AuthUrl::new(e.authorization.clone())?)
        .set_token_uri(TokenUrl::new(e.token.clone())?)
        .set_revocation_url(RevocationUrl::new(e.revocation.clone())?)
        .set_redirect_uri(RedirectUrl::new(c.redirect_uri.clone())?);
    if let Some(secret) = &c.secret {
        client = client.set_client_secret(ClientSecret::new(secret.clone()));
    }
    Ok(client)
}

fn stock(tenant: &Tenant, c: &FixtureClient, auth: AuthType) -> Result<Stock> {
    configure(tenant, c, auth)
}

fn qlik(tenant: &Tenant, c: &FixtureClient, auth: AuthType) -> Result<Qlik> {
    configure(tenant, c, auth)
}

/// A failed crate call as a test error: the variant and what it says, never a token.
fn failed<TE: ErrorResponse + 'static>(
    what: &str,
) -> impl FnOnce(Failure<TE>) -> anyhow::Error + '_ {
    move |e| match e {
        RequestTokenError::ServerResponse(r) => anyhow::anyhow!("{what}: server refused: {r}"),
        RequestTokenError::Parse(p, _) => anyhow::anyhow!("{what}: unreadable response: {p}"),
        other => anyhow::anyhow!("{what}: {other}"),
    }
}

fn scope_names(token: &BasicTokenResponse) -> Vec<String> {
    let mut names: Vec<String> = token
        .scopes()
        .map(|s| s.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// Checks the fields of a token response as the crate typed them.
fn check_response(token: &BasicTokenResponse, scopes: &[&str], refresh: bool) -> Result {
    ensure!(
        *token.token_type() == BasicTokenType::Bearer,
        "token_type is {:?}",
        token.token_type()
    );
    let ttl = access_token_seconds()?;
    let expires_in = token.expires_in().context("no expires_in")?;
    ensure!(
        expires_in <= Duration::from_secs(ttl)
            && expires_in + Duration::from_secs(2) >= Duration::from_secs(ttl),
        "expires_in is {expires_in:?}, the fixture gives {ttl} s"
    );
    let mut want: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    want.sort();
    ensure!(
        scope_names(token) == want,
        "scope is {:?}, asked for {want:?}",
        scope_names(token)
    );
    ensure!(
        token.refresh_token().is_some() == refresh,
        "a refresh token was {}expected",
        if refresh { "" } else { "not " }
    );
    Ok(())
}

/// The RFC 6749 error name a stock client's refusal carries. The crate reads it when the
/// body has the RFC 5.2 shape; the reference sends Qlik's envelope instead, which the
/// stock client cannot parse (RequestTokenError::Parse), so the name is then read from
/// the raw body it hands back, as an application would have to.
fn stock_error_name(e: &Failure<BasicErrorResponse>) -> Result<(BasicErrorResponseType, String)> {
    match e {
        RequestTokenError::ServerResponse(r) => Ok((r.error().clone(), "ServerResponse".into())),
        RequestTokenError::Parse(_, body) => {
            let env: QlikErrors = serde_json::from_slice(body)
                .context("the refusal is neither an RFC 6749 error nor an Errors envelope")?;
            let name = env
                .rfc_error()
                .context("the envelope names no RFC error")?
                .clone();
            Ok((name, "Parse (Errors envelope)".into()))
        }
        other => bail!("the request failed before an answer: {other}"),
    }
}

/// A stock client's refusal must name `want`, however the crate surfaced it.
fn expect_stock_refusal(e: &Failure<BasicErrorResponse>, want: BasicErrorResponseType) -> Result {
    let (name, how) = stock_error_name(e)?;
    ensure!(name == want, "refused as {name} ({how}), expected {want}");
    Ok(())
}

/// An envelope-typed client's refusal must arrive as `ServerResponse` naming `want`, and
/// with that HTTP status in `errors[0].status` when `status` is given.
fn expect_typed_refusal<T>(
    result: std::result::Result<T, Failure<QlikErrors>>,
    want: BasicErrorResponseType,
    status: Option<&str>,
    what: &str,
) -> Result {
    match result {
        Ok(_) => bail!("{what}: accepted"),
        Err(RequestTokenError::ServerResponse(e)) => {
            ensure!(
                e.rfc_error() == Some(&want),
                "{what}: refused as {e}, expected {want}"
            );
            if let Some(status) = status {
                ensure!(
                    e.first().is_some_and(|x| x.status == status),
                    "{what}: refused as {e}, expected status {status}"
                );
            }
            Ok(())
        }
        Err(e) => Err(failed::<QlikErrors>(what)(e)),
    }
}

/// Runs the code flow with PKCE S256 through the test IdP and exchanges the code.
async fn code_flow<TE, TRE>(
    tenant: &Tenant,
    client: &Configured<TE, TRE>,
    c: &FixtureClient,
    scopes: &[&str],
) -> Result<(BasicTokenResponse, Callback)>
where
    TE: ErrorResponse + 'static,
    TRE: ErrorResponse + 'static,
{
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf) = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(scopes.iter().map(|s| Scope::new(s.to_string())))
        .set_pkce_challenge(challenge)
        .add_extra_param("login_hint", LOGIN_HINT)
        .url();
    let callback = browser::authorize(&tenant.browser(), &url, &c.redirect_uri).await?;
    ensure!(
        callback.param("error").is_none(),
        "authorize redirected with error={:?} error_code={:?}",
        callback.param("error"),
        callback.param("error_code")
    );
    ensure!(
        callback.param("state").as_deref() == Some(csrf.secret().as_str()),
        "the state did not come back unchanged"
    );
    let code = callback.param("code").context("the callback has no code")?;
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&tenant.http())
        .await
        .map_err(failed("code exchange"))?;
    Ok((token, callback))
}

const USER_SCOPES: &[&str] = &["user_default", "offline_access"];

async fn client_credentials(auth: AuthType) -> Result {
    let tenant = Tenant::start().await?;
    let c = fixture_client("web-confidential")?;
    let client = stock(&tenant, &c, auth)?;
    let token = client
        .exchange_client_credentials()
        .add_scope(Scope::new("user_default".into()))
        .request_async(&tenant.http())
        .await
        .map_err(failed("client_credentials"))?;
    check_response(&token, &["user_default"], false)?;
    probe::m2m_token_works(
        &tenant,
        &c.id,
        token.access_token().secret(),
        "the M2M token",
    )
    .await?;
    tenant.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn client_credentials_with_basic_auth() -> Result {
    client_credentials(AuthType::BasicAuth).await
}

#[tokio::test]
async fn client_credentials_with_secret_in_body() -> Result {
    client_credentials(AuthType::RequestBody).await
}

#[tokio::test]
async fn authorization_code_pkce_public_client() -> Result {
    let tenant = Tenant::start().await?;
    let c = fixture_client("native-public")?;
    ensure!(c.secret.is_none(), "native-public should have no secret");
    let client = stock(&tenant, &c, AuthType::RequestBody)?;
    let (token, callback) = code_flow(&tenant, &client, &c, USER_SCOPES).await?;
    ensure!(
        !callback.consented && !callback.signed_in_by_form,
        "a trusted client with a login_hint needs no page"
    );
    check_response(&token, USER_SCOPES, true)?;
    probe::access_token_works(
        &tenant,
        &c.id,
        token.access_token().secret(),
        "the access token",
    )
    .await?;
    tenant.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn authorization_code_pkce_confidential_client_basic_auth() -> Result {
    let tenant = Tenant::start().await?;
    let c = fixture_client("web-confidential")?;
    let client = stock(&tenant, &c, AuthType::BasicAuth)?;
    let (token, _) = code_flow(&tenant, &client, &c, USER_SCOPES).await?;
    check_response(&token, USER_SCOPES, true)?;
    probe::access_token_works(
        &tenant,
        &c.id,
        token.access_token().secret(),
        "the access token",
    )
    .await?;
    tenant.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn authorization_code_pkce_after_consent() -> Result {
    let tenant = Tenant::start().await?;
    let c = fixture_client("spa-consent")?;
    let client = stock(&tenant, &c, AuthType::RequestBody)?;
    let (token, callback) = code_flow(&tenant, &client, &c, USER_SCOPES).await?;
    ensure!(
        callback.consented,
        "spa-consent requires consent, but no consent page was shown"
    );
    check_response(&token, USER_SCOPES, true)?;
    probe::access_token_works(
        &tenant,
        &c.id,
        token.access_token().secret(),
        "the access token",
    )
    .await?;
    tenant.shutdown().await;
    Ok(())
}

/// Refreshes through the crate and checks rotation: a new pair that works, and the old
/// refresh token refused with the crate's error type, read both by the stock client and
/// by one that knows the Errors envelope.
async fn refresh_rotates(client_id: &str, auth: AuthType) -> Result {
    let tenant = Tenant::start().await?;
    let c = fixture_client(client_id)?;
    let client = stock(&tenant, &c, auth.clone())?;
    let (first, _) = code_flow(&tenant, &client, &c, USER_SCOPES).await?;
    let old = first.refresh_token().context("no refresh token")?.clone();
    let second = client
        .exchange_refresh_token(&old)
        .request_async(&tenant.http())
        .await
        .map_err(failed("refresh"))?;
    check_response(&second, USER_SCOPES, true)?;
    let new = second
        .refresh_token()
        .context("the refresh gave no new refresh token")?;
    ensure!(
        new.secret() != old.secret(),
        "the refresh token was not rotated"
    );
    ensure!(
        second.access_token().secret() != first.access_token().secret(),
        "the refresh returned the same access token"
    );
    probe::access_token_works(
        &tenant,
        &c.id,
        second.access_token().secret(),
        "the refreshed access token",
    )
    .await?;

    let stock_refusal = client
        .exchange_refresh_token(&old)
        .request_async(&tenant.http())
        .await
        .err()
        .context("the rotated-out refresh token was redeemed again")?;
    expect_stock_refusal(&stock_refusal, BasicErrorResponseType::InvalidGrant)?;

    let typed = qlik(&tenant, &c, auth)?;
    expect_typed_refusal(
        typed
            .exchange_refresh_token(&old)
            .request_async(&tenant.http())
            .await,
        BasicErrorResponseType::InvalidGrant,
        Some("401"),
        "the rotated-out refresh token (OAUTH-5)",
    )?;
    tenant.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn refresh_rotates_public_client() -> Result {
    refresh_rotates("native-public", AuthType::RequestBody).await
}

#[tokio::test]
async fn refresh_rotates_confidential_client_basic_auth() -> Result {
    refresh_rotates("web-confidential", AuthType::BasicAuth).await
}

#[tokio::test]
async fn revoking_a_refresh_token_kills_its_access_token() -> Result {
    let tenant = Tenant::start().await?;
    let c = fixture_client("native-public")?;
    let client = qlik(&tenant, &c, AuthType::RequestBody)?;
    let (token, _) = code_flow(&tenant, &client, &c, USER_SCOPES).await?;
    let refresh = token.refresh_token().context("no refresh token")?.clone();
    probe::access_token_works(
        &tenant,
        &c.id,
        token.access_token().secret(),
        "the access token",
    )
    .await?;
    client
        .revoke_token(StandardRevocableToken::from(refresh.clone()))?
        .request_async(&tenant.http())
        .await
        .map_err(failed("revoke"))?;
    // RFC 7009 2.1: revoking a refresh token also invalidates the access tokens of its grant.
    probe::access_token_dead(
        &tenant,
        &c.id,
        token.access_token().secret(),
        "the access token of a revoked grant",
    )
    .await?;
    refresh_refused(&client, &tenant, &refresh).await
}

#[tokio::test]
async fn revoking_an_access_token_with_basic_auth() -> Result {
    let tenant = Tenant::start().await?;
    let c = fixture_client("web-confidential")?;
    let client = qlik(&tenant, &c, AuthType::BasicAuth)?;
    let (token, _) = code_flow(&tenant, &client, &c, USER_SCOPES).await?;
    client
        .revoke_token(StandardRevocableToken::from(token.access_token().clone()))?
        .request_async(&tenant.http())
        .await
        .map_err(failed("revoke"))?;
    probe::access_token_dead(
        &tenant,
        &c.id,
        token.access_token().secret(),
        "the revoked access token",
    )
    .await?;
    // Revoking the access token again is still a success (RFC 7009 2.2: invalid tokens too).
    client
        .revoke_token(StandardRevocableToken::from(token.access_token().clone()))?
        .request_async(&tenant.http())
        .await
        .map_err(failed("second revoke"))?;
    tenant.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn revoking_a_client_credentials_token() -> Result {
    let tenant = Tenant::start().await?;
    let c = fixture_client("web-confidential")?;
    let client = qlik(&tenant, &c, AuthType::RequestBody)?;
    let token = client
        .exchange_client_credentials()
        .request_async(&tenant.http())
        .await
        .map_err(failed("client_credentials"))?;
    probe::m2m_token_works(
        &tenant,
        &c.id,
        token.access_token().secret(),
        "the M2M token",
    )
    .await?;
    client
        .revoke_token(StandardRevocableToken::from(token.access_token().clone()))?
        .request_async(&tenant.http())
        .await
        .map_err(failed("revoke"))?;
    probe::access_token_dead(
        &tenant,
        &c.id,
        token.access_token().secret(),
        "the revoked M2M token",
    )
    .await?;
    tenant.shutdown().await;
    Ok(())
}

async fn refresh_refused(client: &Qlik, tenant: &Tenant, refresh: &RefreshToken) -> Result {
    expect_typed_refusal(
        client
            .exchange_refresh_token(refresh)
            .request_async(&tenant.http())
            .await,
        BasicErrorResponseType::InvalidGrant,
        None,
        "a revoked refresh token",
    )
}

async fn wrong_secret(auth: AuthType) -> Result {
    let tenant = Tenant::start().await?;
    let mut c = fixture_client("web-confidential")?;
    let wrong = "not-the-secret-of-web-confidential";
    c.secret = Some(wrong.into());

    let refusal = stock(&tenant, &c, auth.clone())?
        .exchange_client_credentials()
        .request_async(&tenant.http())
        .await
        .err()
        .context("a wrong secret was accepted")?;
    if let RequestTokenError::Parse(_, body) = &refusal {
        ensure!(
            !String::from_utf8_lossy(body).contains(wrong),
            "the refusal echoes the secret"
        );
    }
    expect_stock_refusal(&refusal, BasicErrorResponseType::InvalidClient)?;

    expect_typed_refusal(
        qlik(&tenant, &c, auth)?
            .exchange_client_credentials()
            .request_async(&tenant.http())
            .await,
        BasicErrorResponseType::InvalidClient,
        Some("401"),
        "a wrong secret",
    )?;
    tenant.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn wrong_secret_is_invalid_client_with_basic_auth() -> Result {
    wrong_secret(AuthType::BasicAuth).await
}

#[tokio::test]
async fn wrong_secret_is_invalid_client_with_secret_in_body() -> Result {
    wrong_secret(AuthType::RequestBody).await
}
