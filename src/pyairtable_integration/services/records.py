"""The record service: reading records (filtered, sorted, a cursor page at a time) and writing them.

Every write takes an optional ``idempotency_key``: the transport generates one per call
otherwise; a caller that may send the same logical write again later (the offline outbox)
passes its own so the backend applies it once. With ``parking`` set (offline support on), a
write that gets no answer is kept in the outbox with its key and raises ``OfflineError``.
``expected_version`` sends ``If-Match``, so a write to a record someone else changed meanwhile
fails with ``ConflictError`` (``.current`` holds the record as it is now) instead of
overwriting their change.
"""

from __future__ import annotations

from ._record_batches import MAX_BATCH_SIZE, RecordBatches, RecordUpdate
from ._record_reads import RecordReads, SortKey


class RecordService(RecordReads, RecordBatches):
    """``/records``: the rows of a table, as ``{field name: value}`` with a version each.

    Reads (``_record_reads``), one record's writes (``_record_writes``) and batch writes
    (``_record_batches``); every write hands an unanswered attempt to ``parking``.
    """

    name = "record"


__all__ = ["MAX_BATCH_SIZE", "RecordService", "RecordUpdate", "SortKey"]
