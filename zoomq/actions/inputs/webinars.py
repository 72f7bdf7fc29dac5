"""Inputs of the webinar actions (Zoom Meetings API, meetings.json)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from zoomq.actions.base import ActionInput, ListInput
from zoomq.actions.fields import InBody, InPath, InQuery
from zoomq.actions.inputs.meetings import RegistrantStatus
from zoomq.actions.inputs.registrants import RegistrantForm
from zoomq.actions.inputs.values import ZoomId, accepts

__all__ = [
    "AddWebinarRegistrant",
    "GetWebinar",
    "ListWebinarParticipants",
    "ListWebinarRegistrants",
    "ListWebinars",
]


class ListWebinars(ListInput):
    """List a user's webinars."""

    user_id: Annotated[ZoomId, InPath("userId")]
    type: Annotated[Literal["scheduled", "upcoming"] | None, InQuery("type")] = None


class GetWebinar(ActionInput):
    """Get a webinar by ID or UUID, or one occurrence of it."""

    webinar_id: Annotated[ZoomId, InPath("webinarId", uuid=True)]
    occurrence_id: Annotated[
        str | None,
        InQuery("occurrence_id"),
        Field(validation_alias=accepts("occurrenceIdWebinar", "occurrence_id")),
    ] = None
    show_previous_occurrences: Annotated[
        bool | None,
        InQuery("show_previous_occurrences"),
        Field(
            validation_alias=accepts("showPreviousOccurrencesWebinar", "show_previous_occurrences")
        ),
    ] = None


class AddWebinarRegistrant(RegistrantForm):
    """Register someone for a webinar, or for some of its occurrences."""

    # The reference has no webinarId input and sends "[object Object]" in the path.
    webinar_id: Annotated[ZoomId, InPath("webinarId")]
    source_id: Annotated[str | None, InBody("source_id")] = None


class ListWebinarRegistrants(ListInput):
    """List a webinar's registrants of one status."""

    webinar_id: Annotated[ZoomId, InPath("webinarId")]
    occurrence_id: Annotated[
        str | None,
        InQuery("occurrence_id"),
        Field(validation_alias=accepts("occurrenceIdWebinarQuery", "occurrence_id")),
    ] = None
    status: Annotated[
        RegistrantStatus,
        InQuery("status"),
        Field(validation_alias=accepts("registrantStatus", "status")),
    ] = "approved"
    tracking_source_id: Annotated[str | None, InQuery("tracking_source_id")] = None


class ListWebinarParticipants(ListInput):
    """List the participants of a past webinar, by ID or UUID."""

    webinar_id: Annotated[ZoomId, InPath("webinarId", uuid=True)]
