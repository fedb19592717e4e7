"""The environment a cell gets: a minimal base, the matrix's own keys, no secrets.

Connectors are untrusted code. They get what a package manager needs to work
(PATH, HOME, locale, proxies, certificates, PIP_* / npm_config_* settings)
and never the caller's tokens, passwords or keys, whatever they are called.
"""

from __future__ import annotations

import os

from canary.kernel.redact import is_secret, redact, secret_values  # noqa: F401 (the cell's redaction lives there)

BASE_KEYS = {
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "TERM",
    "TZ",
    "TMPDIR",
    "LANG",
    "LANGUAGE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "PIP_CONFIG_FILE",
    "NPM_CONFIG_USERCONFIG",
    "SOURCE_DATE_EPOCH",
}
BASE_PREFIXES = ("LC_", "PIP_", "npm_config_", "NPM_CONFIG_", "UV_")


def base_env(source: dict | None = None) -> dict[str, str]:
    source = dict(os.environ if source is None else source)
    return {k: v for k, v in source.items() if (k in BASE_KEYS or k.startswith(BASE_PREFIXES)) and not is_secret(k)}


def cell_env(
    matrix_env: dict, pass_env: tuple[str, ...] = (), source: dict | None = None
) -> tuple[dict[str, str], list[str]]:
    """The cell's environment and the list of keys that came from outside the base.

    Keys named in `pass_env` that look like secrets are dropped: passing a
    token to untrusted code must be a decision made elsewhere, not a typo here.
    """
    source = dict(os.environ if source is None else source)
    env = base_env(source)
    for key in pass_env:
        if key in source and not is_secret(key):
            env[key] = source[key]
    env.update({k: str(v) for k, v in matrix_env.items()})
    return env, sorted(env)
