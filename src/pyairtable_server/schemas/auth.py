"""Bodies and answers of the auth service (contract §3)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, EmailStr, StringConstraints

from ..permissions import Permission, Role
from .common import PersonName, RequestModel, Text, _clean_text
from .users import UserOut

MIN_PASSWORD_LENGTH = 10
# Argon2 hashes any length, but hashing megabytes per login attempt is a denial of service.
MAX_PASSWORD_LENGTH = 1024

Password = Annotated[
    str,
    StringConstraints(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH),
    AfterValidator(_clean_text),
]
Email = Annotated[EmailStr, StringConstraints(max_length=320)]
OpaqueToken = Annotated[Text, StringConstraints(min_length=1, max_length=4096)]


class RegisterIn(RequestModel):
    email: Email
    password: Password
    first_name: PersonName
    last_name: PersonName


class LoginIn(RequestModel):
    # Not EmailStr: a login with a malformed address is just a failed login, same answer.
    email: Annotated[Text, StringConstraints(min_length=1, max_length=320)]
    password: Annotated[Text, StringConstraints(min_length=1, max_length=MAX_PASSWORD_LENGTH)]


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    user: UserOut


class RefreshIn(RequestModel):
    refresh_token: OpaqueToken


class LogoutIn(RequestModel):
    refresh_token: OpaqueToken | None = None


class ChangePasswordIn(RequestModel):
    current_password: Annotated[Text, StringConstraints(min_length=1, max_length=1024)]
    new_password: Password


class ValidateIn(RequestModel):
    token: OpaqueToken


class ValidateOut(BaseModel):
    valid: bool
    claims: dict[str, Any] | None = None


class PermissionsOut(BaseModel):
    resource_type: Literal["workspace"]
    resource_id: str
    role: Role
    permissions: list[Permission]
