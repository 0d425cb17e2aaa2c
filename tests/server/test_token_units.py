"""Access tokens verified once and remembered: what the memory must not change. Plain synchronous
tests without a backend."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from pyairtable_server.errors import AuthError
from pyairtable_server.security import tokens
from pyairtable_server.security.tokens import TokenService


def _service() -> TokenService:
    return TokenService(
        key="k" * 48,
        algorithm="HS256",
        issuer="pyairtable",
        audience="pyairtable-api",
        access_ttl=timedelta(minutes=15),
    )


def test_a_remembered_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    service = _service()
    issued = service.issue_access(user_id="usr1", session_id="ses1", issued_at=datetime.now(UTC))
    assert service.decode_access(issued.token).user_id == "usr1"
    assert service.decode_access(issued.token).session_id == "ses1"  # from memory
    later = issued.expires_at.timestamp() + 1
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(AuthError, match="expired"):
        service.decode_access(issued.token)


def test_a_token_changed_by_one_character_is_verified_afresh() -> None:
    service = _service()
    issued = service.issue_access(user_id="usr1", session_id="ses1", issued_at=datetime.now(UTC))
    service.decode_access(issued.token)
    head, payload, signature = issued.token.split(".")
    tampered = ".".join(
        (head, payload, signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB"))
    )
    with pytest.raises(AuthError, match="invalid"):
        service.decode_access(tampered)


def test_the_memory_keeps_a_bounded_number_of_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "VERIFIED_TOKENS_KEPT", 3)
    service = _service()
    now = datetime.now(UTC)
    issued = [
        service.issue_access(user_id=f"usr{n}", session_id="ses", issued_at=now, jti=f"j{n}")
        for n in range(5)
    ]
    for token in issued:
        service.decode_access(token.token)
    assert len(service._verified) == 3
    assert issued[0].token not in service._verified
    assert issued[4].token in service._verified
    assert time.time() < issued[0].expires_at.timestamp()
    assert service.decode_access(issued[0].token).user_id == "usr0"  # verified again
