"""Keep credentials that travel in URLs out of the logs.

Two kinds of secret can sit in a query string: an access token (``?token=`` on ``/ws`` and
``/events``, where browsers cannot send headers) and the signature of a signed download URL
(``?signature=``, which works without a token until it expires). uvicorn logs every request's
path with its query string (``uvicorn.access``) and every WebSocket handshake's
(``uvicorn.error``), so a log reader could replay either. ``RedactQuerySecrets`` replaces
their values with ``[redacted]`` in those loggers' records before any handler sees them.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

#: Query parameters whose values are credentials (compared after percent-decoding, any case).
SECRET_PARAMETERS = frozenset({"token", "signature", "access_token", "refresh_token"})
REDACTED = "[redacted]"
#: The loggers that print request URLs: uvicorn's access log and its error log (handshakes).
URL_LOGGERS = ("uvicorn.access", "uvicorn.error")
_PARAMETER = re.compile(r"(?P<lead>[?&;])(?P<name>[^=&;#\s\"']*)=(?P<value>[^&;#\s\"']*)")


def redact_query_secrets(text: str) -> str:
    """``text`` with the value of every secret query parameter replaced by ``[redacted]``."""

    def replace(match: re.Match[str]) -> str:
        if unquote_plus(match["name"]).strip().lower() in SECRET_PARAMETERS:
            return f"{match['lead']}{match['name']}={REDACTED}"
        return match[0]

    return _PARAMETER.sub(replace, text) if "=" in text else text


class RedactQuerySecrets(logging.Filter):
    """Rewrites a record's message and string arguments with ``redact_query_secrets``; never
    drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_query_secrets(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_query_secrets(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        elif isinstance(record.args, dict):
            record.args = {
                key: redact_query_secrets(value) if isinstance(value, str) else value
                for key, value in record.args.items()
            }
        return True


def install() -> None:
    """Put the filter on every logger of ``URL_LOGGERS`` (once each). ``logging.config``
    keeps a logger's filters when it is configured again, as uvicorn does at start-up."""
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactQuerySecrets) for f in logger.filters):
            logger.addFilter(RedactQuerySecrets())
