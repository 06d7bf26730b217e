"""Assertions over tokens that never print a token: pytest shows the operands of a failed
comparison, and those would be secrets here, so every check raises its own message."""

from . import probe
from .env import Client


def is_token(value, what: str) -> None:
    if not (isinstance(value, str) and len(value) >= 16):
        length = len(value) if isinstance(value, str) else 0
        raise AssertionError(f"{what} is not a token ({type(value).__name__}, length {length})")


def distinct(a: str, b: str, what: str) -> None:
    if a == b:
        raise AssertionError(f"{what}: expected two different tokens, got the same one twice")


def access_token_works(base_url: str, client_id: str, token: str, what: str) -> None:
    status, body = probe.exchange(base_url, client_id, token)
    if status != 200 or not isinstance((body or {}).get("access_token"), str):
        raise AssertionError(
            f"{what} was refused as an exchange subject: HTTP {status} {probe.error_codes(body)}"
        )


def access_token_dead(base_url: str, client_id: str, token: str, what: str) -> None:
    status, body = probe.exchange(base_url, client_id, token)
    if status != 401:
        raise AssertionError(f"{what} still works as an exchange subject (HTTP {status}, expected 401)")
    errors = (body or {}).get("errors") or [{}]
    if errors[0].get("status") != "401":
        raise AssertionError(f'{what}: the 401 is not an Errors envelope with status "401"')


def refresh_token_dead(base_url: str, client: Client, token: str, what: str) -> None:
    status, body = probe.refresh(base_url, client, token)
    if status != 401:
        raise AssertionError(
            f"{what} was redeemed again (HTTP {status}, expected 401) {probe.error_codes(body)}"
        )


# The refusal the real service gives when an exchange's subject is a machine-to-machine
# token (notes section 2, community.qlik.com thread 2076243). The server can only say it
# after finding the token alive, so it proves a client_credentials token works; a dead or
# unknown token gets a different detail.
M2M_EXCHANGE_REFUSAL = "Cannot perform exchange with given Oauth configuration."


def _detail(body) -> str | None:
    errors = (body or {}).get("errors") or [{}]
    return errors[0].get("detail")


def m2m_token_works(base_url: str, client_id: str, token: str, what: str) -> None:
    status, body = probe.exchange(base_url, client_id, token)
    if status != 401 or _detail(body) != M2M_EXCHANGE_REFUSAL:
        raise AssertionError(
            f"{what} was not recognized as a live M2M token: HTTP {status} "
            f"{probe.error_codes(body)} ({_detail(body)})"
        )


def m2m_token_dead(base_url: str, client_id: str, token: str, what: str) -> None:
    status, body = probe.exchange(base_url, client_id, token)
    if status != 401 or _detail(body) == M2M_EXCHANGE_REFUSAL:
        raise AssertionError(f"{what} is still known to the server: HTTP {status} ({_detail(body)})")
