"""Configuration: every option accepted, wrong ones named, environment read, derived URLs."""

from __future__ import annotations

import pytest

from pyairtable_integration import ConfigurationError, IntegrationConfig, create_integration
from pyairtable_integration._config import build_config

EVERY_OPTION = {
    "base_url": "https://api.example.com/api/v1/",
    "timeout": 12.5,
    "retry_attempts": 5,
    "retry_delay": 0.25,
    "enable_caching": False,
    "cache_timeout": 120,
    "enable_optimistic_updates": False,
    "enable_offline_queue": True,
    "cache_config": {"default_ttl": 30, "max_size": 50, "enable_persistence": True},
    "realtime_config": {
        "websocket_url": "wss://rt.example.com/ws",
        "sse_url": "https://rt.example.com/events",
        "enable_sse_fallback": False,
    },
    "features": {
        "enable_realtime": False,
        "enable_optimistic_updates": False,
        "enable_offline_support": True,
    },
    "debug": False,
    "retry_max_delay": 10,
    "retry_after_cap": 20,
    "max_connections": 10,
    "max_keepalive_connections": 5,
    "keepalive_expiry": 15,
    "breaker_failure_threshold": 7,
    "breaker_reset_timeout": 12,
    "deduplicate_requests": False,
    "refresh_margin": 30,
    "permissions_ttl": 5,
}


def problems(options: dict[str, object], environ: dict[str, str] | None = None) -> dict[str, str]:
    with pytest.raises(ConfigurationError) as caught:
        build_config(options, environ=environ or {})
    return caught.value.problems


def test_every_option_of_the_design_is_accepted_and_kept() -> None:
    config = build_config(EVERY_OPTION, environ={})
    assert config.base_url == "https://api.example.com/api/v1"
    assert config.timeout == 12.5
    assert config.retry_attempts == 5
    assert config.cache_config.max_size == 50
    assert config.realtime_config.enable_sse_fallback is False
    assert config.features.enable_offline_support is True
    assert config.deduplicate_requests is False
    dumped = config.model_dump()
    for name, value in EVERY_OPTION.items():
        if name != "base_url" and not isinstance(value, dict):
            assert dumped[name] == value, name


def test_defaults_apply_when_nothing_is_given() -> None:
    config = build_config({}, environ={})
    assert config == IntegrationConfig()
    assert config.base_url == "http://localhost:8080/api/v1"


def test_an_unknown_option_is_named_with_the_closest_known_one() -> None:
    found = problems({"retry_attempt": 2})
    assert found == {"retry_attempt": "unknown option (did you mean 'retry_attempts'?)"}


def test_an_unknown_nested_option_is_named_with_its_section() -> None:
    found = problems({"cache_config": {"max_sise": 10}})
    assert found == {"cache_config.max_sise": "unknown option (did you mean 'max_size'?)"}


def test_an_unknown_option_far_from_any_name_gets_no_suggestion() -> None:
    assert problems({"zzzz": 1}) == {"zzzz": "unknown option"}


def test_wrong_types_and_ranges_are_named_each() -> None:
    found = problems(
        {"timeout": "soon", "retry_attempts": -1, "cache_config": {"max_size": "many"}}
    )
    assert set(found) == {"timeout", "retry_attempts", "cache_config.max_size"}
    assert "timeout" in str(ConfigurationError(found))


def test_urls_are_checked() -> None:
    assert set(problems({"base_url": "localhost:8080"})) == {"base_url"}
    assert set(problems({"realtime_config": {"websocket_url": "http://x/ws"}})) == {
        "realtime_config.websocket_url"
    }
    assert set(problems({"realtime_config": {"sse_url": "ws://x/events"}})) == {
        "realtime_config.sse_url"
    }


def test_environment_variables_are_read() -> None:
    environ = {
        "PYAIRTABLE_API_URL": "https://env.example.com/api/v1",
        "PYAIRTABLE_WS_URL": "wss://env.example.com/ws",
        "PYAIRTABLE_ENABLE_REALTIME": "false",
        "PYAIRTABLE_ENABLE_OPTIMISTIC": "0",
        "PYAIRTABLE_ENABLE_OFFLINE": "Yes",
    }
    config = build_config({}, environ=environ)
    assert config.base_url == "https://env.example.com/api/v1"
    assert config.websocket_url == "wss://env.example.com/ws"
    assert config.features.enable_realtime is False
    assert config.features.enable_optimistic_updates is False
    assert config.features.enable_offline_support is True


def test_a_bad_boolean_in_the_environment_is_named() -> None:
    found = problems({}, environ={"PYAIRTABLE_ENABLE_REALTIME": "maybe"})
    assert list(found) == ["PYAIRTABLE_ENABLE_REALTIME"]
    assert "'maybe'" in found["PYAIRTABLE_ENABLE_REALTIME"]


def test_explicit_arguments_beat_the_environment_field_by_field() -> None:
    environ = {
        "PYAIRTABLE_API_URL": "https://env.example.com/api/v1",
        "PYAIRTABLE_ENABLE_REALTIME": "true",
        "PYAIRTABLE_ENABLE_OFFLINE": "true",
    }
    config = build_config(
        {"base_url": "https://arg.example.com/api/v1", "features": {"enable_realtime": False}},
        environ=environ,
    )
    assert config.base_url == "https://arg.example.com/api/v1"
    assert config.features.enable_realtime is False
    assert config.features.enable_offline_support is True  # the environment's, not overridden


def test_realtime_urls_are_derived_from_the_base_url() -> None:
    plain = build_config({"base_url": "http://api.example.com:8080/api/v1"}, environ={})
    assert plain.websocket_url == "ws://api.example.com:8080/ws"
    assert plain.sse_url == "http://api.example.com:8080/events"
    secure = build_config({"base_url": "https://api.example.com/api/v1"}, environ={})
    assert secure.websocket_url == "wss://api.example.com/ws"
    assert secure.sse_url == "https://api.example.com/events"


def test_create_integration_fails_at_once_on_a_wrong_option() -> None:
    with pytest.raises(ConfigurationError, match="retry_dealy"):
        create_integration(retry_dealy=1, environ={})


def test_cache_timeout_sets_the_default_freshness_unless_cache_config_says_otherwise() -> None:
    """Issue 15: ``cache_timeout`` was accepted and ignored."""
    assert create_integration(environ={}, cache_timeout=7).cache.default_lifetime.ttl == 7
    both = create_integration(environ={}, cache_timeout=7, cache_config={"default_ttl": 9})
    assert both.cache.default_lifetime.ttl == 9
    assert create_integration(environ={}).cache.default_lifetime.ttl == 300
