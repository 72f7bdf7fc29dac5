"""The registration form shared by addMeetingRegistrant and addWebinarRegistrant.

Body members and their value sets follow Zoom's ``meetingRegistrantCreate`` and
``webinarRegistrantCreate`` request bodies (meetings.json, 2023).
"""

from __future__ import annotations

from typing import Annotated, Literal, NotRequired

from pydantic import BeforeValidator, ConfigDict, Field, with_config
from typing_extensions import TypedDict

from zoomq.actions.base import ActionInput
from zoomq.actions.fields import InBody, InQuery
from zoomq.actions.inputs.values import (
    Email,
    ZoomId,
    accepts,
    canonical_text,
    comma_list,
    json_text,
)

__all__ = [
    "CustomQuestion",
    "Language",
    "NumberOfEmployees",
    "PurchasingTimeFrame",
    "RegistrantForm",
    "RoleInPurchaseProcess",
]

_PurchasingTimeFrame = Literal[
    "Within a month", "1-3 months", "4-6 months", "More than 6 months", "No timeframe"
]
_RoleInPurchaseProcess = Literal[
    "Decision Maker", "Evaluator/Recommender", "Influencer", "Not involved"
]
# The reference's list lacks "1,001-5,000"; Zoom's spec has it.
_NumberOfEmployees = Literal[
    "1-20",
    "21-50",
    "51-100",
    "101-500",
    "500-1,000",
    "1,001-5,000",
    "5,001-10,000",
    "More than 10,000",
]
# Zoom's spelling, ``Tr-TR`` included; other spellings are mapped to these ignoring case.
_Language = Literal[
    "en-US", "de-DE", "es-ES", "fr-FR", "jp-JP", "pt-PT", "ru-RU",
    "zh-CN", "zh-TW", "ko-KO", "it-IT", "vi-VN", "pl-PL", "Tr-TR",
]  # fmt: skip

PurchasingTimeFrame = Annotated[
    _PurchasingTimeFrame, BeforeValidator(canonical_text(_PurchasingTimeFrame))
]
RoleInPurchaseProcess = Annotated[
    _RoleInPurchaseProcess, BeforeValidator(canonical_text(_RoleInPurchaseProcess))
]
NumberOfEmployees = Annotated[
    _NumberOfEmployees, BeforeValidator(canonical_text(_NumberOfEmployees))
]
Language = Annotated[_Language, BeforeValidator(canonical_text(_Language))]


@with_config(ConfigDict(extra="forbid"))
class CustomQuestion(TypedDict):
    """One answer to a registration question the host added."""

    title: str
    value: NotRequired[Annotated[str, Field(max_length=128)]]


class RegistrantForm(ActionInput):
    """Who registers: Zoom requires only ``email`` and ``first_name``."""

    occurrence_ids: Annotated[
        list[ZoomId] | None,
        InQuery("occurrence_ids"),
        BeforeValidator(comma_list),
        Field(validation_alias=accepts("ocurrenceIds", "occurrence_ids")),
    ] = None
    email: Annotated[Email, InBody("email")]
    first_name: Annotated[str, InBody("first_name"), Field(min_length=1, max_length=64)]
    # The reference marks lastName required; Zoom does not.
    last_name: Annotated[str | None, InBody("last_name"), Field(max_length=64)] = None
    address: Annotated[str | None, InBody("address")] = None
    city: Annotated[str | None, InBody("city")] = None
    state: Annotated[str | None, InBody("state")] = None
    zip: Annotated[str | None, InBody("zip")] = None
    country: Annotated[str | None, InBody("country")] = None
    phone: Annotated[str | None, InBody("phone")] = None
    comments: Annotated[str | None, InBody("comments")] = None
    industry: Annotated[str | None, InBody("industry")] = None
    org: Annotated[str | None, InBody("org")] = None
    job_title: Annotated[str | None, InBody("job_title")] = None
    purchasing_time_frame: Annotated[
        PurchasingTimeFrame | None, InBody("purchasing_time_frame")
    ] = None
    role_in_purchase_process: Annotated[
        RoleInPurchaseProcess | None, InBody("role_in_purchase_process")
    ] = None
    no_of_employees: Annotated[
        NumberOfEmployees | None,
        InBody("no_of_employees"),
        Field(validation_alias=accepts("numberOfEmployees", "no_of_employees")),
    ] = None
    language: Annotated[Language | None, InBody("language")] = None
    custom_questions: Annotated[
        list[CustomQuestion] | None, InBody("custom_questions"), BeforeValidator(json_text)
    ] = None
