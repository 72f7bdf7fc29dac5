"""Inputs of the meeting actions (Zoom Meetings API, meetings.json).

Request bodies follow Zoom's ``POST /users/{userId}/meetings`` and
``PATCH /meetings/{meetingId}`` schemas. Unset fields, booleans included, are not sent.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired, Self

from pydantic import BeforeValidator, ConfigDict, Field, model_validator, with_config
from typing_extensions import TypedDict

from zoomq.actions.base import ActionInput, ListInput
from zoomq.actions.fields import InBody, InPath, InQuery
from zoomq.actions.inputs.registrants import RegistrantForm
from zoomq.actions.inputs.values import (
    IsoDate,
    IsoDateTime,
    ZoomId,
    accepts,
    check_range,
    comma_list,
    int_text,
    json_text,
)

__all__ = [
    "AddMeetingRegistrant",
    "CreateMeeting",
    "GetMeeting",
    "GetMeetingInvitation",
    "ListMeetingRegistrants",
    "ListMeetings",
    "MeetingType",
    "RegistrantStatus",
    "TrackingField",
    "UpdateMeeting",
]

#: 1 instant, 2 scheduled, 3 recurring with no fixed time, 8 recurring with a fixed time,
#: 10 screen share only (newer than the 2023 spec, which lists 1, 2, 3, 8).
MeetingType = Annotated[Literal[1, 2, 3, 8, 10], BeforeValidator(int_text)]
#: 1 daily, 2 weekly, 3 monthly.
RecurrenceType = Annotated[Literal[1, 2, 3], BeforeValidator(int_text)]
MonthlyWeek = Annotated[Literal[-1, 1, 2, 3, 4], BeforeValidator(int_text)]
WeekDay = Annotated[Literal[1, 2, 3, 4, 5, 6, 7], BeforeValidator(int_text)]
#: 0 automatically approve, 1 manually approve, 2 no registration required.
ApprovalType = Annotated[Literal[0, 1, 2], BeforeValidator(int_text)]
#: 1 register once for all occurrences, 2 for each occurrence, 3 once, choosing occurrences.
RegistrationType = Annotated[Literal[1, 2, 3], BeforeValidator(int_text)]
Audio = Literal["both", "telephony", "voip", "thirdParty"]
AutoRecording = Literal["local", "cloud", "none"]
RegistrantStatus = Literal["pending", "approved", "denied"]
ListMeetingsType = Literal[
    "scheduled", "live", "upcoming", "upcoming_meetings", "previous_meetings"
]

#: Largest ``repeat_interval`` per recurrence type: 90 days, 12 weeks, 3 months.
_MAX_REPEAT_INTERVAL = {1: 90, 2: 12, 3: 3}
#: Zoom takes local times without an offset when ``timezone`` is given.
_START_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$"


def _week_days(value: Any) -> Any:
    """``[1, 3]`` or ``3`` → ``"1,3"`` / ``"3"``: Zoom's ``weekly_days`` is comma-separated text."""
    if isinstance(value, list | tuple):
        return ",".join(str(v).strip() for v in value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return ",".join(part.strip() for part in value.split(","))
    return value


WeekDays = Annotated[str, BeforeValidator(_week_days), Field(pattern=r"^[1-7](,[1-7])*$")]


@with_config(ConfigDict(extra="forbid"))
class TrackingField(TypedDict):
    """A tracking field label and its value."""

    field: str
    value: NotRequired[str]


class _MeetingForm(ActionInput):
    """The body members createMeeting and updateMeeting share."""

    topic: Annotated[str | None, InBody("topic"), Field(max_length=200)] = None
    start_time: Annotated[str | None, InBody("start_time"), Field(pattern=_START_TIME)] = None
    duration: Annotated[int | None, InBody("duration"), Field(ge=0)] = None
    timezone: Annotated[str | None, InBody("timezone")] = None
    password: Annotated[str | None, InBody("password"), Field(max_length=10, repr=False)] = None
    agenda: Annotated[str | None, InBody("agenda"), Field(max_length=2000)] = None
    pre_schedule: Annotated[bool | None, InBody("pre_schedule")] = None
    schedule_for: Annotated[str | None, InBody("schedule_for")] = None
    template_id: Annotated[str | None, InBody("template_id")] = None
    tracking_fields: Annotated[
        list[TrackingField] | None, InBody("tracking_fields"), BeforeValidator(json_text)
    ] = None

    # recurrence.* — sent only when set; ``recurrence`` (the type) is then required.
    recurrence: Annotated[RecurrenceType | None, InBody("recurrence.type")] = None
    repeat_interval: Annotated[int | None, InBody("recurrence.repeat_interval"), Field(ge=1)] = None
    weekly_days: Annotated[
        WeekDays | None,
        InBody("recurrence.weekly_days"),
        Field(validation_alias=accepts("weeklyDay", "weekly_days")),
    ] = None
    monthly_day: Annotated[int | None, InBody("recurrence.monthly_day"), Field(ge=1, le=31)] = None
    monthly_week: Annotated[MonthlyWeek | None, InBody("recurrence.monthly_week")] = None
    monthly_week_day: Annotated[WeekDay | None, InBody("recurrence.monthly_week_day")] = None
    end_date_time: Annotated[IsoDateTime | None, InBody("recurrence.end_date_time")] = None
    end_times: Annotated[int | None, InBody("recurrence.end_times"), Field(ge=1, le=60)] = None

    # settings.* — the individual inputs, then ``settings``, then ``settingsExtraFields``.
    host_video: Annotated[bool | None, InBody("settings.host_video")] = None
    participant_video: Annotated[bool | None, InBody("settings.participant_video")] = None
    join_before_host: Annotated[bool | None, InBody("settings.join_before_host")] = None
    mute_upon_entry: Annotated[bool | None, InBody("settings.mute_upon_entry")] = None
    watermark: Annotated[bool | None, InBody("settings.watermark")] = None
    use_pmi: Annotated[
        bool | None,
        InBody("settings.use_pmi"),
        Field(validation_alias=accepts("usePMI", "use_pmi")),
    ] = None
    registrants_email_notification: Annotated[
        bool | None,
        InBody("settings.registrants_email_notification"),
        Field(
            validation_alias=accepts(
                "registrationEmailNotifications", "registrants_email_notification"
            )
        ),
    ] = None
    approval_type: Annotated[ApprovalType | None, InBody("settings.approval_type")] = None
    registration_type: Annotated[RegistrationType | None, InBody("settings.registration_type")] = (
        None
    )
    audio: Annotated[Audio | None, InBody("settings.audio")] = None
    auto_recording: Annotated[AutoRecording | None, InBody("settings.auto_recording")] = None
    available_dial_in_countries: Annotated[
        list[str] | None, InBody("settings.global_dial_in_countries"), BeforeValidator(comma_list)
    ] = None
    settings: Annotated[
        dict[str, Any] | None, InBody("settings", merge=True), BeforeValidator(json_text)
    ] = None
    settings_extra_fields: Annotated[
        dict[str, Any] | None, InBody("settings", merge=True), BeforeValidator(json_text)
    ] = None

    @model_validator(mode="after")
    def _recurrence_needs_type(self) -> Self:
        parts = (
            "repeat_interval",
            "weekly_days",
            "monthly_day",
            "monthly_week",
            "monthly_week_day",
            "end_date_time",
            "end_times",
        )
        given = [p for p in parts if getattr(self, p) is not None]
        if given and self.recurrence is None:
            raise ValueError(
                f"recurrence (1 daily, 2 weekly, 3 monthly) is required with {given[0]}"
            )
        limit = _MAX_REPEAT_INTERVAL.get(self.recurrence or 0)
        if limit is not None and self.repeat_interval is not None and self.repeat_interval > limit:
            raise ValueError(f"repeatInterval is at most {limit} for recurrence {self.recurrence}")
        if self.end_date_time is not None and self.end_times is not None:
            raise ValueError("give endDateTime or endTimes, not both")
        return self


class CreateMeeting(_MeetingForm):
    """Create a meeting hosted by ``userId``."""

    user_id: Annotated[ZoomId, InPath("userId")]
    type: Annotated[
        MeetingType, InBody("type"), Field(validation_alias=accepts("meetingType", "type"))
    ] = 2
    default_password: Annotated[bool | None, InBody("default_password")] = None


class UpdateMeeting(_MeetingForm):
    """Update a meeting, or one occurrence of it; only the fields given are changed."""

    meeting_id: Annotated[ZoomId, InPath("meetingId")]
    occurrence_id: Annotated[
        str | None,
        InQuery("occurrence_id"),
        Field(validation_alias=accepts("occurrenceIdQuery", "occurrence_id")),
    ] = None
    # No default: a PATCH that always sent type 2 would turn recurring meetings into
    # scheduled ones (the reference component's default does).
    type: Annotated[
        MeetingType | None, InBody("type"), Field(validation_alias=accepts("meetingType", "type"))
    ] = None


class GetMeeting(ActionInput):
    """Get a meeting by ID or UUID, or one occurrence of it."""

    meeting_id: Annotated[ZoomId, InPath("meetingId", uuid=True)]
    occurrence_id: Annotated[
        str | None,
        InQuery("occurrence_id"),
        Field(validation_alias=accepts("ocurrenceId", "occurrence_id")),
    ] = None
    show_previous_occurrences: Annotated[bool | None, InQuery("show_previous_occurrences")] = None


class GetMeetingInvitation(ActionInput):
    """Get the invitation text of a meeting."""

    meeting_id: Annotated[ZoomId, InPath("meetingId")]


class ListMeetings(ListInput):
    """List a user's meetings of one kind, optionally between two dates."""

    user_id: Annotated[ZoomId, InPath("userId")]
    type: Annotated[
        ListMeetingsType,
        InQuery("type"),
        Field(validation_alias=accepts("typeOfMeeting", "type")),
    ] = "scheduled"
    from_: Annotated[IsoDate | None, InQuery("from")] = Field(None, alias="from")
    to: Annotated[IsoDate | None, InQuery("to")] = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        check_range(self.from_, self.to, start_name="from", end_name="to")
        return self


class AddMeetingRegistrant(RegistrantForm):
    """Register someone for a meeting, or for some of its occurrences."""

    meeting_id: Annotated[ZoomId, InPath("meetingId")]
    auto_approve: Annotated[bool | None, InBody("auto_approve")] = None


class ListMeetingRegistrants(ListInput):
    """List a meeting's registrants of one status."""

    meeting_id: Annotated[ZoomId, InPath("meetingId")]
    # The reference sends this as ``occurence_id``, which Zoom ignores.
    occurrence_id: Annotated[
        str | None,
        InQuery("occurrence_id"),
        Field(validation_alias=accepts("ocurrenceId", "occurrence_id")),
    ] = None
    status: Annotated[
        RegistrantStatus,
        InQuery("status"),
        Field(validation_alias=accepts("registrantStatus", "status")),
    ] = "approved"
