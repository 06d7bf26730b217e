"""Plays the browser's part of the authorization code flow against the reference's test
identity provider: follows redirects with a cookie jar and stops at the client's redirect
URI, whose URL (with code and state) it returns unopened."""

from urllib.parse import urlencode, urljoin, urlsplit

import requests

from .env import LOGIN_HINT, TIMEOUT

MAX_REDIRECTS = 10


def with_login_hint(url: str, hint: str = LOGIN_HINT) -> str:
    """Adds login_hint so the test IdP signs the fixture user in without a login form; the
    rest of the URL stays byte for byte as the client built it."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}{urlencode({'login_hint': hint})}"


def _same_endpoint(candidate: str, redirect_uri: str) -> bool:
    a, b = urlsplit(candidate), urlsplit(redirect_uri)
    return (a.scheme, a.netloc, a.path) == (b.scheme, b.netloc, b.path)


def authorize_in_browser(authorize_url: str, redirect_uri: str) -> str:
    with requests.Session() as browser:
        url = authorize_url
        for _ in range(MAX_REDIRECTS):
            res = browser.get(url, allow_redirects=False, timeout=TIMEOUT)
            location = res.headers.get("location")
            if 300 <= res.status_code < 400 and location:
                nxt = urljoin(url, location)
                if _same_endpoint(nxt, redirect_uri):
                    return nxt
                url = nxt
                continue
            raise AssertionError(
                f"authorize flow stopped at {urlsplit(url).path} with HTTP "
                f"{res.status_code}: {res.text[:300]}"
            )
    raise AssertionError(f"authorize flow did not reach {redirect_uri} in {MAX_REDIRECTS} redirects")
