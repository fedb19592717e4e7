"""The one redaction: what a secret looks like, and how text is cleaned before it leaves.

Applied at every boundary where text leaves a cell or a config: the cell's log
lines, every CellResult / run / verdicts document (JUnit test names and
messages, failure reasons, recorded commands), every report file, and every
line canary prints. Two kinds of secret are removed:

- values of variables named like a credential (the caller's environment and a
  connector's own `env:`), and the password part of URLs held in any variable
  (a proxy or package index passed through to a cell with its credentials);
- the userinfo of every URL (`https://user:token@host/` -> `https://***@host/`),
  whether or not its value is known.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

__all__ = [
    "SECRET_NAME",
    "KNOWN_SECRETS",
    "URL_USERINFO",
    "MASK",
    "MIN_SECRET",
    "is_secret",
    "url_credentials",
    "secret_values",
    "redact",
    "redact_data",
]

# Anything that looks like a credential, wherever it appears in the name. Each alternative is
# tested on its own (tests/test_redact.py): dropping one must fail a test.
SECRET_NAME = re.compile(
    r"(TOKEN|PASSW(OR)?D|SECRET|PRIVATE|CREDENTIAL|API_?KEY|ACCESS_?KEY|_KEY$|^KEY$|AUTH|SESSION|COOKIE)", re.I
)
KNOWN_SECRETS = {
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "NPM_TOKEN",
    "NODE_AUTH_TOKEN",
    "TWINE_PASSWORD",
    "TWINE_USERNAME",
    "PYPI_TOKEN",
}

# scheme://userinfo@ : userinfo has no '/', '@' or whitespace (RFC 3986 authority).
URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s'\"<>]+)@")
MASK = "***"
MIN_SECRET = 6  # shorter values ("1", "true") would blank out ordinary words


def is_secret(name: str) -> bool:
    """Whether an environment variable's name says its value is a secret."""
    return name in KNOWN_SECRETS or bool(SECRET_NAME.search(name))


def url_credentials(value: str) -> list[str]:
    """The userinfo parts (user:password, password, and their %-decoded forms) of URLs in a value."""
    out = []
    for m in URL_USERINFO.finditer(value):
        info = m.group("userinfo")
        out.append(info)
        _, _, password = info.partition(":")
        if password:
            out.append(password)
        out += [unquote(x) for x in (info, password) if x and unquote(x) != x]
    return out


def secret_values(*sources: Mapping[str, object]) -> list[str]:
    """What to mask: values of secret-named variables and URL credentials in any variable, from
    each mapping given (default: this process's environment), longest first."""
    found: set[str] = set()
    for source in sources or (os.environ,):
        for key, value in source.items():
            value = str(value)
            if is_secret(key):
                found.add(value)
            found.update(url_credentials(value))
    return sorted((v for v in found if len(v) >= MIN_SECRET), key=len, reverse=True)


def redact(text: str, secrets: list[str] | None = None) -> str:
    """`text` with known secret values masked and every URL's userinfo replaced by ***."""
    if secrets is None:
        secrets = secret_values()
    for value in secrets:
        if value in text:
            text = text.replace(value, MASK)
    return URL_USERINFO.sub(lambda m: m.group("scheme") + MASK + "@", text) if "@" in text else text


def redact_data(value: Any, secrets: list[str] | None = None) -> Any:
    """Every string (keys too) of a JSON-like document, redacted."""
    if secrets is None:
        secrets = secret_values()
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {redact(k, secrets) if isinstance(k, str) else k: redact_data(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(v, secrets) for v in value]
    return value
