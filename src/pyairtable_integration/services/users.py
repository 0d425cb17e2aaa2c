"""The user service: the caller's profile and the users they share a workspace with."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from .._ids import id_segment
from ..types import User, UserList, UserProfile
from ._base import DEFAULT_PER_PAGE, Service, compact, iterate_pages


class UserService(Service):
    """``/users``: the caller's own profile, and the users they may see."""

    name = "user"

    async def get_current_user(self) -> UserProfile:
        """The caller's profile, with the preferences and settings only they see.

        Raises:
            AuthenticationError: nobody is signed in or the session ended.
        """
        return await self._call(UserProfile, "GET", "/users/me")

    async def update_current_user(
        self,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        preferences: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> UserProfile:
        """Change the caller's profile (left-out values are kept; a given mapping replaces).

        Raises:
            InvalidRequestError: a name is empty or too long.
            PayloadTooLargeError: the preferences or settings are too large.
        """
        profile = await self._call(
            UserProfile,
            "PUT",
            "/users/me",
            json=compact(
                {
                    "first_name": first_name,
                    "last_name": last_name,
                    "preferences": preferences,
                    "settings": settings,
                }
            ),
        )
        await self._profile_changed()
        return profile

    async def _profile_changed(self) -> None:
        """Hook: the caller's profile changed (the store drops its copy)."""

    async def get_users(
        self, *, page: int | None = None, per_page: int | None = None, search: str | None = None
    ) -> UserList:
        """One page of the users who share a workspace with the caller (``.data``, ``.pagination``).

        ``search`` keeps users whose email or name contains it.
        """
        return await self._call(
            UserList,
            "GET",
            "/users",
            params={"page": page, "per_page": per_page, "search": search},
        )

    async def iter_users(
        self, *, search: str | None = None, per_page: int = DEFAULT_PER_PAGE
    ) -> AsyncIterator[User]:
        """Every user the caller may see, fetched a page at a time as the loop goes on."""
        async for user in iterate_pages(
            lambda page: self.get_users(page=page, per_page=per_page, search=search)
        ):
            yield user

    async def get_user(self, user_id: str) -> User:
        """One user.

        Raises:
            NotFoundError: no such user, or they share no workspace with the caller.
        """
        return await self._call(User, "GET", f"/users/{id_segment(user_id, 'usr')}")
