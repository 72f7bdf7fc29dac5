"""Inputs of the user actions (Zoom Users API, users.json, 2026)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired, Self

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
    with_config,
)
from typing_extensions import TypedDict

from zoomq.actions.base import ActionInput, ListInput
from zoomq.actions.fields import InBody, InPath, InQuery
from zoomq.actions.inputs.values import Email, ZoomId, accepts, int_text, json_text

__all__ = [
    "ZOOM_ONE_TYPES",
    "CreateUser",
    "CustomAttribute",
    "DeleteUser",
    "GetUser",
    "ListUsers",
    "PhoneNumber",
    "UpdateUser",
]

#: 1 Basic, 2 Licensed, 4 Unassigned without Meetings Basic, 99 None.
UserType = Annotated[Literal[1, 2, 4, 99], BeforeValidator(int_text)]
LoginType = Annotated[
    Literal[0, 1, 11, 21, 23, 24, 27, 97, 98, 99, 100, 101], BeforeValidator(int_text)
]

#: Zoom Workplace / Zoom One plan codes, exact. The spec's JSON enum lost precision on the
#: largest ones (it reads 576460752303423500 for 2**59); its description has the true values.
ZOOM_ONE_TYPES: frozenset[int] = frozenset(
    {16, 32, 64, 128}
    | {1 << n for n in (25, 27, 28, 29, 30)}
    | {1 << n for n in range(32, 43)}
    | {1 << n for n in (54, 56, 57, 59)}
)
_PLAN_UNITED_TYPES = frozenset(str(1 << n) for n in range(18))


def _zoom_one_type(value: int) -> int:
    if value not in ZOOM_ONE_TYPES:
        raise ValueError(f"{value} is not a Zoom One plan code")
    return value


def _zoom_one_type_or_off(value: int) -> int:
    return value if value == 0 else _zoom_one_type(value)


def _plan_text(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) else value


def _plan_united_type(value: str) -> str:
    if value not in _PLAN_UNITED_TYPES:
        raise ValueError(f"{value!r} is not a Zoom United plan code (1, 2, 4 … 131072)")
    return value


def _plan_united_type_or_none(value: str) -> str:
    return value if value == "none" else _plan_united_type(value)


# ``int_text`` parses digit strings with ``int()``, so codes above 2**53 stay exact.
ZoomOneType = Annotated[int, BeforeValidator(int_text), AfterValidator(_zoom_one_type)]
ZoomOneTypeOrOff = Annotated[int, BeforeValidator(int_text), AfterValidator(_zoom_one_type_or_off)]
PlanUnitedType = Annotated[str, BeforeValidator(_plan_text), AfterValidator(_plan_united_type)]
PlanUnitedTypeOrNone = Annotated[
    str, BeforeValidator(_plan_text), AfterValidator(_plan_united_type_or_none)
]


@with_config(ConfigDict(extra="forbid"))
class CustomAttribute(TypedDict):
    """A custom attribute of a user profile."""

    key: str
    name: NotRequired[str]
    value: NotRequired[str]


@with_config(ConfigDict(extra="forbid"))
class PhoneNumber(TypedDict):
    """A phone number of a user profile."""

    code: NotRequired[str]
    country: NotRequired[str]
    label: NotRequired[Literal["Mobile", "Office", "Home", "Fax"]]
    number: NotRequired[str]


class ListUsers(ListInput):
    """List the account's users of one status."""

    status: Annotated[Literal["active", "inactive", "pending"], InQuery("status")] = "active"
    role_id: Annotated[str | None, InQuery("role_id")] = None
    include_fields: Annotated[
        Literal["custom_attributes", "host_key"] | None, InQuery("include_fields")
    ] = None
    license: Annotated[
        Literal["zoom_workforce_management", "zoom_compliance_management"] | None,
        InQuery("license"),
    ] = None


class GetUser(ActionInput):
    """Get a user by ID, email or ``me``."""

    user_id: Annotated[ZoomId, InPath("userId")]
    login_type: Annotated[LoginType | None, InQuery("login_type")] = None
    encrypted_email: Annotated[bool | None, InQuery("encrypted_email")] = None
    search_by_unique_id: Annotated[bool | None, InQuery("search_by_unique_id")] = None


class CreateUser(ActionInput):
    """Create a user of the account."""

    action: Annotated[
        Literal["create", "autoCreate", "custCreate", "ssoCreate"], InBody("action")
    ] = "create"
    email: Annotated[Email, InBody("user_info.email")]
    # The reference marks the names required; Zoom requires only email and type.
    first_name: Annotated[str | None, InBody("user_info.first_name"), Field(max_length=64)] = None
    last_name: Annotated[str | None, InBody("user_info.last_name"), Field(max_length=64)] = None
    display_name: Annotated[str | None, InBody("user_info.display_name"), Field(max_length=128)] = (
        None
    )
    password: Annotated[
        str | None, InBody("user_info.password"), Field(max_length=32, repr=False)
    ] = None
    type: Annotated[
        UserType, InBody("user_info.type"), Field(validation_alias=accepts("userType", "type"))
    ]
    zoom_phone: Annotated[bool | None, InBody("user_info.feature.zoom_phone")] = None
    zoom_one_type: Annotated[ZoomOneType | None, InBody("user_info.feature.zoom_one_type")] = None
    plan_united_type: Annotated[PlanUnitedType | None, InBody("user_info.plan_united_type")] = None


class UpdateUser(ActionInput):
    """Update a user's profile; only the fields given are changed."""

    user_id: Annotated[ZoomId, InPath("userId")]
    login_type: Annotated[LoginType | None, InQuery("login_type")] = None
    remove_tsp_credentials: Annotated[bool | None, InQuery("remove_tsp_credentials")] = None

    first_name: Annotated[str | None, InBody("first_name"), Field(max_length=64)] = None
    last_name: Annotated[str | None, InBody("last_name"), Field(max_length=64)] = None
    display_name: Annotated[str | None, InBody("display_name"), Field(max_length=128)] = None
    type: Annotated[
        UserType | None, InBody("type"), Field(validation_alias=accepts("userType", "type"))
    ] = None
    cms_user_id: Annotated[str | None, InBody("cms_user_id")] = None
    company: Annotated[str | None, InBody("company"), Field(max_length=255)] = None
    dept: Annotated[str | None, InBody("dept")] = None
    group_id: Annotated[str | None, InBody("group_id")] = None
    host_key: Annotated[
        str | None, InBody("host_key"), Field(pattern=r"^\d{6,10}$", repr=False)
    ] = None
    job_title: Annotated[str | None, InBody("job_title"), Field(max_length=128)] = None
    language: Annotated[str | None, InBody("language")] = None
    location: Annotated[str | None, InBody("location"), Field(max_length=256)] = None
    manager: Annotated[Email | None, InBody("manager")] = None
    pmi: Annotated[int | None, InBody("pmi"), Field(ge=1_000_000_000, le=9_999_999_999)] = None
    pronouns: Annotated[str | None, InBody("pronouns")] = None
    pronouns_option: Annotated[
        Annotated[Literal[1, 2, 3], BeforeValidator(int_text)] | None, InBody("pronouns_option")
    ] = None
    timezone: Annotated[str | None, InBody("timezone")] = None
    use_pmi: Annotated[
        bool | None, InBody("use_pmi"), Field(validation_alias=accepts("usePMI", "use_pmi"))
    ] = None
    vanity_name: Annotated[str | None, InBody("vanity_name")] = None
    about_me: Annotated[str | None, InBody("about_me"), Field(max_length=150)] = None
    linkedin_url: Annotated[str | None, InBody("linkedin_url")] = None
    zoom_one_type: Annotated[
        ZoomOneTypeOrOff | None,
        InBody("zoom_one_type"),
        Field(validation_alias=accepts("zoomOneTypeUpdate", "zoom_one_type")),
    ] = None
    plan_united_type: Annotated[
        PlanUnitedTypeOrNone | None,
        InBody("plan_united_type"),
        Field(validation_alias=accepts("planUnitedTypeUpdate", "plan_united_type")),
    ] = None
    zoom_phone: Annotated[bool | None, InBody("feature.zoom_phone")] = None
    custom_attributes: Annotated[
        list[CustomAttribute] | None, InBody("custom_attributes"), BeforeValidator(json_text)
    ] = None
    phone_numbers: Annotated[
        list[PhoneNumber] | None, InBody("phone_numbers"), BeforeValidator(json_text)
    ] = None


class DeleteUser(ActionInput):
    """Disassociate a user from the account (the default) or delete the user for good."""

    user_id: Annotated[ZoomId, InPath("userId")]
    action: Annotated[Literal["disassociate", "delete"], InQuery("action")] = "disassociate"
    encrypted_email: Annotated[bool | None, InQuery("encrypted_email")] = None
    transfer_email: Annotated[Email | None, InQuery("transfer_email")] = None
    transfer_meeting: Annotated[bool | None, InQuery("transfer_meeting")] = None
    transfer_webinar: Annotated[bool | None, InQuery("transfer_webinar")] = None
    transfer_recording: Annotated[bool | None, InQuery("transfer_recording")] = None
    transfer_whiteboard: Annotated[bool | None, InQuery("transfer_whiteboard")] = None
    transfer_clipfiles: Annotated[bool | None, InQuery("transfer_clipfiles")] = None
    transfer_notes: Annotated[bool | None, InQuery("transfer_notes")] = None
    transfer_visitors: Annotated[bool | None, InQuery("transfer_visitors")] = None
    transfer_docs: Annotated[bool | None, InQuery("transfer_docs")] = None

    @model_validator(mode="after")
    def _transfer_needs_email(self) -> Self:
        wanted = [
            name
            for name in type(self).model_fields
            if name.startswith("transfer_") and name != "transfer_email" and getattr(self, name)
        ]
        if wanted and self.transfer_email is None:
            raise ValueError(f"transferEmail is required with {wanted[0]}")
        return self
