"""The integration's configuration: every option of the original design, in snake_case.

Options are validated when the integration is created, so a typo or a wrong type fails at once with
a ``ConfigurationError`` that names the option, rather than later as odd behaviour. Values come from
three places, strongest first: the arguments of ``create_integration``, the ``PYAIRTABLE_*``
environment variables, and the defaults below. Durations are in seconds (the original design, in
JavaScript, counted milliseconds).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFAULT_BASE_URL = "http://localhost:8080/api/v1"
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRY_ATTEMPTS = 3
DEFAULT_RETRY_DELAY = 1.0
DEFAULT_RETRY_MAX_DELAY = 30.0
DEFAULT_RETRY_AFTER_CAP = 60.0
DEFAULT_CACHE_TIMEOUT = 300.0
DEFAULT_CACHE_MAX_SIZE = 1000
DEFAULT_MAX_CONNECTIONS = 100
DEFAULT_MAX_KEEPALIVE_CONNECTIONS = 20
DEFAULT_KEEPALIVE_EXPIRY = 30.0
DEFAULT_BREAKER_FAILURE_THRESHOLD = 5
DEFAULT_BREAKER_RESET_TIMEOUT = 30.0
DEFAULT_REFRESH_MARGIN = 60.0
DEFAULT_PERMISSIONS_TTL = 60.0

# Environment variable -> (section, option). Section None is the top level.
ENVIRONMENT: dict[str, tuple[str | None, str]] = {
    "PYAIRTABLE_API_URL": (None, "base_url"),
    "PYAIRTABLE_WS_URL": ("realtime_config", "websocket_url"),
    "PYAIRTABLE_ENABLE_REALTIME": ("features", "enable_realtime"),
    "PYAIRTABLE_ENABLE_OPTIMISTIC": ("features", "enable_optimistic_updates"),
    "PYAIRTABLE_ENABLE_OFFLINE": ("features", "enable_offline_support"),
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigurationError(ValueError):
    """An option of ``create_integration`` (or a ``PYAIRTABLE_*`` variable) is wrong.

    ``problems`` maps each offending option, dotted for nested ones (``cache_config.max_size``),
    to what is wrong with it.
    """

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        lines = "; ".join(f"{name}: {reason}" for name, reason in self.problems.items())
        super().__init__(f"Invalid PyAirtable integration configuration: {lines}")


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CacheConfig(_Options):
    """The cache's size and lifetimes."""

    default_ttl: float = Field(DEFAULT_CACHE_TIMEOUT, gt=0)
    max_size: int = Field(DEFAULT_CACHE_MAX_SIZE, gt=0)
    enable_persistence: bool = False
    persistence_path: str = Field(default_factory=lambda: str(_default_cache_file()))


def _default_cache_file() -> Path:
    # Where the persistent cache level lives unless told: the user's cache directory.
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "pyairtable-integration" / "cache.sqlite3"


class RealtimeConfig(_Options):
    """Where the realtime endpoints are; derived from ``base_url`` when left out."""

    websocket_url: str | None = None
    sse_url: str | None = None
    enable_sse_fallback: bool = True
    # With caching on and someone signed in, follow every event the user may see and apply it
    # to the cache (lists patched in place, schema changes invalidated).
    feed_cache: bool = True
    # How the realtime client keeps its connection (seconds); the defaults suit a real network.
    heartbeat_interval: float = Field(15.0, gt=0)
    heartbeat_timeout: float = Field(10.0, gt=0)
    sse_heartbeat_timeout: float = Field(45.0, gt=0)
    reconnect_delay: float = Field(0.5, ge=0)
    # The longest (jittered) wait between attempts, and between WebSocket probes while on a
    # fallback: how long after the network returns realtime may take to notice it.
    reconnect_max_delay: float = Field(5.0, ge=0)
    probe_delay: float = Field(5.0, ge=0)
    poll_interval: float = Field(2.0, gt=0)
    failures_to_fall: int = Field(2, ge=1)

    @field_validator("websocket_url")
    @classmethod
    def _websocket_scheme(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in {"ws", "wss"}:
            raise ValueError("must be a ws:// or wss:// URL")
        return value

    @field_validator("sse_url")
    @classmethod
    def _sse_scheme(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in {"http", "https"}:
            raise ValueError("must be an http:// or https:// URL")
        return value


class Features(_Options):
    """Subsystems switched on or off."""

    enable_realtime: bool = True
    enable_optimistic_updates: bool = True
    enable_offline_support: bool = False


class IntegrationConfig(_Options):
    """Every option of the integration, validated and frozen.

    The original design's options come first; the rest tune the transport and are optional.
    ``retry_attempts`` counts retries after the first attempt (0 turns retrying off).
    """

    base_url: str = DEFAULT_BASE_URL
    timeout: float = Field(DEFAULT_TIMEOUT, gt=0)
    retry_attempts: int = Field(DEFAULT_RETRY_ATTEMPTS, ge=0, le=20)
    retry_delay: float = Field(DEFAULT_RETRY_DELAY, ge=0)
    enable_caching: bool = True
    cache_timeout: float = Field(DEFAULT_CACHE_TIMEOUT, gt=0)
    enable_optimistic_updates: bool = True
    enable_offline_queue: bool = False
    # The outbox file; None: $XDG_DATA_HOME (or ~/.local/share)/pyairtable-integration/.
    offline_path: str | None = None
    cache_config: CacheConfig = CacheConfig()
    realtime_config: RealtimeConfig = RealtimeConfig()
    features: Features = Features()
    debug: bool = False

    @property
    def default_cache_ttl(self) -> float:
        """Seconds a cached answer stays fresh unless its kind says otherwise.

        ``cache_config.default_ttl`` when it was given, else the original design's
        ``cache_timeout`` (both default to five minutes).
        """
        if "default_ttl" in self.cache_config.model_fields_set:
            return self.cache_config.default_ttl
        return self.cache_timeout

    retry_max_delay: float = Field(DEFAULT_RETRY_MAX_DELAY, ge=0)
    retry_after_cap: float = Field(DEFAULT_RETRY_AFTER_CAP, ge=0)
    max_connections: int = Field(DEFAULT_MAX_CONNECTIONS, gt=0)
    max_keepalive_connections: int = Field(DEFAULT_MAX_KEEPALIVE_CONNECTIONS, ge=0)
    keepalive_expiry: float = Field(DEFAULT_KEEPALIVE_EXPIRY, ge=0)
    breaker_failure_threshold: int = Field(DEFAULT_BREAKER_FAILURE_THRESHOLD, gt=0)
    breaker_reset_timeout: float = Field(DEFAULT_BREAKER_RESET_TIMEOUT, gt=0)
    deduplicate_requests: bool = True
    refresh_margin: float = Field(DEFAULT_REFRESH_MARGIN, ge=0)
    permissions_ttl: float = Field(DEFAULT_PERMISSIONS_TTL, ge=0)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError("must be an absolute http:// or https:// URL")
        return value.rstrip("/")

    @property
    def websocket_url(self) -> str:
        """The WebSocket endpoint: configured, or ``/ws`` on the API's host."""
        if self.realtime_config.websocket_url:
            return self.realtime_config.websocket_url
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, "/ws", "", ""))

    @property
    def sse_url(self) -> str:
        """The Server-Sent Events endpoint: configured, or ``/events`` on the API's host."""
        if self.realtime_config.sse_url:
            return self.realtime_config.sse_url
        parts = urlsplit(self.base_url)
        return urlunsplit((parts.scheme, parts.netloc, "/events", "", ""))


def _environment_options(environ: Mapping[str, str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for variable, (section, name) in ENVIRONMENT.items():
        raw = environ.get(variable)
        if raw is None:
            continue
        value: Any = raw
        if name.startswith("enable_"):
            lowered = raw.strip().lower()
            if lowered not in _TRUE | _FALSE:
                problems[variable] = f"expected true/false, 1/0, yes/no or on/off, got {raw!r}"
                continue
            value = lowered in _TRUE
        target = options if section is None else options.setdefault(section, {})
        target[name] = value
    if problems:
        raise ConfigurationError(problems)
    return options


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def _plain(value: Any) -> Any:
    return value.model_dump(exclude_unset=True) if isinstance(value, BaseModel) else value


def build_config(
    options: Mapping[str, Any], *, environ: Mapping[str, str] | None = None
) -> IntegrationConfig:
    """Validate ``options`` over the environment and defaults into an ``IntegrationConfig``.

    Raises:
        ConfigurationError: an option is unknown (with the closest known name suggested), of the
            wrong type or out of range, or a ``PYAIRTABLE_*`` variable cannot be read.
    """
    environment = _environment_options(os.environ if environ is None else environ)
    given = {key: _plain(value) for key, value in options.items()}
    try:
        return IntegrationConfig.model_validate(_merge(environment, given))
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc)) from None


def _describe(error: ValidationError) -> dict[str, str]:
    problems: dict[str, str] = {}
    for item in error.errors():
        location = [str(part) for part in item["loc"]]
        name = ".".join(location)
        if item["type"] == "extra_forbidden":
            problems[name] = "unknown option" + _suggestion(location)
        else:
            problems[name] = item["msg"]
    return problems


def _suggestion(location: list[str]) -> str:
    model: type[BaseModel] = IntegrationConfig
    for part in location[:-1]:
        annotation = model.model_fields[part].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        model = annotation
    close = difflib.get_close_matches(location[-1], list(model.model_fields), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
