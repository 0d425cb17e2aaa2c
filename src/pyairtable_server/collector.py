"""The garbage collector, set once per server process when the app has started.

CPython's cyclic collector runs its oldest generation when a quarter more objects than the last
full collection saw have survived the younger ones. A started server holds some 200,000
long-lived objects (modules, classes, SQLAlchemy and pydantic metadata), so every full
collection walked all of them: about 100 ms of one core during which the event loop stood
still. Under concurrency more of each request's objects are alive when a young collection runs,
survive it, and bring the next full collection closer: at 16 lists in flight, full collections
came every ~500 requests and added a third of a millisecond to each request's CPU, and their
pauses, stalling all 16, made the slowest answers seconds long.

``gc.freeze()`` moves what exists after start-up out of the collector's sight (it stays alive:
those objects live as long as the process anyway), so a full collection walks only what came
after; a larger first threshold lets most of a request's containers die by reference counting
before a young collection would look at them and promote the in-flight ones.
"""

from __future__ import annotations

import gc

#: Allocations of tracked objects (net of frees) between two young collections (CPython: 700).
YOUNG_THRESHOLD = 10_000

_settled = False


def settle() -> None:
    """Collect once, freeze what survives, raise the young threshold; only the first call in a
    process does anything (test suites start many apps in one process)."""
    global _settled
    if _settled:
        return
    _settled = True
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, oldest)
