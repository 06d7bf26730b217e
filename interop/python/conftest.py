"""Makes `qoauth_interop` importable and names the two transports as a fixture."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from qoauth_interop.env import targets  # noqa: E402


@pytest.fixture(params=["http", "https"])
def base_url(request) -> str:
    return targets()[request.param]


@pytest.fixture
def tls_base_url() -> str:
    return targets()["https"]


def pytest_report_header(config):
    from qoauth_interop.env import label

    return "clients: " + ", ".join(label(d) for d in ("qlik-sdk", "authlib", "requests"))


@pytest.fixture(autouse=True, scope="session")
def trust_run_certificate():
    """Trusts the run's TLS certificate in every requests call, including those that ignore
    REQUESTS_CA_BUNDLE: qlik-sdk 0.17.0 sends through `Session.send`, which skips the
    environment, so its https calls verify against requests' default bundle. Pointing that
    default at the certificate is what installing it in the trust store would do."""
    import os

    import requests.adapters

    bundle = os.environ.get("REQUESTS_CA_BUNDLE")
    if bundle:
        requests.adapters.DEFAULT_CA_BUNDLE_PATH = bundle
    yield
