"""The sandbox account's resources, indexed by id for O(1) lookups.

Objects are kept in Zoom's response shape, so serving one is a dict lookup and a
``json.dumps``; list views are kept beside them and refreshed on each change.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from zoomq.sandbox.files import FileInfo
from zoomq.sandbox.objects import (
    MEETING_ITEM_FIELDS,
    USER_ITEM_FIELDS,
    WEBINAR_ITEM_FIELDS,
    project,
)
from zoomq.sandbox.responses import meeting_not_found, user_not_found, webinar_not_found

__all__ = ["Store"]

Obj = dict[str, Any]


class Store:
    """Users, meetings, webinars, registrants, recordings, call recordings and chat."""

    def __init__(self, *, base_url: str, account_id: str, account_number: int) -> None:
        self.base_url = base_url
        self.account_id = account_id
        self.account_number = account_number
        self.owner_id = ""

        self.users: dict[str, Obj] = {}
        self.user_items: dict[str, Obj] = {}
        self.emails: dict[str, str] = {}

        self.meetings: dict[int, Obj] = {}
        self.meeting_items: dict[int, Obj] = {}
        self.user_meetings: dict[str, dict[int, None]] = {}
        self.meeting_registrants: dict[int, dict[str, Obj]] = {}

        self.webinars: dict[int, Obj] = {}
        self.webinar_items: dict[int, Obj] = {}
        self.webinar_uuids: dict[str, int] = {}
        self.user_webinars: dict[str, dict[int, None]] = {}
        self.webinar_registrants: dict[int, dict[str, Obj]] = {}
        self.webinar_participants: dict[int, list[Obj]] = {}
        #: Per (webinar?, event id), registrants by lower-cased email; built on first use.
        self._registrant_emails: dict[tuple[bool, int], dict[str, Obj]] = {}

        #: Recording instances by meeting UUID; ``meeting_recordings`` lists a meeting's
        #: instance UUIDs, oldest first; ``user_recordings`` a host's, newest first.
        self.recordings: dict[str, Obj] = {}
        self.meeting_recordings: dict[int, list[str]] = {}
        self.user_recordings: dict[str, list[str]] = {}
        self.files: dict[str, FileInfo] = {}
        #: Shown by ``GET /meetings/{id}/recordings`` only, not in the user's listing.
        self.recording_passwords: dict[str, str] = {}
        #: Recordings moved to the trash (``DELETE ...?action=trash``), by UUID.
        self.trashed_recordings: dict[str, Obj] = {}

        #: Call recordings, newest first: the account view and each user's view.
        self.phone_recordings: list[Obj] = []
        self.user_phone_recordings: dict[str, list[Obj]] = {}

        self.channels: dict[str, Obj] = {}
        self.user_channels: dict[str, list[str]] = {}
        #: Messages newest first, per channel and per pair of users (sorted ids).
        self.channel_messages: dict[str, list[Obj]] = {}
        self.contact_messages: dict[tuple[str, str], list[Obj]] = {}

    # users -------------------------------------------------------------------------

    def add_user(self, user: Obj) -> None:
        self.users[user["id"]] = user
        self.refresh_user(user)
        self.user_meetings.setdefault(user["id"], {})
        self.user_webinars.setdefault(user["id"], {})

    def refresh_user(self, user: Obj) -> None:
        self.user_items[user["id"]] = project(user, USER_ITEM_FIELDS)
        self.emails[user["email"].lower()] = user["id"]

    def find_user(self, key: str) -> Obj | None:
        """A user by id, email or ``me`` (the account owner)."""
        if key == "me":
            return self.users.get(self.owner_id)
        if "@" in key:
            uid = self.emails.get(key.lower())
            return self.users.get(uid) if uid else None
        return self.users.get(key)

    def user(self, key: str) -> Obj:
        """Like ``find_user``, but Zoom's 404 code 1001 when there is none."""
        user = self.find_user(key)
        if user is None:
            raise user_not_found(key)
        return user

    def remove_user(self, user_id: str) -> Obj:
        user = self.users.pop(user_id)
        self.user_items.pop(user_id, None)
        self.emails.pop(user["email"].lower(), None)
        for meeting_id in list(self.user_meetings.pop(user_id, {})):
            self.remove_meeting(meeting_id)
        for webinar_id in list(self.user_webinars.pop(user_id, {})):
            webinar = self.webinars.pop(webinar_id, None)
            self.webinar_items.pop(webinar_id, None)
            if webinar is not None:
                self.webinar_uuids.pop(webinar["uuid"], None)
        return user

    def user_list(self, status: str) -> list[Obj]:
        return [item for item in self.user_items.values() if item["status"] == status]

    # meetings ----------------------------------------------------------------------

    def add_meeting(self, meeting: Obj) -> None:
        self.meetings[meeting["id"]] = meeting
        self.user_meetings.setdefault(meeting["host_id"], {})[meeting["id"]] = None
        self.refresh_meeting(meeting)

    def refresh_meeting(self, meeting: Obj) -> None:
        self.meeting_items[meeting["id"]] = project(meeting, MEETING_ITEM_FIELDS)

    def meeting(self, key: str | int) -> Obj:
        """A meeting by numeric id; Zoom's 404 code 3001 otherwise."""
        try:
            meeting = self.meetings.get(int(key))
        except ValueError:
            meeting = None
        if meeting is None:
            raise meeting_not_found(key)
        return meeting

    def remove_meeting(self, meeting_id: int) -> Obj:
        meeting = self.meetings.pop(meeting_id)
        self.meeting_items.pop(meeting_id, None)
        self.user_meetings.get(meeting["host_id"], {}).pop(meeting_id, None)
        self.meeting_registrants.pop(meeting_id, None)
        self._registrant_emails.pop((False, meeting_id), None)
        return meeting

    def meetings_of(self, host_id: str) -> Iterator[Obj]:
        meetings = self.meetings
        return (meetings[m] for m in self.user_meetings.get(host_id, {}))

    # webinars ----------------------------------------------------------------------

    def add_webinar(self, webinar: Obj) -> None:
        self.webinars[webinar["id"]] = webinar
        self.webinar_items[webinar["id"]] = project(webinar, WEBINAR_ITEM_FIELDS)
        self.webinar_uuids[webinar["uuid"]] = webinar["id"]
        self.user_webinars.setdefault(webinar["host_id"], {})[webinar["id"]] = None

    def webinar(self, key: str) -> Obj:
        """A webinar by numeric id or UUID; Zoom's 404 code 3001 otherwise."""
        webinar_id = self.webinar_uuids.get(key)
        if webinar_id is None and key.isdigit():
            webinar_id = int(key)
        webinar = self.webinars.get(webinar_id) if webinar_id is not None else None
        if webinar is None:
            raise webinar_not_found(key)
        return webinar

    # registrants -------------------------------------------------------------------

    def registrants_of(self, event_id: int, *, webinar: bool) -> dict[str, Obj]:
        """A meeting's or webinar's registrants by id (created empty)."""
        table = self.webinar_registrants if webinar else self.meeting_registrants
        return table.setdefault(event_id, {})

    def registrant_by_email(self, event_id: int, email: str, *, webinar: bool) -> Obj | None:
        """The registrant with this email (case-insensitive), in O(1)."""
        key = (webinar, event_id)
        index = self._registrant_emails.get(key)
        if index is None:
            registrants = self.registrants_of(event_id, webinar=webinar).values()
            index = self._registrant_emails[key] = {r["email"].lower(): r for r in registrants}
        return index.get(email.lower())

    def add_registrant(self, event_id: int, registrant: Obj, *, webinar: bool) -> None:
        self.registrant_by_email(event_id, registrant["email"], webinar=webinar)  # the index
        self.registrants_of(event_id, webinar=webinar)[registrant["id"]] = registrant
        self._registrant_emails[(webinar, event_id)][registrant["email"].lower()] = registrant

    # recordings --------------------------------------------------------------------

    def add_recording(self, recording: Obj, files: list[FileInfo]) -> None:
        uuid = recording["uuid"]
        self.recordings[uuid] = recording
        instances = self.meeting_recordings.setdefault(recording["id"], [])
        instances.append(uuid)
        instances.sort(key=lambda u: self.recordings[u]["start_time"])
        mine = self.user_recordings.setdefault(recording["host_id"], [])
        mine.append(uuid)
        mine.sort(key=lambda u: self.recordings[u]["start_time"], reverse=True)
        for info in files:
            self.files[info.id] = info

    def latest_recording(self, meeting_id: int) -> Obj | None:
        uuids = self.meeting_recordings.get(meeting_id)
        return self.recordings[uuids[-1]] if uuids else None

    # chat --------------------------------------------------------------------------

    @staticmethod
    def pair(a: str, b: str) -> tuple[str, str]:
        return (a, b) if a <= b else (b, a)
