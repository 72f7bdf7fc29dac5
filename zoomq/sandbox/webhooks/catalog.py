"""Every Zoom webhook event zoomq can play, with its product, a description and a builder.

The names are the events Zoom documents for the products the action catalog touches
(meetings, webinars, cloud recordings, users, phone call recordings, team chat), as
Zoom publishes them in its webhook references (developers.zoom.us/docs/api/<product>/
events/) and as the typed events of Zoom's Rivet SDK (zoom/rivet-javascript
``meetings.d.ts``, ``users.d.ts``, ``phone.d.ts``, ``teamchat.d.ts``); payload fields
follow the same definitions. Builders are data: a few families per object kind, each
event one row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from zoomq.sandbox.webhooks.objects import Gen, pick
from zoomq.webhooks.envelope import URL_VALIDATION

__all__ = ["CATALOG", "PRODUCTS", "EventSpec"]

#: (rng, clock, account and web host) -> the event's ``payload``
PayloadBuilder = Callable[[Gen], dict[str, Any]]

#: The products, in ``--list`` order.
PRODUCTS = ("meetings", "webinars", "recordings", "users", "phone", "team_chat", "endpoint")


@dataclass(frozen=True)
class EventSpec:
    """One event: its name, product, what it means, and how to build its payload."""

    name: str
    product: str
    description: str
    build: PayloadBuilder
    #: Zoom puts a ``download_token`` beside ``payload`` (recording.completed and kin).
    download_token: bool = False


_CORE = ("id", "uuid", "host_id", "topic", "type", "start_time", "timezone", "duration")
_LIFECYCLE = ("uuid", "id", "host_id", "topic", "type", "start_time", "duration", "timezone")


def _live(meeting: Mapping[str, Any]) -> dict[str, Any]:
    # Events about a meeting in progress send its number as a string.
    return {**pick(meeting, _CORE), "id": str(meeting["id"])}


def _with_operator(gen: Gen, meeting: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"account_id": gen.account_id, **gen.operator(meeting)}


# -- meetings and webinars ------------------------------------------------------------------


def _kind(webinar: bool) -> str:
    return "webinar" if webinar else "meeting"


def _started(webinar: bool, *, ended: bool = False) -> PayloadBuilder:
    def build(gen: Gen) -> dict[str, Any]:
        obj = _live(gen.meeting(webinar=webinar))
        if ended:
            obj["end_time"] = gen.iso()
        return {"account_id": gen.account_id, "object": obj}

    return build


def _alert(webinar: bool) -> PayloadBuilder:
    def build(gen: Gen) -> dict[str, Any]:
        obj = _live(gen.meeting(webinar=webinar))
        obj["issues"] = ["Unstable audio quality"]
        return {"account_id": gen.account_id, "object": obj}

    return build


def _created(webinar: bool) -> PayloadBuilder:
    def build(gen: Gen) -> dict[str, Any]:
        meeting = gen.meeting(webinar=webinar)
        obj = pick(meeting, (*_LIFECYCLE, "join_url"))
        obj["password"] = gen.passcode()
        if webinar:
            obj["creation_source"] = "open_api"
        obj["settings"] = {"use_pmi": False, "alternative_hosts": ""}
        return {**_with_operator(gen, meeting), "operation": "single", "object": obj}

    return build


def _lifecycle(webinar: bool) -> PayloadBuilder:
    """deleted, recovered, permanently_deleted: the operator and the meeting's identity."""

    def build(gen: Gen) -> dict[str, Any]:
        meeting = gen.meeting(webinar=webinar)
        obj = pick(meeting, _LIFECYCLE)
        return {**_with_operator(gen, meeting), "operation": "single", "object": obj}

    return build


def _updated(webinar: bool) -> PayloadBuilder:
    def build(gen: Gen) -> dict[str, Any]:
        meeting = gen.meeting(webinar=webinar)
        ident = {"id": meeting["id"], "uuid": meeting["uuid"]}
        moved = {"topic": f"{meeting['topic']} (moved)", "start_time": gen.iso(7200)}
        return {
            **_with_operator(gen, meeting),
            "object": {**ident, **moved},
            "time_stamp": gen.ms(),
            "old_object": {**ident, **pick(meeting, ("topic", "start_time"))},
        }

    return build


def _participant(webinar: bool, *keys: str, text_id: bool = True) -> PayloadBuilder:
    """Participant events: the meeting, and a ``participant`` with the event's fields."""

    def build(gen: Gen) -> dict[str, Any]:
        meeting = gen.meeting(webinar=webinar)
        obj = _live(meeting) if text_id else pick(meeting, _CORE)
        obj["participant"] = gen.participant(*keys)
        return {"account_id": gen.account_id, "object": obj}

    return build


def _breakout(*keys: str) -> PayloadBuilder:
    def build(gen: Gen) -> dict[str, Any]:
        live = _live(gen.meeting())
        obj = pick(live, ("id", "uuid"))
        obj["breakout_room_uuid"] = gen.meeting_uuid()
        obj.update(pick(live, _CORE[2:]))
        obj["participant"] = gen.participant("user_id", "parent_user_id", *keys)
        return {"account_id": gen.account_id, "object": obj}

    return build


def _sharing(webinar: bool, *, breakout: bool = False) -> PayloadBuilder:
    base = _breakout("user_name", "id") if breakout else _participant(webinar, "user_id")

    def build(gen: Gen) -> dict[str, Any]:
        payload = base(gen)
        participant = payload["object"]["participant"]
        if not breakout:
            participant.update(gen.participant("user_name", "id"))
        participant["sharing_details"] = {
            "content": "application",
            "link_source": "",
            "file_link": "",
            "date_time": gen.iso(),
            "source": "",
        }
        return payload

    return build


_JOINED = ("user_id", "user_name", "id", "participant_uuid", "join_time", "email")
_LEFT = ("user_id", "user_name", "id", "participant_uuid", "leave_time", "leave_reason", "email")
_WAITING = ("user_id", "user_name", "id", "participant_uuid", "date_time", "email")
_ROLE = ("user_id", "user_name", "email", "participant_uuid", "date_time", "old_role", "new_role")
_BIND = (
    *("user_id", "bind_user_id", "user_name", "id", "participant_uuid"),
    *("bind_participant_uuid", "join_time", "phone_number"),
)


def _feedback(webinar: bool) -> PayloadBuilder:
    def build(gen: Gen) -> dict[str, Any]:
        obj = pick(_live(gen.meeting(webinar=webinar)), ("id", "uuid"))
        participant = gen.participant("participant_uuid", "participant_user_id", "user_name")
        participant["feedback"] = {
            "satisfied": False,
            "feedback_details": [{"id": "audio_echo", "name": "Audio echo"}],
            "comments": "Echo on the host's line",
        }
        obj["participant"] = participant
        return {"account_id": gen.account_id, "object": obj}

    return build


def _phone_callout(gen: Gen) -> dict[str, Any]:
    obj = pick(gen.meeting(), ("id", "uuid", "host_id"))
    obj["participant"] = {"invitee_name": gen.person()["first_name"], "phone_number": 14155550100}
    return {"account_id": gen.account_id, "object": obj}


def _room_system_callout(failed: bool = False) -> PayloadBuilder:
    def build(gen: Gen) -> dict[str, Any]:
        obj = pick(gen.meeting(), ("id", "uuid", "host_id"))
        obj["message_id"] = gen.file_id()
        obj["inviter_name"] = gen.person()["first_name"]
        if failed:
            obj["reason_type"] = 1
        obj["participant"] = {"call_type": "h323", "device_ip": gen.ip()}
        return {"account_id": gen.account_id, "object": obj}

    return build


def _registration(webinar: bool, *, action: str) -> PayloadBuilder:
    """registration_created / approved / denied / cancelled: the meeting and a registrant."""

    def build(gen: Gen) -> dict[str, Any]:
        meeting = gen.meeting(webinar=webinar)
        obj = pick(meeting, _LIFECYCLE)
        registrant = gen.registrant(meeting["join_url"], full=action == "created")
        if action == "approved":
            registrant["join_url"] = f"{meeting['join_url']}?tk={gen.token(32)}"
        obj["registrant"] = registrant
        if action == "created":
            return {"account_id": gen.account_id, "object": obj}
        return {**_with_operator(gen, meeting), "object": obj}

    return build


def _in_meeting_chat(webinar: bool, *, file: bool) -> PayloadBuilder:
    def build(gen: Gen) -> dict[str, Any]:
        meeting = gen.meeting(webinar=webinar)
        if file:
            kind = _kind(webinar)
            obj: dict[str, Any] = {f"{kind}_id": meeting["id"], f"{kind}_uuid": meeting["uuid"]}
            obj["chat_message_file"] = gen.in_meeting_chat(file=True)
        else:
            obj = pick(meeting, ("id", "uuid"))
            obj["chat_message"] = gen.in_meeting_chat()
        return {"account_id": gen.account_id, "object": obj}

    return build


def _live_streaming(gen: Gen) -> dict[str, Any]:
    meeting = gen.meeting()
    obj = pick(meeting, _CORE)
    obj["live_streaming"] = {
        "service": "Custom_Live_Streaming_Service",
        "custom_live_streaming_settings": {
            "stream_url": "rtmp://live.example.com/app",
            "stream_key": gen.token(12),
            "page_url": "https://example.com/live",
            "resolution": "720p",
        },
        "date_time": gen.iso(),
    }
    return {**_with_operator(gen, meeting), "object": obj}


def _summary(action: str) -> PayloadBuilder:
    def build(gen: Gen) -> dict[str, Any]:
        meeting = gen.meeting()
        obj = gen.summary(meeting)
        details = [{"label": "Decisions", "summary": "Ship the release on Friday."}]
        if action in ("completed", "updated"):
            obj["summary_overview"] = f"The team met about {meeting['topic']}."
            obj["summary_details"] = details
            obj["next_steps"] = ["Ada sends the release notes"]
        if action == "updated":
            obj["edited_summary"] = {"summary_details": "Ship on Monday.", "next_steps": []}
        if action == "shared":
            obj["share_with_users"] = [{"user_email": gen.person()["email"]}]
        if action == "completed":
            return {"account_id": gen.account_id, "object": obj}
        return {**_with_operator(gen, meeting), "object": obj}

    return build


def _device_tested(gen: Gen) -> dict[str, Any]:
    obj = pick(gen.meeting(), ("id", "uuid"))
    person = gen.participant("user_id", "user_name")
    obj["test_result"] = {
        **person,
        "camera_status": 1,
        "speaker_status": 1,
        "microphone_status": 2,
        "os": "macOS 14.5",
    }
    return {"account_id": gen.account_id, "object": obj}


def _risk_alert(gen: Gen) -> dict[str, Any]:
    meeting = gen.meeting()
    obj = pick(meeting, ("id", "uuid", "host_id", "host_email", "topic", "type"))
    obj.update(pick(meeting, ("start_time", "timezone")))
    obj["armn_details"] = {
        "post_platform": "twitter",
        "social_link": "https://social.example.com/post/1",
        "post_time": gen.iso(-300),
        "post_user": "someone",
        "meeting_url": meeting["join_url"],
        "recommended_enable_settings": ["enable_waiting_room"],
        "recommended_disable_settings": ["allow_participants_to_rename"],
    }
    return {"account_id": gen.account_id, "object": obj}


# -- cloud recordings ------------------------------------------------------------------------


def _recording_completed(gen: Gen) -> dict[str, Any]:
    return {"account_id": gen.account_id, "object": gen.recording()}


def _transcript_completed(gen: Gen) -> dict[str, Any]:
    obj = gen.transcript_recording()
    for key in ("recording_play_passcode", "on_prem"):  # not in this event
        del obj[key]
    return {"account_id": gen.account_id, "object": obj}


def _recording_removed(gen: Gen) -> dict[str, Any]:
    """deleted / trashed / recovered: the operator and the whole recording."""
    obj = gen.recording()
    for key in ("host_email", "password", "recording_play_passcode", "on_prem"):
        del obj[key]
    return {**_with_operator(gen), "object": obj}


def _recording_progress(gen: Gen) -> dict[str, Any]:
    """started / stopped / paused / resumed: the meeting and the current recording span."""
    obj = pick(gen.meeting(), _CORE)
    obj["recording_file"] = {"recording_start": gen.iso(-300), "recording_end": gen.iso()}
    return {"account_id": gen.account_id, "object": obj}


def _recording_renamed(gen: Gen) -> dict[str, Any]:
    meeting = gen.meeting()
    ident = pick(meeting, ("uuid", "id"))
    rest = {"type": meeting["type"], "host_id": meeting["host_id"]}
    return {
        **_with_operator(gen, meeting),
        "time_stamp": gen.ms(),
        "object": {**ident, "topic": f"{meeting['topic']} (edited)", **rest},
        "old_object": {**ident, "topic": meeting["topic"], **rest},
    }


def _recording_batch(gen: Gen) -> dict[str, Any]:
    meetings = [{"meeting_uuid": gen.meeting_uuid(), "recording_file_ids": [gen.file_id()]}]
    return {**_with_operator(gen), "object": {"meetings": meetings}}


def _recording_batch_trashed(gen: Gen) -> dict[str, Any]:
    return {
        **_with_operator(gen),
        "operation": "trash_user_recordings",
        "object": {"meeting_uuids": [gen.meeting_uuid(), gen.meeting_uuid()]},
    }


def _recording_registration(action: str) -> PayloadBuilder:
    def build(gen: Gen) -> dict[str, Any]:
        meeting = gen.meeting()
        obj = pick(meeting, _CORE)
        person = gen.person()
        registrant: dict[str, Any] = {"id": gen.zoom_id(), "email": person["email"]}
        if action == "created":
            registrant["status"] = "approved"
        registrant.update(first_name=person["first_name"], last_name=person["last_name"])
        if action == "created":
            for key in ("address", "city", "country", "zip", "state", "phone", "industry"):
                registrant[key] = ""
            for key in ("org", "job_title", "purchasing_time_frame"):
                registrant[key] = ""
            registrant.update(role_in_purchase_process="", no_of_employees="", comments="")
            obj["registrant"] = registrant
            return {"account_id": gen.account_id, "object": obj}
        obj["registrant"] = registrant
        return {**_with_operator(gen, meeting), "object": obj}

    return build


def _cloud_storage(gen: Gen) -> dict[str, Any]:
    obj = {
        "free_storage": "5 GB",
        "plan_storage": "1 TB",
        "plan_type": "Cloud Recording 1TB",
        "storage_used": "912 GB",
        "storage_used_percentage": 89,
        "storage_exceed": "0 GB",
    }
    return {"account_id": gen.account_id, "object": obj}


def _archive_files(gen: Gen) -> dict[str, Any]:
    meeting = gen.meeting()
    obj: dict[str, Any] = pick(meeting, (*_LIFECYCLE[:6], "timezone"))
    file_id = gen.file_id()
    size = gen.rng.randint(20_000, 900_000)
    obj.update(
        duration=45,
        duration_in_second=2700,
        total_size=size,
        recording_count=1,
        meeting_type="internal",
        account_name="Example Inc.",
        complete_time=gen.iso(),
        is_breakout_room=False,
        parent_meeting_id="",
        archive_files=[
            {
                "id": file_id,
                "file_type": "CHAT",
                "file_extension": "JSON",
                "file_name": "meeting_chat.json",
                "file_size": size,
                "download_url": f"{gen.web_host}/rec/archive/download/{file_id}",
                "status": "completed",
                "recording_type": "chat_message",
                "individual": False,
                "encryption_fingerprint": gen.hex_id(32),
                "number_of_messages": 12,
                "storage_location": "US",
            }
        ],
        status="completed",
        group_id="",
    )
    return {"account_id": gen.account_id, "object": obj}


# -- users ----------------------------------------------------------------------------------


def _user_event(*, operator: bool, creation: bool = False, display: bool = False) -> PayloadBuilder:
    def build(gen: Gen) -> dict[str, Any]:
        user = gen.user()
        obj = pick(user, ("id", "first_name", "last_name"))
        if display:
            obj["display_name"] = f"{user['first_name']} {user['last_name']}"
        obj.update(pick(user, ("email", "type")))
        payload: dict[str, Any] = (
            _with_operator(gen) if operator else {"account_id": gen.account_id}
        )
        if creation:
            payload["creation_type"] = "create"
        payload["object"] = obj
        return payload

    return build


def _user_updated(gen: Gen) -> dict[str, Any]:
    user_id = gen.zoom_id()
    last_name = gen.person()["last_name"]
    return {
        **_with_operator(gen),
        "operation": "update",
        "object": {"id": user_id, "last_name": f"{last_name}-Smith"},
        "time_stamp": gen.ms(),
    }


def _user_signed(gen: Gen) -> dict[str, Any]:
    user = gen.user()
    obj = {
        "id": user["id"],
        "client_type": "mac",
        "date_time": gen.iso(),
        "email": user["email"],
        "version": "6.1.1.36333",
        "login_type": 100,  # Zoom work email
    }
    return {"account_id": gen.account_id, "object": obj}


def _user_presence(gen: Gen) -> dict[str, Any]:
    user = gen.user()
    obj = {
        "date_time": gen.iso(),
        "email": user["email"],
        "id": user["id"],
        "presence_status": "Do_Not_Disturb",
    }
    return {"account_id": gen.account_id, "object": obj}


def _user_notes(gen: Gen) -> dict[str, Any]:
    user = gen.user()
    obj = {"date_time": gen.iso(), "email": user["email"], "id": user["id"]}
    return {
        "account_id": gen.account_id,
        "object": {**obj, "personal_notes": "Out until Monday"},
        "old_object": {"personal_notes": ""},
    }


def _user_settings(gen: Gen) -> dict[str, Any]:
    settings = {"in_meeting": {"chat": True, "waiting_room": True}}
    return {
        **_with_operator(gen),
        "time_stamp": gen.ms(),
        "object": {"id": gen.zoom_id(), "settings": settings},
    }


def _user_tsp(gen: Gen) -> dict[str, Any]:
    user = gen.user()
    credentials = {
        "conference_code": str(gen.rng.randint(10_000_000, 99_999_999)),
        "leader_pin": gen.passcode(),
        "tsp_bridge": "US_TSP_TB",
        "dial_in_numbers": [
            {"code": "1", "number": "4155550100", "type": "toll", "country_label": "US_TSP_TB"}
        ],
    }
    obj = {"id": user["id"], "email": user["email"], "tsp_credentials": credentials}
    return {**_with_operator(gen), "object": obj}


# -- phone call recordings ---------------------------------------------------------------------


def _phone_recordings(*, transcript: bool = False) -> PayloadBuilder:
    def build(gen: Gen) -> dict[str, Any]:
        recordings = [gen.call_recording(transcript=transcript)]
        return {"account_id": gen.account_id, "object": {"recordings": recordings}}

    return build


def _phone_recordings_removed(gen: Gen) -> dict[str, Any]:
    recording = gen.call_recording()
    recordings = [{"id": recording["id"], "call_id": recording["call_id"]}]
    return {"account_id": gen.account_id, "object": {"recordings": recordings}}


def _phone_live(*, sip: bool) -> PayloadBuilder:
    def build(gen: Gen) -> dict[str, Any]:
        return {"account_id": gen.account_id, "object": gen.live_call_recording(sip=sip)}

    return build


# -- team chat -------------------------------------------------------------------------------


def _legacy_channel(*, members: bool = False) -> PayloadBuilder:
    """chat_channel.*: the channel, and for invitations the members concerned."""

    def build(gen: Gen) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "name": gen.channel_name(),
            "id": gen.token(16),
            "type": 1,  # 1 private, 2 private with external members, 3 public
            "date_time": gen.iso(),
            "timestamp": gen.ms(),
        }
        if members:
            member = gen.member()
            obj["members"] = [{"id": member["user_id"], "display_name": member["display_name"]}]
        return {"account_id": gen.account_id, **gen.operator(), "object": obj}

    return build


def _legacy_message(*, reply: bool = False) -> PayloadBuilder:
    """chat_message.*: a channel message with its sender."""

    def build(gen: Gen) -> dict[str, Any]:
        sender = gen.member()
        obj: dict[str, Any] = {
            "id": gen.file_id(),
            "type": "to_channel",
            "date_time": gen.iso(),
            "timestamp": gen.ms(),
            "session_id": gen.token(16),
            "contact_email": sender["user_email"],
            "contact_id": sender["user_id"],
            "channel_id": gen.token(16),
            "channel_name": gen.channel_name(),
            "message": gen.chat_message_text(),
        }
        if reply:
            obj["parent_msg_id"] = gen.file_id()
        return {"account_id": gen.account_id, **gen.operator(), "object": obj}

    return build


def _team_chat(
    make_object: Callable[[Gen], dict[str, Any]], *, external: bool = False
) -> PayloadBuilder:
    """team_chat.*: the operator with their member id, and the event's object."""

    def build(gen: Gen) -> dict[str, Any]:
        payload: dict[str, Any] = {"account_id": gen.account_id, **gen.operator()}
        payload["operator_member_id"] = gen.zoom_id(32)
        if external:
            payload["by_external_user"] = False
        payload["object"] = make_object(gen)
        return payload

    return build


def _tc_channel_message(deleted: bool = False) -> Callable[[Gen], dict[str, Any]]:
    def make(gen: Gen) -> dict[str, Any]:
        obj: dict[str, Any] = {"message_id": gen.file_id(), "date_time": gen.iso()}
        obj.update(timestamp=gen.ms(), channel_id=gen.token(16), channel_name=gen.channel_name())
        if not deleted:
            obj["message"] = gen.chat_message_text()
        return obj

    return make


def _tc_contact(gen: Gen) -> dict[str, Any]:
    contact = gen.member()
    return {
        "contact_email": contact["user_email"],
        "contact_id": contact["user_id"],
        "contact_member_id": contact["member_id"],
    }


def _tc_dm_message(deleted: bool = False) -> Callable[[Gen], dict[str, Any]]:
    def make(gen: Gen) -> dict[str, Any]:
        obj: dict[str, Any] = {"message_id": gen.file_id(), "date_time": gen.iso()}
        obj.update(timestamp=gen.ms(), **_tc_contact(gen))
        if not deleted:
            obj["message"] = gen.chat_message_text()
        return obj

    return make


def _tc_reaction(dm: bool) -> Callable[[Gen], dict[str, Any]]:
    def make(gen: Gen) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "msg_id": gen.file_id(),
            "msg_time": str(gen.ms(-60)),
            "emoji_time": str(gen.ms()),
            "emoji": "👍",
            "timestamp": gen.ms(),
        }
        obj.update(_tc_contact(gen) if dm else {"channel_id": gen.token(16)})
        return obj

    return make


def _tc_pin(gen: Gen) -> dict[str, Any]:
    return {
        "channel_name": gen.channel_name(),
        "channel_id": gen.token(16),
        "type": 1,
        "message_id": gen.file_id(),
        "message": gen.chat_message_text(),
        "message_timestamp": gen.ms(-3600),
        "date_time": gen.iso(),
        "timestamp": gen.ms(),
    }


def _tc_bookmark(gen: Gen) -> dict[str, Any]:
    sender = gen.member()
    return {
        "type": "to_channel",
        "channel_id": gen.token(16),
        "message_id": gen.file_id(),
        "message": gen.chat_message_text(),
        "message_timestamp": gen.ms(-3600),
        "sender": sender["display_name"],
        "sender_id": sender["user_id"],
        "sender_member_id": sender["member_id"],
        "by_external_user": False,
        "date_time": gen.iso(),
        "timestamp": gen.ms(),
    }


def _tc_channel(gen: Gen) -> dict[str, Any]:
    obj: dict[str, Any] = {"name": gen.channel_name(), "id": gen.token(16), "type": 3}
    return {**obj, "date_time": gen.iso(), "timestamp": gen.ms()}


def _tc_channel_app(gen: Gen) -> dict[str, Any]:
    obj: dict[str, Any] = {"channel_name": gen.channel_name(), "channel_id": gen.token(16)}
    obj.update(type=3, date_time=gen.iso(), timestamp=gen.ms())
    obj["app_members"] = [{"id": gen.zoom_id(), "display_name": "Release Bot"}]
    return obj


def _tc_scope(gen: Gen) -> dict[str, Any]:
    channel = {"channel_id": gen.token(16), "channel_name": gen.channel_name(), "type": 3}
    return {"organization": {"org_id": gen.zoom_id(), "org_name": "Example Inc."}, **channel}


def _tc_invitation(
    kind: str | None = None, *, admin_view: bool = False, inviter_key: str = "user_id"
) -> Callable[[Gen], dict[str, Any]]:
    """A channel invitation; ``kind`` is the event's ``type`` (who acts or is asked)."""

    def make(gen: Gen) -> dict[str, Any]:
        scope = _tc_scope(gen)
        invitee = gen.member()
        inviter = {**gen.member(), "date_created": gen.iso(-600)}
        inviter = {inviter_key: inviter.pop("user_id"), **inviter}
        keys = ("user_id",) if admin_view else ()
        obj: dict[str, Any] = {
            "organization": scope["organization"],
            "channel": pick(scope, ("channel_id", "channel_name", "type")),
            "invitee": pick(invitee, (*keys, "display_name", "user_email", "member_id")),
            "inviters": [inviter],
            "date_time": gen.iso(),
            "timestamp": gen.ms(),
        }
        if kind:
            obj["type"] = kind
        return obj

    return make


def _tc_join(kind: str | None = None) -> Callable[[Gen], dict[str, Any]]:
    def make(gen: Gen) -> dict[str, Any]:
        scope = _tc_scope(gen)
        obj: dict[str, Any] = {
            "organization": scope["organization"],
            "channel": pick(scope, ("channel_id", "channel_name", "type")),
            "requester": gen.member(),
            "date_time": gen.iso(),
            "timestamp": gen.ms(),
        }
        if kind:
            obj["type"] = kind
        return obj

    return make


def _approval_requested(make_object: Callable[[Gen], dict[str, Any]]) -> PayloadBuilder:
    # Zoom's definition of these two events carries only the object: no account or operator.
    def build(gen: Gen) -> dict[str, Any]:
        return {"object": make_object(gen)}

    return build


def _tc_emoji(gen: Gen) -> dict[str, Any]:
    return {"name": "shipit", "file_id": gen.file_id()}


def _tc_files(gen: Gen) -> dict[str, Any]:
    return {"files": [gen.chat_file()]}


def _tc_file_shared(gen: Gen) -> dict[str, Any]:
    return {"type": "to_channel", "channel_id": gen.token(16), "files": [gen.chat_file()]}


def _tc_file_downloaded(gen: Gen) -> dict[str, Any]:
    file = gen.chat_file()
    owner = gen.member()
    return {
        "channel_id": gen.token(16),
        "timestamp": gen.ms(),
        "file": {
            "file_id": file["file_id"],
            "file_name": file["file_name"],
            "file_size": file["file_size"],
            "file_type": "pdf",
            "file_owner_id": owner["user_id"],
            "file_owner_member_id": owner["member_id"],
        },
    }


def _tc_starred(gen: Gen) -> dict[str, Any]:
    items = [{"type": "channel", "channel_id": gen.token(16)}]
    return {"items": items, "date_time": gen.iso(), "timestamp": gen.ms()}


def _tc_space_edited(gen: Gen) -> dict[str, Any]:
    option = {
        "is_public": False,
        "add_new_members": "by_owner_and_admins",
        "add_new_channels": "by_any_member",
        "add_external_users": "by_same_org",
    }
    old = {"name": "Engineering", "desc": "", "option": option}
    new = {"name": "Engineering 東京", "desc": "Builds and releases", "option": option}
    return {
        "space_id": gen.token(16),
        "new_settings": new,
        "old_settings": old,
        "timestamp": gen.ms(),
    }


def _tc_space_members(role: bool) -> Callable[[Gen], dict[str, Any]]:
    def make(gen: Gen) -> dict[str, Any]:
        member = pick(gen.member(), ("user_id", "user_email", "display_name"))
        if role:
            member["role"] = "member"
        member["member_id"] = gen.zoom_id(32)
        obj = {"space_id": gen.token(16), "space_name": "Engineering", "members": [member]}
        return {**obj, "timestamp": gen.ms()}

    return make


def _tc_space_left(gen: Gen) -> dict[str, Any]:
    return {"space_id": gen.token(16), "space_name": "Engineering", "timestamp": gen.ms()}


def _url_validation(gen: Gen) -> dict[str, Any]:
    return {"plainToken": gen.token(16)}


# -- the table -------------------------------------------------------------------------------


def _meeting_and_webinar_rows() -> list[EventSpec]:
    rows: list[EventSpec] = []
    for webinar in (False, True):
        kind = _kind(webinar)
        product = "webinars" if webinar else "meetings"
        label = "A webinar" if webinar else "A meeting"

        def add(action: str, description: str, build: PayloadBuilder) -> None:
            rows.append(EventSpec(f"{kind}.{action}", product, description, build))  # noqa: B023

        add("created", f"{label} was scheduled", _created(webinar))
        add("updated", f"{label} was changed", _updated(webinar))
        add("deleted", f"{label} was deleted (moved to trash)", _lifecycle(webinar))
        add("recovered", f"{label} was restored from the trash", _lifecycle(webinar))
        add("permanently_deleted", f"{label} was deleted for good", _lifecycle(webinar))
        add("started", f"{label} started", _started(webinar))
        add("ended", f"{label} ended", _started(webinar, ended=True))
        add("alert", f"{label} had a quality issue", _alert(webinar))
        add("registration_created", "Someone registered", _registration(webinar, action="created"))
        add(
            "registration_approved",
            "A registration was approved",
            _registration(webinar, action="approved"),
        )
        add(
            "registration_denied",
            "A registration was denied",
            _registration(webinar, action="denied"),
        )
        add(
            "registration_cancelled",
            "A registration was cancelled",
            _registration(webinar, action="cancelled"),
        )
        add("participant_joined", "A participant joined", _participant(webinar, *_JOINED))
        add("participant_left", "A participant left", _participant(webinar, *_LEFT))
        add(
            "participant_role_changed",
            "A participant's role changed",
            _participant(webinar, *_ROLE),
        )
        add(
            "participant_bind", "A phone user bound to a participant", _participant(webinar, *_BIND)
        )
        add("participant_feedback", "A participant left feedback", _feedback(webinar))
        add("sharing_started", "A participant started sharing", _sharing(webinar))
        add("sharing_ended", "A participant stopped sharing", _sharing(webinar))
        add(
            "chat_message_sent",
            "An in-meeting chat message was sent",
            _in_meeting_chat(webinar, file=False),
        )
        add(
            "chat_message_file_sent",
            "A file was sent in the in-meeting chat",
            _in_meeting_chat(webinar, file=True),
        )
    meetings_only = [
        (
            "participant_admitted",
            "The host admitted a waiting participant",
            _participant(False, *_WAITING),
        ),
        (
            "participant_put_in_waiting_room",
            "A participant was moved to the waiting room",
            _participant(False, *_WAITING),
        ),
        (
            "participant_joined_waiting_room",
            "A participant joined the waiting room",
            _participant(False, *_WAITING),
        ),
        (
            "participant_left_waiting_room",
            "A participant left the waiting room",
            _participant(False, *_WAITING),
        ),
        (
            "participant_jbh_joined",
            "A participant joined before the host",
            _participant(False, "id", "user_name"),
        ),
        (
            "participant_jbh_waiting",
            "A participant is waiting for the host",
            _participant(False, "id", "user_name"),
        ),
        (
            "participant_jbh_waiting_left",
            "A participant stopped waiting for the host",
            _participant(False, "id", "user_name", text_id=False),
        ),
        (
            "participant_joined_breakout_room",
            "A participant joined a breakout room",
            _breakout("user_name", "id", "participant_uuid", "join_time", "email"),
        ),
        (
            "participant_left_breakout_room",
            "A participant left a breakout room",
            _breakout("user_name", "id", "participant_uuid", "leave_time", "leave_reason", "email"),
        ),
        (
            "breakout_room_sharing_started",
            "Sharing started in a breakout room",
            _sharing(False, breakout=True),
        ),
        (
            "breakout_room_sharing_ended",
            "Sharing ended in a breakout room",
            _sharing(False, breakout=True),
        ),
        ("participant_phone_callout_ringing", "A phone call-out is ringing", _phone_callout),
        ("participant_phone_callout_accepted", "A phone call-out was answered", _phone_callout),
        ("participant_phone_callout_rejected", "A phone call-out was rejected", _phone_callout),
        ("participant_phone_callout_missed", "A phone call-out was missed", _phone_callout),
        (
            "participant_room_system_callout_ringing",
            "A room-system call-out is ringing",
            _room_system_callout(),
        ),
        (
            "participant_room_system_callout_accepted",
            "A room-system call-out was answered",
            _room_system_callout(),
        ),
        (
            "participant_room_system_callout_rejected",
            "A room-system call-out was rejected",
            _room_system_callout(),
        ),
        (
            "participant_room_system_callout_missed",
            "A room-system call-out was missed",
            _room_system_callout(),
        ),
        (
            "participant_room_system_callout_failed",
            "A room-system call-out failed",
            _room_system_callout(failed=True),
        ),
        ("live_streaming_started", "Live streaming started", _live_streaming),
        ("live_streaming_stopped", "Live streaming stopped", _live_streaming),
        ("device_tested", "A participant tested their devices", _device_tested),
        ("risk_alert", "Zoom found the meeting's link posted publicly", _risk_alert),
        ("summary_completed", "The AI Companion summary is ready", _summary("completed")),
        ("summary_updated", "The meeting summary was edited", _summary("updated")),
        ("summary_shared", "The meeting summary was shared", _summary("shared")),
        ("summary_trashed", "The meeting summary was moved to the trash", _summary("trashed")),
        ("summary_deleted", "The meeting summary was deleted", _summary("deleted")),
        ("summary_recovered", "The meeting summary was restored", _summary("recovered")),
    ]
    rows += [EventSpec(f"meeting.{a}", "meetings", d, b) for a, d, b in meetings_only]
    return rows


def _rows() -> list[EventSpec]:
    rows = _meeting_and_webinar_rows()
    recordings: list[tuple[str, str, PayloadBuilder, bool]] = [
        ("completed", "A cloud recording is ready to download", _recording_completed, True),
        (
            "transcript_completed",
            "A recording's audio transcript is ready",
            _transcript_completed,
            True,
        ),
        ("started", "Cloud recording started", _recording_progress, False),
        ("stopped", "Cloud recording stopped", _recording_progress, False),
        ("paused", "Cloud recording paused", _recording_progress, False),
        ("resumed", "Cloud recording resumed", _recording_progress, False),
        ("renamed", "A recording was renamed", _recording_renamed, False),
        ("trashed", "A recording was moved to the trash", _recording_removed, False),
        ("deleted", "A recording was deleted for good", _recording_removed, False),
        ("recovered", "A recording was restored from the trash", _recording_removed, False),
        (
            "batch_trashed",
            "Several recordings were moved to the trash",
            _recording_batch_trashed,
            False,
        ),
        ("batch_deleted", "Several recordings were deleted for good", _recording_batch, False),
        ("batch_recovered", "Several recordings were restored", _recording_batch, False),
        (
            "registration_created",
            "Someone registered to view a recording",
            _recording_registration("created"),
            False,
        ),
        (
            "registration_approved",
            "A recording registration was approved",
            _recording_registration("approved"),
            False,
        ),
        (
            "registration_denied",
            "A recording registration was denied",
            _recording_registration("denied"),
            False,
        ),
        (
            "cloud_storage_usage_updated",
            "The account's cloud storage use crossed a threshold",
            _cloud_storage,
            False,
        ),
        ("archive_files_completed", "Archived meeting files are ready", _archive_files, True),
    ]
    rows += [EventSpec(f"recording.{a}", "recordings", d, b, t) for a, d, b, t in recordings]
    users: list[tuple[str, str, PayloadBuilder]] = [
        ("created", "A user was added", _user_event(operator=True, creation=True, display=True)),
        ("updated", "A user's profile changed", _user_updated),
        ("deleted", "A user was deleted", _user_event(operator=True)),
        ("activated", "A user was activated", _user_event(operator=True)),
        ("deactivated", "A user was deactivated", _user_event(operator=True)),
        ("disassociated", "A user was removed from the account", _user_event(operator=True)),
        (
            "invitation_accepted",
            "A user accepted the account's invitation",
            _user_event(operator=False),
        ),
        ("signed_in", "A user signed in", _user_signed),
        ("signed_out", "A user signed out", _user_signed),
        ("presence_status_updated", "A user's presence status changed", _user_presence),
        ("personal_notes_updated", "A user's personal note changed", _user_notes),
        ("settings_updated", "A user's settings changed", _user_settings),
        ("tsp_created", "A user's TSP audio account was added", _user_tsp),
        ("tsp_updated", "A user's TSP audio account was changed", _user_tsp),
        ("tsp_deleted", "A user's TSP audio account was removed", _user_tsp),
    ]
    rows += [EventSpec(f"user.{a}", "users", d, b) for a, d, b in users]
    phone: list[tuple[str, str, PayloadBuilder]] = [
        ("recording_completed", "A call recording is ready", _phone_recordings()),
        (
            "recording_completed_for_access_member",
            "A call recording is ready for a member with access",
            _phone_recordings(),
        ),
        (
            "recording_transcript_completed",
            "A call recording's transcript is ready",
            _phone_recordings(transcript=True),
        ),
        ("recording_started", "Call recording started", _phone_live(sip=True)),
        ("recording_stopped", "Call recording stopped", _phone_live(sip=True)),
        ("recording_failed", "Call recording failed", _phone_live(sip=True)),
        ("recording_paused", "Call recording paused", _phone_live(sip=False)),
        ("recording_resumed", "Call recording resumed", _phone_live(sip=False)),
        ("recording_deleted", "A call recording was moved to the trash", _phone_recordings_removed),
        (
            "recording_permanently_deleted",
            "A call recording was deleted for good",
            _phone_recordings_removed,
        ),
    ]
    rows += [EventSpec(f"phone.{a}", "phone", d, b) for a, d, b in phone]
    chat: list[tuple[str, str, PayloadBuilder]] = [
        ("chat_channel.created", "A channel was created", _legacy_channel(members=True)),
        ("chat_channel.updated", "A channel was renamed or changed", _legacy_channel()),
        ("chat_channel.deleted", "A channel was deleted", _legacy_channel()),
        (
            "chat_channel.member_invited",
            "Members were invited to a channel",
            _legacy_channel(members=True),
        ),
        ("chat_channel.member_joined", "A member joined a channel", _legacy_channel()),
        ("chat_channel.member_left", "A member left a channel", _legacy_channel()),
        (
            "chat_channel.member_removed",
            "Members were removed from a channel",
            _legacy_channel(members=True),
        ),
        ("chat_message.sent", "A chat message was sent", _legacy_message()),
        ("chat_message.updated", "A chat message was edited", _legacy_message()),
        ("chat_message.deleted", "A chat message was deleted", _legacy_message()),
        ("chat_message.replied", "Someone replied to a chat message", _legacy_message(reply=True)),
        (
            "team_chat.channel_message_posted",
            "A message was posted in a channel",
            _team_chat(_tc_channel_message(), external=True),
        ),
        (
            "team_chat.channel_message_updated",
            "A channel message was edited",
            _team_chat(_tc_channel_message(), external=True),
        ),
        (
            "team_chat.channel_message_deleted",
            "A channel message was deleted",
            _team_chat(_tc_channel_message(deleted=True), external=True),
        ),
        (
            "team_chat.dm_message_posted",
            "A direct message was sent",
            _team_chat(_tc_dm_message(), external=True),
        ),
        (
            "team_chat.dm_message_updated",
            "A direct message was edited",
            _team_chat(_tc_dm_message(), external=True),
        ),
        (
            "team_chat.dm_message_deleted",
            "A direct message was deleted",
            _team_chat(_tc_dm_message(deleted=True), external=True),
        ),
        (
            "team_chat.channel_reaction_added",
            "A reaction was added to a channel message",
            _team_chat(_tc_reaction(dm=False), external=True),
        ),
        (
            "team_chat.channel_reaction_removed",
            "A reaction was removed from a channel message",
            _team_chat(_tc_reaction(dm=False), external=True),
        ),
        (
            "team_chat.dm_reaction_added",
            "A reaction was added to a direct message",
            _team_chat(_tc_reaction(dm=True), external=True),
        ),
        (
            "team_chat.dm_reaction_removed",
            "A reaction was removed from a direct message",
            _team_chat(_tc_reaction(dm=True), external=True),
        ),
        (
            "team_chat.channel_pin_added",
            "A message was pinned in a channel",
            _team_chat(_tc_pin, external=True),
        ),
        (
            "team_chat.channel_pin_removed",
            "A message was unpinned",
            _team_chat(_tc_pin, external=True),
        ),
        ("team_chat.bookmark_added", "A message was bookmarked", _team_chat(_tc_bookmark)),
        ("team_chat.bookmark_removed", "A bookmark was removed", _team_chat(_tc_bookmark)),
        (
            "team_chat.channel_archived",
            "A channel was archived",
            _team_chat(_tc_channel, external=True),
        ),
        (
            "team_chat.channel_unarchived",
            "A channel was unarchived",
            _team_chat(_tc_channel, external=True),
        ),
        (
            "team_chat.channel_app_added",
            "An app was added to a channel",
            _team_chat(_tc_channel_app, external=True),
        ),
        (
            "team_chat.channel_app_removed",
            "An app was removed from a channel",
            _team_chat(_tc_channel_app, external=True),
        ),
        (
            "team_chat.channel_invitation_created",
            "Someone was invited to a channel",
            _team_chat(_tc_invitation(), external=True),
        ),
        (
            "team_chat.channel_invitation_accepted",
            "A channel invitation was accepted",
            _team_chat(_tc_invitation()),
        ),
        (
            "team_chat.channel_invitation_declined",
            "A channel invitation was declined",
            _team_chat(_tc_invitation("by_invitee_account_admin")),
        ),
        (
            "team_chat.channel_invitation_removed",
            "A channel invitation was withdrawn",
            _team_chat(_tc_invitation()),
        ),
        (
            "team_chat.channel_invitation_rejected",
            "A channel invitation was rejected by an admin",
            _team_chat(_tc_invitation(inviter_key="id"), external=True),
        ),
        (
            "team_chat.channel_invitation_approved",
            "A channel invitation was approved by an admin",
            _team_chat(_tc_invitation("by_channel_owner_account_admin"), external=True),
        ),
        (
            "team_chat.channel_invitation_approval_requested",
            "A channel invitation awaits an admin's approval",
            _approval_requested(_tc_invitation("to_invitee_account_admin", admin_view=True)),
        ),
        (
            "team_chat.channel_join_requested",
            "Someone asked to join a channel",
            _team_chat(_tc_join(), external=True),
        ),
        (
            "team_chat.channel_join_approved",
            "A request to join a channel was approved",
            _team_chat(_tc_join("by_channel_owner")),
        ),
        (
            "team_chat.channel_join_declined",
            "A request to join a channel was declined",
            _team_chat(_tc_join("by_channel_owner_account_admin")),
        ),
        (
            "team_chat.channel_join_approval_requested",
            "A request to join a channel awaits approval",
            _approval_requested(_tc_join("to_channel_owner")),
        ),
        ("team_chat.emoji_added", "A custom emoji was added", _team_chat(_tc_emoji)),
        ("team_chat.emoji_removed", "A custom emoji was removed", _team_chat(_tc_emoji)),
        ("team_chat.file_uploaded", "A file was uploaded", _team_chat(_tc_files)),
        ("team_chat.file_changed", "A file was changed", _team_chat(_tc_files)),
        ("team_chat.file_deleted", "A file was deleted", _team_chat(_tc_files)),
        ("team_chat.file_shared", "A file was shared", _team_chat(_tc_file_shared)),
        ("team_chat.file_unshared", "A file was unshared", _team_chat(_tc_file_shared)),
        ("team_chat.file_downloaded", "A file was downloaded", _team_chat(_tc_file_downloaded)),
        ("team_chat.starred", "A channel or contact was starred", _team_chat(_tc_starred)),
        ("team_chat.unstarred", "A channel or contact was unstarred", _team_chat(_tc_starred)),
        (
            "team_chat.shared_spaces_edited",
            "A shared space's settings changed",
            _team_chat(_tc_space_edited),
        ),
        (
            "team_chat.shared_spaces_member_invited",
            "Members were invited to a shared space",
            _team_chat(_tc_space_members(role=True)),
        ),
        (
            "team_chat.shared_spaces_member_removed",
            "Members were removed from a shared space",
            _team_chat(_tc_space_members(role=False)),
        ),
        (
            "team_chat.shared_spaces_member_left",
            "A member left a shared space",
            _team_chat(_tc_space_left),
        ),
    ]
    rows += [EventSpec(n, "team_chat", d, b) for n, d, b in chat]
    rows.append(
        EventSpec(URL_VALIDATION, "endpoint", "Zoom's endpoint check (CRC)", _url_validation)
    )
    return rows


#: Every event zoomq can build, by name, grouped by product in ``PRODUCTS`` order.
CATALOG: dict[str, EventSpec] = {
    spec.name: spec for spec in sorted(_rows(), key=lambda s: PRODUCTS.index(s.product))
}
