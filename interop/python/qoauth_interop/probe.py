"""Raw HTTP probes, independent of the client libraries, that tell whether a token is
alive. The reference has no resource API, so an access token proves itself as the subject
of a token exchange (RFC 8693) and a refresh token by being redeemed. Failures name
statuses and error codes, never the tokens."""

import requests

from .env import ACCESS_TOKEN_TYPE, TIMEOUT, TOKEN_EXCHANGE, Client


def _post(url: str, body: dict, auth=None) -> tuple[int, dict | None]:
    res = requests.post(url, json=body, auth=auth, timeout=TIMEOUT)
    try:
        return res.status_code, res.json()
    except ValueError:
        return res.status_code, None


def exchange(base_url: str, client_id: str, access_token: str, purpose: str = "websocket"):
    return _post(
        f"{base_url}/oauth/token",
        {
            "subject_token": access_token,
            "subject_token_type": ACCESS_TOKEN_TYPE,
            "grant_type": TOKEN_EXCHANGE,
            "purpose": purpose,
            "client_id": client_id,
        },
    )


def refresh(base_url: str, client: Client, refresh_token: str):
    body = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    auth = None
    if client.secret:
        auth = (client.id, client.secret)
    else:
        body["client_id"] = client.id
    return _post(f"{base_url}/oauth/token", body, auth)


def error_codes(body) -> str:
    errors = (body or {}).get("errors") or []
    return "; ".join(f"{e.get('status')} {e.get('code')} {e.get('title')}" for e in errors)
