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
