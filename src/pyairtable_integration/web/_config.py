"""The web session options: where the session lives, how its cookies are set, the route prefix."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .._config import ConfigurationError

SessionMode = Literal["cookie", "server"]
SameSite = Literal["lax", "strict", "none"]

DEFAULT_COOKIE_NAME = "pyairtable_session"
DEFAULT_CSRF_COOKIE_NAME = "pyairtable_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FORM_FIELD = "csrf_token"
DEFAULT_PREFIX = "/auth"
DEFAULT_MAX_AGE = 30 * 24 * 3600  # the backend's refresh tokens live 30 days by default
MIN_SECRET_LENGTH = 32  # characters; the cookie and CSRF keys are derived from it
#: How stale (seconds) a worker's knowledge that a browser session is still live may be: a
#: session ended elsewhere (logout on another worker, a password change) stops working here
#: within this long. The worker that signs a browser out refuses copies of its cookie at once.
DEFAULT_REVALIDATE_AFTER = 30


@dataclass(frozen=True)
class WebAuthConfig:
    """How browser sessions are kept.

    ``secret_keys`` are the app's secrets, newest first: the first seals new cookies and CSRF
    tokens, all of them open old ones (so a secret can be rotated without signing everyone out).
    ``mode="cookie"`` keeps the tokens in the encrypted session cookie; ``mode="server"`` keeps
    them in a session store and the cookie holds only a random session id. ``max_age`` is how
    long (seconds) a browser stays signed in without a request. ``revalidate_after`` is how
    often (seconds) a worker asks the backend whether a browser's session is still live (0: on
    every request that loads it); a session ended anywhere is refused within that long.
    """

    secret_keys: tuple[str, ...]
    mode: SessionMode = "cookie"
    cookie_name: str = DEFAULT_COOKIE_NAME
    csrf_cookie_name: str = DEFAULT_CSRF_COOKIE_NAME
    prefix: str = DEFAULT_PREFIX
    secure: bool = True
    same_site: SameSite = "lax"
    max_age: int = DEFAULT_MAX_AGE
    domain: str | None = None
    revalidate_after: int = DEFAULT_REVALIDATE_AFTER


def build_web_config(
    *,
    secret_key: str | Sequence[str],
    mode: str = "cookie",
    cookie_name: str = DEFAULT_COOKIE_NAME,
    csrf_cookie_name: str = DEFAULT_CSRF_COOKIE_NAME,
    prefix: str = DEFAULT_PREFIX,
    secure: bool = True,
    same_site: str = "lax",
    max_age: int = DEFAULT_MAX_AGE,
    domain: str | None = None,
    revalidate_after: int = DEFAULT_REVALIDATE_AFTER,
) -> WebAuthConfig:
    """Check the options and return them as a ``WebAuthConfig``.

    Raises:
        ConfigurationError: an option is wrong; the message names each one.
    """
    keys = (secret_key,) if isinstance(secret_key, str) else tuple(secret_key)
    problems: dict[str, str] = {}
    if not keys or any(len(key) < MIN_SECRET_LENGTH for key in keys):
        problems["secret_key"] = f"give a random secret of at least {MIN_SECRET_LENGTH} characters"
    if mode not in ("cookie", "server"):
        problems["mode"] = f"must be 'cookie' or 'server', not {mode!r}"
    if same_site not in ("lax", "strict", "none"):
        problems["same_site"] = f"must be 'lax', 'strict' or 'none', not {same_site!r}"
    elif same_site == "none" and not secure:
        problems["same_site"] = "browsers drop SameSite=None cookies that are not Secure"
    if not prefix.startswith("/") or prefix.endswith("/"):
        problems["prefix"] = f"must start with '/' and not end with one, not {prefix!r}"
    if max_age <= 0:
        problems["max_age"] = "must be a positive number of seconds"
    if revalidate_after < 0:
        problems["revalidate_after"] = "must be 0 (every request) or a positive number of seconds"
    for name, value in (("cookie_name", cookie_name), ("csrf_cookie_name", csrf_cookie_name)):
        if not value or not all(c.isalnum() or c in "-_." for c in value):
            problems[name] = f"must be letters, digits, '-', '_' or '.', not {value!r}"
    if cookie_name == csrf_cookie_name:
        problems["csrf_cookie_name"] = "must differ from cookie_name"
    if problems:
        raise ConfigurationError(problems)
    return WebAuthConfig(
        secret_keys=keys,
        mode=mode,  # type: ignore[arg-type]
        cookie_name=cookie_name,
        csrf_cookie_name=csrf_cookie_name,
        prefix=prefix,
        secure=secure,
        same_site=same_site,  # type: ignore[arg-type]
        max_age=max_age,
        domain=domain,
        revalidate_after=revalidate_after,
    )
