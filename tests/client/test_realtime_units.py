"""The realtime client's pure parts, without an event loop: SSE decoding, the transport ladder
and its states, and a subscription's exactly-once position."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pyairtable_integration import create_integration
from pyairtable_integration.realtime import Ladder, RealtimeState, SseDecoder, SseMessage
from pyairtable_integration.realtime._state import (
    state_after_failure,
    state_when_live,
    state_when_trying,
)
from pyairtable_integration.realtime._subscription import Reset, Subscription, matches
from pyairtable_integration.transport import RetryPolicy, backoff_delay
from pyairtable_integration.types import Event


def _decode(*chunks: str) -> list[SseMessage]:
    decoder = SseDecoder()
    return [message for chunk in chunks for message in decoder.feed(chunk)]


def test_sse_a_frame_of_id_event_and_data_is_one_message() -> None:
    assert _decode('id: 7\nevent: record.created\ndata: {"seq":7}\n\n') == [
        SseMessage(event="record.created", data='{"seq":7}', id="7")
    ]


def test_sse_chunks_split_anywhere_decode_the_same() -> None:
    stream = 'id: 7\r\nevent: record.created\r\ndata: {"seq":7}\r\n\r\nid: 8\rdata: x\r\r'
    whole = _decode(stream)
    for cut in range(1, len(stream)):
        assert _decode(stream[:cut], stream[cut:]) == whole, cut
    assert _decode(*stream) == whole
    assert [message.id for message in whole] == ["7", "8"]


def test_sse_a_crlf_split_between_chunks_is_one_line_end() -> None:
    assert _decode("data: a\r", "\ndata: b\r\n\r\n") == [SseMessage(data="a\nb")]


def test_sse_comments_are_heartbeats_and_do_not_end_a_message() -> None:
    messages = _decode(": ping\n", "data: a\n: ping 2\ndata: b\n\n")
    assert messages == [
        SseMessage(comment="ping"),
        SseMessage(comment="ping 2"),
        SseMessage(data="a\nb"),
    ]


def test_sse_multi_line_data_joins_with_newlines_and_keeps_the_id() -> None:
    decoder = SseDecoder()
    [first] = decoder.feed("id: 3\ndata: one\ndata:two\ndata\n\n")
    [second] = decoder.feed("data: again\n\n")
    assert first.data == "one\ntwo\n"
    assert (second.id, decoder.last_event_id) == ("3", "3")


def test_sse_a_blank_line_without_fields_dispatches_nothing() -> None:
    assert _decode("\n\n\r\n") == []


def test_sse_retry_is_read_and_an_unknown_field_ignored() -> None:
    assert _decode("retry: 1500\nfoo: bar\ndata: x\n\n") == [SseMessage(data="x", retry=1500)]


def test_sse_the_reset_frame_of_the_backend() -> None:
    [reset] = _decode('id: 40\nevent: reset\ndata: {"position":40}\n\n')
    assert (reset.event, reset.id, reset.data) == ("reset", "40", '{"position":40}')


def test_ladder_steps_down_after_repeated_failures_and_back_to_the_top() -> None:
    ladder = Ladder(failures_to_fall=2)
    assert ladder.failed() == "websocket"
    assert ladder.failed() == "sse"
    assert ladder.failed() == "sse"
    assert ladder.failed() == "polling"
    assert ladder.failed() == "polling"
    assert ladder.failed() == "polling"
    ladder.back_to_top()
    assert (ladder.current, ladder.in_fallback) == ("websocket", False)


def test_ladder_without_sse_goes_from_websocket_to_polling() -> None:
    ladder = Ladder(sse_enabled=False, failures_to_fall=1)
    assert ladder.failed() == "polling"


def test_ladder_a_live_transport_resets_the_failure_counts() -> None:
    ladder = Ladder(failures_to_fall=2)
    ladder.failed()
    ladder.live()
    assert ladder.failed() == "websocket"
    assert ladder.attempt == 1


def test_states_first_connection_reconnection_fallback_and_offline() -> None:
    ladder = Ladder(failures_to_fall=1)
    closed = RealtimeState()
    assert state_when_trying(ladder, closed) == RealtimeState("connecting", "websocket")
    ladder.live()
    assert state_when_live(ladder) == RealtimeState("connected", "websocket")
    ladder.failed()  # to SSE
    after = state_after_failure(ladder, "cut")
    assert (after.status, after.transport, after.error) == ("reconnecting", "sse", "cut")
    ladder.live()
    assert state_when_live(ladder) == RealtimeState("fallback", "sse")
    assert state_when_live(ladder).live
    ladder.failed()  # to polling
    ladder.failed()  # polling failed: nothing reachable
    assert state_after_failure(ladder, "down").status == "offline"
    assert state_when_trying(ladder, state_after_failure(ladder, "down")).status == "offline"


def test_reconnect_backoff_is_jittered_and_capped() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    assert backoff_delay(policy, 1, uniform=lambda low, high: low) == 0.25
    assert backoff_delay(policy, 3, uniform=lambda low, high: high) == 2.0
    assert backoff_delay(policy, 10, uniform=lambda low, high: high) == 4.0


def _event(seq: int, **fields: Any) -> Event:
    wire: dict[str, Any] = {
        "id": f"evt{seq}",
        "seq": seq,
        "type": "record.created",
        "channel": "record",
        "workspace_id": "wsp1",
        "base_id": "bas1",
        "table_id": "tbl1",
        "aggregate_type": "record",
        "aggregate_id": f"rec{seq}",
        "version": 1,
        "occurred_at": datetime(2030, 1, 1, tzinfo=UTC),
        "user_id": "usr1",
        "payload": {},
    }
    return Event.model_validate({**wire, **fields})


def test_a_subscription_takes_each_seq_once_in_order_and_gaps_are_fine() -> None:
    subscription = Subscription("s", "record", {"table_id": "tbl1"})
    taken = [subscription.take(_event(seq)) for seq in (3, 5, 5, 4, 9, 2, 10)]
    assert taken == [True, True, False, False, True, False, True]
    assert [item.seq for item in subscription.pending if isinstance(item, Event)] == [3, 5, 9, 10]
    assert subscription.position == 10


def test_a_subscription_skips_events_outside_its_channel_and_filters() -> None:
    subscription = Subscription("s", "record", {"table_id": "tbl1"})
    assert not subscription.take(_event(1, table_id="tbl2"))
    assert not subscription.take(_event(2, channel="table", type="table.updated"))
    assert subscription.position is None


def test_a_reset_moves_the_position_forward_only_and_is_queued() -> None:
    subscription = Subscription("s", "*", {})
    subscription.take(_event(5))
    subscription.reset(3)
    subscription.reset(20)
    assert list(subscription.pending)[1:] == [Reset("s", 5), Reset("s", 20)]
    assert not subscription.take(_event(19))
    assert subscription.take(_event(21))


def test_a_confirmed_position_is_taken_only_when_none_is_known() -> None:
    subscription = Subscription("s", "*", {})
    subscription.start_at(7)
    subscription.start_at(3)
    assert subscription.position == 7


def test_matching_and_unknown_filters() -> None:
    assert matches("*", {"aggregate_id": "rec1"}, {"channel": "x", "aggregate_id": "rec1"})
    assert not matches("record", {}, {"channel": "table"})
    with pytest.raises(ValueError, match="unknown filters"):
        Subscription("s", "*", {"view_id": "viw1"})


def test_subscribing_with_realtime_switched_off_is_refused() -> None:
    pa = create_integration(environ={}, features={"enable_realtime": False})
    with pytest.raises(RuntimeError, match="enable_realtime"):
        pa.realtime.subscribe_to_record_changes("tbl1", lambda event: None)
