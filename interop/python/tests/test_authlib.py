"""Authlib's requests client, a generic OAuth 2 client, against the reference over TLS.
It form-encodes every request, authenticates with client_secret_basic by default, and
builds PKCE and RFC 7523 assertions itself."""

import time

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import ECKey, RSAKey

from qoauth_interop import check
from qoauth_interop.env import (
    ACCESS_TOKEN_TYPE,
    IMPERSONATION,
    KEYS,
    TIMEOUT,
    TOKEN_EXCHANGE,
    client,
    user,
)
from qoauth_interop.idp import authorize_in_browser

CONFIDENTIAL = client("web-confidential")
NATIVE = client("native-public")
IMPERSONATOR = client("web-impersonation")
ASSERTION = client("web-assertion")


@pytest.fixture(scope="module")
def metadata():
    from qoauth_interop.env import targets

    base = targets()["https"]
    res = requests.get(f"{base}/.well-known/oauth-authorization-server", timeout=TIMEOUT)
    assert res.status_code == 200, f"metadata: HTTP {res.status_code}"
    meta = res.json()
    meta["_base"] = base
    return meta


def test_discovery(metadata):
    base = metadata["_base"]
    assert metadata["issuer"].rstrip("/") == base, "issuer is not the server's base URL"
    for endpoint in ("authorization_endpoint", "token_endpoint", "revocation_endpoint"):
        assert str(metadata.get(endpoint, "")).startswith(base), f"{endpoint} missing or foreign"


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_client_credentials(metadata, method):
    session = OAuth2Session(
        CONFIDENTIAL.id,
        CONFIDENTIAL.secret,
        token_endpoint_auth_method=method,
        scope="user_default",
    )
    token = session.fetch_token(metadata["token_endpoint"], grant_type="client_credentials")
    check.is_token(token.get("access_token"), "access token")
    assert str(token.get("token_type", "")).lower() == "bearer", "token_type"
    assert isinstance(token.get("expires_in"), int) and token["expires_in"] > 0, "expires_in"
    assert "refresh_token" not in token, "client_credentials must not issue a refresh token"
    check.m2m_token_works(metadata["_base"], CONFIDENTIAL.id, token["access_token"], "access token")


@pytest.mark.parametrize(
    "kid,alg,key_type",
    [("assertion-es384", "ES384", ECKey), ("assertion-rs256", "RS256", RSAKey)],
)
def test_client_credentials_private_key_jwt(metadata, kid, alg, key_type):
    key = key_type.import_key((KEYS / f"{kid}.pem").read_bytes())
    endpoint = metadata["token_endpoint"]
    session = OAuth2Session(ASSERTION.id, key, token_endpoint_auth_method="private_key_jwt", scope="user_default")
    # Authlib's default assertion lives 3600 s; Qlik allows at most 5 minutes (exp <= iat +
    # 300), so the lifetime is set per request, with a fresh jti each time (RFC 7523 3).
    now = int(time.time())
    session.register_client_auth_method(
        PrivateKeyJWT(endpoint, claims={"iat": now, "exp": now + 120}, headers={"kid": kid}, alg=alg)
    )
    token = session.fetch_token(endpoint, grant_type="client_credentials")
    check.is_token(token.get("access_token"), "access token")


def _code_flow(metadata, session: OAuth2Session, redirect_uri: str = NATIVE.redirect_uri):
    verifier = generate_token(64)
    url, state = session.create_authorization_url(
        metadata["authorization_endpoint"],
        code_verifier=verifier,
        login_hint=user("alice@example.com")["email"],
    )
    callback = authorize_in_browser(url, redirect_uri)
    return session.fetch_token(
        metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier, state=state
    )


def _native_session(scope="user_default offline_access") -> OAuth2Session:
    return OAuth2Session(
        NATIVE.id,
        token_endpoint_auth_method="none",
        revocation_endpoint_auth_method="none",
        scope=scope,
        redirect_uri=NATIVE.redirect_uri,
        code_challenge_method="S256",
    )


def test_code_exchange_refresh(metadata):
    base = metadata["_base"]
    session = _native_session()
    first = dict(_code_flow(metadata, session))
    check.is_token(first.get("access_token"), "authorization code access token")
    check.is_token(first.get("refresh_token"), "authorization code refresh token")
    check.access_token_works(base, NATIVE.id, first["access_token"], "authorization code access token")

    # Token exchange (RFC 8693) through the same client, both purposes.
    exchanger = OAuth2Session(NATIVE.id, token_endpoint_auth_method="none")
    for purpose in ("websocket", "webresource"):
        exchanged = exchanger.fetch_token(
            metadata["token_endpoint"],
            grant_type=TOKEN_EXCHANGE,
            subject_token=first["access_token"],
            subject_token_type=ACCESS_TOKEN_TYPE,
            purpose=purpose,
        )
        check.is_token(exchanged.get("access_token"), f"{purpose} token")
        check.distinct(exchanged["access_token"], first["access_token"], f"{purpose} token vs subject")

    refreshed = dict(session.refresh_token(metadata["token_endpoint"], refresh_token=first["refresh_token"]))
    check.is_token(refreshed.get("access_token"), "refreshed access token")
    check.is_token(refreshed.get("refresh_token"), "rotated refresh token")
    check.distinct(refreshed["refresh_token"], first["refresh_token"], "rotated refresh token")
    check.access_token_works(base, NATIVE.id, refreshed["access_token"], "refreshed access token")
    check.refresh_token_dead(base, NATIVE, first["refresh_token"], "the refresh token before rotation")


def test_code_refresh_confidential(metadata):
    base = metadata["_base"]
    session = OAuth2Session(
        CONFIDENTIAL.id,
        CONFIDENTIAL.secret,
        token_endpoint_auth_method="client_secret_basic",
        scope="user_default offline_access",
        redirect_uri=CONFIDENTIAL.redirect_uri,
        code_challenge_method="S256",
    )
    first = dict(_code_flow(metadata, session, CONFIDENTIAL.redirect_uri))
    check.is_token(first.get("access_token"), "authorization code access token")
    check.is_token(first.get("refresh_token"), "authorization code refresh token")
    check.access_token_works(base, CONFIDENTIAL.id, first["access_token"], "authorization code access token")
    refreshed = dict(session.refresh_token(metadata["token_endpoint"], refresh_token=first["refresh_token"]))
    check.distinct(refreshed.get("refresh_token"), first["refresh_token"], "rotated refresh token")
    check.access_token_works(base, CONFIDENTIAL.id, refreshed["access_token"], "refreshed access token")


def test_revoke_refresh_token(metadata):
    base = metadata["_base"]
    session = _native_session()
    grant = dict(_code_flow(metadata, session))
    res = session.revoke_token(
        metadata["revocation_endpoint"], token=grant["refresh_token"], token_type_hint="refresh_token"
    )
    assert res.status_code == 200, f"revoke: HTTP {res.status_code}"
    check.refresh_token_dead(base, NATIVE, grant["refresh_token"], "revoked refresh token")
    check.access_token_dead(base, NATIVE.id, grant["access_token"], "access token of a revoked refresh token")


def test_impersonation(metadata):
    base = metadata["_base"]
    session = OAuth2Session(
        IMPERSONATOR.id,
        IMPERSONATOR.secret,
        token_endpoint_auth_method="client_secret_basic",
        revocation_endpoint_auth_method="client_secret_basic",
        scope="user_default",
    )
    token = session.fetch_token(
        metadata["token_endpoint"],
        grant_type=IMPERSONATION,
        **{"user_lookup[field]": "userId", "user_lookup[value]": user("bob@example.com")["id"]},
    )
    check.is_token(token.get("access_token"), "impersonation token")
    check.access_token_works(base, IMPERSONATOR.id, token["access_token"], "impersonation token")
    res = session.revoke_token(metadata["revocation_endpoint"], token=token["access_token"], token_type_hint="access_token")
    assert res.status_code == 200, f"revoke: HTTP {res.status_code}"
    check.access_token_dead(base, IMPERSONATOR.id, token["access_token"], "revoked impersonation token")
