"""Builders of realistic Zoom webhook events, for the CLI, the sandbox and tests.

Shapes follow ZOOM_API.md §2 (envelope, ``recording.completed``) and Zoom's own samples
of each event; object fields use the names of the Meeting/Users OpenAPI specs. Every
number is an ``int`` (no floats), so the body serialises byte-for-byte like JavaScript's
``JSON.stringify`` does (see ``sender.serialize``).
"""

from __future__ import annotations

import base64
import copy
import random
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from zoomq.clock import Clock, SystemClock
from zoomq.errors import InvalidInput
from zoomq.webhooks.envelope import URL_VALIDATION

__all__ = [
    "EVENT_NAMES",
    "PLACEHOLDER_WEB_HOST",
    "build_event",
    "deep_merge",
    "recording_from_api",
    "wrap_event",
]

#: Generated play/share/download URLs point here: a reserved TLD (RFC 2606), so nothing
#: ever tries to fetch a made-up recording from real Zoom.
PLACEHOLDER_WEB_HOST = "https://us06web.zoom.invalid"

_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_ISO = "%Y-%m-%dT%H:%M:%SZ"
# (first name, last name, ASCII mailbox): some non-ASCII on purpose, as real accounts have.
_PEOPLE = (
    ("Ada", "Lovelace", "ada.lovelace"),
    ("Zoë", "Núñez", "zoe.nunez"),
    ("Jill", "Chill", "jchill"),
    ("Aiko", "山田", "aiko.yamada"),
    ("Grace", "Hopper", "grace.hopper"),
)
_TOPICS = ("Weekly sync", "Quarterly review", "Zoë 東京 kickoff", "Customer onboarding")
_TIMEZONES = ("America/Los_Angeles", "Europe/Berlin", "Asia/Tokyo", "UTC")
_API_LIST_KEYS = ("from", "to", "page_count", "page_size", "total_records", "next_page_token")

# (rng and clock, account id, web host) -> the event's ``payload``
_PayloadBuilder = Callable[["_Gen", str, str], dict[str, Any]]


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: objects merge key by key, everything else in ``override`` replaces."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


class _Gen:
    """Random but plausible Zoom identifiers and times, from one rng and one clock."""

    def __init__(self, rng: random.Random, clock: Clock) -> None:
        self.rng = rng
        self.now = clock.time()

    def zoom_id(self, length: int = 22) -> str:  # user, account and registrant ids
        return "".join(self.rng.choice(_ID_ALPHABET) for _ in range(length))

    def meeting_uuid(self) -> str:  # base64 of 16 bytes, e.g. "BOKXuumlTAGXuqwr3bLyuQ=="
        return base64.b64encode(self.rng.randbytes(16)).decode("ascii")

    def meeting_number(self) -> int:  # 11 digits, well below 2**53
        return self.rng.randint(81_000_000_000, 99_999_999_999)

    def file_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def token(self, nbytes: int = 24) -> str:
        return base64.urlsafe_b64encode(self.rng.randbytes(nbytes)).decode("ascii").rstrip("=")

    def iso(self, offset_seconds: float = 0.0) -> str:
        return time.strftime(_ISO, time.gmtime(self.now + offset_seconds))

    def person(self) -> dict[str, Any]:
        first, last, mailbox = self.rng.choice(_PEOPLE)
        return {"first_name": first, "last_name": last, "email": f"{mailbox}@example.com"}

    def passcode(self) -> str:
        return "".join(self.rng.choice("0123456789") for _ in range(6))


def _meeting(gen: _Gen, account_id: str, *, webinar: bool = False) -> dict[str, Any]:
    number = gen.meeting_number()
    host = gen.person()
    return {
        "uuid": gen.meeting_uuid(),
        "id": number,
        "host_id": gen.zoom_id(),
        "host_email": host["email"],
        "account_id": account_id,
        "topic": gen.rng.choice(_TOPICS),
        "type": 5 if webinar else 2,
        "start_time": gen.iso(3600),
        "duration": 60,
        "timezone": gen.rng.choice(_TIMEZONES),
        "join_url": f"https://us06web.zoom.us/{'w' if webinar else 'j'}/{number}",
    }


def _operator(gen: _Gen, meeting: Mapping[str, Any] | None = None) -> dict[str, Any]:
    if meeting is not None:
        return {"operator": meeting["host_email"], "operator_id": meeting["host_id"]}
    return {"operator": gen.person()["email"], "operator_id": gen.zoom_id()}


def _registrant(gen: _Gen, join_base: str) -> dict[str, Any]:
    return {
        "id": gen.zoom_id(),
        **gen.person(),
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
        "status": "approved",
        "join_url": f"{join_base}?tk={gen.token(32)}",
        "participant_pin_code": gen.rng.randint(100_000, 999_999),
    }


# (recording_type, file_type, file_extension, typical bytes per minute)
_DEFAULT_FILES = (
    ("shared_screen_with_speaker_view", "MP4", "MP4", 4_000_000),
    ("audio_only", "M4A", "M4A", 480_000),
    ("audio_transcript", "TRANSCRIPT", "VTT", 6_000),
    ("chat_file", "CHAT", "TXT", 300),
)


def _recording(gen: _Gen, account_id: str, web_host: str) -> dict[str, Any]:
    meeting = _meeting(gen, account_id)
    minutes = gen.rng.randint(5, 90)
    start = -(minutes + 10) * 60.0  # ended ten minutes ago: Zoom processes, then notifies
    files = []
    for recording_type, file_type, extension, per_minute in _DEFAULT_FILES:
        token = gen.token()
        files.append(
            {
                "id": gen.file_id(),
                "meeting_id": meeting["uuid"],
                "recording_start": gen.iso(start),
                "recording_end": gen.iso(start + minutes * 60),
                "file_type": file_type,
                "file_size": per_minute * minutes + gen.rng.randint(0, 9_999),
                "file_extension": extension,
                "play_url": f"{web_host}/rec/play/{token}",
                "download_url": f"{web_host}/rec/webhook_download/{token}/{gen.token(48)}",
                "status": "completed",
                "recording_type": recording_type,
            }
        )
    return {
        "id": meeting["id"],
        "uuid": meeting["uuid"],
        "host_id": meeting["host_id"],
        "account_id": account_id,
        "topic": meeting["topic"],
        "type": meeting["type"],
        "start_time": gen.iso(start),
        "timezone": meeting["timezone"],
        "host_email": meeting["host_email"],
        "duration": minutes,
        "total_size": sum(f["file_size"] for f in files),
        "recording_count": len(files),
        "share_url": f"{web_host}/rec/share/{gen.token(32)}",
        "password": gen.passcode(),
        "recording_play_passcode": gen.token(24),
        "on_prem": False,
        "recording_files": files,
    }


def _integral(value: Any) -> Any:
    # The REST spec types file_size as "number"; Zoom sends integers, and so do we.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def recording_from_api(
    recording: Mapping[str, Any], defaults: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A webhook ``payload.object`` from a REST recording body, filling webhook-only fields.

    Takes ``GET /meetings/{id}/recordings`` or one entry of ``GET /users/{id}/recordings``
    ``meetings[]`` (a whole listing page uses its first meeting). REST types ``type`` as a
    numeric string; the webhook sends an integer.
    """
    if "meetings" in recording and "recording_files" not in recording:
        meetings = recording["meetings"]
        if not meetings:
            raise InvalidInput("the recordings listing has no meetings")
        recording = meetings[0]
    obj = dict(defaults or {})
    obj.update({k: copy.deepcopy(v) for k, v in recording.items() if k not in _API_LIST_KEYS})
    if isinstance(obj.get("type"), str) and obj["type"].isdigit():
        obj["type"] = int(obj["type"])
    files = [{k: _integral(v) for k, v in f.items()} for f in obj.get("recording_files") or []]
    obj["recording_files"] = files
    extra = obj.get("participant_audio_files") or []
    if "total_size" not in recording:
        obj["total_size"] = sum(int(f.get("file_size") or 0) for f in [*files, *extra])
    if "recording_count" not in recording:
        obj["recording_count"] = len(files) + len(extra)
    for key in ("total_size", "duration", "recording_count"):
        obj[key] = _integral(obj.get(key))
    return obj


def _recording_completed(gen: _Gen, account_id: str, web_host: str) -> dict[str, Any]:
    return {"account_id": account_id, "object": _recording(gen, account_id, web_host)}


def _meeting_created_or_deleted(created: bool) -> _PayloadBuilder:
    def build(gen: _Gen, account_id: str, web_host: str) -> dict[str, Any]:
        meeting = _meeting(gen, account_id)
        obj = {k: v for k, v in meeting.items() if k not in ("host_email", "account_id")}
        if created:
            obj["password"] = gen.passcode()
            obj["settings"] = {"use_pmi": False, "alternative_hosts": ""}
        else:
            del obj["join_url"]
        return {
            "account_id": account_id,
            **_operator(gen, meeting),
            "operation": "single",
            "object": obj,
        }

    return build


def _meeting_updated(gen: _Gen, account_id: str, web_host: str) -> dict[str, Any]:
    meeting = _meeting(gen, account_id)
    ident = {"id": meeting["id"], "uuid": meeting["uuid"]}
    moved = {"topic": f"{meeting['topic']} (moved)", "start_time": gen.iso(7200)}
    return {
        "account_id": account_id,
        **_operator(gen, meeting),
        "object": {**ident, **moved},
        "old_object": {**ident, "topic": meeting["topic"], "start_time": meeting["start_time"]},
        "time_stamp": int(gen.now * 1000),
    }


def _registration_created(webinar: bool) -> _PayloadBuilder:
    def build(gen: _Gen, account_id: str, web_host: str) -> dict[str, Any]:
        meeting = _meeting(gen, account_id, webinar=webinar)
        hidden = ("host_email", "account_id", "join_url")
        obj = {k: v for k, v in meeting.items() if k not in hidden}
        obj["registrant"] = _registrant(gen, meeting["join_url"])
        return {"account_id": account_id, "object": obj}

    return build


def _user_created_or_deleted(created: bool) -> _PayloadBuilder:
    def build(gen: _Gen, account_id: str, web_host: str) -> dict[str, Any]:
        person = gen.person()
        obj: dict[str, Any] = {"id": gen.zoom_id(), **person}
        if created:
            obj["display_name"] = f"{person['first_name']} {person['last_name']}"
        obj["type"] = 1
        extra = {"creation_type": "create"} if created else {}
        return {"account_id": account_id, **_operator(gen), **extra, "object": obj}

    return build


def _user_updated(gen: _Gen, account_id: str, web_host: str) -> dict[str, Any]:
    user_id = gen.zoom_id()
    last_name = gen.person()["last_name"]
    return {
        "account_id": account_id,
        **_operator(gen),
        "object": {"id": user_id, "last_name": f"{last_name}-Smith"},
        "old_object": {"id": user_id, "last_name": last_name},
        "time_stamp": int(gen.now * 1000),
    }


def _url_validation(gen: _Gen, account_id: str, web_host: str) -> dict[str, Any]:
    return {"plainToken": gen.token(16)}


_BUILDERS: dict[str, _PayloadBuilder] = {
    "recording.completed": _recording_completed,
    "meeting.created": _meeting_created_or_deleted(created=True),
    "meeting.updated": _meeting_updated,
    "meeting.deleted": _meeting_created_or_deleted(created=False),
    "meeting.registration_created": _registration_created(webinar=False),
    "webinar.registration_created": _registration_created(webinar=True),
    "user.created": _user_created_or_deleted(created=True),
    "user.updated": _user_updated,
    "user.deleted": _user_created_or_deleted(created=False),
    URL_VALIDATION: _url_validation,
}

#: Every event ``build_event`` knows.
EVENT_NAMES: tuple[str, ...] = tuple(_BUILDERS)


def _envelope(
    name: str, gen: _Gen, payload: dict[str, Any], *, download_token: bool
) -> dict[str, Any]:
    event: dict[str, Any] = {"event": name, "event_ts": int(gen.now * 1000)}
    if download_token:
        # A JWT in real life: header.claims.signature, valid 24 h (ZOOM_API.md §2).
        event["download_token"] = f"eyJhbGciOiJIUzUxMiJ9.{gen.token(96)}.{gen.token(64)}"
    event["payload"] = payload
    return event


def _setup(
    name: str, clock: Clock | None, rng: random.Random | None, account_id: str | None
) -> tuple[_Gen, str]:
    if name not in EVENT_NAMES:
        raise InvalidInput(
            f"unknown webhook event {name!r}; known: {', '.join(EVENT_NAMES)}",
            [{"field": "event", "message": "unknown event"}],
        )
    gen = _Gen(rng if rng is not None else random.SystemRandom(), clock or SystemClock())
    return gen, account_id or gen.zoom_id()


def build_event(
    name: str,
    *,
    data: Mapping[str, Any] | None = None,
    recording: Mapping[str, Any] | None = None,
    account_id: str | None = None,
    clock: Clock | None = None,
    rng: random.Random | None = None,
    web_host: str = PLACEHOLDER_WEB_HOST,
) -> dict[str, Any]:
    """A complete, realistic event ``name`` as Zoom would send it.

    ``data`` is deep-merged into ``payload.object`` (``payload`` itself for
    ``endpoint.url_validation``), so ``{"id": 85746065432}`` sets the meeting id. If
    ``data`` has a ``payload`` key it is an envelope override instead: its top-level keys
    replace the generated ones (a recorded Zoom payload is sent as is).
    ``recording`` (``recording.completed`` only) is a REST recording body whose fields
    and files fill the object; see ``recording_from_api``.
    """
    gen, account = _setup(name, clock, rng, account_id)
    payload = _BUILDERS[name](gen, account, web_host.rstrip("/"))
    if recording is not None:
        if name != "recording.completed":
            raise InvalidInput("a recording can only fill a recording.completed event")
        payload["object"] = recording_from_api(recording, payload["object"])
    event = _envelope(name, gen, payload, download_token=name == "recording.completed")
    if not data:
        return event
    if "payload" in data:
        return {**event, **copy.deepcopy(dict(data))}
    if name == URL_VALIDATION:
        event["payload"] = deep_merge(event["payload"], data)
    else:
        event["payload"]["object"] = deep_merge(event["payload"]["object"], data)
    return event


def wrap_event(
    name: str,
    obj: Mapping[str, Any],
    *,
    account_id: str | None = None,
    clock: Clock | None = None,
    rng: random.Random | None = None,
) -> dict[str, Any]:
    """The event ``name`` around a given ``payload.object`` (what the sandbox emits).

    The object is sent exactly as given; the envelope, operator fields and, for
    ``recording.completed``, the ``download_token`` are generated. ``*.updated`` events get
    an ``old_object`` naming only the ids, since the previous values are not known here.
    """
    gen, account = _setup(name, clock, rng, account_id)
    template = _BUILDERS[name](gen, account, PLACEHOLDER_WEB_HOST)
    if name == URL_VALIDATION:
        payload = copy.deepcopy(dict(obj))
    else:
        payload = {k: v for k, v in template.items() if k not in ("object", "old_object")}
        payload["account_id"] = account_id or obj.get("account_id") or account
        payload["object"] = copy.deepcopy(dict(obj))
        if "old_object" in template:
            payload["old_object"] = {k: obj[k] for k in ("id", "uuid") if k in obj}
            payload["time_stamp"] = payload.pop("time_stamp")  # keep Zoom's field order
    return _envelope(name, gen, payload, download_token=name == "recording.completed")
