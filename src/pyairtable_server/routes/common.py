"""What the data routers share: documented error answers and paging parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from ..errors import error_responses
from ..schemas.common import MAX_PER_PAGE

#: Routes that reach into a workspace: the caller's role may not allow it, or not see it at all.
SCOPED = error_responses(403, 404)
#: Routes with a JSON body: unparseable (400) or oversized (413).
BODY = error_responses(400, 413)
#: Record writes that honour ``If-Match``.
CONFLICT = error_responses(409)
PerPage = Annotated[int, Query(ge=1, le=MAX_PER_PAGE)]
PageNumber = Annotated[int, Query(ge=1, le=1_000_000)]
