"""Python qlik-sdk against the reference, over plain HTTP and TLS: every grant it can send.

What it sends (qlik_sdk/{auth,rest,oauth_utils}.py):
- `authorize()` without a URL: client_credentials, JSON {grant_type, scope} + Basic and no
  client_id at all;
- `generate_authorization_url()` + `authorize(url)`: authorization code with PKCE, the
  query urlencoded (space as +), JSON body with client_id (+ Basic with a secret);
- `refresh_token()`: JSON {grant_type, refresh_token} (+ Basic); it reads
  resp["refresh_token"], so a refresh response without one would crash it;
- `deauthorize()`: POST /oauth/revoke {token, token_type_hint}, with Bearer only when a
  secret is configured.
It has no token exchange and no impersonation grant.
"""

import pytest
from qlik_sdk import Auth, AuthType, Config
from qlik_sdk.rest import AuthenticationException

from qoauth_interop import check
from qoauth_interop.env import client
from qoauth_interop.idp import authorize_in_browser, with_login_hint

CONFIDENTIAL = client("web-confidential")
NATIVE = client("native-public")


def code_flow(auth: Auth, redirect_uri: str) -> dict:
    url = auth.generate_authorization_url()
    callback = authorize_in_browser(with_login_hint(url), redirect_uri)
    return auth.authorize(callback)


def test_client_credentials_and_revoke(base_url):
    """client_credentials with Basic; deauthorize() revokes the token (Bearer)."""
    auth = Auth(
        Config(
            host=base_url,
            auth_type=AuthType.OAuth2,
            client_id=CONFIDENTIAL.id,
            client_secret=CONFIDENTIAL.secret,
        )
    )
    resp = auth.authorize()
    check.is_token(resp.get("access_token"), "client_credentials access token")
    assert "refresh_token" not in resp, "client_credentials must not issue a refresh token"
    token = resp["access_token"]
    check.m2m_token_works(base_url, CONFIDENTIAL.id, token, "client_credentials access token")
    auth.deauthorize()
    check.m2m_token_dead(base_url, CONFIDENTIAL.id, token, "revoked client_credentials token")


def test_wrong_secret_surfaces_the_envelope_title(base_url):
    """A 401 becomes AuthenticationException(errors[0].title); the SDK's fallback message
    means the body was not an Errors envelope."""
    auth = Auth(
        Config(
            host=base_url,
            auth_type=AuthType.OAuth2,
            client_id=CONFIDENTIAL.id,
            client_secret="not-the-secret",
        )
    )
    with pytest.raises(AuthenticationException) as caught:
        auth.authorize()
    message = str(caught.value)
    assert message and message != "Failed to authenticate", "the 401 body is not an Errors envelope"


@pytest.mark.parametrize("who", [NATIVE, CONFIDENTIAL], ids=["native-public", "web-confidential"])
def test_code_refresh_revoke(base_url, who):
    """authorization code with PKCE, refresh_token(), deauthorize()."""
    auth = Auth(
        Config(
            host=base_url,
            auth_type=AuthType.OAuth2,
            client_id=who.id,
            client_secret=who.secret,
            redirect_url=who.redirect_uri,
            scope=["offline_access"],
        )
    )
    first = code_flow(auth, who.redirect_uri)
    check.is_token(first.get("access_token"), "authorization code access token")
    check.is_token(first.get("refresh_token"), "authorization code refresh token")
    check.access_token_works(base_url, who.id, first["access_token"], "authorization code access token")

    auth.refresh_token()
    check.is_token(auth.config.api_key, "refreshed access token")
    check.is_token(auth.config.refresh_token, "rotated refresh token")
    check.distinct(auth.config.api_key, first["access_token"], "refreshed access token")
    check.distinct(auth.config.refresh_token, first["refresh_token"], "rotated refresh token")
    current = auth.config.api_key
    check.access_token_works(base_url, who.id, current, "refreshed access token")

    auth.deauthorize()
    assert auth.config.api_key == "", "deauthorize() did not clear the token it holds"
    check.access_token_dead(base_url, who.id, current, "revoked access token")
    # Last: reuse detection may revoke the whole grant (RFC 9700 4.14.2).
    check.refresh_token_dead(base_url, who, first["refresh_token"], "the refresh token before rotation")
