"""Zoom-like objects for webhook payloads: meetings, people, recordings, calls, chat.

One ``Gen`` (an rng and a clock) makes every id, time and name, so a payload is
deterministic under test. Field names and types follow Zoom's published webhook event
definitions (see ``catalog``); every number is an ``int`` so bodies serialise like
JavaScript's ``JSON.stringify``.
"""

from __future__ import annotations

import base64
import random
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from zoomq.clock import Clock

__all__ = ["PLACEHOLDER_WEB_HOST", "Gen", "pick"]

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
_CHANNELS = ("release-train", "support-escalations", "東京オフィス", "random")
_MESSAGES = ("Shipping at 5 pm", "Can someone review #412?", "Zoë's deck is up 🎉")
_TIMEZONES = ("America/Los_Angeles", "Europe/Berlin", "Asia/Tokyo", "UTC")

# (recording_type, file_type, file_extension, typical bytes per minute)
_DEFAULT_FILES = (
    ("shared_screen_with_speaker_view", "MP4", "MP4", 4_000_000),
    ("audio_only", "M4A", "M4A", 480_000),
    ("audio_transcript", "TRANSCRIPT", "VTT", 6_000),
    ("chat_file", "CHAT", "TXT", 300),
)


def pick(source: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """The ``keys`` of ``source`` that it has, in the order given (Zoom's field order)."""
    return {k: source[k] for k in keys if k in source}


class Gen:
    """Random but plausible Zoom values, from one rng, one clock, one account and host."""

    def __init__(
        self, rng: random.Random, clock: Clock, account_id: str | None, web_host: str
    ) -> None:
        self.rng = rng
        self.now = clock.time()
        self.account_id = account_id or self.zoom_id()
        self.web_host = web_host.rstrip("/")

    # -- scalars -------------------------------------------------------------------------
    def zoom_id(self, length: int = 22) -> str:  # user, account and registrant ids
        return "".join(self.rng.choice(_ID_ALPHABET) for _ in range(length))

    def meeting_uuid(self) -> str:  # base64 of 16 bytes, e.g. "BOKXuumlTAGXuqwr3bLyuQ=="
        return base64.b64encode(self.rng.randbytes(16)).decode("ascii")

    def meeting_number(self) -> int:  # 11 digits, well below 2**53
        return self.rng.randint(81_000_000_000, 99_999_999_999)

    def file_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hex_id(self, nbytes: int = 16) -> str:  # phone call and recording ids
        return self.rng.randbytes(nbytes).hex()

    def token(self, nbytes: int = 24) -> str:
        return base64.urlsafe_b64encode(self.rng.randbytes(nbytes)).decode("ascii").rstrip("=")

    def iso(self, offset_seconds: float = 0.0) -> str:
        return time.strftime(_ISO, time.gmtime(self.now + offset_seconds))

    def ms(self, offset_seconds: float = 0.0) -> int:
        return int((self.now + offset_seconds) * 1000)

    def passcode(self) -> str:
        return "".join(self.rng.choice("0123456789") for _ in range(6))

    def phone_number(self) -> str:
        return f"+1{self.rng.randint(2_000_000_000, 9_999_999_999)}"

    def ip(self) -> str:
        return f"203.0.113.{self.rng.randint(1, 254)}"  # TEST-NET-3 (RFC 5737)

    def choice(self, options: tuple[str, ...]) -> str:
        return self.rng.choice(options)

    # -- people --------------------------------------------------------------------------
    def person(self) -> dict[str, Any]:
        first, last, mailbox = self.rng.choice(_PEOPLE)
        return {"first_name": first, "last_name": last, "email": f"{mailbox}@example.com"}

    def operator(self, meeting: Mapping[str, Any] | None = None) -> dict[str, Any]:
        if meeting is not None:
            return {"operator": meeting["host_email"], "operator_id": meeting["host_id"]}
        return {"operator": self.person()["email"], "operator_id": self.zoom_id()}

    def user(self) -> dict[str, Any]:
        """A user object: id, names, email, type (1 basic)."""
        return {"id": self.zoom_id(), **self.person(), "type": 1}

    def member(self) -> dict[str, Any]:
        """A Team Chat member: user id, display name, email and member id."""
        person = self.person()
        return {
            "user_id": self.zoom_id(),
            "display_name": f"{person['first_name']} {person['last_name']}",
            "user_email": person["email"],
            "member_id": self.zoom_id(32),
        }

    # -- meetings ------------------------------------------------------------------------
    def meeting(self, *, webinar: bool = False) -> dict[str, Any]:
        """Every meeting field any event uses; events ``pick`` the ones Zoom sends."""
        number = self.meeting_number()
        host = self.person()
        return {
            "uuid": self.meeting_uuid(),
            "id": number,
            "host_id": self.zoom_id(),
            "host_email": host["email"],
            "account_id": self.account_id,
            "topic": self.rng.choice(_TOPICS),
            "type": 5 if webinar else 2,
            "start_time": self.iso(-1800),
            "duration": 60,
            "timezone": self.rng.choice(_TIMEZONES),
            "join_url": f"https://us06web.zoom.us/{'w' if webinar else 'j'}/{number}",
        }

    def registrant(self, join_url: str, *, full: bool = True) -> dict[str, Any]:
        registrant: dict[str, Any] = {"id": self.zoom_id(), **self.person()}
        if not full:
            return registrant
        for key in ("address", "city", "country", "zip", "state", "phone", "industry", "org"):
            registrant[key] = ""
        for key in ("job_title", "purchasing_time_frame", "role_in_purchase_process"):
            registrant[key] = ""
        registrant.update(no_of_employees="", comments="", custom_questions=[])
        registrant["status"] = "approved"
        registrant["join_url"] = f"{join_url}?tk={self.token(32)}"
        return registrant

    def participant(self, *keys: str) -> dict[str, Any]:
        """A meeting participant with the ``keys`` the event names, in that order."""
        person = self.person()
        values = {
            "user_id": str(self.rng.randint(16_000_000, 16_999_999)),
            "user_name": f"{person['first_name']} {person['last_name']}",
            "id": self.zoom_id(),
            "participant_uuid": self.file_id().upper(),
            "email": person["email"],
            "join_time": self.iso(-600),
            "leave_time": self.iso(),
            "leave_reason": "left the meeting",
            "date_time": self.iso(),
            "participant_user_id": self.zoom_id(),
            "parent_user_id": str(self.rng.randint(16_000_000, 16_999_999)),
            "bind_user_id": str(self.rng.randint(16_000_000, 16_999_999)),
            "bind_participant_uuid": self.file_id().upper(),
            "phone_number": self.phone_number(),
            "old_role": "attendee",
            "new_role": "co-host",
        }
        return pick(values, keys)

    def summary(self, meeting: Mapping[str, Any]) -> dict[str, Any]:
        """An AI Companion meeting summary's header fields."""
        return {
            "meeting_host_id": meeting["host_id"],
            "meeting_host_email": meeting["host_email"],
            "meeting_uuid": meeting["uuid"],
            "meeting_id": meeting["id"],
            "meeting_topic": meeting["topic"],
            "meeting_start_time": meeting["start_time"],
            "meeting_end_time": self.iso(-600),
            "summary_start_time": meeting["start_time"],
            "summary_end_time": self.iso(-600),
            "summary_created_time": self.iso(-300),
            "summary_last_modified_time": self.iso(-300),
            "summary_title": f"Meeting summary for {meeting['topic']}",
        }

    def in_meeting_chat(self, *, file: bool = False) -> dict[str, Any]:
        sender = self.person()
        chat: dict[str, Any] = {
            "date_time": self.iso(),
            "sender_session_id": self.zoom_id(),
            "sender_name": f"{sender['first_name']} {sender['last_name']}",
            "sender_email": sender["email"],
            "sender_type": "host",
            "recipient_session_id": "",
            "recipient_name": "",
            "recipient_email": "",
            "recipient_type": "everyone",
            "message_id": self.file_id(),
        }
        if file:
            file_id = self.file_id()
            chat.update(
                file_id=file_id,
                file_name="agenda.pdf",
                file_size=self.rng.randint(20_000, 900_000),
                file_type="pdf",
                download_url=f"{self.web_host}/file/download/{file_id}",
            )
        else:
            chat.update(message_content=self.rng.choice(_MESSAGES), file_ids=[])
        return chat

    # -- recordings ----------------------------------------------------------------------
    def recording(self, files: tuple[tuple[str, str, str, int], ...] = _DEFAULT_FILES) -> Any:
        """A cloud recording object with its ``recording_files``, ended ten minutes ago."""
        meeting = self.meeting()
        minutes = self.rng.randint(5, 90)
        start = -(minutes + 10) * 60.0  # Zoom processes for a while, then notifies
        recording_files = []
        for recording_type, file_type, extension, per_minute in files:
            token = self.token()
            recording_files.append(
                {
                    "id": self.file_id(),
                    "meeting_id": meeting["uuid"],
                    "recording_start": self.iso(start),
                    "recording_end": self.iso(start + minutes * 60),
                    "file_type": file_type,
                    "file_size": per_minute * minutes + self.rng.randint(0, 9_999),
                    "file_extension": extension,
                    "play_url": f"{self.web_host}/rec/play/{token}",
                    "download_url": f"{self.web_host}/rec/webhook_download/{token}/"
                    f"{self.token(48)}",
                    "status": "completed",
                    "recording_type": recording_type,
                }
            )
        return {
            "id": meeting["id"],
            "uuid": meeting["uuid"],
            "host_id": meeting["host_id"],
            "account_id": self.account_id,
            "topic": meeting["topic"],
            "type": meeting["type"],
            "start_time": self.iso(start),
            "timezone": meeting["timezone"],
            "host_email": meeting["host_email"],
            "duration": minutes,
            "total_size": sum(f["file_size"] for f in recording_files),
            "recording_count": len(recording_files),
            "share_url": f"{self.web_host}/rec/share/{self.token(32)}",
            "password": self.passcode(),
            "recording_play_passcode": self.token(24),
            "on_prem": False,
            "recording_files": recording_files,
        }

    def transcript_recording(self) -> Any:
        """A recording whose only file is the late-arriving audio transcript."""
        return self.recording(files=(_DEFAULT_FILES[2],))

    def download_token(self) -> str:
        # A JWT in real life: header.claims.signature, valid 24 h (ZOOM_API.md §2).
        return f"eyJhbGciOiJIUzUxMiJ9.{self.token(96)}.{self.token(64)}"

    # -- phone ---------------------------------------------------------------------------
    def phone_owner(self) -> dict[str, Any]:
        person = self.person()
        return {
            "type": "user",
            "id": self.zoom_id(),
            "name": f"{person['first_name']} {person['last_name']}",
            "extension_number": self.rng.randint(100, 9999),
        }

    def call_recording(self, *, transcript: bool = False) -> dict[str, Any]:
        """One finished Zoom Phone call recording, as ``phone.recording_completed`` lists."""
        recording_id = self.hex_id()
        owner = self.phone_owner()
        seconds = self.rng.randint(20, 1800)
        recording: dict[str, Any] = {
            "id": recording_id,
            "caller_number": self.phone_number(),
            "caller_number_type": 2,  # 1 internal, 2 external
            "caller_name": self.person()["first_name"],
            "callee_number": str(owner["extension_number"]),
            "callee_number_type": 1,
            "callee_name": owner["name"],
            "duration": seconds,
        }
        if transcript:
            url = f"https://zoom.us/v2/phone/recording_transcript/download/{recording_id}"
            recording["transcript_download_url"] = url
        else:
            url = f"https://zoom.us/v2/phone/recording/download/{recording_id}"
            recording["download_url"] = url
        recording.update(
            date_time=self.iso(-seconds - 60),
            user_id=owner["id"],
            call_id=str(self.rng.randint(7_000_000_000_000_000_000, 7_999_999_999_999_999_999)),
            call_log_id=self.hex_id(),
            end_time=self.iso(-60),
            recording_type="Automatic",
            owner=owner,
            direction="inbound",
        )
        return recording

    def live_call_recording(self, *, sip: bool) -> dict[str, Any]:
        """A call recording in progress (started/paused/resumed/stopped/failed)."""
        owner = self.phone_owner()
        value: dict[str, Any] = {
            "id": self.hex_id(),
            "user_id": owner["id"],
            "caller_number": self.phone_number(),
            "callee_number": str(owner["extension_number"]),
            "direction": "inbound",
            "date_time": self.iso(),
            "recording_type": "OnDemand",
            "call_id": str(self.rng.randint(7_000_000_000_000_000_000, 7_999_999_999_999_999_999)),
        }
        if sip:
            value["channel_id"] = self.hex_id(8)
            value["sip_id"] = f"{self.hex_id(8)}@sip.zoom.invalid"
        value["owner"] = owner
        return value

    # -- team chat -----------------------------------------------------------------------
    def channel_name(self) -> str:
        return self.rng.choice(_CHANNELS)

    def chat_message_text(self) -> str:
        return self.rng.choice(_MESSAGES)

    def chat_file(self, *, with_message_type: bool = False) -> dict[str, Any]:
        value: dict[str, Any] = {
            "file_id": self.file_id(),
            "file_name": "roadmap.pdf",
            "file_size": self.rng.randint(20_000, 900_000),
            "OS_file_type": "pdf",
        }
        if with_message_type:
            value = {
                "OS_file_type": "pdf",
                "file_id": value["file_id"],
                "file_message_type": "FILE",
                "file_name": value["file_name"],
                "file_size": value["file_size"],
            }
        return value
