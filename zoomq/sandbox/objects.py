"""Builders of Zoom-shaped account objects (field names and types as in Zoom's OpenAPI).

Each builder returns the full object a "get" endpoint answers; ``*_ITEM_FIELDS``
name the subset a list endpoint shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from zoomq.sandbox.ids import IdFactory
from zoomq.sandbox.times import add_month, date_start, iso, parse_datetime, utc_date

__all__ = [
    "MEETING_ITEM_FIELDS",
    "USER_ITEM_FIELDS",
    "WEBINAR_ITEM_FIELDS",
    "channel_object",
    "chat_message",
    "meeting_invitation",
    "meeting_object",
    "occurrences",
    "participant_object",
    "project",
    "registrant_object",
    "user_object",
    "webinar_object",
]

ROLE_NAMES = {"0": "Owner", "1": "Admin", "2": "Member"}

USER_ITEM_FIELDS = (
    "id",
    "first_name",
    "last_name",
    "display_name",
    "email",
    "type",
    "pmi",
    "timezone",
    "verified",
    "dept",
    "created_at",
    "user_created_at",
    "last_login_time",
    "last_client_version",
    "group_ids",
    "im_group_ids",
    "role_id",
    "status",
)
#: What a meeting's and a webinar's list items share; each adds one field of its own.
_SCHEDULED_ITEM_FIELDS = (
    "uuid",
    "id",
    "host_id",
    "topic",
    "type",
    "start_time",
    "duration",
    "timezone",
    "agenda",
    "created_at",
    "join_url",
)
MEETING_ITEM_FIELDS = (*_SCHEDULED_ITEM_FIELDS, "pmi")
WEBINAR_ITEM_FIELDS = (*_SCHEDULED_ITEM_FIELDS, "is_simulive")

_MEETING_SETTINGS: dict[str, Any] = {
    "host_video": False,
    "participant_video": False,
    "cn_meeting": False,
    "in_meeting": False,
    "join_before_host": False,
    "jbh_time": 0,
    "mute_upon_entry": False,
    "watermark": False,
    "use_pmi": False,
    "approval_type": 2,
    "audio": "voip",
    "auto_recording": "none",
    "enforce_login": False,
    "enforce_login_domains": "",
    "alternative_hosts": "",
    "alternative_hosts_email_notification": True,
    "close_registration": False,
    "show_share_button": False,
    "allow_multiple_devices": False,
    "registrants_confirmation_email": True,
    "waiting_room": True,
    "registrants_email_notification": True,
    "meeting_authentication": False,
    "encryption_type": "enhanced_encryption",
    "approved_or_denied_countries_or_regions": {"enable": False},
    "breakout_room": {"enable": False},
    "email_notification": True,
    "host_save_video_order": False,
    "focus_mode": False,
    "private_meeting": False,
    "continuous_meeting_chat": {"enable": False, "auto_add_invited_external_users": False},
    "participant_focused_meeting": False,
    "push_change_to_calendar": False,
}
_WEBINAR_SETTINGS: dict[str, Any] = {
    "host_video": False,
    "panelists_video": True,
    "approval_type": 0,
    "registration_type": 1,
    "audio": "both",
    "auto_recording": "cloud",
    "enforce_login": False,
    "enforce_login_domains": "",
    "alternative_hosts": "",
    "close_registration": False,
    "show_share_button": True,
    "allow_multiple_devices": True,
    "practice_session": False,
    "hd_video": False,
    "question_and_answer": {"enable": True},
    "registrants_confirmation_email": True,
    "registrants_email_notification": True,
    "notify_registrants": True,
    "post_webinar_survey": False,
    "on_demand": False,
    "meeting_authentication": False,
    "panelist_authentication": False,
    "add_watermark": False,
    "add_audio_watermark": False,
    "email_language": "en-US",
}


def project(obj: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """The list-view subset of a full object (fields it lacks are left out)."""
    return {f: obj[f] for f in fields if f in obj}


def user_object(
    ids: IdFactory,
    *,
    base_url: str,
    account_id: str,
    account_number: int,
    email: str,
    first_name: str,
    last_name: str,
    user_type: int,
    status: str,
    role_id: str,
    created_at: float,
    timezone: str = "America/Los_Angeles",
    dept: str = "",
    user_id: str | None = None,
) -> dict[str, Any]:
    uid = user_id or ids.user_id()
    pmi = ids.pmi()
    user: dict[str, Any] = {
        "id": uid,
        "first_name": first_name,
        "last_name": last_name,
        "display_name": f"{first_name} {last_name}".strip(),
        "email": email,
        "type": user_type,
        "role_name": ROLE_NAMES.get(role_id, "Member"),
        "pmi": pmi,
        "use_pmi": False,
        "personal_meeting_url": f"{base_url}/j/{pmi}?pwd={ids.secret(32)}",
        "timezone": timezone,
        "verified": 1 if status == "active" else 0,
        "dept": dept,
        "created_at": iso(created_at),
        "user_created_at": iso(created_at),
        "pic_url": f"{base_url}/p/{uid}/avatar.jpg",
        "language": "en-US",
        "phone_number": "",
        "phone_country": "",
        "status": status,
        "role_id": role_id,
        "account_id": account_id,
        "account_number": account_number,
        "cluster": "us05",
        "jid": f"{uid.lower()}@xmpp.zoom.us",
        "group_ids": [],
        "im_group_ids": [],
        "login_types": [100],
        "company": "Sandbox Inc.",
        "job_title": "",
        "location": "",
    }
    if status == "active":
        user["last_login_time"] = iso(created_at + 3600)
        user["last_client_version"] = "5.17.11.34827(mac)"
    return user


def occurrences(start: float, duration: int, recurrence: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The occurrences of a recurring meeting (type 8) from its recurrence rule."""
    kind = int(recurrence.get("type", 1))
    interval = max(1, int(recurrence.get("repeat_interval", 1)))
    end_times = recurrence.get("end_times")
    end_date = recurrence.get("end_date_time")
    limit = min(int(end_times), 60) if end_times else 60 if end_date else 7
    until = _parse_end(end_date)
    found: list[dict[str, Any]] = []
    current = start
    day = utc_date(start)
    offset_in_day = start - date_start(day)
    while len(found) < limit and (until is None or current <= until):
        found.append(
            {
                "occurrence_id": str(int(current * 1000)),
                "start_time": iso(current),
                "duration": duration,
                "status": "available",
            }
        )
        if kind == 3:
            for _ in range(interval):
                day = add_month(day)
            current = date_start(day) + offset_in_day
        else:
            current += interval * (7 if kind == 2 else 1) * 86_400
    return found


def _parse_end(value: Any) -> float | None:
    if not value:
        return None
    try:
        return parse_datetime(str(value))
    except ValueError:
        return None


def meeting_object(
    ids: IdFactory,
    *,
    base_url: str,
    host: Mapping[str, Any],
    topic: str,
    meeting_type: int,
    start_time: float | None,
    duration: int,
    timezone: str,
    created_at: float,
    agenda: str = "",
    password: str | None = None,
    settings: Mapping[str, Any] | None = None,
    recurrence: Mapping[str, Any] | None = None,
    uuid: str | None = None,
) -> dict[str, Any]:
    meeting_id = ids.meeting_id()
    pwd = password if password is not None else ids.password(6)
    encrypted = ids.secret(32)
    meeting: dict[str, Any] = {
        "uuid": uuid or ids.meeting_uuid(),
        "id": meeting_id,
        "host_id": host["id"],
        "host_email": host["email"],
        "assistant_id": "",
        "topic": topic,
        "type": meeting_type,
        "status": "waiting",
        "duration": duration,
        "timezone": timezone,
        "agenda": agenda,
        "created_at": iso(created_at),
        "start_url": f"{base_url}/s/{meeting_id}?zak={ids.secret(40)}",
        "join_url": f"{base_url}/j/{meeting_id}?pwd={encrypted}",
        "password": pwd,
        "h323_password": ids.digits(6),
        "encrypted_password": encrypted,
        "pre_schedule": False,
        "settings": {**_MEETING_SETTINGS, **(settings or {})},
    }
    if meeting_type in (2, 8) or (meeting_type == 1 and start_time is not None):
        meeting["start_time"] = iso(start_time if start_time is not None else created_at)
    if meeting_type == 8:
        rule = dict(recurrence or {"type": 1, "repeat_interval": 1, "end_times": 7})
        rule.setdefault("type", 1)
        meeting["recurrence"] = rule
        begin = start_time if start_time is not None else created_at
        meeting["occurrences"] = occurrences(begin, duration, rule)
    if meeting["settings"].get("approval_type") in (0, 1):
        meeting["registration_url"] = f"{base_url}/meeting/register/{ids.secret(22)}"
    return meeting


def meeting_invitation(meeting: Mapping[str, Any], host_name: str) -> dict[str, Any]:
    digits = str(meeting["id"])
    spaced = f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    when = meeting.get("start_time", "")
    text = (
        f"{host_name} is inviting you to a scheduled Zoom meeting.\r\n\r\n"
        f"Topic: {meeting['topic']}\r\n"
        + (f"Time: {when} {meeting.get('timezone', '')}\r\n" if when else "")
        + f"\r\nJoin Zoom Meeting\r\n{meeting['join_url']}\r\n\r\n"
        f"Meeting ID: {spaced}\r\nPasscode: {meeting['password']}\r\n"
    )
    return {"invitation": text, "sip_links": []}


def webinar_object(
    ids: IdFactory,
    *,
    base_url: str,
    host: Mapping[str, Any],
    topic: str,
    webinar_type: int,
    start_time: float,
    duration: int,
    timezone: str,
    created_at: float,
    agenda: str = "",
    recurrence: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    webinar_id = ids.meeting_id()
    webinar: dict[str, Any] = {
        "uuid": ids.meeting_uuid(),
        "id": webinar_id,
        "host_id": host["id"],
        "host_email": host["email"],
        "topic": topic,
        "type": webinar_type,
        "start_time": iso(start_time),
        "duration": duration,
        "timezone": timezone,
        "agenda": agenda,
        "created_at": iso(created_at),
        "start_url": f"{base_url}/s/{webinar_id}?zak={ids.secret(40)}",
        "join_url": f"{base_url}/w/{webinar_id}?tk={ids.secret(43)}",
        "password": ids.password(6),
        "is_simulive": False,
        "settings": dict(_WEBINAR_SETTINGS),
    }
    if webinar_type == 9:
        rule = dict(recurrence or {"type": 2, "repeat_interval": 1, "end_times": 4})
        webinar["recurrence"] = rule
        webinar["occurrences"] = occurrences(start_time, duration, rule)
    return webinar


def registrant_object(
    ids: IdFactory,
    *,
    base_url: str,
    event_id: int,
    email: str,
    first_name: str,
    last_name: str,
    status: str,
    created_at: float,
    webinar: bool,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    path = "w" if webinar else "j"
    registrant: dict[str, Any] = {
        "id": ids.user_id(),
        "email": email,
        "first_name": first_name,
        "last_name": last_name,
        "address": "",
        "city": "",
        "country": "",
        "zip": "",
        "state": "",
        "phone": "",
        "industry": "",
        "org": "",
        "job_title": "",
        "purchasing_time_frame": "",
        "role_in_purchase_process": "",
        "no_of_employees": "",
        "comments": "",
        "custom_questions": [],
        "status": status,
        "create_time": iso(created_at),
        "join_url": f"{base_url}/{path}/{event_id}?tk={ids.secret(43)}",
    }
    for key, value in (extra or {}).items():
        if key in registrant and isinstance(value, type(registrant[key])):
            registrant[key] = value
    if not webinar:
        registrant["participant_pin_code"] = int(ids.digits(6))
    return registrant


def participant_object(
    ids: IdFactory, *, name: str, email: str, join: float, minutes: int, registrant_id: str
) -> dict[str, Any]:
    return {
        "id": ids.user_id(),
        "name": name,
        "user_id": ids.digits(8),
        "registrant_id": registrant_id,
        "user_email": email,
        "join_time": iso(join),
        "leave_time": iso(join + minutes * 60),
        "duration": minutes * 60,
        "failover": False,
        "status": "in_meeting",
    }


def channel_object(
    ids: IdFactory, *, base_url: str, name: str, channel_type: int
) -> dict[str, Any]:
    channel_id = ids.hex32()
    return {
        "id": channel_id,
        "jid": f"{channel_id}@conference.xmpp.zoom.us",
        "name": name,
        "type": channel_type,
        "channel_url": f"{base_url}/launch/chat/v2/{channel_id}",
        "channel_settings": {
            "add_member_permissions": 1,
            "new_members_can_see_previous_messages_files": True,
            "posting_permissions": 1,
            "mention_all_permissions": 1,
            "allow_to_add_external_users": 0,
        },
    }


def chat_message(
    ids: IdFactory, *, sender: Mapping[str, Any], text: str, timestamp_ms: int
) -> dict[str, Any]:
    return {
        "id": ids.file_id(),
        "message": text,
        "sender": sender["email"],
        "sender_display_name": sender["display_name"],
        "date_time": iso(timestamp_ms / 1000),
        "timestamp": timestamp_ms,
        "message_type": "plain_text_message",
    }
