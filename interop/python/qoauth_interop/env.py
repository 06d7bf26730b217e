"""Where the reference server runs and what tenant it serves. `interop/run.sh` exports the
variables; running pytest by hand needs the same ones."""

import json
import os
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
FIXTURE = Path(
    os.environ.get("QOAUTH_FIXTURE")
    or REPO_ROOT / "suite" / "reference" / "fixtures" / "default.json"
)
KEYS = REPO_ROOT / "cases" / "profiles" / "keys"

LOGIN_HINT = "alice@example.com"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
IMPERSONATION = "urn:qlik:oauth:user-impersonation"
TIMEOUT = 10


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(
            f"{name} is not set: start the reference server and export it "
            "(interop/run.sh does both)"
        )
    return value.rstrip("/")


def targets() -> dict:
    """Both transports; the official client runs over each, authlib over TLS only."""
    return {"http": _required("QOAUTH_HTTP_URL"), "https": _required("QOAUTH_HTTPS_URL")}


@dataclass(frozen=True)
class Client:
    id: str
    secret: str | None
    redirect_uri: str


def _fixture() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def client(client_id: str) -> Client:
    for c in _fixture()["clients"]:
        if c["client_id"] == client_id:
            uris = c["redirect_uris"]
            loopback = [u for u in uris if u.startswith("http://127.0.0.1")]
            secrets = c.get("secrets") or [None]
            return Client(c["client_id"], secrets[0], (loopback or uris)[0])
    raise KeyError(f"client {client_id} is not in the fixture {FIXTURE}")


def user(email: str) -> dict:
    for u in _fixture()["users"]:
        if u["email"] == email:
            return u
    raise KeyError(f"user {email} is not in the fixture {FIXTURE}")


def label(dist: str) -> str:
    return f"{dist} {version(dist)}"
