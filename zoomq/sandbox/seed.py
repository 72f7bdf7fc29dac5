"""The seeded account: the same ``seed`` gives the same ids and objects every time.

Times are laid out around ``now`` (``SandboxConfig.epoch`` or the clock at start-up)
so that Zoom's default windows (today's chat, the last 30 days of calls) find data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from zoomq.sandbox.config import SandboxConfig
from zoomq.sandbox.files import FileInfo, file_kinds, phone_recording, recording_file
from zoomq.sandbox.ids import IdFactory
from zoomq.sandbox.objects import (
    channel_object,
    chat_message,
    meeting_object,
    participant_object,
    registrant_object,
    user_object,
    webinar_object,
)
from zoomq.sandbox.store import Obj, Store
from zoomq.sandbox.times import DAY, day_start, iso

__all__ = [
    "ACCOUNT_DOMAIN",
    "BATCH_MEETING_TOPIC",
    "BATCH_WEBINAR_TOPIC",
    "OWNER_EMAIL",
    "SeededIds",
    "build_recording",
    "seed_store",
]

#: The owner's email is the same for every seed (in the first account; account k of a
#: sandbox uses ``ACCOUNT_DOMAIN`` for its users' emails).
OWNER_EMAIL = "owner@example.com"
#: The domain of users' emails in account k > 1.
ACCOUNT_DOMAIN = "acct{number}.example.com"
#: Topics of the seeded meeting and webinar eligible for batch registration.
BATCH_MEETING_TOPIC = "Batch registration meeting"
BATCH_WEBINAR_TOPIC = "Batch registration webinar"

_FIRST = (
    "Ada",
    "Grace",
    "Alan",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "Edsger",
    "Radia",
    "Donald",
    "Katherine",
    "Tim",
    "Hedy",
    "John",
    "Sophie",
    "Niklaus",
)
_LAST = (
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Knuth",
    "Johnson",
    "Berners-Lee",
    "Lamarr",
    "Backus",
)
_TOPICS = (
    "Weekly sync",
    "Design review",
    "Customer call",
    "Sprint planning",
    "1:1",
    "All hands",
    "Incident review",
    "Roadmap",
    "Hiring debrief",
    "Demo day",
    "Budget review",
)
_MIB = 1024 * 1024


@dataclass(frozen=True)
class SeededIds:
    """Ids of seeded objects that tests can rely on (they depend only on the seed)."""

    owner_user_id: str
    owner_email: str
    #: Active users, the owner first.
    user_ids: tuple[str, ...]
    pending_user_id: str
    inactive_user_id: str
    #: A scheduled meeting of the owner (type 2, in the future).
    meeting_id: int
    #: A recurring meeting with a fixed time (type 8) and occurrences.
    recurring_meeting_id: int
    #: A meeting with registration on and ``registrants`` registrants.
    registration_meeting_id: int
    #: A past meeting with a cloud recording under its own UUID.
    recorded_meeting_id: int
    recorded_meeting_uuid: str
    #: A past meeting whose UUID starts with ``/`` and contains ``//``, with a recording.
    slash_meeting_id: int
    slash_meeting_uuid: str
    #: The MP4 file of the recorded meeting.
    recording_file_id: str
    webinar_id: int
    recurring_webinar_id: int
    past_webinar_id: int
    past_webinar_uuid: str
    #: A channel of the owner, and the user the owner chats with.
    channel_id: str
    contact_user_id: str
    contact_email: str
    #: A user with call recordings (the owner has some too).
    phone_user_id: str
    #: Batch registration: a licensed member (not the owner, whose lists stay as they
    #: were) hosts a scheduled meeting (type 2) and a scheduled webinar (type 5), both
    #: with registration on (automatic approval) and no registrant yet.
    batch_host_id: str
    batch_meeting_id: int
    batch_webinar_id: int
    #: Ineligible for batch registration, each for one reason: recurring (type 8) with
    #: registration; registration on but a Basic host (meeting, webinar); no registration
    #: (webinar; the meeting of ``meeting_id`` has none either).
    recurring_registration_meeting_id: int
    basic_host_meeting_id: int
    basic_host_webinar_id: int
    no_registration_webinar_id: int


def _name(rng: random.Random) -> tuple[str, str]:
    return rng.choice(_FIRST), rng.choice(_LAST)


def build_recording(
    ids: IdFactory,
    store: Store,
    meeting: Obj,
    *,
    uuid: str,
    start: float,
    minutes: int,
    sizes: list[int],
) -> Obj:
    """A recording instance of ``meeting`` with one file per size (MP4, M4A, VTT, ...)."""
    end = start + minutes * 60
    files: list[Obj] = []
    infos: list[FileInfo] = []
    for kind, size in zip(file_kinds(len(sizes)), sizes, strict=True):
        file_id = ids.file_id()
        files.append(
            recording_file(
                base_url=store.base_url,
                file_id=file_id,
                meeting_uuid=uuid,
                kind=kind,
                size=size,
                start=start,
                end=end,
            )
        )
        filename = f"{meeting['topic']}_{kind.recording_type}.{kind.extension.lower()}"
        infos.append(FileInfo(file_id, size, kind.content_type, filename))
    recording: Obj = {
        "uuid": uuid,
        "id": meeting["id"],
        "account_id": store.account_id,
        "host_id": meeting["host_id"],
        "topic": meeting["topic"],
        "type": str(meeting["type"]),
        "start_time": iso(start),
        "duration": minutes,
        "total_size": sum(sizes),
        "recording_count": len(sizes),
        "recording_play_passcode": ids.secret(32),
        "recording_files": files,
    }
    store.add_recording(recording, infos)
    store.recording_passwords[uuid] = meeting.get("password", "")
    return recording


class _Seeder:
    """Lays the account out, one kind of resource per method, drawing from one RNG."""

    def __init__(
        self, config: SandboxConfig, base_url: str, now: float, ids: IdFactory, domain: str
    ) -> None:
        self.config = config
        self.domain = domain
        self.base_url = base_url
        self.now = now
        self.day0 = day_start(now)
        self.ids = ids
        self.rng = ids.rng
        self.store = Store(
            base_url=base_url,
            account_id=config.owner_app.account_id,
            account_number=int(ids.digits(8)),
        )

    def user(self, email: str, first: str, last: str, **kw: Any) -> Obj:
        store = self.store
        user = user_object(
            self.ids,
            base_url=self.base_url,
            account_id=store.account_id,
            account_number=store.account_number,
            email=email,
            first_name=first,
            last_name=last,
            **kw,
        )
        store.add_user(user)
        return user

    def users(self) -> tuple[list[Obj], Obj, Obj]:
        """Active users (the owner first), a pending and an inactive one."""
        now = self.now
        owner = self.user(
            f"owner@{self.domain}",
            "Olivia",
            "Owner",
            user_type=2,
            status="active",
            role_id="0",
            created_at=now - 400 * DAY,
            dept="Engineering",
        )
        self.store.owner_id = owner["id"]
        users = [owner]
        for i in range(1, self.config.users):
            first, last = _name(self.rng)
            users.append(
                self.user(
                    f"{first.lower()}.{last.lower()}.{i}@{self.domain}",
                    first,
                    last,
                    user_type=2 if i < 6 else 1,
                    status="active",
                    role_id="1" if i == 1 else "2",
                    created_at=now - self.rng.randint(10, 390) * DAY,
                )
            )
        pending = self.user(
            f"pending.user@{self.domain}",
            "Pat",
            "Pending",
            user_type=1,
            status="pending",
            role_id="2",
            created_at=now - 2 * DAY,
        )
        inactive = self.user(
            f"inactive.user@{self.domain}",
            "Ina",
            "Inactive",
            user_type=1,
            status="inactive",
            role_id="2",
            created_at=now - 300 * DAY,
        )
        return users, pending, inactive

    def meeting(
        self, host: Obj, topic: str, meeting_type: int, start: float | None, **kw: Any
    ) -> Obj:
        meeting = meeting_object(
            self.ids,
            base_url=self.base_url,
            host=host,
            topic=topic,
            meeting_type=meeting_type,
            start_time=start,
            duration=kw.pop("duration", self.rng.choice((30, 45, 60))),
            timezone=host["timezone"],
            created_at=kw.pop("created_at", self.now - 40 * DAY),
            **kw,
        )
        self.store.add_meeting(meeting)
        return meeting

    def meetings(self, users: list[Obj]) -> dict[str, Obj]:
        """The owner's meetings (the seeded kinds first), then the others' few."""
        owner, day0, rng = users[0], self.day0, self.rng
        kinds = {
            "recurring": self.meeting(
                owner,
                "Weekly sync",
                8,
                day0 + 7 * DAY + 15 * 3600,
                recurrence={"type": 2, "repeat_interval": 1, "weekly_days": "4", "end_times": 6},
            ),
            "registration": self.meeting(
                owner,
                "Product launch briefing",
                2,
                day0 + 3 * DAY + 16 * 3600,
                settings={"approval_type": 0, "registration_type": 1},
            ),
            "recorded": self.meeting(owner, "Quarterly review", 2, day0 - 2 * DAY + 14 * 3600),
            "slash": self.meeting(
                owner, "Board meeting", 2, day0 - 5 * DAY + 17 * 3600, uuid=self.ids.slash_uuid()
            ),
        }
        for i in range(4, self.config.meetings):
            kind = 3 if i % 9 == 0 else 2
            start = None
            if kind == 2:
                start = day0 + rng.randint(-30, 30) * DAY + rng.randint(8, 18) * 3600
            meeting = self.meeting(owner, f"{_TOPICS[i % len(_TOPICS)]} #{i}", kind, start)
            if "scheduled" not in kinds and start is not None and start > self.now:
                kinds["scheduled"] = meeting
        if "scheduled" not in kinds:
            kinds["scheduled"] = self.meeting(owner, "Planning", 2, day0 + 10 * DAY + 9 * 3600)
        for user in users[1:]:
            for j in range(self.config.meetings_per_user):
                topic = _TOPICS[j % len(_TOPICS)]
                self.meeting(user, topic, 2, day0 + (j + 1) * DAY + 10 * 3600)
        return kinds

    def registrants(self, meeting: Obj) -> None:
        """``registrants`` approved registrants, then 3 pending and 2 denied ones."""
        approved = self.config.registrants
        others = ("pending", "pending", "pending", "denied", "denied")
        count = approved + len(others)
        registrants = self.store.meeting_registrants.setdefault(meeting["id"], {})
        for i in range(count):
            first, last = _name(self.rng)
            status = others[i - approved] if i >= approved else "approved"
            reg = registrant_object(
                self.ids,
                base_url=self.base_url,
                event_id=meeting["id"],
                email=f"guest{i}@example.org",
                first_name=first,
                last_name=last,
                status=status,
                created_at=self.now - (count - i) * 3600,
                webinar=False,
            )
            registrants[reg["id"]] = reg

    def recordings(self, recorded: Obj, slash: Obj) -> str:
        """Cloud recordings; returns the id of the newest recording's MP4 file.

        The recorded and slash meetings are recorded under their own UUIDs, then the
        recorded meeting again and again, 5 days apart (the newest today).
        """
        rng, day0, now = self.rng, self.day0, self.now
        file_id = ""
        for r in range(max(self.config.recordings, 2)):
            meeting = (recorded, slash)[r] if r < 2 else recorded
            uuid = meeting["uuid"] if r < 2 else self.ids.meeting_uuid()
            start = max(day0, now - 2 * 3600) if r == 0 else day0 - r * 5 * DAY + 10 * 3600
            sizes = [
                rng.randint(1 * _MIB, 8 * _MIB),
                rng.randint(_MIB // 4, _MIB),
                rng.randint(4_000, 20_000),
                rng.randint(1_000, 4_000),
            ]
            recording = build_recording(
                self.ids,
                self.store,
                meeting,
                uuid=uuid,
                start=start,
                minutes=rng.randint(20, 60),
                sizes=sizes,
            )
            file_id = file_id or recording["recording_files"][0]["id"]
        return file_id

    def webinars(self, owner: Obj) -> tuple[Obj, Obj, Obj]:
        """A scheduled webinar with registrants, a recurring one, a past one with attendees."""
        day0, now, rng, store = self.day0, self.now, self.rng, self.store

        def webinar(topic: str, webinar_type: int, start: float) -> Obj:
            return self.webinar(owner, topic, webinar_type, start)

        scheduled = webinar("Product webinar", 5, day0 + 5 * DAY + 17 * 3600)
        recurring = webinar("Office hours", 9, day0 + 2 * DAY + 18 * 3600)
        past = webinar("Launch webinar", 5, day0 - 3 * DAY + 17 * 3600)
        approved = self.config.webinar_registrants
        count = approved + 2  # and two pending
        registrants = store.webinar_registrants[scheduled["id"]]
        for i in range(count):
            first, last = _name(rng)
            reg = registrant_object(
                self.ids,
                base_url=self.base_url,
                event_id=scheduled["id"],
                email=f"attendee{i}@example.org",
                first_name=first,
                last_name=last,
                status="pending" if i >= approved else "approved",
                created_at=now - (count - i) * 1800,
                webinar=True,
            )
            registrants[reg["id"]] = reg
        join0 = day0 - 3 * DAY + 17 * 3600
        participants = store.webinar_participants.setdefault(past["id"], [])
        for i in range(self.config.webinar_participants):
            first, last = _name(rng)
            participants.append(
                participant_object(
                    self.ids,
                    name=f"{first} {last}",
                    email=f"viewer{i}@example.org",
                    join=join0 + rng.randint(0, 600),
                    minutes=rng.randint(5, 60),
                    registrant_id=self.ids.user_id(),
                )
            )
        return scheduled, recurring, past

    def webinar(self, host: Obj, topic: str, webinar_type: int, start: float) -> Obj:
        made = webinar_object(
            self.ids,
            base_url=self.base_url,
            host=host,
            topic=topic,
            webinar_type=webinar_type,
            start_time=start,
            duration=60,
            timezone=host["timezone"],
            created_at=self.now - 30 * DAY,
        )
        self.store.add_webinar(made)
        self.store.webinar_registrants.setdefault(made["id"], {})
        return made

    def batch_targets(self, users: list[Obj], inactive: Obj) -> dict[str, Obj]:
        """What batch registration is tried on: one eligible meeting and webinar, and
        one ineligible of each kind. Drawn last, so the rest of the account is as before."""
        host = next((u for u in users[2:] if u["type"] == 2), users[0])
        basic = next((u for u in users if u["type"] == 1), inactive)
        day0 = self.day0
        registration = {"approval_type": 0, "registration_type": 1}
        meeting = self.meeting(
            host, BATCH_MEETING_TOPIC, 2, day0 + 4 * DAY + 15 * 3600, settings=registration
        )
        self.store.meeting_registrants.setdefault(meeting["id"], {})
        webinar = self.webinar(host, BATCH_WEBINAR_TOPIC, 5, day0 + 6 * DAY + 16 * 3600)
        recurring = self.meeting(
            host,
            "Recurring with registration",
            8,
            day0 + 8 * DAY + 15 * 3600,
            settings=registration,
            recurrence={"type": 2, "repeat_interval": 1, "weekly_days": "2", "end_times": 4},
        )
        basic_meeting = self.meeting(
            basic, "Basic host registration", 2, day0 + 5 * DAY + 9 * 3600, settings=registration
        )
        basic_webinar = self.webinar(basic, "Basic host webinar", 5, day0 + 7 * DAY + 9 * 3600)
        closed = self.webinar(host, "Webinar without registration", 5, day0 + 9 * DAY + 17 * 3600)
        closed["settings"]["approval_type"] = 2
        return {
            "host": host,
            "meeting": meeting,
            "webinar": webinar,
            "recurring": recurring,
            "basic_meeting": basic_meeting,
            "basic_webinar": basic_webinar,
            "closed_webinar": closed,
        }

    def phone(self, phone_users: list[Obj]) -> None:
        """Call recordings of each phone user over the last 25 days (newest first)."""
        rng, store, count = self.rng, self.store, self.config.phone_recordings
        span = 25 * DAY / (count + 1)
        for n, user in enumerate(phone_users):
            mine = store.user_phone_recordings.setdefault(user["id"], [])
            for k in range(count):
                first, last = _name(rng)
                account_item, user_item, rec_id = phone_recording(
                    self.ids,
                    base_url=self.base_url,
                    owner=user,
                    extension=1001 + n,
                    peer_name=f"{first} {last}",
                    peer_number=f"+1415555{rng.randint(0, 9999):04d}",
                    inbound=rng.random() < 0.5,
                    start=self.now - (k + 1) * span,
                    seconds=rng.randint(30, 1800),
                )
                mine.append(user_item)
                store.phone_recordings.append(account_item)
                size = rng.randint(100_000, 3 * _MIB)
                store.files[rec_id] = FileInfo(rec_id, size, "audio/mpeg", f"{rec_id}.mp3")
        store.phone_recordings.sort(key=lambda r: r["date_time"], reverse=True)

    def chat(self, users: list[Obj]) -> str:
        """Channels (the owner in all), their messages and the owner's direct messages.

        Messages are spaced so that all of them fall today (UTC) before ``now``.
        Returns the first channel's id.
        """
        rng, store, count = self.rng, self.store, self.config.chat_messages
        owner, contact = users[0], users[1]
        for user in users:
            store.user_channels.setdefault(user["id"], [])
        now_ms = int(self.now * 1000)
        step_ms = max(1, min(300_000, int((self.now - self.day0) * 1000) // (count + 1)))
        first_channel = ""
        for c in range(self.config.chat_channels):
            channel = channel_object(
                self.ids,
                base_url=self.base_url,
                name=f"{_TOPICS[c % len(_TOPICS)]} {c}",
                channel_type=3 if c % 3 == 0 else 1,
            )
            store.channels[channel["id"]] = channel
            members = [owner] + ([contact] if c % 2 == 0 else [])
            members += [u for u in users[2:] if rng.random() < 0.3]
            for member in members:
                store.user_channels[member["id"]].append(channel["id"])
            store.channel_messages[channel["id"]] = [
                chat_message(
                    self.ids,
                    sender=rng.choice(members),
                    text=f"Message {k} in {channel['name']}",
                    timestamp_ms=now_ms - (k + 1) * step_ms,
                )
                for k in range(count)
            ]
            first_channel = first_channel or channel["id"]
        store.contact_messages[store.pair(owner["id"], contact["id"])] = [
            chat_message(
                self.ids,
                sender=owner if k % 2 else contact,
                text=f"Direct message {k}",
                timestamp_ms=now_ms - (k + 1) * step_ms,
            )
            for k in range(count)
        ]
        return first_channel


def seed_store(
    config: SandboxConfig,
    base_url: str,
    now: float,
    ids: IdFactory,
    *,
    email_domain: str = "example.com",
) -> tuple[Store, SeededIds]:
    """Build the account; ``ids`` must draw from ``random.Random(config.seed)``."""
    seeder = _Seeder(config, base_url, now, ids, email_domain)
    users, pending, inactive = seeder.users()
    meetings = seeder.meetings(users)
    seeder.registrants(meetings["registration"])
    file_id = seeder.recordings(meetings["recorded"], meetings["slash"])
    webinar, recurring_webinar, past_webinar = seeder.webinars(users[0])
    seeder.phone(users[:3])
    channel_id = seeder.chat(users)
    batch = seeder.batch_targets(users, inactive)
    owner, contact = users[0], users[1]
    seeded = SeededIds(
        owner_user_id=owner["id"],
        owner_email=owner["email"],
        user_ids=tuple(u["id"] for u in users),
        pending_user_id=pending["id"],
        inactive_user_id=inactive["id"],
        meeting_id=meetings["scheduled"]["id"],
        recurring_meeting_id=meetings["recurring"]["id"],
        registration_meeting_id=meetings["registration"]["id"],
        recorded_meeting_id=meetings["recorded"]["id"],
        recorded_meeting_uuid=meetings["recorded"]["uuid"],
        slash_meeting_id=meetings["slash"]["id"],
        slash_meeting_uuid=meetings["slash"]["uuid"],
        recording_file_id=file_id,
        webinar_id=webinar["id"],
        recurring_webinar_id=recurring_webinar["id"],
        past_webinar_id=past_webinar["id"],
        past_webinar_uuid=past_webinar["uuid"],
        channel_id=channel_id,
        contact_user_id=contact["id"],
        contact_email=contact["email"],
        phone_user_id=users[1]["id"],
        batch_host_id=batch["host"]["id"],
        batch_meeting_id=batch["meeting"]["id"],
        batch_webinar_id=batch["webinar"]["id"],
        recurring_registration_meeting_id=batch["recurring"]["id"],
        basic_host_meeting_id=batch["basic_meeting"]["id"],
        basic_host_webinar_id=batch["basic_webinar"]["id"],
        no_registration_webinar_id=batch["closed_webinar"]["id"],
    )
    return seeder.store, seeded
