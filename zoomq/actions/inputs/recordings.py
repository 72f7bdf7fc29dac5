"""Inputs of the recording actions: cloud recordings (meetings.json) and Zoom Phone (phone.json)."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from zoomq.actions.base import ActionInput, ListInput
from zoomq.actions.fields import InPath, InQuery
from zoomq.actions.inputs.values import DateOrDateTime, IsoDate, ZoomId, check_range

__all__ = [
    "GetAccountsPhoneRecordings",
    "GetMeetingRecordings",
    "GetPhoneRecordings",
    "GetUsersPhoneRecordings",
    "ListUsersRecordings",
]


class GetMeetingRecordings(ActionInput):
    """Get the cloud recordings of a meeting or webinar, by ID or UUID."""

    meeting_id: Annotated[ZoomId, InPath("meetingId", uuid=True)]
    include_fields: Annotated[str | None, InQuery("include_fields")] = None
    ttl: Annotated[int | None, InQuery("ttl"), Field(ge=0, le=604800)] = None


class ListUsersRecordings(ListInput):
    """List a user's cloud recordings; ranges longer than a month are walked month by month."""

    user_id: Annotated[ZoomId, InPath("userId")]
    from_: Annotated[IsoDate | None, InQuery("from")] = Field(None, alias="from")
    to: Annotated[IsoDate | None, InQuery("to")] = None
    trash: Annotated[bool | None, InQuery("trash")] = None
    trash_type: Annotated[
        Literal["meeting_recordings", "recording_file"] | None, InQuery("trash_type")
    ] = None
    mc: Annotated[bool | None, InQuery("mc")] = None
    meeting_id: Annotated[int | None, InQuery("meeting_id"), Field(ge=0)] = None

    @model_validator(mode="after")
    def _window(self) -> Self:
        # Zoom documents to's default only when both are omitted (from today, to tomorrow).
        if (self.from_ is None) != (self.to is None):
            missing = "to" if self.to is None else "from"
            raise ValueError(f"{missing} is required when the other end of the range is given")
        check_range(self.from_, self.to, start_name="from", end_name="to")
        if self.trash and self.from_ is not None:
            raise ValueError("trash recordings cannot be filtered by from/to")
        return self


class _PhoneRange(ListInput):
    """A ``from``/``to`` range of Zoom Phone; ``to`` is required when ``from`` is given."""

    from_: Annotated[DateOrDateTime | None, InQuery("from")] = Field(None, alias="from")
    to: Annotated[DateOrDateTime | None, InQuery("to")] = None

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.from_ is not None and self.to is None:
            raise ValueError("to is required when from is given")
        check_range(self.from_, self.to, start_name="from", end_name="to")
        return self


class GetPhoneRecordings(_PhoneRange):
    """List a user's Zoom Phone call recordings (the reference component's behaviour)."""

    user_id: Annotated[ZoomId, InPath("userId")]


class GetUsersPhoneRecordings(_PhoneRange):
    """List a user's Zoom Phone call recordings within the last six months."""

    user_id: Annotated[ZoomId, InPath("userId")]


class GetAccountsPhoneRecordings(_PhoneRange):
    """List the Zoom Phone call recordings of the whole account."""

    owner_type: Annotated[
        Literal["user", "callQueue", "commonArea", "sharedOffice"] | None, InQuery("owner_type")
    ] = None
    recording_type: Annotated[
        Literal["OnDemand", "Automatic"] | None, InQuery("recording_type")
    ] = None
    site_id: Annotated[str | None, InQuery("site_id")] = None
    query_date_type: Annotated[
        Literal["start_time", "end_time"] | None, InQuery("query_date_type")
    ] = None
    group_id: Annotated[str | None, InQuery("group_id")] = None
