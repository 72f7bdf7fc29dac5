"""The input model of every action, one module per domain.

Field names are snake_case; each model also accepts the camelCase names of the reference
component (Prismatic's Zoom component), its misspellings included. Markers from
``zoomq.actions.fields`` say where each field goes in the request.
"""

from zoomq.actions.inputs import (
    chat,
    meetings,
    raw,
    recordings,
    registrants,
    users,
    values,
    webinars,
)
from zoomq.actions.inputs.chat import ListUsersChannels, ListUsersChatMessages
from zoomq.actions.inputs.meetings import (
    AddMeetingRegistrant,
    CreateMeeting,
    GetMeeting,
    GetMeetingInvitation,
    ListMeetingRegistrants,
    ListMeetings,
    UpdateMeeting,
)
from zoomq.actions.inputs.raw import RawRequest
from zoomq.actions.inputs.recordings import (
    GetAccountsPhoneRecordings,
    GetMeetingRecordings,
    GetPhoneRecordings,
    GetUsersPhoneRecordings,
    ListUsersRecordings,
)
from zoomq.actions.inputs.users import CreateUser, DeleteUser, GetUser, ListUsers, UpdateUser
from zoomq.actions.inputs.webinars import (
    AddWebinarRegistrant,
    GetWebinar,
    ListWebinarParticipants,
    ListWebinarRegistrants,
    ListWebinars,
)

__all__ = [
    "AddMeetingRegistrant",
    "AddWebinarRegistrant",
    "CreateMeeting",
    "CreateUser",
    "DeleteUser",
    "GetAccountsPhoneRecordings",
    "GetMeeting",
    "GetMeetingInvitation",
    "GetMeetingRecordings",
    "GetPhoneRecordings",
    "GetUser",
    "GetUsersPhoneRecordings",
    "GetWebinar",
    "ListMeetingRegistrants",
    "ListMeetings",
    "ListUsers",
    "ListUsersChannels",
    "ListUsersChatMessages",
    "ListUsersRecordings",
    "ListWebinarParticipants",
    "ListWebinarRegistrants",
    "ListWebinars",
    "RawRequest",
    "UpdateMeeting",
    "UpdateUser",
    "chat",
    "meetings",
    "raw",
    "recordings",
    "registrants",
    "users",
    "values",
    "webinars",
]
