"""What every service client shares: sending through the transport and validating answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, ClassVar, Protocol, TypedDict, TypeVar, Unpack

import httpx2
from pydantic import BaseModel, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from .._errors import ResponseValidationError
from .._ids import check_request_ids
from ..transport import Params, Transport
from ..types import Record, RecordList

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
DEFAULT_PER_PAGE = 100  # the most the backend gives per page: fewest round trips when iterating


class _PageInfo(Protocol):
    # Both PageMeta and PositionedPageMeta (which adds event_position) have it; the generated
    # models are unrelated classes, so a protocol rather than a base class.
    @property
    def has_next(self) -> bool: ...


class _PagedList(Protocol[T]):
    @property
    def data(self) -> list[T]: ...

    @property
    def pagination(self) -> _PageInfo: ...


def compact(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` without the entries that are None (options the caller left out)."""
    return {key: value for key, value in values.items() if value is not None}


class RequestOptions(TypedDict, total=False):
    """What a service method may hand the transport besides the method and path."""

    params: Params | None
    json: Any
    data: Mapping[str, Any] | None
    files: Any
    headers: Mapping[str, str] | None
    idempotency_key: str | None
    authenticated: bool


class Service:
    """A client of one backend service; subclasses add that service's methods.

    Every method sends one logical request through the shared transport (auth, retries,
    breaker, de-duplication) and validates the answer against the generated wire model.
    Every id in the path, the query and the body is checked by its prefix and shape first
    (``InvalidIdError``, nothing sent), and path ids are escaped as one segment each.
    Stateless: nothing is kept between calls. The store's read-through subclasses
    (``store/_read_through.py``) add the cache, through the no-op hooks a service offers.
    """

    name: ClassVar[str]

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    async def _send(
        self, method: str, path: str, **options: Unpack[RequestOptions]
    ) -> httpx2.Response:
        params = options.get("params")
        if isinstance(params, Mapping):
            options["params"] = compact(params)
            check_request_ids(params)
        for body in (options.get("json"), options.get("data")):
            if isinstance(body, Mapping):
                check_request_ids(body)
        return await self._transport.request(self.name, method, path, **options)

    async def _call(
        self, model: type[M], method: str, path: str, **options: Unpack[RequestOptions]
    ) -> M:
        """Send a request and validate its answer as ``model``.

        Raises:
            ResponseValidationError: the answer is not JSON of the shape of ``model``.
            ServiceError: whatever the transport raises.
        """
        return self._parse(model, await self._send(method, path, **options))

    async def _call_list(
        self, item: type[M], method: str, path: str, **options: Unpack[RequestOptions]
    ) -> list[M]:
        """Send a request whose answer is a plain JSON list of ``item``.

        Raises:
            ResponseValidationError: the answer is not such a list.
        """
        response = await self._send(method, path, **options)
        return self._parse_adapter(TypeAdapter(list[item]), response)  # type: ignore[valid-type]

    def _parse(self, model: type[M], response: httpx2.Response) -> M:
        try:
            return model.model_validate_json(response.content)
        except PydanticValidationError as exc:
            raise self._invalid(model.__name__, response, exc) from exc

    def _parse_adapter(self, adapter: TypeAdapter[T], response: httpx2.Response) -> T:
        try:
            return adapter.validate_json(response.content)
        except PydanticValidationError as exc:
            raise self._invalid(str(adapter), response, exc) from exc

    def _invalid(
        self, expected: str, response: httpx2.Response, exc: PydanticValidationError
    ) -> ResponseValidationError:
        problems = [
            {"location": ".".join(str(part) for part in error["loc"]), "problem": error["msg"]}
            for error in exc.errors(include_url=False, include_input=False)[:20]
        ]
        return ResponseValidationError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code} with a body that is not a valid {expected}.",
            code=response.status_code,
            request_id=response.headers.get("X-Request-ID"),
            details={"expected": expected, "errors": problems},
            service=self.name,
        )


async def iterate_pages(
    fetch: Callable[[int], Awaitable[_PagedList[T]]], *, start_page: int = 1
) -> AsyncIterator[T]:
    """Every item of a page-numbered list, fetching each page only when the previous is used up."""
    page = start_page
    while True:
        answer = await fetch(page)
        for item in answer.data:
            yield item
        if not answer.pagination.has_next:
            return
        page += 1


async def follow_offsets(
    fetch: Callable[[str | None], Awaitable[RecordList]],
) -> AsyncIterator[Record]:
    """Every record of a cursor-paged listing, fetching each page when the last is used up."""
    offset: str | None = None
    while True:
        page = await fetch(offset)
        for record in page.data:
            yield record
        offset = page.pagination.next_offset
        if offset is None:
            return
