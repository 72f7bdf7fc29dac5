"""One entry per action: method, path template, input model, rate category, paging.

Endpoints follow ZOOM_API.md §1 and its "Decisions" section. ``spec`` names the
Zoom OpenAPI file the request is checked against in the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zoomq.actions import inputs
from zoomq.actions.base import ActionInput
from zoomq.client.ratelimit import RateCategory

if TYPE_CHECKING:
    from zoomq.client.http import ZoomClient

__all__ = ["CATALOG", "Action"]

L, M = RateCategory.LIGHT, RateCategory.MEDIUM


@dataclass(frozen=True)
class Action:
    """What zoomq needs to know to run one Zoom action."""

    key: str
    description: str
    method: str
    path: str
    input: type[ActionInput]
    category: RateCategory
    spec: str
    success: int = 200
    #: For list actions: the array to collect across pages, and the largest page size.
    items_key: str | None = None
    page_size: int | None = None
    #: Path parameter naming the user whose 100/day meeting create/update cap applies.
    user_daily_cap: str | None = None
    #: A custom runner for actions that are not one request (rawRequest, month windows).
    runner: Callable[[ZoomClient, Action, Any], dict[str, Any]] | None = None

    @property
    def is_list(self) -> bool:
        return self.items_key is not None


def _entries() -> list[Action]:
    from zoomq.actions import runners

    mtg, users, chat, phone = "meetings.json", "users.json", "team-chat.json", "phone.json"
    return [
        Action(
            "addMeetingRegistrant",
            "Add a new registrant to an existing meeting",
            "POST",
            "/meetings/{meetingId}/registrants",
            inputs.AddMeetingRegistrant,
            L,
            mtg,
            success=201,
        ),
        Action(
            "addWebinarRegistrant",
            "Add a new registrant to an existing webinar",
            "POST",
            "/webinars/{webinarId}/registrants",
            inputs.AddWebinarRegistrant,
            L,
            mtg,
            success=201,
        ),
        Action(
            "createMeeting",
            "Create a new meeting with an existing user as the host",
            "POST",
            "/users/{userId}/meetings",
            inputs.CreateMeeting,
            M,
            mtg,
            success=201,
            user_daily_cap="userId",
        ),
        Action(
            "createUser",
            "Create a new user",
            "POST",
            "/users",
            inputs.CreateUser,
            L,
            users,
            success=201,
        ),
        Action(
            "deleteUser",
            "Disassociate (default) or permanently delete a user",
            "DELETE",
            "/users/{userId}",
            inputs.DeleteUser,
            L,
            users,
            success=204,
        ),
        Action(
            "getAccountsPhoneRecordings",
            "List all call recordings of the account",
            "GET",
            "/phone/recordings",
            inputs.GetAccountsPhoneRecordings,
            M,
            phone,
            items_key="recordings",
            page_size=300,
        ),
        Action(
            "getMeeting",
            "Get the information and metadata of a meeting by ID",
            "GET",
            "/meetings/{meetingId}",
            inputs.GetMeeting,
            L,
            mtg,
        ),
        Action(
            "getMeetingInvitation",
            "Get the invitation text of a meeting",
            "GET",
            "/meetings/{meetingId}/invitation",
            inputs.GetMeetingInvitation,
            L,
            mtg,
        ),
        Action(
            "getMeetingRecordings",
            "Get all cloud recordings of a meeting",
            "GET",
            "/meetings/{meetingId}/recordings",
            inputs.GetMeetingRecordings,
            L,
            mtg,
        ),
        Action(
            "getPhoneRecordings",
            "List a user's call recordings",
            "GET",
            "/phone/users/{userId}/recordings",
            inputs.GetPhoneRecordings,
            M,
            phone,
            items_key="recordings",
            page_size=300,
        ),
        Action(
            "getUser",
            "Get the information and metadata of a user by ID or email",
            "GET",
            "/users/{userId}",
            inputs.GetUser,
            L,
            users,
        ),
        Action(
            "getUsersPhoneRecordings",
            "List all call recordings of a given user",
            "GET",
            "/phone/users/{userId}/recordings",
            inputs.GetUsersPhoneRecordings,
            M,
            phone,
            items_key="recordings",
            page_size=300,
        ),
        Action(
            "getWebinar",
            "Get the information and metadata of a webinar by ID",
            "GET",
            "/webinars/{webinarId}",
            inputs.GetWebinar,
            L,
            mtg,
        ),
        Action(
            "listMeetingRegistrants",
            "List the registrants of a meeting",
            "GET",
            "/meetings/{meetingId}/registrants",
            inputs.ListMeetingRegistrants,
            M,
            mtg,
            items_key="registrants",
            page_size=300,
        ),
        Action(
            "listMeetings",
            "List a user's meetings",
            "GET",
            "/users/{userId}/meetings",
            inputs.ListMeetings,
            M,
            mtg,
            items_key="meetings",
            page_size=300,
        ),
        Action(
            "listUsersChannels",
            "List a user's Team Chat channels",
            "GET",
            "/chat/users/{userId}/channels",
            inputs.ListUsersChannels,
            M,
            chat,
            items_key="channels",
            page_size=1000,
        ),
        Action(
            "listUsersChatMessages",
            "List a user's Team Chat messages with a contact or channel",
            "GET",
            "/chat/users/{userId}/messages",
            inputs.ListUsersChatMessages,
            M,
            chat,
            items_key="messages",
            page_size=50,
        ),
        Action(
            "listUsersRecordings",
            "List a user's cloud recordings (month windows)",
            "GET",
            "/users/{userId}/recordings",
            inputs.ListUsersRecordings,
            M,
            mtg,
            items_key="meetings",
            page_size=300,
            runner=runners.month_windows,
        ),
        Action(
            "listUsers",
            "List the users of the account",
            "GET",
            "/users",
            inputs.ListUsers,
            M,
            users,
            items_key="users",
            page_size=2000,
        ),
        Action(
            "listWebinarParticipants",
            "List the participants of a past webinar",
            "GET",
            "/past_webinars/{webinarId}/participants",
            inputs.ListWebinarParticipants,
            M,
            mtg,
            items_key="participants",
            page_size=300,
        ),
        Action(
            "listWebinarRegistrants",
            "List the registrants of a webinar",
            "GET",
            "/webinars/{webinarId}/registrants",
            inputs.ListWebinarRegistrants,
            M,
            mtg,
            items_key="registrants",
            page_size=300,
        ),
        Action(
            "listWebinars",
            "List a user's webinars",
            "GET",
            "/users/{userId}/webinars",
            inputs.ListWebinars,
            M,
            mtg,
            items_key="webinars",
            page_size=300,
        ),
        Action(
            "rawRequest",
            "Send a raw HTTP request to the Zoom API",
            "GET",
            "",
            inputs.RawRequest,
            L,
            "",
            runner=runners.raw_request,
        ),
        Action(
            "updateMeeting",
            "Update the details of a meeting",
            "PATCH",
            "/meetings/{meetingId}",
            inputs.UpdateMeeting,
            L,
            mtg,
            success=204,
        ),
        Action(
            "updateUser",
            "Update a user's profile",
            "PATCH",
            "/users/{userId}",
            inputs.UpdateUser,
            L,
            users,
            success=204,
        ),
    ]


CATALOG: Mapping[str, Action] = {a.key: a for a in _entries()}
