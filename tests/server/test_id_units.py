"""Fresh identifiers (contract §2): shape, and every character of the alphabet in every place.
Plain synchronous tests without a backend."""

from __future__ import annotations

import string
from collections import Counter

from pyairtable_server.ids import new_id


def test_a_new_id_is_the_prefix_and_16_base62_characters() -> None:
    ids = [new_id("rec") for _ in range(2_000)]
    assert len(set(ids)) == len(ids)
    for value in ids:
        assert value.startswith("rec") and len(value) == 19
        assert set(value[3:]) <= set(string.ascii_letters + string.digits)


def test_every_character_turns_up_in_every_place() -> None:
    ids = [new_id("evt")[3:] for _ in range(4_000)]
    for place in range(16):
        seen = Counter(value[place] for value in ids)
        # 62 characters, about 65 times each: a digit missing or drawn twice as often as
        # another would be a biased draw (the chance of either from a fair one is negligible).
        assert len(seen) == 62
        assert max(seen.values()) < 2 * min(seen.values()) + 40
