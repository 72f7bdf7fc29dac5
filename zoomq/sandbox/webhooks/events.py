"""Build Zoom webhook events by name, for the CLI, the sandbox and tests.

The names, products and payload builders live in ``catalog``; this module wraps a payload
in Zoom's envelope (ZOOM_API.md §2: ``event``, ``event_ts`` in ms, ``payload``, and a
top-level ``download_token`` for recording.completed and kin), merges ``--data`` into it,
and fills ``recording.completed`` from a REST recording. Every number is an ``int`` (no
floats), so the body serialises byte-for-byte like JavaScript's ``JSON.stringify`` does
(see ``sender.serialize``).
"""

from __future__ import annotations

import copy
import difflib
import random
from collections.abc import Mapping
from typing import Any

from zoomq.clock import Clock, SystemClock
from zoomq.errors import InvalidInput
from zoomq.sandbox.webhooks.catalog import CATALOG, EventSpec
from zoomq.sandbox.webhooks.objects import PLACEHOLDER_WEB_HOST, Gen
from zoomq.webhooks.envelope import URL_VALIDATION

__all__ = [
    "EVENT_NAMES",
    "PLACEHOLDER_WEB_HOST",
    "build_event",
    "closest_events",
    "deep_merge",
    "recording_from_api",
    "wrap_event",
]

_API_LIST_KEYS = ("from", "to", "page_count", "page_size", "total_records", "next_page_token")

#: Every event ``build_event`` knows, grouped by product.
EVENT_NAMES: tuple[str, ...] = tuple(CATALOG)


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


def _envelope(spec: EventSpec, gen: Gen, payload: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {"event": spec.name, "event_ts": gen.ms()}
    if spec.download_token:
        event["download_token"] = gen.download_token()
    event["payload"] = payload
    return event


def closest_events(name: str, limit: int = 3) -> list[str]:
    """The known event names nearest to ``name``, best first (for "did you mean")."""
    return difflib.get_close_matches(name, EVENT_NAMES, n=limit, cutoff=0.5)


def _setup(
    name: str,
    clock: Clock | None,
    rng: random.Random | None,
    account_id: str | None,
    web_host: str = PLACEHOLDER_WEB_HOST,
) -> tuple[EventSpec, Gen]:
    spec = CATALOG.get(name)
    if spec is None:
        close = closest_events(name)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise InvalidInput(
            f"unknown webhook event {name!r}{hint} (`zoomq webhook send --list` lists all)",
            [{"field": "event", "message": "unknown event"}],
        )
    rng = rng if rng is not None else random.SystemRandom()
    return spec, Gen(rng, clock or SystemClock(), account_id, web_host)


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
    spec, gen = _setup(name, clock, rng, account_id, web_host)
    payload = spec.build(gen)
    if recording is not None:
        if name != "recording.completed":
            raise InvalidInput("a recording can only fill a recording.completed event")
        payload["object"] = recording_from_api(recording, payload["object"])
    event = _envelope(spec, gen, payload)
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
    spec, gen = _setup(name, clock, rng, account_id)
    template = spec.build(gen)
    if name == URL_VALIDATION:
        return _envelope(spec, gen, copy.deepcopy(dict(obj)))
    payload: dict[str, Any] = {}
    for key, value in template.items():  # keep Zoom's field order
        if key == "account_id":
            payload[key] = account_id or obj.get("account_id") or gen.account_id
        elif key == "object":
            payload[key] = copy.deepcopy(dict(obj))
        elif key == "old_object":
            payload[key] = {k: obj[k] for k in ("id", "uuid") if k in obj}
        else:
            payload[key] = value
    return _envelope(spec, gen, payload)
